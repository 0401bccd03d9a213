// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::idle_retention_decay_ms must fit in 32 bits
// why: the decay is counted in nanoseconds in 64 bits; a longer one would wrap into a short one.
#include <cstdint>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  static constexpr std::uint64_t idle_retention_decay_ms = std::uint64_t{1} << 40;
};

int main() {
  mheap::Heap<BadConfig> heap;
  heap.free(heap.alloc<mheap::GCSpanPolicy>(1));
}
