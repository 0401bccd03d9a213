# SPDX-License-Identifier: BSL-1.0
# tools/ensure_packages.sh — sourced by ./bazelw, bench/setup.sh and tools/package_test.sh: installs
# the Debian packages a script needs when they are missing (apt-get, non-interactive; sudo when not
# root), so each of them works on a fresh machine.
#
#   declare -A required=([pkg]=/file/that/proves/it/is/installed ...)
#   ensure_packages LABEL required
ensure_packages() {
  local label=$1
  local -n wanted=$2
  local missing=() pkg
  for pkg in "${!wanted[@]}"; do
    if [[ ! -e ${wanted[$pkg]} ]] ||
       ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]})) || return 0
  echo "$label: installing missing packages: ${missing[*]}" >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "$label: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
}
