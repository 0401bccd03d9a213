// SPDX-License-Identifier: BSL-1.0
// expect-error-re: NullLock|BackgroundScavenger
// why: a background scavenger runs scavenge_idle() on a thread of its own while the owner keeps
//      using the heap; with a NullLock nothing synchronizes them, so the pairing must not compile.
#include "mheap/mheap.hpp"

struct UnlockedConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
};

static mheap::Heap<UnlockedConfig> heap;

int main() {
  mheap::BackgroundScavenger<mheap::Heap<UnlockedConfig>> scavenger(heap);
  scavenger.start();
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
  scavenger.stop();
}
