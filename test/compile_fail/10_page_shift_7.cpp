// SPDX-License-Identifier: BSL-1.0
// expect-error: page_shift
// why: pages of 128 bytes are below the supported range [8, 30] (256 B .. 1 GiB).
#include <cstddef>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t page_shift = 7;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
