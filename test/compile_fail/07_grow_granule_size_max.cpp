// SPDX-License-Identifier: BSL-1.0
// expect-error: grow_granule_bytes
// why: SIZE_MAX passes "at least one page", but rounding it up to pages overflows to zero and
//      growth then divides by zero at run time. The heap must refuse it at compile time.
#include <cstddef>
#include <cstdint>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t grow_granule_bytes = SIZE_MAX;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
