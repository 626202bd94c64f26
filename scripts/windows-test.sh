#!/usr/bin/env bash
# The Windows build, checked on Linux: cross-builds the tools for
# x86_64-pc-windows-gnu with Debian's MinGW-w64 and runs under Wine what can
# run there: the unit tests of the crates that work on Windows and the
# trycmd cases of the command line. Installs what it needs first (Debian
# packages as root, the Rust target through rustup). Called by .ci/run after
# the Linux tests; run it by hand the same way.
#
# What stays Linux-only (network namespaces, sshd, MariaDB, nftables,
# Pacemaker) is listed in docs/windows.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The packages, the Rust target, Wine and the build settings, shared with
# scripts/windows-release.sh (the same settings, so neither rebuilds the
# other's work).
source scripts/windows/env.sh

started=$SECONDS
wine_up
trap wine_down EXIT

# The crates whose unit tests run on Windows. maestro-redirect builds (the
# tools link it) but its tests need Linux. maestro-fence's Unix-only tests
# (sh, FIFOs, symbolic links) are built for Unix only; what runs here checks
# its Windows side (Winsock's errors, a command in a Job Object, the
# Windows Firewall and sc.exe commands and their parsing).
CRATES=(maestro-common maestro-logscan maestro-snapshot-verify maestro-smoketest maestro-watch maestro-fence)
pkgs=()
for c in "${CRATES[@]}"; do pkgs+=(-p "$c"); done

echo "== cargo build --target $TARGET (the tools)"
cargo build --locked --release --target "$TARGET" --bins
ls -l "$target_dir/$TARGET/release/"maestro-*.exe

echo "== unit tests under Wine: ${CRATES[*]}"
cargo test --locked --release --target "$TARGET" "${pkgs[@]}" --lib

echo "== trycmd cases under Wine"
cargo test --locked --release --target "$TARGET" --test cmd_cases

echo "== a manifest captured on Linux checks under Wine, and one captured under Wine on Linux"
cargo build --locked -p maestro-snapshot-verify
linux_msv=$target_dir/debug/maestro-snapshot-verify
windows_msv=$target_dir/$TARGET/release/maestro-snapshot-verify.exe
x=$(mktemp -d)
trap 'rm -rf "$x"; wine_down' EXIT
winpath() { printf 'Z:%s' "${1//\//\\}"; }
mkdir -p "$x/tree/lui/data/Große Liste" "$x/tree/hub"
printf 'hello\n' >"$x/tree/lui/data/Große Liste/members.txt"
printf '[hub]\nport=8080\n' >"$x/tree/hub/hub.ini"
head -c 100000 /dev/urandom >"$x/tree/lui/data/blob.bin"
msv_linux() { "$linux_msv" --state-dir "$x/state-l" "$@" >"$x/out" 2>&1 </dev/null; }
msv_windows() { timeout 120 "$WINE" "$windows_msv" --state-dir "$(winpath "$x/state-w")" "$@" >"$x/out" 2>&1 </dev/null; }
expect() {  # expect RC WHAT COMMAND...
  local want=$1 what=$2 rc=0
  shift 2
  "$@" || rc=$?
  if ((rc != want)); then
    echo "windows-test.sh: $what: exit $rc, not $want" >&2
    tr -d '\r' <"$x/out" >&2
    exit 1
  fi
  echo "  $what: exit $rc as expected"
}
expect 0 "capture on Linux" msv_linux capture --root "data=$x/tree" --out "$x/linux.jsonl"
expect 0 "capture under Wine" msv_windows capture --root "data=$(winpath "$x/tree")" --out "$(winpath "$x/windows.jsonl")"
expect 0 "the Linux manifest checked under Wine" msv_windows check --root "data=$(winpath "$x/tree")" --manifest "$(winpath "$x/linux.jsonl")"
expect 0 "the Wine manifest checked on Linux" msv_linux check --root "data=$x/tree" --manifest "$x/windows.jsonl"
expect 0 "the two manifests compared on Linux" msv_linux diff "$x/linux.jsonl" "$x/windows.jsonl"
# And a change is still found across systems.
printf 'hello!\n' >"$x/tree/lui/data/Große Liste/members.txt"
expect 2 "a changed file, Linux manifest checked under Wine" msv_windows check --root "data=$(winpath "$x/tree")" --manifest "$(winpath "$x/linux.jsonl")"
expect 2 "a changed file, Wine manifest checked on Linux" msv_linux check --root "data=$x/tree" --manifest "$x/windows.jsonl"

echo "scripts/windows-test.sh: done in $((SECONDS - started)) s"
