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
for tool in maestro-fence maestro-snapshot-verify maestro-logscan; do
  run "$tool" --config "$SANDBOX/config.toml"
done

echo
echo "== 5. maestro-watch: is the primary really down? (a local HTTP server plays the primary)"
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
echo "== 6. maestro-smoketest: send a test mailing, follow its links, bounce it (the Maestro emulator plays Maestro)"
echo "(the emulator is a test stand-in, never installed; here it delivers into a Maildir itself, as an MDA would,"
echo " so no mail server is needed: with a real one the seed mailbox is imaps://seed@mx.example.org/INBOX)"
cargo build --release --locked --quiet -p maestro-emulator || exit 1
mkdir -p "$SANDBOX/seed/Maildir"/{new,cur,tmp}
printf 'demo-trigger-token\n' >"$SANDBOX/trigger.token"
printf 'demo-report-token\n' >"$SANDBOX/report.token"
chmod 600 "$SANDBOX/trigger.token" "$SANDBOX/report.token"
E_HTTP=$(free_port)
E_SMTP=$(free_port)
maestro-emulator --http-listen "127.0.0.1:$E_HTTP" --smtp-listen "127.0.0.1:$E_SMTP" \
  --trigger-token-file "$SANDBOX/trigger.token" --report-token-file "$SANDBOX/report.token" \
  --seed seed@seed.example --maildir "$SANDBOX/seed/Maildir" --tracker-base "http://localhost:$E_HTTP" \
  --link-target https://www.example.org/welcome >"$SANDBOX/emulator.out" 2>&1 &
EMU_PID=$!
trap 'kill $PRIMARY_PID $GATEWAY_PID $EMU_PID 2>/dev/null; rm -rf "$SANDBOX"' EXIT
for _ in $(seq 50); do grep -q http= "$SANDBOX/emulator.out" 2>/dev/null && break; sleep 0.1; done
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
echo "(a wrong place: the tracker redirects somewhere else than expected)"
run "${SMOKE[@]}" all -q --expect-target https://www.example.org/other
echo "(the tracker's name must resolve to this server: here it is said to be 192.0.2.10)"
run "${SMOKE[@]}" all -q --server-address 192.0.2.10
kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null
echo "(the emulator is gone: the trigger gets no answer)"
run "${SMOKE[@]}" all -q
