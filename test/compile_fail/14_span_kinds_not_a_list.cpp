// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: SpanKinds must be mheap::SpanKinds<...>; a std::tuple of kinds has none of its members.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using SpanKinds = std::tuple<mheap::GCSpanPolicy, mheap::StackSpanPolicy>;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
