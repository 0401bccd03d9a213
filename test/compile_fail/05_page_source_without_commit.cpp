// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::PageSource
// why: a page source must commit(p, n) the ranges the heap grows into; one without commit() is
//      not a PageSourcePolicy.
#include <cstddef>

#include "mheap/mheap.hpp"

struct NoCommitSource {
  std::byte* base() noexcept { return nullptr; }
  std::size_t capacity() const noexcept { return 0; }
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = NoCommitSource;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
