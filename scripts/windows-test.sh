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
TARGET=x86_64-pc-windows-gnu

PACKAGES=(
  gcc-mingw-w64-x86-64   # the linker and C compiler for the target (SQLite, zlib, libssh2, OpenSSL)
  wine wine64            # runs the .exe files
  perl make              # OpenSSL's build (libssh2 on Windows uses OpenSSL, built from source)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/windows-test.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "scripts/windows-test.sh: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! rustc --print target-libdir --target "$TARGET" >/dev/null 2>&1 \
   || [[ ! -d $(rustc --print target-libdir --target "$TARGET") ]]; then
  rustup target add "$TARGET"
fi

# Debian names its Wine commands wine-stable etc. unless the wine package's
# alternatives give the short names.
WINE=$(command -v wine || command -v wine-stable)
WINESERVER=$(command -v wineserver || command -v wineserver-stable || echo /usr/lib/wine/wineserver64)

target_dir=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$target_dir"
target_dir=$(cd "$target_dir" && pwd)
export WINEPREFIX=$target_dir/wine-prefix
export WINEDEBUG=-all
# No Mono or Gecko install prompts; our ProcessPrng stand-in over any builtin.
export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n,b"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
# No debug info: the .exe files are 230 MB each with it, and link slower.
export CARGO_PROFILE_DEV_DEBUG=0

started=$SECONDS
if [[ ! -f $WINEPREFIX/system.reg ]]; then
  echo "== wineboot (a new Wine prefix in $WINEPREFIX)"
  timeout 300 "$WINE" wineboot -i >/dev/null 2>&1
fi
# Rust's std calls ProcessPrng (bcryptprimitives.dll), which Wine 8 lacks:
# a stand-in that forwards it to RtlGenRandom (scripts/windows/).
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -ladvapi32

# One wineserver for every run (each start costs seconds); stopped at exit.
"$WINESERVER" -p || true   # (one may be running already)
trap '"$WINESERVER" -k 2>/dev/null || true' EXIT

# The crates whose unit tests run on Windows. maestro-redirect builds (the
# tools link it) but its tests need Linux. maestro-fence's Unix-only tests
# (sh, FIFOs, symbolic links) are built for Unix only; what runs here checks
# its Windows side (Winsock's errors, a command in a Job Object, the
# Windows Firewall and sc.exe commands and their parsing).
CRATES=(maestro-common maestro-logscan maestro-snapshot-verify maestro-smoketest maestro-watch maestro-fence)
pkgs=()
for c in "${CRATES[@]}"; do pkgs+=(-p "$c"); done

echo "== cargo build --target $TARGET (the tools)"
cargo build --locked --target "$TARGET" --bins
ls -l "$target_dir/$TARGET/debug/"maestro-*.exe

echo "== unit tests under Wine: ${CRATES[*]}"
cargo test --locked --target "$TARGET" "${pkgs[@]}" --lib

echo "== trycmd cases under Wine"
cargo test --locked --target "$TARGET" --test cmd_cases

echo "scripts/windows-test.sh: done in $((SECONDS - started)) s"
