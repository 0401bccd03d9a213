// SPDX-License-Identifier: BSL-1.0
// expect-error: reserved_span_records
// why: a growth holds two span records at once (the new span and the spare for the tail cut from
//      it): room for one record could never grow the heap.
#include <cstddef>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t reserved_span_records = 1;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
