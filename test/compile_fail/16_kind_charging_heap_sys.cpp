// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: a manual kind whose own counter is heap_sys would undo the heap's own accounting of
//      heap_sys.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

using SysManual = mheap::ManualSpanPolicy<&mheap::Stats::heap_sys>;

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, SysManual>;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<SysManual>(1);
  heap.free(s);
}
