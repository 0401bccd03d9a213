// SPDX-License-Identifier: BSL-1.0
// expect-clean
// why: the control for case 08. A background scavenger over a heap with a real lock (SpinLock)
//      must keep compiling once a NullLock heap is refused.
#include "mheap/mheap.hpp"

struct GoodConfig : mheap::DefaultConfig {
  using Lock = mheap::SpinLock;
  using PageSource = mheap::StaticArena<1 << 20>;
};

static mheap::Heap<GoodConfig> heap;

int main() {
  mheap::BackgroundScavenger<mheap::Heap<GoodConfig>> scavenger(heap);
  scavenger.start();
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
  scavenger.stop();
}
