#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The default heap where address space is limited (test/reservation_probe.cpp does the work):
#   1. under `ulimit -v 8000000` (about 7.6 GiB, in a child shell) the default mheap::Heap<>,
#      whose MmapSource asks for 64 GiB, falls back to a smaller reservation and allocates a
#      128 MiB GC span (16384 pages of 8 KiB);
#   2. with no limit it gets the whole 64 GiB it asked for (the fallback costs nothing then);
#   3. a source that gets nothing, even at its floor, leaves a heap that refuses allocations and,
#      in a debug build, says so on stderr: once for a request no address space holds (2^60 bytes,
#      floor 2^59), once for the default heap under a limit just above what the program already
#      uses (less room than the 64 MiB floor).
set -uo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
  probe="$TEST_SRCDIR/${TEST_WORKSPACE:-mheap}/test/reservation_probe"
else
  probe=${1:?usage: reservation_test.sh PROBE_BINARY}
fi
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/reservation.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
pass() {
  echo "PASS $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL $*"
  for f in "$work/out" "$work/err"; do sed 's/^/    | /' "$f"; done
  failed=$((failed + 1))
}
# run LIMIT_KIB ARGS...: the probe in a child shell whose address space is limited (none: no limit).
run() {
  local limit=$1
  shift
  if [[ $limit == none ]]; then
    "$probe" "$@" >"$work/out" 2>"$work/err"
  else
    bash -c 'ulimit -v "$1" || exit 99; shift; exec "$@"' _ "$limit" "$probe" "$@" >"$work/out" 2>"$work/err"
  fi
}
field() { sed -nE "1s/.*$1=([0-9]+).*/\\1/p" "$work/out"; }
message='mheap: MmapSource could not reserve'

run 8000000 alloc
status=$?
if ((status == 0)) && (($(field capacity) < $(field requested))); then
  pass "ulimit -v 8000000: the default heap fell back to $(($(field capacity) >> 20)) MiB and allocated a 128 MiB span"
else
  fail "ulimit -v 8000000: exit $status; the default heap must fall back and allocate a 128 MiB span"
fi

run none alloc
status=$?
if ((status == 0)) && (($(field capacity) == $(field requested))); then
  pass "no limit: the default heap reserved all $(($(field requested) >> 30)) GiB it asked for"
else
  fail "no limit: exit $status; the default heap must reserve what it asked for and allocate"
fi

# expect_nothing WHAT: the probe ran in mode "nothing": heap empty and refusing; message if debug.
expect_nothing() {
  local what=$1 status=$2
  if ((status != 0)); then
    fail "$what: exit $status; expected an empty heap that refuses allocations"
  elif [[ $(field ndebug) == 0 ]] && ! grep -q "$message" "$work/err"; then
    fail "$what: a debug build must say on stderr that the source reserved nothing"
  else
    pass "$what: nothing reserved, allocations refused$([[ $(field ndebug) == 0 ]] && echo ", and stderr says: $(head -c 100 "$work/err")...")"
  fi
}

run none nothing huge
expect_nothing "2^60 bytes asked, floor 2^59" $?

run none vmsize
vmsize=$(cat "$work/out")
if [[ $vmsize =~ ^[0-9]+$ ]]; then
  limit=$((vmsize + 32 * 1024))  # room for the program, not for a 64 MiB reservation
  run "$limit" nothing
  expect_nothing "default heap under ulimit -v $limit" $?
else
  fail "could not read the probe's VmSize"
fi

echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
