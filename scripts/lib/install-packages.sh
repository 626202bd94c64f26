# Sourced by scripts/test.sh and scripts/windows/env.sh: install_packages
# CALLER PACKAGE... installs the Debian packages not installed yet (as root,
# after an `apt-get update`), and does nothing when all are there.
# shellcheck shell=bash
install_packages() {
  local caller=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "$caller: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "$caller: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
