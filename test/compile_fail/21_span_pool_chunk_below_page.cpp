// SPDX-License-Identifier: BSL-1.0
// expect-error: span_pool_chunk_bytes
// why: span records are committed a chunk at a time, in whole pages; a chunk smaller than a page
//      cannot be committed.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t span_pool_chunk_bytes = 64;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
