// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::ListLinks is now Config::HookLinks
// why: ListLinks was renamed HookLinks (it sets the mode of the tree's hook too); a configuration
//      that still overrides the old name would silently get NormalLinks, so it must not compile.
#include "mheap/mheap.hpp"

struct OldConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using ListLinks = mheap::SafeLinks;
};

static mheap::Heap<OldConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
