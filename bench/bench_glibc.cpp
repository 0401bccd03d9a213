// SPDX-License-Identifier: BSL-1.0
// glibc malloc: aligned_alloc / free.
#include "bench/peers.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, [] {
    bench::register_single_thread<bench::GlibcPeer>();
    bench::register_threads_shared<bench::GlibcPeer>("shared");
    bench::register_pipeline<bench::GlibcPeer>("shared");
  });
}
