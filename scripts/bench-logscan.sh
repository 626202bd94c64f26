#!/usr/bin/env bash
# Benchmark of maestro-logscan: a realistic 1 GiB LUI log
# (log4j-style lines, 0.1% error records with Java stack traces) scanned
# with the built-in Maestro pack, against `rg -c -f <the same patterns>`
# in the same run. Prints the wall times (best of $RUNS, default 3), the
# ratio of the best times, the range of the ratios run by run (each run
# times rg and the scan back to back, so a busy machine weighs on both),
# and the scan's peak memory (GNU time's maximum resident set size).
#
#   scripts/bench-logscan.sh [SIZE_BYTES]      # default 1073741824
#
# Installs ripgrep and GNU time (Debian packages `ripgrep`, `time`) when
# missing and run as root. The generated log is kept in $BENCH_DIR
# (default /tmp/maestro-logscan-bench) and reused when its size matches.
# The binaries are built in $CARGO_TARGET_DIR (default ./target).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1073741824}
DIR=${BENCH_DIR:-/tmp/maestro-logscan-bench}
RUNS=${RUNS:-3}

need=()
command -v rg >/dev/null || need+=(ripgrep)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench-logscan: missing Debian packages: ${need[*]} (run as root to install them)" >&2
    exit 1
  fi
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

cargo build --release --locked --quiet --bin maestro-logscan
cargo build --release --locked --quiet -p maestro-logscan --example gen-lui-log
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$TARGET/release/maestro-logscan
mkdir -p "$DIR"
LOG=$DIR/LUI-$SIZE.LOG
if [[ ! -f $LOG || $(stat -c %s "$LOG") -lt $SIZE ]]; then
  echo "generating $LOG ($SIZE bytes) ..."
  "$TARGET/release/examples/gen-lui-log" "$SIZE" >"$LOG"
fi
PATTERNS=$DIR/patterns.txt
"$BIN" --component lui --write-patterns "$PATTERNS" -q >/dev/null
cat "$LOG" >/dev/null   # both read from the page cache

best() { sort -n | head -1; }
measure() { # prints "seconds maxrss_kb" for one run of "$@"
  /usr/bin/time -f "%e %M" -o "$DIR/time.out" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$DIR/time.out"   # GNU time puts "Command exited with non-zero status N" first
}
rg_times=(); ls_times=(); ls_rss=(); ratios=()
for _ in $(seq "$RUNS"); do
  read -r r _ < <(measure rg -c -f "$PATTERNS" "$LOG"); rg_times+=("$r")
  read -r t m < <(measure "$BIN" --component lui -q "$LOG"); ls_times+=("$t"); ls_rss+=("$m")
  ratios+=("$(awk -v a="$t" -v b="$r" 'BEGIN { printf "%.2f", a / b }')")
done
RG=$(printf '%s\n' "${rg_times[@]}" | best)
LS=$(printf '%s\n' "${ls_times[@]}" | best)
RSS=$(printf '%s\n' "${ls_rss[@]}" | sort -n | tail -1)
echo "file:         $LOG ($(stat -c %s "$LOG") bytes, $(wc -l <"$LOG") lines)"
echo "patterns:     $(wc -l <"$PATTERNS") ($PATTERNS)"
echo "rg -c -f:     ${RG}s   (runs: ${rg_times[*]}; $(rg --version 2>/dev/null | head -1))"
echo "logscan:      ${LS}s   (runs: ${ls_times[*]})"
echo "ratio:        $(awk -v a="$LS" -v b="$RG" 'BEGIN { printf "%.2f", a / b }') of the best times (target: <= 1.3)"
echo "run by run:   $(printf '%s\n' "${ratios[@]}" | sort -n | head -1) to $(printf '%s\n' "${ratios[@]}" | sort -n | tail -1) (${ratios[*]}; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "peak memory:  $((RSS / 1024)) MiB max RSS (target: < 64 MiB)"
# Machine-readable rows for scripts/bench.sh: BENCH|tool|measure|figure|reference|ratio|target
echo "BENCH|maestro-logscan|scan of a 1 GiB LUI log, built-in pack (best of $RUNS; run by run $(printf '%s\n' "${ratios[@]}" | sort -n | head -1)-$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1))|${LS} s|rg -c -f ${RG} s|$(awk -v a="$LS" -v b="$RG" 'BEGIN { printf "%.2f", a / b }')|<= 1.3"
echo "BENCH|maestro-logscan|peak memory (max RSS)|$((RSS / 1024)) MiB|||< 64 MiB"
