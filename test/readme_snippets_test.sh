#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The README's C++ snippets compile as pasted. A ```cpp block in README.md is preceded (blank
# lines aside) by one of
#   <!-- compile -->                  a whole program: compiled and linked as it stands
#   <!-- compile: LIBS -->            the same, linked with LIBS as well (e.g. -lboost_context for
#                                     mheap/fiber_stack.hpp, which needs Boost.Context)
#   <!-- not compiled: REASON -->     a fragment, said so on purpose
# and a block with neither fails the test, so a new snippet cannot slip past unchecked. Each
# program is built with g++ -std=c++20 -Wall -Wextra -Werror against the checkout's headers, and
# again with clang++ (libstdc++) and clang++ -stdlib=libc++ where those are installed: the
# compilers the README names. A snippet that includes <memory_resource> is skipped, and says so,
# for a standard library without std::pmr (libc++ before 16), as the README says.
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/readme_snippets.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Split README.md: snippet-<line>.cpp for each program (line: where its fence opens), and one line
# "unmarked <line>" per ```cpp block without a marker.
awk -v dir="$work" '
  /^```cpp[ \t]*$/ && !inside {
    inside = 1; start = NR
    if (marker == "compile") {
      file = dir "/snippet-" NR ".cpp"; printf "" > file
      if (libs != "") { print libs > (dir "/snippet-" NR ".libs"); close(dir "/snippet-" NR ".libs") }
    } else file = ""
    if (marker == "") print "unmarked " NR
    next
  }
  inside && /^```[ \t]*$/ { inside = 0; if (file != "") close(file); marker = ""; libs = ""; next }
  inside { if (file != "") print > file; next }
  /^<!-- compile -->[ \t]*$/ { marker = "compile"; libs = ""; next }
  /^<!-- compile: -l[^>]* -->[ \t]*$/ {
    marker = "compile"; libs = $0
    sub(/^<!-- compile: /, "", libs); sub(/ -->[ \t]*$/, "", libs)
    next
  }
  /^<!-- not compiled: .+ -->[ \t]*$/ { marker = "fragment"; next }
  /^[ \t]*$/ { next }
  { marker = "" }
' "$root/README.md" >"$work/unmarked"

failed=0
passed=0
while read -r _ line; do
  echo "FAIL README.md:$line: a \`\`\`cpp block without <!-- compile --> or <!-- not compiled: REASON -->"
  failed=$((failed + 1))
done <"$work/unmarked"

compilers=("g++")
command -v clang++ >/dev/null && compilers+=("clang++")
if command -v clang++ >/dev/null &&
   echo 'int main() {}' | clang++ -stdlib=libc++ -x c++ - -o "$work/libcxx-probe" >/dev/null 2>&1; then
  compilers+=("clang++ -stdlib=libc++")
fi
# Whether each compiler's standard library has std::pmr.
declare -A has_pmr=()
for compiler in "${compilers[@]}"; do
  read -ra cxx <<<"$compiler"
  if echo '#include <memory_resource>' | "${cxx[@]}" -std=c++20 -fsyntax-only -x c++ - >/dev/null 2>&1; then
    has_pmr[$compiler]=1
  fi
done

printf 'compilers:'
printf ' [%s]' "${compilers[@]}"
echo

shopt -s nullglob
snippets=("$work"/snippet-*.cpp)
if ((${#snippets[@]} == 0)); then
  echo "FAIL: no <!-- compile --> snippet found in README.md"
  exit 1
fi
for snippet in "${snippets[@]}"; do
  line=${snippet##*snippet-}
  line=${line%.cpp}
  libs=()
  [[ -f ${snippet%.cpp}.libs ]] && read -ra libs <"${snippet%.cpp}.libs"
  for compiler in "${compilers[@]}"; do
    read -ra cxx <<<"$compiler"
    if [[ -z ${has_pmr[$compiler]:-} ]] && grep -q '^#include <memory_resource>' "$snippet"; then
      echo "SKIP README.md:$line [$compiler]: its standard library has no <memory_resource>"
      continue
    fi
    if "${cxx[@]}" -std=c++20 -Wall -Wextra -Werror -pthread -I"$root" "$snippet" -o "$work/program" "${libs[@]}" \
        >"$work/log" 2>&1; then
      passed=$((passed + 1))
      echo "PASS README.md:$line [$compiler]"
    else
      failed=$((failed + 1))
      echo "FAIL README.md:$line [$compiler]: does not compile as pasted"
      head -n 25 "$work/log" | sed 's/^/    | /'
    fi
  done
done

echo "$passed passed, $failed failed"
((failed == 0))
