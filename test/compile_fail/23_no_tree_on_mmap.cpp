// SPDX-License-Identifier: BSL-1.0
// expect-error: NoTree needs a page source with a capacity fixed at compile time
// why: without a tree every free span must fit on a list, and only a capacity known at compile time
//      (StaticArena's) bounds the longest span.
#include <cstddef>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using LargeSpanTree = mheap::NoTree;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
