#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The version a user sees is one version: mheap/mheap.hpp brings in MHEAP_VERSION_MAJOR, _MINOR,
# _PATCH, MHEAP_VERSION_STRING and MHEAP_VERSION, the string and the comparable number agree with
# the three parts, and CHANGELOG.md's newest entry is that version. (The CMake package reads its
# version from mheap/version.hpp; tools/package_test.sh checks the installed one.)
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi

# The macros as the compiler expands them through the umbrella header, not as a grep of the file.
probe=$(cd "$root" && printf '#include "mheap/mheap.hpp"\nmheap_version_probe MHEAP_VERSION_MAJOR MHEAP_VERSION_MINOR MHEAP_VERSION_PATCH MHEAP_VERSION_STRING MHEAP_VERSION\n' |
  g++ -std=c++20 -I. -P -E -x c++ - 2>&1) || {
  echo "FAIL: preprocessing mheap/mheap.hpp failed:"
  echo "$probe" | head -n 20
  exit 1
}
read -r _ major minor patch string number <<<"$(grep '^mheap_version_probe ' <<<"$probe")"
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

for part in "$major" "$minor" "$patch"; do
  [[ $part =~ ^[0-9]+$ ]] || fail "MHEAP_VERSION_MAJOR/MINOR/PATCH missing or not a number through mheap/mheap.hpp: '$part'"
done
if ((!failed)); then
  [[ $string == "\"$major.$minor.$patch\"" ]] || fail "MHEAP_VERSION_STRING is $string, not \"$major.$minor.$patch\""
  [[ $number =~ ^[-+*()0-9\ ]+$ ]] && (( number == major * 10000 + minor * 100 + patch )) ||
    fail "MHEAP_VERSION ($number) is not major * 10000 + minor * 100 + patch"
  newest=$(grep -m1 -oE '^## [0-9]+\.[0-9]+\.[0-9]+' "$root/CHANGELOG.md" | cut -c4-)
  [[ $newest == "$major.$minor.$patch" ]] || fail "CHANGELOG.md's newest entry is '$newest', the headers say $major.$minor.$patch"
fi

((failed)) || echo "PASS: mheap $major.$minor.$patch, MHEAP_VERSION $((number)), CHANGELOG.md agrees"
((!failed))
