#!/usr/bin/env bash
# How long one `maestro-smoketest all` takes against the Maestro emulator and
# a seed Maildir (no root, no mail server): trigger, delivery, both tracker
# links, the bounce and both report confirmations. Prints each run's wall time
# and the median. The run against Postfix and Dovecot is timed by
# tests/smoketest.rs (the_whole_chain_works_end_to_end_in_a_few_seconds, with
# --nocapture), as it needs root to start them.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
cargo build --release --locked --quiet -p maestro-ha -p maestro-emulator
BIN=$PWD/target/release
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoketest.XXXXXX")
trap 'kill "$EMU_PID" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/Maildir"/{new,cur,tmp}
printf 'bench-trigger\n' >"$W/trigger"; printf 'bench-report\n' >"$W/report"; chmod 600 "$W/trigger" "$W/report"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP=$(port); SMTP=$(port)
"$BIN/maestro-emulator" --http-listen "127.0.0.1:$HTTP" --smtp-listen "127.0.0.1:$SMTP" \
  --trigger-token-file "$W/trigger" --report-token-file "$W/report" --seed seed@seed.test \
  --maildir "$W/Maildir" --tracker-base "http://localhost:$HTTP" >"$W/emu.out" &
EMU_PID=$!
for _ in $(seq 50); do grep -q http= "$W/emu.out" 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$HTTP/lui/externalAction.do"
times=()
for i in $(seq "$RUNS"); do
  s=$(date +%s.%N)
  "$BIN/maestro-smoketest" --config /dev/null -q all --trigger-url "$URL" --trigger-token-file "$W/trigger" \
    --mailbox "maildir:$W/Maildir" --expect-target https://www.example.org/ --smtp "127.0.0.1:$SMTP" \
    --report-url "$URL" --report-token-file "$W/report" >/dev/null
  e=$(date +%s.%N)
  times+=("$(awk -v a="$s" -v b="$e" 'BEGIN {printf "%.3f", b - a}')")
  echo "run $i: ${times[-1]}s"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median of %d runs: %.3fs\n", NR, a[int((NR+1)/2)]}'
