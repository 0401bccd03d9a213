// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::PageSource
// why: NoPageSource (the default where there is no <sys/mman.h>) reserves nothing; a heap over it
//      must be refused, naming the member to set.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::NoPageSource;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
