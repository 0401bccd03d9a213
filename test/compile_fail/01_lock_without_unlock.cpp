// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::Lock
// why: a lock with lock() but no unlock() is not a LockPolicy; the heap would hold it forever.
#include "mheap/mheap.hpp"

struct HalfLock {
  void lock() noexcept {}
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = HalfLock;
  using PageSource = mheap::StaticArena<1 << 20>;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
