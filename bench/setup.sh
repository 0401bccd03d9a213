#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# bench/setup.sh — installs what the benchmarks need (Debian 12 packages), if missing.
#   libbenchmark-dev         Google Benchmark 1.7 (headers + libbenchmark.so)
#   libgoogle-perftools-dev  tcmalloc (gperftools 2.10)
#   libjemalloc-dev          jemalloc 5.3
#   libmimalloc-dev          mimalloc 2.0.9
#   gnuplot-nox              the SVG plots
#   valgrind                 callgrind instruction counts
#   libboost-dev             Boost.Interprocess (also needed by the library itself)
# perf (linux-perf) is optional: the profile section is skipped without it.
set -euo pipefail

declare -A required=(
  [libbenchmark-dev]=/usr/include/benchmark/benchmark.h
  [libgoogle-perftools-dev]=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so
  [libjemalloc-dev]=/usr/include/jemalloc/jemalloc.h
  [libmimalloc-dev]=/usr/include/mimalloc.h
  [gnuplot-nox]=/usr/bin/gnuplot
  [valgrind]=/usr/bin/valgrind
  [libboost-dev]=/usr/include/boost/version.hpp
)

missing=()
for pkg in "${!required[@]}"; do
  if [[ ! -e ${required[$pkg]} ]] ||
     ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "bench/setup.sh: installing missing packages: ${missing[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "bench/setup.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
fi
