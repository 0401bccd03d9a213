// SPDX-License-Identifier: BSL-1.0
// expect-clean
// why: the control. A configuration that derives from DefaultConfig with a NullLock and a
//      StaticArena, allocating and freeing both default kinds, must compile without any error, so
//      the harness cannot pass by everything failing.
#include "mheap/mheap.hpp"

struct GoodConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
};

static mheap::Heap<GoodConfig> heap;

int main() {
  auto gc = heap.alloc<mheap::GCSpanPolicy>(1);
  auto stack = heap.alloc<mheap::StackSpanPolicy>(2, /*zeroed=*/true);
  heap.free(gc);
  heap.free(stack);
  heap.scavenge_idle(0);
  return heap.audit() ? 0 : 1;
}
