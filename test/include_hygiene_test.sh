#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# mheap's headers include one another relative to the including file, so a user's own headers
# earlier on the include path never stand in for them. Two builds of examples/quick_start.cpp (a
# user file that includes "mheap/mheap.hpp"), each compiled, linked and run with g++:
#   1. the case that was reported: a user's own policies/lock.hpp and mheap/stats.hpp in a
#      directory before the library's on the -I path;
#   2. every library header except mheap/mheap.hpp (the one the user names) shadowed that way.
# Each shadowing header is an #error, so picking up any of them fails the build and names it.
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/include_hygiene.XXXXXX")
trap 'rm -rf "$work"' EXIT

shadow() {  # shadow DIR HEADER...: an #error stand-in for each HEADER under DIR
  local dir=$1 header
  shift
  for header in "$@"; do
    mkdir -p "$dir/$(dirname "$header")"
    echo "#error \"the user's own $header was included in place of mheap's\"" >"$dir/$header"
  done
}

passed=0
failed=0
build_and_run() {  # build_and_run SHADOW_DIR WHAT
  local dir=$1 what=$2 log="$1.log"
  if g++ -std=c++20 -pthread -I"$dir" -I"$root" -o "$dir.bin" "$root/examples/quick_start.cpp" >"$log" 2>&1 &&
     "$dir.bin" >>"$log" 2>&1; then
    echo "PASS $what"
    passed=$((passed + 1))
  else
    echo "FAIL $what"
    head -n 20 "$log" | sed 's/^/    | /'
    failed=$((failed + 1))
  fi
}

shadow "$work/user" policies/lock.hpp mheap/stats.hpp
build_and_run "$work/user" "a user's policies/lock.hpp and mheap/stats.hpp first on the include path"

all=()
while IFS= read -r header; do
  [[ $header == mheap/mheap.hpp ]] || all+=("$header")
done < <(cd "$root" && find mheap policies -name '*.hpp' | sort)
shadow "$work/all" "${all[@]}"
build_and_run "$work/all" "all ${#all[@]} library headers but mheap/mheap.hpp shadowed"

echo "$passed passed, $failed failed"
((failed == 0))
