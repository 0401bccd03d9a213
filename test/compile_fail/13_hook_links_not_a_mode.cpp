// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::HookLinks
// why: HookLinks must name a Boost.Intrusive link mode (NormalLinks or SafeLinks), not any type.
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "mheap/mheap.hpp"

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using HookLinks = int;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
