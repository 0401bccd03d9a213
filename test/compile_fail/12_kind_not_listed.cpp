// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: the heap serves only the kinds its SpanKinds lists (a span records its kind as an index
//      into that list); allocating another kind must not compile. Only alloc is called: a free
//      of the same kind would be a second misuse at a second call site, with an error of its own.
#include "mheap/mheap.hpp"

struct GoodConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
};

static mheap::Heap<GoodConfig> heap;

int main() {
  auto s = heap.alloc<mheap::PreSeedStackSpanPolicy>(1);
  return s ? 0 : 1;
}
