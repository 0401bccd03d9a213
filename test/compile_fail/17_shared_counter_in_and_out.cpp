// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: two kinds share stacks_inuse, one inside heap_sys (pre-seed) and one outside it: Sys and the
//      audit could not count that counter once.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, mheap::PreSeedStackSpanPolicy>;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::StackSpanPolicy>(1);
  heap.free(s);
}
