// SPDX-License-Identifier: BSL-1.0
// tcmalloc, linked into this binary only (bench/BUILD); entry points in bench/peers.hpp.
#include "bench/peers.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, [] {
    bench::register_single_thread<bench::TcmallocPeer>();
    bench::register_threads_shared<bench::TcmallocPeer>("shared");
    bench::register_pipeline<bench::TcmallocPeer>("shared");
  });
}
