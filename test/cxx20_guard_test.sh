#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Built with an older -std, mheap must say at once that it needs C++20: a one-line user file that
# includes mheap/mheap.hpp, compiled with -std=c++17 (and -std=c++14, -std=gnu++17), gets a first
# error that mentions C++20, and compilation stops there (at most two errors: the message and the
# fatal stop). The same holds for every public header alone (mheap/*.hpp, policies/*.hpp), which
# shows that each includes the guard before anything else. As a control, the same user file
# compiles cleanly with -std=c++20. g++, and clang++ when installed.
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/cxx20_guard.XXXXXX")
trap 'rm -rf "$work"' EXIT

compilers=("g++|-fno-diagnostics-show-caret -fdiagnostics-color=never")
if command -v clang++ >/dev/null; then
  compilers+=("clang++|-fno-caret-diagnostics -fno-color-diagnostics")
else
  echo "skipped clang: clang++ is not installed"
fi

passed=0
failed=0

# check CXX FLAGS STD FILE WHAT: compiling FILE (which includes WHAT) with -std=STD fails, its first
# error mentions C++20, and at most two errors are printed.
check() {
  local cxx=$1 flags=$2 std=$3 file=$4 what=$5 out="$work/out"
  read -ra diag <<<"$flags"
  (cd "$root" && "$cxx" "-std=$std" -fsyntax-only "${diag[@]}" -I. "$file") >"$out" 2>&1
  local status=$?
  local first count
  first=$(grep -m1 -E '(^|: )(fatal )?error: ' "$out")
  count=$(grep -cE '(^|: )(fatal )?error: ' "$out")
  if ((status != 0)) && [[ $first == *C++20* ]] && ((count <= 2)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL [$cxx -std=$std] $what: exit $status, $count error(s), first: ${first:-(none)}"
    head -n 20 "$out" | sed 's/^/    | /'
  fi
}

echo '#include "mheap/mheap.hpp"' >"$work/user.cpp"
for entry in "${compilers[@]}"; do
  cxx=${entry%%|*}
  flags=${entry#*|}
  for std in c++17 gnu++17 c++14; do
    check "$cxx" "$flags" "$std" "$work/user.cpp" "a user file including mheap/mheap.hpp"
  done
  for header in "$root"/mheap/*.hpp "$root"/policies/*.hpp; do
    rel=${header#"$root"/}
    echo "#include \"$rel\"" >"$work/one.cpp"
    check "$cxx" "$flags" c++17 "$work/one.cpp" "$rel alone"
  done
  # Control: the guard lets C++20 through.
  if (cd "$root" && "$cxx" -std=c++20 -fsyntax-only -I. "$work/user.cpp") >"$work/out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL [$cxx -std=c++20]: the user file does not compile"
    head -n 20 "$work/out" | sed 's/^/    | /'
  fi
done

echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
