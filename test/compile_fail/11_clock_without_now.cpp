// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::Clock
// why: scavenge_idle() and the paced bound read Config::Clock::now(); a clock without it is not a ClockPolicy.
#include <cstdint>

#include "mheap/mheap.hpp"

struct StoppedClock {
  std::uint64_t nanoseconds = 0;
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using Clock = StoppedClock;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
  heap.scavenge_idle(0);
}
