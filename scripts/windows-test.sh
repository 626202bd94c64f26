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

echo "scripts/windows-test.sh: done in $((SECONDS - started)) s"
