#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The C++ snippets of README.md and of the pages in docs/ compile as pasted. A ```cpp block in
# those files is preceded (blank lines aside) by one of
#   <!-- compile -->                  a whole program: compiled and linked as it stands, and
#                                     run once (the g++ build): it must exit 0
#   <!-- compile: -lLIB... -->        the same, linked with those libraries as well (e.g.
#                                     -lboost_context for mheap/fiber_stack.hpp, which needs it)
#   <!-- compile-fail: TEXT -->       a whole program that must not compile: the first error
#                                     message contains TEXT (what the page says the user will see)
#   <!-- not compiled: REASON -->     a fragment, said so on purpose
# and a block with none of them fails the test, so a new snippet cannot slip past unchecked. Each
# program is built with g++ -std=c++20 -Wall -Wextra -Werror against the checkout's headers, and
# again with clang++ (libstdc++) and clang++ -stdlib=libc++ where those are installed: the
# compilers the README names. A compile-fail program must fail with g++ and clang++, each naming
# TEXT in its first error (so TEXT is a static_assert's message or a name, not one compiler's
# wording); not again with libc++, whose headers play no part in mheap's own checks. A program
# that includes <memory_resource> is skipped, and says so, for a standard library without std::pmr
# (libc++ before 16), as the README says.
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}"
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/readme_snippets.XXXXXX")
trap 'rm -rf "$work"' EXIT

pages=("README.md")
shopt -s nullglob
for page in "$root"/docs/*.md; do
  pages+=("docs/${page##*/}")
done
if [[ ! -d $root/docs ]]; then
  echo "FAIL: no docs/ directory beside README.md (the test's data is incomplete)"
  exit 1
fi

failed=0
passed=0

# Split each page: for a program, <dir>/<n>.cpp and <dir>/<n>.where ("PAGE:LINE", LINE where its
# fence opens) and, for compile-fail, <dir>/<n>.expect (TEXT); one line "unmarked PAGE:LINE" per
# ```cpp block without a marker.
for page in "${pages[@]}"; do
  awk -v dir="$work" -v page="$page" -v id="$(printf '%s' "$page" | tr -c 'A-Za-z0-9' '_')" '
    /^```cpp[ \t]*$/ && !inside {
      inside = 1
      if (marker == "compile" || marker == "compile-fail") {
        file = dir "/" id "-" NR
        printf "" > (file ".cpp")
        print page ":" NR > (file ".where"); close(file ".where")
        if (marker == "compile-fail") { print expect > (file ".expect"); close(file ".expect") }
        if (libs != "") { print libs > (file ".libs"); close(file ".libs") }
      } else file = ""
      if (marker == "") print "unmarked " page ":" NR
      next
    }
    inside && /^```[ \t]*$/ { inside = 0; if (file != "") close(file ".cpp"); marker = ""; libs = ""; next }
    inside { if (file != "") print > (file ".cpp"); next }
    /^<!-- compile -->[ \t]*$/ { marker = "compile"; libs = ""; next }
    /^<!-- compile: -l[^>]* -->[ \t]*$/ {
      marker = "compile"
      libs = $0
      sub(/^<!-- compile: /, "", libs)
      sub(/ -->[ \t]*$/, "", libs)
      next
    }
    /^<!-- compile-fail: .+ -->[ \t]*$/ {
      marker = "compile-fail"
      expect = $0
      sub(/^<!-- compile-fail: /, "", expect)
      sub(/ -->[ \t]*$/, "", expect)
      next
    }
    /^<!-- not compiled: .+ -->[ \t]*$/ { marker = "fragment"; next }
    /^[ \t]*$/ { next }
    { marker = "" }
  ' "$root/$page" >>"$work/unmarked"
done

while read -r _ where; do
  echo "FAIL $where: a \`\`\`cpp block without <!-- compile -->, <!-- compile-fail: TEXT --> or <!-- not compiled: REASON -->"
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

snippets=("$work"/*.cpp)
if ! compgen -G "$work/README_md-*.cpp" >/dev/null; then
  echo "FAIL: no <!-- compile --> snippet found in README.md"
  failed=$((failed + 1))
fi
for snippet in "${snippets[@]}"; do
  base=${snippet%.cpp}
  where=$(cat "$base.where")
  libs=()
  [[ -e $base.libs ]] && read -ra libs <"$base.libs"
  for compiler in "${compilers[@]}"; do
    read -ra cxx <<<"$compiler"
    if [[ -z ${has_pmr[$compiler]:-} ]] && grep -q '^#include <memory_resource>' "$snippet"; then
      echo "SKIP $where [$compiler]: its standard library has no <memory_resource>"
      continue
    fi
    if [[ -e $base.expect ]]; then
      [[ $compiler != *libc++* ]] || continue
      expect=$(cat "$base.expect")
      if "${cxx[@]}" -std=c++20 -fsyntax-only -pthread -I"$root" "$snippet" >"$work/log" 2>&1; then
        failed=$((failed + 1))
        echo "FAIL $where [$compiler]: compiles, but the page says it does not ($expect)"
        continue
      fi
      # The first error's message: everything up to "error: " removed, so a path cannot match.
      first=$(grep -m 1 'error: ' "$work/log" | sed 's/^.*error: //')
      if [[ $first == *"$expect"* ]]; then
        passed=$((passed + 1))
        echo "PASS $where [$compiler]: fails to compile as the page says"
      else
        failed=$((failed + 1))
        echo "FAIL $where [$compiler]: the first error does not say \"$expect\""
        echo "    | $first"
      fi
    elif "${cxx[@]}" -std=c++20 -Wall -Wextra -Werror -pthread -I"$root" "$snippet" -o "$work/program" "${libs[@]}" \
        >"$work/log" 2>&1; then
      if [[ $compiler != g++ ]]; then
        passed=$((passed + 1))
        echo "PASS $where [$compiler]"
      elif "$work/program" </dev/null >"$work/run.log" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $where [$compiler]: compiles, and runs to exit 0"
      else
        failed=$((failed + 1))
        echo "FAIL $where [$compiler]: compiles, but the program exits $?"
        head -n 25 "$work/run.log" | sed 's/^/    | /'
      fi
    else
      failed=$((failed + 1))
      echo "FAIL $where [$compiler]: does not compile as pasted"
      head -n 25 "$work/log" | sed 's/^/    | /'
    fi
  done
done

echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
