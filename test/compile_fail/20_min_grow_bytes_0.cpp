// SPDX-License-Identifier: BSL-1.0
// expect-error: min_grow_bytes
// why: the heap grows by at least min_grow_bytes; zero is less than a page.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t min_grow_bytes = 0;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
