#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# bench/run.sh — THE command: installs missing packages, builds every benchmark binary, runs the
# comparison (interleaved repetitions), prints one table, writes bench/RESULTS.md and bench/*.svg.
#
#   bench/run.sh            full run (5 repetitions, about 5–6 minutes on 2 cores)
#   bench/run.sh --quick    smaller budgets, 2 repetitions (~1–2 minutes), for iterating
#   bench/run.sh --reps N   N repetitions; --no-perf skips the perf profile
#   bench/run.sh --only release   just the returning-memory workload (peak → free 90 % → release →
#                           regrow, ~1.5 minutes; with --quick 256 MiB and 2 repetitions, ~15 s):
#                           prints its table, writes bench/out/release.md, leaves RESULTS.md alone
# Raw data (JSON, callgrind/perf outputs, logs) goes to bench/out/, which is gitignored.
set -euo pipefail
cd "$(dirname "$0")/.."

bench/setup.sh
# --strip=never keeps symbols and line tables for perf and callgrind_annotate. Our own symlink
# prefix: the workspace's bazel-bin may point at another engineer's configuration (e.g. asan).
targets=(bench_mheap bench_glibc bench_tcmalloc bench_jemalloc bench_mimalloc bench_boost policy_cost path_cost embedded_fit)
./bazelw build --strip=never --symlink_prefix=bench/out/bazel- "${targets[@]/#/\/\/bench:}" >&2
# Copy the binaries: a concurrent build of //bench/... with other options would relink them.
mkdir -p bench/out/bin
for b in "${targets[@]}"; do
  cp -f "bench/out/bazel-bin/bench/$b" bench/out/bin/
done
# The code-size table for a Cortex-M4 (issue 11): seconds, and independent of the machine's load.
rm -f bench/out/sizes.md
tools/size_table.sh bench/out/sizes.md >/dev/null || echo "bench/run.sh: tools/size_table.sh failed; RESULTS.md goes without it" >&2
# How the free-span structures pack that arena (deterministic, a fraction of a second).
{ printf '\n## Packing a small fixed arena (`bench/embedded_fit.cpp`)\n\n'; bench/out/bin/embedded_fit; } >>bench/out/sizes.md ||
  echo "bench/run.sh: embedded_fit failed" >&2
exec python3 bench/run.py "$@"
