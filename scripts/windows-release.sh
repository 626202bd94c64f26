#!/usr/bin/env bash
# The Windows release: a zip of the tools' .exe files (release build for
# x86_64-pc-windows-gnu), the README, the Windows page, the example
# configuration for a Windows server and the licences, in
# dist/maestro-ha-VERSION-windows-x86_64.zip. The zip is then checked: it is
# unpacked into an empty folder and every .exe in it is run under Wine and
# must print its version and pass its `config check` of the example. Called by .ci/run after scripts/windows-test.sh
# (which has built the same .exe files with the same settings).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/windows/env.sh

# The tools a Windows server runs. maestro-sync and the Pacemaker agent are
# Linux-only (docs/windows.md) and are not shipped.
TOOLS=(maestro-fence maestro-snapshot-verify maestro-logscan maestro-smoketest maestro-watch maestro-redirect)
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[[ -n $version ]] || { echo "windows-release.sh: no version in Cargo.toml" >&2; exit 1; }
name=maestro-ha-$version-windows-x86_64

bins=()
for t in "${TOOLS[@]}"; do bins+=(--bin "$t"); done
echo "== cargo build --release --target $TARGET (${TOOLS[*]})"
cargo build --locked --release --target "$TARGET" "${bins[@]}"

stage=$(mktemp -d)
check=$(mktemp -d)
trap 'rm -rf "$stage" "$check"; wine_down' EXIT
mkdir -p "$stage/$name/docs"
for t in "${TOOLS[@]}"; do
  cp "$target_dir/$TARGET/release/$t.exe" "$stage/$name/"
done
# Text files with Windows line ends, so Notepad shows them as written.
for f in README.md LICENSE-APACHE LICENSE-MIT CHANGELOG.md; do
  sed 's/$/\r/' "$f" > "$stage/$name/$f"
done
sed 's/$/\r/' docs/windows.md > "$stage/$name/docs/windows.md"
sed 's/$/\r/' examples/config-windows.toml > "$stage/$name/config.toml.example"

mkdir -p dist
rm -f "dist/$name.zip"
(cd "$stage" && zip -q -r -X "$root/dist/$name.zip" "$name")

echo "== checking dist/$name.zip"
unzip -q "dist/$name.zip" -d "$check"
for f in README.md LICENSE-APACHE LICENSE-MIT docs/windows.md config.toml.example; do
  [[ -s $check/$name/$f ]] || { echo "windows-release.sh: $f missing from the zip" >&2; exit 1; }
done
wine_up
for t in "${TOOLS[@]}"; do
  # Output to a file, never a pipe: Wine's own services, started by the first
  # run, inherit the descriptors and would hold a pipe open after the tool ends.
  timeout 60 "$WINE" "$check/$name/$t.exe" --version >"$check/out" 2>&1 </dev/null || true
  out=$(tr -d '\r' <"$check/out")
  if [[ $out != "$t $version" ]]; then
    echo "windows-release.sh: $t.exe from the zip printed '$out', not '$t $version'" >&2
    exit 1
  fi
  # The example configuration passes every tool's check on Windows as it is;
  # snapshot-verify warns that Maestro's folders are not here (exit 1).
  rc=0
  timeout 60 "$WINE" "$check/$name/$t.exe" --config "$check/$name/config.toml.example" config check >"$check/out" 2>&1 </dev/null || rc=$?
  allowed=0
  [[ $t == maestro-snapshot-verify ]] && allowed=1
  if ((rc > allowed)); then
    echo "windows-release.sh: $t.exe config check of config.toml.example: exit $rc" >&2
    tr -d '\r' <"$check/out" >&2
    exit 1
  fi
done
ls -l "dist/$name.zip"
unzip -l "dist/$name.zip"
echo "windows-release.sh: dist/$name.zip holds ${#TOOLS[@]} tools, each ran under Wine"
