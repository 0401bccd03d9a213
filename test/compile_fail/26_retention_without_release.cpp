// SPDX-License-Identifier: BSL-1.0
// expect-error: idle_retention_percent or idle_retention_bytes asks for a retention bound
// why: a StaticArena built without release() cannot give pages back, so the heap compiles no
//      retention code: the paced bound asked for here would be ignored in silence.
#include <cstddef>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20, 4096, mheap::ArenaRelease::none>;
  static constexpr unsigned idle_retention_percent = 50;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
