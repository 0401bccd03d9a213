// SPDX-License-Identifier: BSL-1.0
// expect-clean
// why: the control for case 06. A pre-seed manual kind (ManualInHeapSpanPolicy) with a counter of
//      its own is legal and must keep compiling once heap_inuse is refused as its counter.
#include <cstdint>

#include "mheap/mheap.hpp"

struct MyStats : mheap::Stats {
  std::uint64_t workbuf_inuse = 0;
};
using PreSeedWorkbuf = mheap::ManualInHeapSpanPolicy<&MyStats::workbuf_inuse>;

struct GoodConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using Stats = MyStats;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, PreSeedWorkbuf>;
};

static mheap::Heap<GoodConfig> heap;

int main() {
  auto s = heap.alloc<PreSeedWorkbuf>(1);
  heap.free(s);
  return heap.mem_stats().HeapInuse == 0 ? 0 : 1;
}
