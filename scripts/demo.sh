#!/usr/bin/env bash
# The built-in demo: builds the tools and runs them on a sandbox made in a
# temporary folder (a Maestro-like installation tree and a config file),
# printing every command before it runs, so a newcomer learns the commands
# by watching. Needs no root and no services.
#
# The story it tells: first the shared conventions, then a healthy
# failover where every tool says OK (the primary goes down and maestro-watch
# confirms it, the fence is planned, the replica is one point in time), then
# a broken replica where the tools say exactly what is wrong.
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== building the tools (cargo build --release --locked)"
cargo build --release --locked --quiet || exit 1
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release
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
echo "######## Part 1: one config file, three output formats, honest exit codes"
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
echo "######## Part 2: a healthy failover: each step of the runbook says OK"
echo
echo "== 4. maestro-watch: is the primary really down? (a local HTTP server plays the primary)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P_PORT=$(free_port)
G_PORT=$(free_port)
mkdir -p "$SANDBOX/www/lui"
python3 -m http.server "$P_PORT" --bind 127.0.0.1 --directory "$SANDBOX/www" >/dev/null 2>&1 &
PRIMARY_PID=$!
python3 -m http.server "$G_PORT" --bind 127.0.0.1 --directory "$SANDBOX/www" >/dev/null 2>&1 &
GATEWAY_PID=$!
trap 'kill $PRIMARY_PID $GATEWAY_PID 2>/dev/null; rm -rf "$SANDBOX"' EXIT
for _ in $(seq 50); do maestro-watch probe --tcp "127.0.0.1:$P_PORT" --probe-timeout 200ms -q >/dev/null 2>&1 && break; sleep 0.1; done
WATCH=(maestro-watch --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" once
  --target 127.0.0.1 --tcp "$P_PORT" --http "http://127.0.0.1:$P_PORT/lui/"
  --gateway "127.0.0.1:$G_PORT" --threshold 2s --interval 1s --probe-timeout 1s)
run "${WATCH[@]}"
echo "(the primary's server stops)"
kill $PRIMARY_PID; wait $PRIMARY_PID 2>/dev/null
run "${WATCH[@]}" -q
sleep 2.2
run "${WATCH[@]}" -q --format nagios

echo
echo "== 5. maestro-fence: what a fence would run where (dry run), the guard, the Pacemaker agent"
FENCE=$SANDBOX/fence
mkdir -p "$FENCE"
cat >"$FENCE/config.toml" <<TOML
[primary]
host = "maestro1.example.org"
connect_timeout = "3s"

[services]
manager = "commands"
names = ["lui", "hub"]
stop_command = "/opt/lsoft/maestro/bin/maestro-ctl stop {name}"
disable_command = "/opt/lsoft/maestro/bin/maestro-ctl disable {name}"
enable_command = "/opt/lsoft/maestro/bin/maestro-ctl enable {name}"
active_command = "/opt/lsoft/maestro/bin/maestro-ctl status {name}"
enabled_command = "/opt/lsoft/maestro/bin/maestro-ctl enabled {name}"

[sync]
cron_file = "/etc/cron.d/maestro-rsync"

[fence]
levels = ["ssh"]
node_name = "maestro1"
marker_file = "$FENCE/fenced"
epoch_file = "$FENCE/epoch"
TOML
run maestro-fence --config "$FENCE/config.toml" --state-dir "$FENCE/state" fence --dry-run
run maestro-fence --config "$FENCE/config.toml" --state-dir "$FENCE/state" epoch
printf 'maestro-fence-marker=1\nepoch=7\nfailover=maestro2.example.org\nfenced_at=2026-01-01T00:00:00Z\n' >"$FENCE/fenced"
echo "(a fence marker as the ssh level writes it on the primary: the guard refuses, exit 2)"
run maestro-fence --config "$FENCE/config.toml" guard --unreachable allow
echo "(the same binary as a Pacemaker fence agent: options on stdin, FenceAgentAPI exit codes)"
printf '\n$ printf "action=list\\nconfig_file=%s\\n" | maestro-fence agent\n' "$FENCE/config.toml"
printf 'action=list\nconfig_file=%s\n' "$FENCE/config.toml" | maestro-fence agent
printf '(exit code %s)\n' "$?"
printf '\n$ maestro-fence agent -o metadata | head -4\n'
maestro-fence agent -o metadata | head -4

echo
echo "== 6. maestro-snapshot-verify: a manifest of the primary's data, a faithful copy (OK)"
printf 'account=1\n' >"$ROOT/hub/hubreg/registry.dat"
printf 'job=42\n' >"$ROOT/lui/jobs.dat"
printf 'ibdata placeholder\n' >"$ROOT/lui/database/data/maestro.frm"
printf 'log line\n' >"$ROOT/lui/logs/LUI-20261126.LOG"
run maestro-snapshot-verify --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" capture --label demo --out "$SANDBOX/primary.jsonl"
head -c 400 "$SANDBOX/primary.jsonl"; echo " ..."
mkdir -p "$SANDBOX/replica" && cp -a "$SANDBOX/primary/maestro" "$SANDBOX/replica/"
sed "s|$SANDBOX/primary/maestro|$SANDBOX/replica/maestro|" "$SANDBOX/config.toml" >"$SANDBOX/replica.toml"
run maestro-snapshot-verify --config "$SANDBOX/replica.toml" --state-dir "$SANDBOX/state" check --manifest-label demo -q

echo
echo "== 7. Maestro starts (the Maestro emulator plays it) and maestro-logscan follows its LUI log until ready (OK)"
echo "(the emulator is a test stand-in, never installed; it writes LUI-yyyymmdd.LOG as the LUI would, and delivers"
echo " the test mailing into a Maildir itself, as an MDA would, so no mail server is needed: with a real one the"
echo " seed mailbox is imaps://seed@mx.example.org/INBOX)"
cargo build --release --locked --quiet -p maestro-emulator || exit 1
mkdir -p "$SANDBOX/seed/Maildir"/{new,cur,tmp}
printf 'demo-trigger-token\n' >"$SANDBOX/trigger.token"
printf 'demo-report-token\n' >"$SANDBOX/report.token"
chmod 600 "$SANDBOX/trigger.token" "$SANDBOX/report.token"
E_HTTP=$(free_port)
E_SMTP=$(free_port)
STARTED_AT=$(date '+%F %T')   # the start that begins now is the one judged
printf '\n$ maestro-emulator --log-dir %s ... &\n' "$ROOT/lui/logs"
maestro-emulator --http-listen "127.0.0.1:$E_HTTP" --smtp-listen "127.0.0.1:$E_SMTP" \
  --trigger-token-file "$SANDBOX/trigger.token" --report-token-file "$SANDBOX/report.token" \
  --seed seed@seed.example --maildir "$SANDBOX/seed/Maildir" --tracker-base "http://localhost:$E_HTTP" \
  --link-target https://www.example.org/welcome --log-dir "$ROOT/lui/logs" >"$SANDBOX/emulator.out" 2>&1 &
EMU_PID=$!
trap 'kill $PRIMARY_PID $GATEWAY_PID $EMU_PID 2>/dev/null; rm -rf "$SANDBOX"' EXIT
run maestro-logscan --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state" --follow --until-ready --timeout 10s --since-start-after "$STARTED_AT"
for _ in $(seq 50); do grep -q http= "$SANDBOX/emulator.out" 2>/dev/null && break; sleep 0.1; done

echo
echo "== 8. maestro-smoketest: send a test mailing, follow its links, bounce it"
cat >>"$SANDBOX/config.toml" <<TOML

[smoketest]
trigger_url = "http://127.0.0.1:$E_HTTP/lui/externalAction.do"
trigger_token = { file = "$SANDBOX/trigger.token" }
mailbox = "maildir:$SANDBOX/seed/Maildir"
expect_targets = ["https://www.example.org/welcome"]
report_url = "http://127.0.0.1:$E_HTTP/lui/externalAction.do"
report_token = { file = "$SANDBOX/report.token" }
smtp = "127.0.0.1:$E_SMTP"
timeout = "10s"
TOML
SMOKE=(maestro-smoketest --config "$SANDBOX/config.toml" --state-dir "$SANDBOX/state")
run "${SMOKE[@]}" all
echo "(the same as a Nagios check, with the timings as perfdata)"
run "${SMOKE[@]}" all --format nagios

echo
echo "######## Part 3: a broken replica: the tools say exactly what is wrong"
echo
echo "== 9. the last rsync was cut off: snapshot-verify names the leftover and the missing file (CRITICAL, exit 2)"
# An interrupted rsync: a file not yet renamed from its temporary name.
mv "$SANDBOX/replica/maestro/lui/jobs.dat" "$SANDBOX/replica/maestro/lui/.jobs.dat.Xa3k9Q"
run maestro-snapshot-verify --config "$SANDBOX/replica.toml" --state-dir "$SANDBOX/state" check --manifest "$SANDBOX/primary.jsonl" -q

echo
echo "== 10. maestro-logscan: the LUI log says the start went wrong (a missing table, the HUB unreachable)"
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


echo
echo "== 11. maestro-smoketest: what a broken service looks like"
echo "(a wrong place: the tracker redirects somewhere else than expected)"
run "${SMOKE[@]}" all -q --expect-target https://www.example.org/other
echo "(the tracker's name must resolve to this server: here it is said to be 192.0.2.10)"
run "${SMOKE[@]}" all -q --server-address 192.0.2.10
kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null
echo "(the emulator is gone: the trigger gets no answer)"
run "${SMOKE[@]}" all -q
