# Sourced by scripts/windows-test.sh and scripts/windows-release.sh (from the
# repository's root): installs what the Windows build needs (Debian packages
# as root, the Rust target through rustup) and sets up the cross build and
# Wine the same way for both. Defines TARGET, WINE, WINESERVER, target_dir.
# shellcheck shell=bash
TARGET=x86_64-pc-windows-gnu

PACKAGES=(
  gcc-mingw-w64-x86-64   # the linker and C compiler for the target (SQLite, zlib, libssh2, OpenSSL)
  wine wine64            # runs the .exe files
  perl make              # OpenSSL's build (libssh2 on Windows uses OpenSSL, built from source)
  zip unzip              # the release zip (scripts/windows-release.sh)
)
source scripts/lib/install-packages.sh
install_packages "${0##*/}" "${PACKAGES[@]}"

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
# The release profile, as the zip ships it, for the tests too: the tests
# then check the very .exe files the zip holds, and the dependencies (OpenSSL
# from source above all) are built once. No debug info and stripped: with
# line tables the .exe files are many times larger, and mingw's linker is slow.
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_STRIP=symbols

# A Wine prefix ready to run the .exe files, and one wineserver for every run
# (each start costs seconds); the caller stops it at exit (wine_down).
wine_up() {
  if [[ ! -f $WINEPREFIX/system.reg ]]; then
    echo "== wineboot (a new Wine prefix in $WINEPREFIX)"
    timeout 300 "$WINE" wineboot -i >/dev/null 2>&1
  fi
  # Rust's std calls ProcessPrng (bcryptprimitives.dll), which Wine 8 lacks:
  # a stand-in that forwards it to RtlGenRandom (scripts/windows/).
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -ladvapi32

  "$WINESERVER" -p || true   # (one may be running already)
  # Start Wine's own services now, with no terminal or pipe of ours: they
  # outlive the program that started them and keep the descriptors it had.
  timeout 120 "$WINE" cmd /c exit 0 >/dev/null 2>&1 </dev/null || true
}

wine_down() {
  "$WINESERVER" -k 2>/dev/null || true
}
