#!/usr/bin/env bash
# Benchmark of maestro-snapshot-verify capture, against the
# reference tools measured in the same run, with the page cache warm:
#  1. a 2 GiB tree of ~10k files: capture (every file read, --rehash) vs
#     `find -type f -print0 | xargs -0 -P2 -n 500 openssl dgst -sha256` and
#     vs `hashdeep -c sha256 -r -j2` (Debian hashdeep), run in turn
#     (BENCH_ROUNDS rounds, default 3; the best of each is compared);
#  2. a cached re-capture of an unchanged 100k-file tree;
#  3. peak memory (/usr/bin/time -v) of each capture; with BENCH_MILLION=1
#     also of a capture of a 1M-file tree (slow to create).
# Prints a table of wall times and ratios. Needs (Debian): openssl hashdeep time bc.
# Usage: scripts/bench-snapshot-verify.sh [WORKDIR]  (default: a temp folder, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in openssl hashdeep /usr/bin/time bc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (Debian: openssl hashdeep time bc)" >&2; exit 1; }
done

cargo build --release --locked -q --bin maestro-snapshot-verify
BIN=${CARGO_TARGET_DIR:-target}/release/maestro-snapshot-verify

WORK=${1:-$(mktemp -d /var/tmp/bench-snapshot-verify.XXXXXX)}
[[ $# -ge 1 ]] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"
STATE=$WORK/state
# An empty config: the tools refuse a device (/dev/null) as a config file.
: >"$WORK/empty.toml"
export MAESTRO_HA_CONFIG=$WORK/empty.toml

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
wall() { # wall CMD...: the wall time of one run, in seconds
  local t0 t1
  t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
  elapsed "$t0" "$t1"
}
min() { if [[ -z $1 ]] || (($(echo "$2 < $1" | bc -l))); then echo "$2"; else echo "$1"; fi; }
best_of() { # best_of N CMD...: the best wall time of N runs, in seconds
  local n=$1 best=
  shift
  for _ in $(seq "$n"); do best=$(min "$best" "$(wall "$@")"); done
  printf '%.3f' "$best"
}
peak_mib() { # peak RSS of a command, MiB
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {printf "%.1f", $2/1024}'
}

TREE=$WORK/tree2g
if [[ ! -d $TREE ]]; then
  echo "bench: making a 2 GiB tree of ~10k files in $TREE"
  mkdir -p "$TREE"
  # 2 GiB of pseudo-random bytes, cut into 10240 files of 200 KiB, 100 folders.
  # (head closes the pipe on openssl: that SIGPIPE is expected.)
  (openssl enc -aes-128-ctr -pass pass:bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true) | head -c $((2 << 30)) |
    (cd "$TREE" && split -b 209715 -a 5 -d - f)
  (cd "$TREE" && for i in $(seq -w 0 99); do mkdir -p "d$i"; done &&
    ls | grep '^f' | awk '{ printf "%s d%02d\n", $1, NR % 100 }' | xargs -n 200 -P 1 sh -c 'while [ $# -gt 1 ]; do mv "$1" "$2/"; shift 2; done' sh)
fi
echo "bench: $(find "$TREE" -type f | wc -l) files, $(du -sh "$TREE" | cut -f1)"
cat $(find "$TREE" -type f) >/dev/null # warm the page cache

capture_full() { "$BIN" --state-dir "$STATE" capture --rehash --root "t=$TREE" --out /dev/null; }
openssl_ref() { find "$TREE" -type f -print0 | xargs -0 -P2 -n 500 openssl dgst -sha256 >/dev/null; }
hashdeep_ref() { hashdeep -c sha256 -r -j2 "$TREE" >/dev/null; }

# Rounds of capture, openssl, hashdeep, so that the load of a shared machine
# falls on all three alike; the best of ROUNDS of each, and each round's
# capture/openssl ratio (their range shows how noisy the machine was).
ROUNDS=${BENCH_ROUNDS:-3}
t_capture= t_openssl= t_hashdeep= round_ratios=
for _ in $(seq "$ROUNDS"); do
  c=$(wall capture_full) o=$(wall openssl_ref) h=$(wall hashdeep_ref)
  t_capture=$(min "$t_capture" "$c") t_openssl=$(min "$t_openssl" "$o") t_hashdeep=$(min "$t_hashdeep" "$h")
  round_ratios+="$(printf '%.2f' "$(echo "$c / $o" | bc -l)") "
done
t_capture=$(printf '%.3f' "$t_capture") t_openssl=$(printf '%.3f' "$t_openssl") t_hashdeep=$(printf '%.3f' "$t_hashdeep")
m_capture=$(peak_mib "$BIN" --state-dir "$STATE" capture --rehash --root "t=$TREE" --out /dev/null)

SMALL=$WORK/tree100k
if [[ ! -d $SMALL ]]; then
  echo "bench: making a tree of 100k small files in $SMALL"
  mkdir -p "$SMALL"
  for i in $(seq -w 0 99); do
    mkdir -p "$SMALL/d$i"
    head -c $((1000 * 1024)) /dev/urandom | (cd "$SMALL/d$i" && split -b 1024 -a 4 -d - f)
  done
fi
"$BIN" --state-dir "$STATE" capture --root "s=$SMALL" --out /dev/null >/dev/null # fills the cache
cached() { "$BIN" --state-dir "$STATE" capture --root "s=$SMALL" --out /dev/null; }
t_cached=$(best_of "$ROUNDS" cached)
m_cached=$(peak_mib "$BIN" --state-dir "$STATE" capture --root "s=$SMALL" --out /dev/null)

m_million="skipped (BENCH_MILLION=1 measures it)"
if [[ ${BENCH_MILLION:-0} == 1 ]]; then
  BIG=$WORK/tree1m
  if [[ ! -d $BIG ]]; then
    echo "bench: making a tree of 1M empty files in $BIG"
    mkdir -p "$BIG"
    for i in $(seq -w 0 999); do mkdir -p "$BIG/d$i" && (cd "$BIG/d$i" && seq -w 0 999 | sed 's/^/f/' | xargs touch); done
  fi
  m_million="$(peak_mib "$BIN" --state-dir "$STATE" capture --rehash --root "m=$BIG" --out /dev/null) MiB"
fi

ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
cat <<EOF

maestro-snapshot-verify capture benchmark ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no))
| measurement | wall time | ratio | target |
|---|---|---|---|
| capture --rehash, 2 GiB / ~10k files | ${t_capture}s | | |
| find + xargs -P2 openssl dgst -sha256 | ${t_openssl}s | capture/openssl = $(ratio "$t_capture" "$t_openssl") (rounds: ${round_ratios% }) | <= 1.15 |
| hashdeep -c sha256 -r -j2 | ${t_hashdeep}s | hashdeep/capture = $(ratio "$t_hashdeep" "$t_capture") | >= 3 |
| cached re-capture, 100k files | ${t_cached}s | | < 1 s |
| peak memory: capture of 2 GiB / 10k files | ${m_capture} MiB | | |
| peak memory: cached capture of 100k files | ${m_cached} MiB | | |
| peak memory: capture of 1M files (BENCH_MILLION=1) | ${m_million} | | < 200 MiB |
EOF
# Machine-readable rows for scripts/bench.sh: BENCH|tool|measure|figure|reference|ratio|target
cat <<EOF
BENCH|maestro-snapshot-verify|capture --rehash, 2 GiB / ~10k files|${t_capture} s|openssl dgst -P2 ${t_openssl} s|$(ratio "$t_capture" "$t_openssl")|<= 1.15
BENCH|maestro-snapshot-verify|hashdeep / capture|${t_capture} s|hashdeep -j2 ${t_hashdeep} s|$(ratio "$t_hashdeep" "$t_capture")|>= 3
BENCH|maestro-snapshot-verify|cached re-capture, 100k files|${t_cached} s|||< 1 s
BENCH|maestro-snapshot-verify|peak memory, 1M files|${m_million}|||< 200 MiB
EOF
