// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: a kind charges a counter of a stats type that is not (a base of) Config::Stats: the heap has
//      no such member to charge.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct OtherStats : mheap::Stats {
  std::uint64_t workbuf_inuse = 0;
};
using Workbuf = mheap::ManualSpanPolicy<&OtherStats::workbuf_inuse>;

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, Workbuf>;  // Stats stays mheap::Stats
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<Workbuf>(1);
  heap.free(s);
}
