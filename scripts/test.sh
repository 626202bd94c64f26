#!/usr/bin/env bash
# Run every test of maestro-ha. Installs what the tests need first (Debian
# packages, as root, after one `apt-get update`), so that a fresh machine
# needs nothing else: the tests start real servers (OpenSSH, ...) on
# loopback addresses and stop them again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run for real. Add to this list, never install by hand.
PACKAGES=(
  openssh-server openssh-client   # the SSH harness: a real sshd on 127.0.0.1
  pkg-config libssl-dev           # build: ssh2's libssh2 links OpenSSL
  iproute2 nftables iputils-ping python3   # maestro-watch: test hosts in network namespaces, firewall faults, ICMP, an HTTP server
  fence-agents nftables iptables libxml2-utils iproute2 procps  # maestro-fence: fence_dummy, isolate in netns, metadata schema check, pgrep
  pacemaker corosync pacemaker-cli-utils pcs   # maestro-fence: a real one-node cluster fences through fence_maestro (stonith_admin, pcs stonith create)
  resource-agents pacemaker corosync pcs libxml2-utils   # ocf:maestro-ha:maestro: ocf-tester, the OCF metadata schemas, IPaddr2 after it in a real one-node cluster
  rsync mariadb-server            # maestro-snapshot-verify: rsync cut off by SIGKILL; real InnoDB files
  rsync mariadb-server nftables iproute2 openssh-server procps  # the failover drill: namespaces, sshd, rsync over ssh, MariaDB, isolate
  mariadb-server mariadb-client   # maestro-logscan: a real MariaDB crashes and recovers on 127.0.0.1
  gcc-mingw-w64-x86-64 wine wine64 perl make zip unzip   # scripts/windows-test.sh and windows-release.sh (listed there too; here so that CI runs one apt-get update)
  dovecot-imapd dovecot-lmtpd postfix   # maestro-smoketest: a real IMAP seed mailbox fed by a real SMTP server over LMTP
  rsync openssh-server openssh-client mariadb-server iproute2 btrfs-progs e2fsprogs util-linux  # maestro-sync: rsync over sshd in namespaces, btrfs and ext4 on loop devices (mount, fallocate), MariaDB recovering from generations
  bind9 bind9-utils bind9-dnsutils iputils-arping ndisc6 postfix python3 iproute2 nftables openssh-server  # maestro-redirect (and the drill's DNS): BIND primary/secondary with TSIG, ARP/NDP probes, a relay refusing relay
)

source scripts/lib/install-packages.sh
install_packages "scripts/test.sh" "${PACKAGES[@]}"

# The failover drill runs the Maestro emulator as a separate host process: its
# binary is not a root-package target, so cargo test alone does not build it.
cargo build --locked -p maestro-emulator
exec cargo test --workspace --locked --no-fail-fast "$@"
