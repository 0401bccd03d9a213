#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Builds test/fuzz/heap_fuzzer.cpp with clang++ -fsanitize=fuzzer,address,undefined and runs it.
#
#   tools/fuzz.sh SECONDS [CORPUS_DIR] [-- LIBFUZZER_FLAGS...]
#
# SECONDS      how long to fuzz (libFuzzer -max_total_time).
# CORPUS_DIR   a writable corpus that keeps what the run finds (created if missing). Without it the
#              run uses a temporary copy of the checked-in seeds (test/fuzz/corpus), which it never
#              modifies. The seeds are always read as well.
# Env:         FUZZ_BUILD_DIR (default: a directory under ${TMPDIR:-/tmp}; reused between runs),
#              FUZZ_ARTIFACTS (where crashing inputs go; default ${TMPDIR:-/tmp}/mheap-fuzz-artifacts),
#              FUZZ_JOBS (libFuzzer -fork=N: N fuzzing processes; default 1, no fork).
# Exit status: 0 if the run ended without a crash, non-zero otherwise (the crashing input is
# printed with a command that replays it). Prints the executions and heap operations it ran.
# Needs clang++ and libclang-rt-14-dev (installed with apt when missing).
set -euo pipefail

usage() { echo "usage: $0 SECONDS [CORPUS_DIR] [-- LIBFUZZER_FLAGS...]" >&2; exit 2; }
[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
seconds=$1
shift
corpus=""
if [[ $# -ge 1 && $1 != "--" ]]; then corpus=$1; shift; fi
[[ $# -ge 1 && $1 == "--" ]] && shift
extra=("$@")

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=${TMPDIR:-/tmp}

# ---- toolchain --------------------------------------------------------------------------------
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $cxx ]] || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  echo "fuzz.sh: installing clang and libclang-rt-14-dev" >&2
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >&2 ||
    { "${sudo[@]}" apt-get update -q >&2 &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >&2; }
  cxx=$(command -v clang++ || command -v clang++-14)
fi
for f in /usr/include/boost/intrusive/list.hpp; do
  [[ -e $f ]] || { echo "fuzz.sh: Boost headers missing (./bazelw installs libboost-dev)" >&2; exit 1; }
done

# ---- build (only when a source changed) --------------------------------------------------------
build=${FUZZ_BUILD_DIR:-$tmp/mheap-fuzz-build}
mkdir -p "$build/include"
ln -sfn /usr/include/boost "$build/include/boost"  # Boost alone, never -I/usr/include
bin=$build/heap_fuzzer
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Wall -Wextra -I"$root" -isystem "$build/include")
stamp=$build/stamp
sources=("$root/test/fuzz/heap_fuzzer.cpp" "$root/test/model_driver.hpp" "$root/test/model.hpp" "$root"/mheap/*.hpp "$root"/policies/*.hpp)
want=$( { echo "$cxx ${flags[*]}"; cat "${sources[@]}"; } | sha256sum | cut -d' ' -f1)
if [[ ! -x $bin || ! -e $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "fuzz.sh: building $bin"
  "$cxx" "${flags[@]}" "$root/test/fuzz/heap_fuzzer.cpp" -o "$bin.new"
  mv "$bin.new" "$bin"
  echo "$want" >"$stamp"
fi

# ---- run --------------------------------------------------------------------------------------------
seeds=$root/test/fuzz/corpus
work=$(mktemp -d "$tmp/mheap-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ -z $corpus ]]; then
  corpus=$work/corpus
  mkdir -p "$corpus"
else
  mkdir -p "$corpus"
fi
artifacts=${FUZZ_ARTIFACTS:-$tmp/mheap-fuzz-artifacts}
mkdir -p "$artifacts"
fork=()
[[ ${FUZZ_JOBS:-1} -gt 1 ]] && fork=(-fork="$FUZZ_JOBS" -ignore_crashes=0)

log=$work/fuzz.log
echo "fuzz.sh: fuzzing for ${seconds}s (corpus $corpus, seeds $seeds, crashes to $artifacts/)"
start=$(date +%s)
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "${fork[@]}" "${extra[@]}" "$corpus" "$seeds" 2>&1 | tee "$log" |
  grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|^"|^###### ' 
rc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

runs=$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n}' "$log")
# -fork=N (FUZZ_JOBS): the jobs' own lines stay in their logs; take the parent's last "#N:" line.
[[ -n $runs ]] || runs=$(sed -n 's/^#\([0-9][0-9]*\): cov:.*/\1/p' "$log" | tail -1)
ops=$(awk '/^heap_fuzzer: [0-9]+ heap operations/ {s += $2} END {print s + 0}' "$log")
((${#fork[@]} == 0)) || ops="(not counted with FUZZ_JOBS)"
echo "fuzz.sh: ${elapsed}s, ${runs:-?} executions, ${ops} heap operations, exit status $rc"
if ((rc != 0)); then
  echo "fuzz.sh: FAILED. Crashing input(s):"
  grep -E '^heap_fuzzer: .*op [0-9]+:|Test unit written to' "$log" | sed 's/^/  /' || true
  echo "  replay: $bin <input>"
  exit "$rc"
fi
if ((elapsed < seconds)); then
  echo "fuzz.sh: FAILED: ran ${elapsed}s, asked for ${seconds}s"
  exit 1
fi
