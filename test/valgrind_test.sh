#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# With Config::valgrind_annotations, free spans are NOACCESS to Valgrind's memcheck: a write into a
# freed span is reported, and a correct program is reported clean.
set -euo pipefail
probe="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-mheap}/test/valgrind_probe"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (./bazelw installs it)"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! valgrind --error-exitcode=42 --log-file="$log" "$probe" clean >/dev/null; then
  echo "FAIL: memcheck reported errors in a correct program:"; cat "$log"; exit 1
fi
rc=0
valgrind --error-exitcode=42 --log-file="$log" "$probe" misuse >/dev/null || rc=$?
if [[ $rc -ne 42 ]] || ! grep -q "Invalid write of size 1" "$log"; then
  echo "FAIL: a write into a freed span was not reported (exit $rc):"; cat "$log"; exit 1
fi
echo "2 passed, 0 failed"
