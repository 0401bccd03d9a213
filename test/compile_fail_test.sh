#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Misconfigurations must be rejected at compile time with exactly one error that names the
# configuration member at fault (no cascade of errors from inside the heap).
#
# Each test/compile_fail/*.cpp is one case; its leading comment lines say what to expect:
#   // expect-error: TEXT      the error's message contains TEXT (plain substring)
#   // expect-error-re: REGEX  the error's message matches REGEX (grep -E)
#   // expect-clean            a control: compiles with no error at all
# A case may give several expect-error / expect-error-re lines; all must match. The message is the
# first error line with everything up to "error: " removed, so a file name cannot match by accident
# (nor can the condition clang quotes in "static_assert failed due to requirement '...'").
#
# Every case is compiled with `g++ -std=c++20 -fsyntax-only`, and again with clang++ when it is
# installed. A failing case passes only if the compiler prints exactly one line with "error:"
# (notes and "In instantiation of" context are not errors) and that line matches.
set -uo pipefail

# Under Bazel the headers and cases are runfiles; run by hand, the script finds the checkout.
if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
cases_dir="$root/test/compile_fail"
if [[ ! -d $cases_dir ]]; then
  echo "FAIL: no cases in $cases_dir"
  exit 1
fi

# Carets off: clang echoes source lines verbatim, and a source line may contain "error:".
compilers=("g++|-fno-diagnostics-show-caret -fdiagnostics-color=never")
if command -v clang++ >/dev/null; then
  compilers+=("clang++|-fno-caret-diagnostics -fno-color-diagnostics")
else
  echo "skipped clang: clang++ is not installed"
fi

passed=0
failed=0
out=$(mktemp "${TEST_TMPDIR:-/tmp}/compile_fail.XXXXXX")
trap 'rm -f "$out"' EXIT

for file in "$cases_dir"/*.cpp; do
  name=$(basename "$file" .cpp)
  clean=0
  substrings=()
  regexes=()
  while IFS= read -r line; do
    [[ $line == //* ]] || break
    case $line in
      "// expect-clean"*) clean=1 ;;
      "// expect-error-re: "*) regexes+=("${line#// expect-error-re: }") ;;
      "// expect-error: "*) substrings+=("${line#// expect-error: }") ;;
    esac
  done <"$file"
  if ((!clean && ${#substrings[@]} + ${#regexes[@]} == 0)); then
    echo "FAIL $name: no expect-error, expect-error-re or expect-clean line"
    failed=$((failed + 1))
    continue
  fi

  for entry in "${compilers[@]}"; do
    cxx=${entry%%|*}
    read -ra diag_flags <<<"${entry#*|}"
    # From the root, so messages name mheap/heap_shard.hpp rather than a long runfiles path.
    (cd "$root" && "$cxx" -std=c++20 -fsyntax-only "${diag_flags[@]}" -I. "test/compile_fail/$name.cpp") >"$out" 2>&1
    status=$?
    count=$(grep -cE '(^|: )(fatal )?error: ' "$out")
    first=$(grep -m1 -E '(^|: )(fatal )?error: ' "$out")
    message=${first#*error: }
    # clang quotes the failed condition before the message; a type name in it must not match.
    message=$(sed -E "s/ due to requirement '.*' \"/ \"/" <<<"$message")

    ok=1
    reason=""
    if ((clean)); then
      if ((status != 0 || count != 0)); then
        ok=0
        reason="must compile cleanly"
      fi
    elif ((count != 1)); then
      ok=0
      reason="expected exactly 1 error"
    else
      for s in "${substrings[@]}"; do
        [[ $message == *"$s"* ]] || { ok=0; reason="error does not contain '$s'"; }
      done
      for r in "${regexes[@]}"; do
        grep -qE -- "$r" <<<"$message" || { ok=0; reason="error does not match /$r/"; }
      done
    fi

    if ((ok)); then
      passed=$((passed + 1))
      if ((clean)); then
        echo "PASS $name [$cxx]: compiles cleanly"
      else
        echo "PASS $name [$cxx]: 1 error: $message"
      fi
    else
      failed=$((failed + 1))
      echo "FAIL $name [$cxx]: $reason; $count error(s); first: ${first:-(none)}"
      head -n 30 "$out" | sed 's/^/    | /'
    fi
  done
done

echo "$passed passed, $failed failed"
((failed == 0))
