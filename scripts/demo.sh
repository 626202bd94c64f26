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
for tool in maestro-fence maestro-snapshot-verify maestro-smoketest maestro-watch; do
  run "$tool" --config "$SANDBOX/config.toml"
done

echo
echo "== 5. maestro-logscan: the LUI log of the day after a start on the failover server"
TODAY=$(date +%Y%m%d)
NOW=$(date '+%Y-%m-%d %H:%M:%S')
cat >"$ROOT/lui/logs/LUI-$TODAY.LOG" <<LOG
$NOW,001 INFO  [main] com.lsoft.maestro.lui.Startup - Starting LISTSERV Maestro (LUI)
$NOW,120 ERROR [main] com.lsoft.maestro.lui.job.JobManager - Loading jobs failed
java.sql.SQLSyntaxErrorException: Table 'maestro.lui_job' doesn't exist
	at com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:120)
	at com.lsoft.maestro.lui.job.JobManager.load(JobManager.java:88)
$NOW,500 WARN  [pool-2-thread-1] com.lsoft.maestro.lui.hub.HubClient - Could not connect to the HUB at maestro.example.org:1099
$NOW,501 WARN  [pool-2-thread-1] com.lsoft.maestro.lui.hub.HubClient - Could not connect to the HUB at maestro.example.org:1099
$NOW,900 INFO  [main] org.apache.catalina.startup.Catalina - Server startup in 9012 ms
LOG
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --since-start
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --since-start --format nagios --min-severity critical
echo "(the same for cron or Nagios: --incremental reads only what is new since the last run)"
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --incremental -q
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --incremental -q
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --component db --missing-ok
