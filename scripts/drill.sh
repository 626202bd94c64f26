#!/usr/bin/env bash
# The failover drill by hand: the same scenarios as `cargo test --test drill`
# (tests/drill.rs, tests/support/drill.rs), run one after the other with
# their tables shown: step, tool, status, exit, time.
#
#   scripts/drill.sh                 # every scenario
#   scripts/drill.sh clean           # the clean failover and failback only
#   scripts/drill.sh planned         # the planned switchover (fence --level ssh)
#   scripts/drill.sh rsync_cut       # a test name filter: rsync_cut, database_files,
#                                    # primary_coming_back, blocked_icmp, table_missing,
#                                    # tracker_name, unreachable_seed, refused_dns,
#                                    # ini_value_pinning, clean
#
# Needs root (network namespaces, nftables), and what scripts/test.sh
# installs (openssh-server, rsync, mariadb-server, nftables, iproute2, bind9).
# Every namespace, server and process is stopped when a scenario ends,
# also when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/drill.sh: needs root (network namespaces); try: sudo $0 $*" >&2
  exit 3
fi
filter=${1:-}
# The emulator is another crate's binary: build it next to the tools.
cargo build --locked -p maestro-emulator
exec cargo test --locked --test drill -- --nocapture --test-threads=1 ${filter:+"$filter"}
