// SPDX-License-Identifier: BSL-1.0
// expect-clean
// A control: docs/embedded.md's small configuration, declared constinit, builds without a word.
#include <cstddef>

#include "mheap/mheap.hpp"

struct SmallConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using LargeSpanTree = mheap::NoTree;
  static constexpr std::size_t max_list_pages = 129;  // > 1 MiB / 8 KiB
};

constinit static mheap::Heap<SmallConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
