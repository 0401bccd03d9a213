#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The project can be used by others only if it says under which terms: LICENSE holds the Boost
# Software License 1.0, NOTICE says who holds the copyright and where the design comes from, and
# every source file we wrote names its license on its first line (the second after a shebang,
# which the kernel reads only at byte 0), so a file copied out of the tree keeps its terms.
#
# Which files are "ours" is what git tracks, minus data: Markdown, SVG plots, the fuzz corpus (all
# generated or prose), LICENSE and NOTICE themselves, and .gitignore files. The comment syntax
# is checked for the file kinds we know; any other tracked file still needs the identifier.
set -uo pipefail

# Under Bazel, LICENSE is a runfile symlinked to the checkout; the checkout's git index is the list
# of files. The test is tagged "external" for that reason: its real input is the whole tree.
if [[ -n ${TEST_SRCDIR:-} ]]; then
  root=$(dirname "$(readlink -f "$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}/LICENSE")")
else
  root="$(cd "$(dirname "$0")/.." && pwd)"
fi
cd "$root" || exit 1

failed=0
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}

head -n 1 LICENSE 2>/dev/null | grep -qx 'Boost Software License - Version 1.0 - August 17th, 2003' ||
  fail "LICENSE does not start with the Boost Software License 1.0 heading"
grep -q 'OTHER DEALINGS IN THE SOFTWARE.' LICENSE 2>/dev/null || fail "LICENSE is not the whole license text"
grep -q 'Go runtime' NOTICE 2>/dev/null || fail "NOTICE does not name the Go runtime, whose design mheap follows"
# The license names no one: the holder of the copyright it grants under is said in NOTICE.
grep -qE '^Copyright \(c\) [0-9]{4}(-[0-9]{4})? .+' NOTICE 2>/dev/null ||
  fail "NOTICE has no copyright line (Copyright (c) YEAR HOLDER)"

if ! command -v git >/dev/null || ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  echo "FAIL: $root is not a git checkout; cannot list the files to check"
  exit 1
fi

checked=0
while IFS= read -r file; do
  case $file in
    test/fuzz/corpus/* | *.md | *.svg | LICENSE | NOTICE | .gitignore | */.gitignore) continue ;;
    *.cpp | *.hpp | *.cc | *.h) want='// SPDX-License-Identifier: BSL-1.0' ;;
    *.sh | *.py | *.bzl | *BUILD | *WORKSPACE | *.cmake | *.in | *CMakeLists.txt | *Makefile | *.txt | \
      .bazelrc | bazelw | .ci/run) want='# SPDX-License-Identifier: BSL-1.0' ;;
    *) want='' ;;  # a kind we have not met: the identifier, in whatever comment it takes
  esac
  [[ -f $file ]] || continue  # deleted in the working tree, not yet in the index
  first=$(head -n 1 -- "$file")
  [[ $first == '#!'* ]] && first=$(sed -n 2p -- "$file")
  checked=$((checked + 1))
  if [[ -n $want ]]; then
    [[ $first == "$want" ]] || fail "$file: first line is not '$want'"
  else
    [[ $first == *'SPDX-License-Identifier: BSL-1.0'* ]] || fail "$file: no SPDX-License-Identifier on its first line"
  fi
done < <(git -C "$root" ls-files)

echo "checked $checked files, $failed failure(s)"
((failed == 0 && checked > 0))
