// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::LargeSpanTree
// why: a large-span tree policy must name both the hook and the container templates; this one
//      has the hooks only, which LargeSpanTreePolicy does not check today.
#include <boost/intrusive/set_hook.hpp>

#include "mheap/mheap.hpp"

struct HookOnlyTree {
  template <boost::intrusive::link_mode_type Mode>
  using hook = boost::intrusive::set_member_hook<boost::intrusive::link_mode<Mode>>;
};

struct BadConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<1 << 20>;
  using LargeSpanTree = HookOnlyTree;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
