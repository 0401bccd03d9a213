// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::arenas must be 1 to 64
// why: a heap of no arenas could hand out nothing; 64 bounds the owner lookup of every free.
#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  static constexpr unsigned arenas = 0;
};

int main() {
  mheap::Heap<BadConfig> heap;
  heap.free(heap.alloc<mheap::GCSpanPolicy>(1));
}
