// SPDX-License-Identifier: BSL-1.0
// expect-error: max_list_pages
// why: with max_list_pages = 1 there is no exact-size list at all (lists hold spans shorter than
//      max_list_pages, of at least one page).
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  static constexpr std::size_t max_list_pages = 1;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
