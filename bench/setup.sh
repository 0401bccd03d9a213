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

source "$(dirname "${BASH_SOURCE[0]}")/../tools/ensure_packages.sh"
ensure_packages bench/setup.sh required
