// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::MisusePolicy
// why: the heap reports double frees and foreign spans through MisusePolicy::report(); a policy
//      without it is not a MisuseHandler.
#include "mheap/mheap.hpp"

struct SilentMisuse {
  unsigned long count = 0;
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using MisusePolicy = SilentMisuse;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
