#!/usr/bin/env bash
# Every tool's benchmark in one go: runs each scripts/bench-*.sh (each
# measures its tool against its reference tool in the same run) and prints
# one table: tool, measure, figure, reference, ratio, target, and the
# machine. A script reports its rows as lines `BENCH|tool|measure|figure|
# reference|ratio|target`; a script that prints none is listed with its
# last line of output, and a failing script with its exit code, never
# silently left out. The full outputs are kept in $BENCH_LOG_DIR (default:
# a new temporary folder, named at the start).
#
#   scripts/bench.sh              # every benchmark (some need root)
#   scripts/bench.sh fence        # only scripts/bench-fence.sh
set -uo pipefail
cd "$(dirname "$0")/.."
LOGS=${BENCH_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/maestro-ha-bench.XXXXXX")}
mkdir -p "$LOGS"

rows=()
for script in scripts/bench-*.sh; do
  name=${script#scripts/bench-}
  name=${name%.sh}
  [[ $# -eq 0 || " $* " == *" $name "* ]] || continue
  echo "== $script (output: $LOGS/$name.log)" >&2
  rc=0
  bash "$script" >"$LOGS/$name.log" 2>&1 || rc=$?
  found=0
  while IFS= read -r line; do
    rows+=("${line#BENCH|}")
    found=1
  done < <(grep '^BENCH|' "$LOGS/$name.log")
  if ((rc != 0)); then
    rows+=("$name|FAILED (exit $rc): $(tail -n1 "$LOGS/$name.log" | tr '|' '/')|||||")
  elif ((!found)); then
    rows+=("$name|(no BENCH rows) $(tail -n1 "$LOGS/$name.log" | tr '|' '/')|||||")
  fi
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| tool | measure | figure | reference, same run | ratio | target |"
echo "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r tool measure figure reference ratio target <<<"$r"
  echo "| $tool | $measure | $figure | $reference | $ratio | $target |"
done
