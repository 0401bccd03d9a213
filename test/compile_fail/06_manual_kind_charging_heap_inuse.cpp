// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: a pre-seed manual kind charges heap_inuse *and* its own counter; naming heap_inuse as that
//      counter makes the kind a GC kind in disguise (charged once, then subtracted from HeapInuse
//      and HeapSys by the user view). It compiles today and must not.
#include "mheap/mheap.hpp"

using InuseManual = mheap::ManualInHeapSpanPolicy<&mheap::Stats::heap_inuse>;

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, InuseManual>;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<InuseManual>(1);
  heap.free(s);
}
