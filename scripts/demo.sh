#!/usr/bin/env bash
# The built-in demo: builds the tools and runs them on a sandbox made in a
# temporary folder (a Maestro-like installation tree and a config file),
# printing every command before it runs, so a newcomer learns the commands
# by watching. Needs no root and no services.
#
# What it shows grows with the tools: today the shared conventions
# (config check in the three output formats, an error that names the line
# and key, the exit codes); each tool's issue adds its own scenes.
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== building the tools (cargo build --release --locked)"
cargo build --release --locked --quiet || exit 1
BIN=$PWD/target/release
export PATH="$BIN:$PATH" NO_COLOR=1
unset MAESTRO_HA_CONFIG MAESTRO_HA_STATE_DIR

SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/maestro-ha-demo.XXXXXX")
trap 'rm -rf "$SANDBOX"' EXIT

# A Maestro-like installation tree, as the site profile expects it.
ROOT=$SANDBOX/primary/maestro
mkdir -p "$ROOT"/hub/{logs,hubreg,accountreg} "$ROOT"/lui/{logs,database/data} "$ROOT"/trk/logs
printf 'RemoteAdminPassword=demo\n' >"$ROOT/lui/lui.ini"
printf 'Port=8080\n' >"$ROOT/lui/tomcat.ini"

cat >"$SANDBOX/config.toml" <<TOML
[site]
install_root = "$ROOT"

[primary]
host = "maestro1.example.org"

[failover]
host = "maestro2.example.org"
TOML

run() {
  printf '\n$ %s\n' "$*"
  "$@"
  printf '(exit code %s)\n' "$?"
}

echo
echo "== 1. every tool reads one config file; config check says what it resolves to"
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" config check -v

echo
echo "== 2. the same answer for a monitoring system, and for a script"
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" config check --format nagios
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" config check --format json

echo
echo "== 3. a typo in the config: the error names the file, the line and the key (exit 3, UNKNOWN)"
printf '[primary]\nhost = "maestro1.example.org"\nprot = 22\n' >"$SANDBOX/typo.toml"
run maestro-fence --config "$SANDBOX/typo.toml" config check

echo
echo "== 4. a tool whose work is not built yet says so plainly (exit 3)"
for tool in maestro-fence maestro-logscan maestro-smoketest maestro-watch; do
  run "$tool" --config "$SANDBOX/config.toml"
done

echo
echo "== 5. maestro-snapshot-verify: a manifest of the primary's data, a faithful copy (OK), a copy cut off (CRITICAL)"
printf 'account=1\n' >"$ROOT/hub/hubreg/registry.dat"
printf 'job=42\n' >"$ROOT/lui/jobs.dat"
printf 'ibdata placeholder\n' >"$ROOT/lui/database/data/maestro.frm"
printf 'log line\n' >"$ROOT/lui/logs/LUI-20261126.LOG"
run maestro-snapshot-verify --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" capture --label demo --out "$SANDBOX/primary.jsonl"
head -c 400 "$SANDBOX/primary.jsonl"; echo " ..."
mkdir -p "$SANDBOX/replica" && cp -a "$SANDBOX/primary/maestro" "$SANDBOX/replica/"
sed "s|$SANDBOX/primary/maestro|$SANDBOX/replica/maestro|" "$SANDBOX/config.toml" >"$SANDBOX/replica.toml"
run maestro-snapshot-verify --config "$SANDBOX/replica.toml" --state-dir "$SANDBOX/state" check --manifest-label demo -q
# An interrupted rsync: a file not yet renamed from its temporary name.
mv "$SANDBOX/replica/maestro/lui/jobs.dat" "$SANDBOX/replica/maestro/lui/.jobs.dat.Xa3k9Q"
run maestro-snapshot-verify --config "$SANDBOX/replica.toml" --state-dir "$SANDBOX/state" check --manifest "$SANDBOX/primary.jsonl" -q
