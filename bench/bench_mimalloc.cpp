// SPDX-License-Identifier: BSL-1.0
// mimalloc, linked into this binary only (bench/BUILD); entry points in bench/peers.hpp.
#include <mimalloc.h>  // mi_option_set, for the release/decommit_delay0 variant only

#include "bench/peers.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, [] {
    bench::register_single_thread<bench::MimallocPeer>();
    bench::register_threads_shared<bench::MimallocPeer>("shared");
    bench::register_pipeline<bench::MimallocPeer>("shared");
    // mi_collect(true) after 100 ms idle: longer than mimalloc's decommit_delay (25 ms).
    bench::register_release<bench::MimallocPeer>("release/idle100ms_collect", {.idle_first_ms = 100});
    // Free pages decommitted at once instead of 25 ms later (then mi_collect(true) as usual).
    bench::register_release<bench::MimallocPeer>(
        "release/decommit_delay0", {.setup = [] { mi_option_set(mi_option_decommit_delay, 0); }});
  });
}
