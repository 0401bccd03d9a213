// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::idle_retention_decay_ms must fit in 32 bits
// why: a negative decay would wrap into one of thousands of years.
#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  static constexpr int idle_retention_decay_ms = -1;
};

int main() {
  mheap::Heap<BadConfig> heap;
  heap.free(heap.alloc<mheap::GCSpanPolicy>(1));
}
