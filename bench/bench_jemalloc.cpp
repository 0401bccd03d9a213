// SPDX-License-Identifier: BSL-1.0
// jemalloc, linked into this binary only (bench/BUILD); entry points in bench/peers.hpp.
#include "bench/peers.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, [] {
    bench::register_single_thread<bench::JemallocPeer>();
    bench::register_threads_shared<bench::JemallocPeer>("shared");
    bench::register_pipeline<bench::JemallocPeer>("shared");
    // Returning memory without the explicit purge: 1 s idle with the defaults (dirty_decay_ms
    // 10 s, no background thread), and 1 s idle with dirty_decay_ms 500 and a background thread.
    bench::register_release<bench::JemallocPeer>("release/idle1s", {.call = false, .idle_ms = 1000});
    bench::register_release<bench::JemallocPeer>(
        "release/decay500ms", {.call = false, .idle_ms = 1000, .setup = [] { bench::JemallocFns::short_decay(500); }});
  });
}
