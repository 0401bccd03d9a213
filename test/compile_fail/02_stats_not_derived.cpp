// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::Stats
// why: the heap keeps Go's counters in Config::Stats, so it must be mheap::Stats or derive from it;
//      a look-alike struct with the same member names is not enough.
#include <cstdint>

#include "mheap/mheap.hpp"

struct MyStats {
  std::uint64_t heap_sys = 0, heap_idle = 0, heap_inuse = 0, heap_released = 0;
  std::uint64_t stacks_inuse = 0, mspan_inuse = 0, mspan_sys = 0, other_sys = 0;
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using Stats = MyStats;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
