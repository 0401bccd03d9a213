// SPDX-License-Identifier: BSL-1.0
// expect-error: max_list_pages must exceed the source's capacity in pages
// why: 1 MiB of the default 8 KiB pages can hold a free span of 128 pages; with no tree it needs a list.
#include <cstddef>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using LargeSpanTree = mheap::NoTree;
  static constexpr std::size_t max_list_pages = 64;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
