#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Mutation testing of the heap's core: plants each bug listed in tools/mutants.txt, one at a time, in
# a scratch copy of the library and checks that the tests notice.
#
#   tools/mutants.sh [--matrix] [ID...]
#
# ID...      only these mutants (default: all of them).
# --matrix   run every test binary on every mutant instead of stopping at the first that fails:
#            shows which tests kill what (slower; for choosing the test subset below).
# Env:       MUTANTS_LIST     the list (default tools/mutants.txt)
#            MUTANTS_JOBS     mutants built and run at once (default 2)
#            MUTANTS_TIMEOUT  seconds one test binary may run before it counts as hung (default 20)
#            CXX              the compiler (default g++)
#
# For each mutant the script finds its `find` snippet in mheap/ and policies/ (every *.hpp, any
# depth), where it must occur exactly once: otherwise it stops before building anything and names
# the mutants to update. It copies mheap/, policies/ and test/ to a scratch directory (the working
# tree is never touched), replaces the snippet, then compiles and runs the test binaries below in
# order until one fails. A mutant is killed when a test fails, crashes or hangs (a timeout, named
# as such), and survives when all of them pass. The same binaries must first pass unmutated.
# Mutants marked `equivalent` are run too but listed apart and not counted.
#
# Output: one line per mutant, then exactly `mutants: N killed, M survived` as the last line.
# Exit status 0 only when nothing survived and no equivalent mutant was killed.
# Needs g++ (C++20) and Boost.Test (libboost-test-dev; ./bazelw installs it).
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true  # '&' in a replacement is code, not the match

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list=${MUTANTS_LIST:-$root/tools/mutants.txt}
jobs=${MUTANTS_JOBS:-2}
run_timeout=${MUTANTS_TIMEOUT:-20}
cxx=${CXX:-g++}

# The test binaries, in the order they are tried; a mutant stops at the first that fails. Each entry
# is a source in test/ and the environment it runs with. model_check_test kills most mutants and
# fails fast: it checks every counter after each operation and audits every 10th, on three
# configurations, custom kinds among them (20,000 operations take about a second). scavenge_test
# kills most of the rest (the release engine and the idle rule), paced_retention_test the paced
# bound's, arena_test the arenas' (mheap/arena_set.hpp); the others kill what needs a specific
# layout, cache bound or kind; bad_input_test the exact misuse a page boundary in free memory gets,
# constinit_test a StaticArena built over garbage, lock_test a lock that loses a sleeper (it hangs:
# killed by the timeout), release_granule_test a page source coarser than a heap page,
# thread_cache_test the window's fence. Every source includes the library, so every binary is
# rebuilt for every mutant it reaches: the fewer, the faster.
tests=(
  "model_check_test MHEAP_MODEL_OPS=20000"
  "scavenge_test"
  "paced_retention_test"
  "arena_test"
  "span_layout_test"
  "span_cache_test"
  "custom_kinds_test"
  "bad_input_test"
  "constinit_test"
  "lock_test"
  "release_granule_test"
  "thread_cache_test"
)
cxxflags=(-std=c++20 -O0 -w -DBOOST_TEST_DYN_LINK)  # -O0: builds, not runs, take the time
ldflags=(-lboost_unit_test_framework -pthread)

usage() { echo "usage: $0 [--matrix] [ID...]" >&2; exit 2; }
matrix=false
selected=()
for arg in "$@"; do
  case $arg in
    --matrix) matrix=true ;;
    -*) usage ;;
    *) selected+=("$arg") ;;
  esac
done

# ---- the list -----------------------------------------------------------------------------------
ids=() areas=() finds=() replaces=() whats=() equivalents=()
declare -A index_of=()
list_error() { echo "${list##*/}: $*" >&2; exit 2; }
add_mutant() {
  [[ -n $id ]] || return 0
  [[ -n $find ]] || list_error "mutant $id has no find:"
  [[ -n $area && -n $what ]] || list_error "mutant $id needs an area: and a what:"
  [[ $find != "$replace" ]] || list_error "mutant $id replaces its snippet with itself"
  [[ -z ${index_of[$id]:-} ]] || list_error "mutant id $id appears twice"
  index_of[$id]=${#ids[@]}
  ids+=("$id") areas+=("$area") finds+=("$find") replaces+=("$replace") whats+=("$what")
  equivalents+=("$equivalent")
  id="" area="" find="" replace="" what="" equivalent=""
}
id="" area="" find="" replace="" what="" equivalent=""
line_no=0
while IFS= read -r line || [[ -n $line ]]; do
  line_no=$((line_no + 1))
  if [[ -z $line ]]; then add_mutant; continue; fi
  [[ $line == \#* ]] && continue
  [[ $line =~ ^(id|area|find|replace|what|equivalent):\ ?(.*)$ ]] ||
    list_error "line $line_no: expected 'key: value', got: $line"
  key=${BASH_REMATCH[1]}
  printf -v "$key" '%s' "${BASH_REMATCH[2]}"
done <"$list"
add_mutant

if ((${#selected[@]})); then
  for id in "${selected[@]}"; do
    [[ -n ${index_of[$id]:-} ]] || { echo "mutants.sh: no mutant named $id in $list" >&2; exit 2; }
  done
  chosen=()
  for id in "${selected[@]}"; do chosen+=("${index_of[$id]}"); done
else
  chosen=("${!ids[@]}")
fi

# ---- where each snippet is ----------------------------------------------------------------------
# Counts occurrences in every library header; a mutant applies only where its snippet is unique.
headers=()
while IFS= read -r -d '' f; do headers+=("${f#"$root"/}"); done < <(find "$root/mheap" "$root/policies" -name '*.hpp' -print0 | sort -z)
declare -A content=()
for f in "${headers[@]}"; do
  IFS= read -r -d '' text <"$root/$f" || true
  content[$f]=$text
done

file_of=()
broken=0
for i in "${chosen[@]}"; do
  snippet=${finds[$i]}
  count=0 where=""
  for f in "${headers[@]}"; do
    text=${content[$f]}
    rest=${text//"$snippet"/}
    n=$(((${#text} - ${#rest}) / ${#snippet}))
    if ((n > 0)); then count=$((count + n)); where+=" $f"; fi
  done
  if ((count != 1)); then
    echo "mutant ${ids[$i]} does not apply: snippet found $count times${where:+ (in$where)}: ${snippet}" >&2
    broken=$((broken + 1))
  fi
  file_of[$i]=${where# }
done
if ((broken)); then
  echo "mutants.sh: $broken mutant(s) do not apply; update tools/mutants.txt to the code" >&2
  exit 2
fi

# ---- tools --------------------------------------------------------------------------------------
command -v "$cxx" >/dev/null || { echo "mutants.sh: $cxx not found" >&2; exit 2; }
command -v timeout >/dev/null || { echo "mutants.sh: timeout (coreutils) not found" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mheap-mutants.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- one run ------------------------------------------------------------------------------------
# build_test DIR NAME: compiles DIR/src/test/NAME.cpp into DIR/NAME (log in DIR/NAME.build.log).
build_test() {
  "$cxx" "${cxxflags[@]}" -I"$1/src" "$1/src/test/$2.cpp" -o "$1/$2" "${ldflags[@]}" >"$1/$2.build.log" 2>&1
}

# test_mutant DIR [INDEX]: copies the sources to DIR, plants mutant INDEX (none: the baseline), builds
# and runs the test binaries; writes DIR/result: "killed BINARY DETAIL" (one line per binary that
# failed), "survived" or "broken DETAIL".
test_mutant() {
  local dir=$1 i=${2:-}
  mkdir -p "$dir/src"
  cp -R "$root/mheap" "$root/policies" "$root/test" "$dir/src/"
  if [[ -n $i ]]; then
    local f=$dir/src/${file_of[$i]} text
    IFS= read -r -d '' text <"$f" || true
    printf '%s' "${text/"${finds[$i]}"/"${replaces[$i]}"}" >"$f"
    if cmp -s "$f" "$root/${file_of[$i]}"; then
      echo "broken: the snippet was not replaced" >"$dir/result"
      return
    fi
  else
    # The baseline needs every binary: build them side by side.
    local entry name
    for entry in "${tests[@]}"; do
      read -r name _ <<<"$entry"
      while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
      build_test "$dir" "$name" &
    done
    wait || true
  fi
  local killers=() entry name env_vars rc detail
  for entry in "${tests[@]}"; do
    read -r name env_vars <<<"$entry"
    if [[ ! -x $dir/$name ]] && ! build_test "$dir" "$name"; then
      echo "broken: $name does not compile: $(grep -m1 'error' "$dir/$name.build.log")" >"$dir/result"
      return
    fi
    rc=0
    # The braces take the shell's own report of a crashed child ("Segmentation fault") off the output.
    { (cd "$dir" && env BOOST_TEST_COLOR_OUTPUT=no $env_vars timeout -k 5 "$run_timeout" "./$name") \
        >"$dir/$name.log" 2>&1 </dev/null || rc=$?; } 2>/dev/null
    ((rc == 0)) && continue
    if ((rc == 124 || rc == 137)); then
      detail="(timeout: ran over ${run_timeout}s)"
    else
      detail=$(grep -m1 -E 'error|fatal|failed' "$dir/$name.log" || true)
      detail=${detail//"$dir/src/"/}
      if ((rc > 128 && rc <= 128 + 64)); then detail="signal $(kill -l $((rc - 128)))${detail:+; $detail}"; fi
      detail="(exit $rc${detail:+: ${detail:0:200}})"
    fi
    killers+=("$name $detail")
    $matrix || break
  done
  if ((${#killers[@]})); then
    printf 'killed %s\n' "${killers[@]}" >"$dir/result"
  else
    echo "survived" >"$dir/result"
  fi
}

start=$(date +%s)
echo "mutants.sh: ${#chosen[@]} mutant(s) from ${list#"$root"/}; tests: ${tests[*]}; $jobs at a time"

# ---- baseline: the unmutated library must pass --------------------------------------------------
test_mutant "$work/baseline"
baseline=$(head -1 "$work/baseline/result")
if [[ $baseline == broken* ]]; then
  echo "mutants.sh: the tests do not build unmutated (g++ with C++20 and libboost-test-dev needed):" >&2
  echo "$baseline" >&2
  exit 1
elif [[ $baseline != survived ]]; then
  echo "mutants.sh: the unmutated library fails its tests; fix that first:" >&2
  cat "$work/baseline/result" >&2
  for log in "$work"/baseline/*.log; do tail -n 20 "$log" >&2; done
  exit 1
fi
echo "baseline: every test passes unmutated ($(($(date +%s) - start)) s)"

# ---- the mutants, $jobs at a time ---------------------------------------------------------------
for i in "${chosen[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  mkdir -p "$work/m$i"
  test_mutant "$work/m$i" "$i" 2>"$work/m$i/shell.log" &
  pids+=($!)
done
wait || true
pids=()

# ---- report -------------------------------------------------------------------------------------
killed=0 survived=0 errors=0
equivalent_lines=()
for i in "${chosen[@]}"; do
  result=$(cat "$work/m$i/result" 2>/dev/null || echo "broken: no result; $(tail -n 3 "$work/m$i/shell.log")")
  label="${ids[$i]} [${areas[$i]}, ${file_of[$i]}]"
  if [[ -n ${equivalents[$i]} ]]; then
    if [[ $result == survived ]]; then
      equivalent_lines+=("equivalent: $label: ${equivalents[$i]}")
    else
      echo "NOT EQUIVALENT ${label}: marked equivalent, but ${result%%$'\n'*}"
      errors=$((errors + 1))
    fi
    continue
  fi
  case $result in
    killed*)
      killed=$((killed + 1))
      first=${result%%$'\n'*}
      echo "killed   $label by ${first#killed }"
      if $matrix; then tail -n +2 <<<"$result" | sed 's/^killed /           also by /'; fi
      ;;
    survived)
      survived=$((survived + 1))
      echo "SURVIVED $label: ${whats[$i]}"
      ;;
    *)
      echo "ERROR    $label: $result"
      errors=$((errors + 1))
      ;;
  esac
done
for line in "${equivalent_lines[@]}"; do echo "$line"; done
echo "mutants.sh: $(($(date +%s) - start)) s"
((errors == 0)) || echo "mutants.sh: $errors error(s) above"
echo "mutants: $killed killed, $survived survived"
((survived == 0 && errors == 0))
