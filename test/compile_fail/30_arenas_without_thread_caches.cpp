// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::arenas > 1 needs thread caches
// why: a thread finds its home arena through its caches; a NullLock heap has none (and is
// single-threaded by declaration: one arena is all it can use).
#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  static constexpr unsigned arenas = 4;
};

int main() {
  mheap::Heap<BadConfig> heap;
  heap.free(heap.alloc<mheap::GCSpanPolicy>(1));
}
