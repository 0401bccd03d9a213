// SPDX-License-Identifier: BSL-1.0
// expect-error-re: Config::(PageSource|Stats|SpanKinds|HookLinks|LargeSpanTree|MisusePolicy|Clock|page_shift|max_list_pages|min_grow_bytes|grow_granule_bytes|span_pool_chunk_bytes|span_cache_pages|span_cache_per_length|valgrind_annotations|idle_retention_bytes|idle_retention_percent|idle_retention_floor_bytes)
// expect-error-re: (missing|not|lacks|must|no )
// why: a configuration that does not derive from DefaultConfig must name every member itself;
//      this one names only Lock. One error naming a missing member, not one per use of each.
#include "mheap/mheap.hpp"

struct BadConfig {
  using Lock = mheap::NullLock;
};

static mheap::Heap<BadConfig> heap;

int main() {
  auto s = heap.alloc<mheap::GCSpanPolicy>(1);
  heap.free(s);
}
