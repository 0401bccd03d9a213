// SPDX-License-Identifier: BSL-1.0
// expect-error: Config::SpanKinds
// why: as case 12, on the default heap, which has several arenas (mheap/arena_set.hpp): the error
//      must still be one, named at the heap of arenas, not once per path into an arena.
#include "mheap/mheap.hpp"

int main() {
  mheap::Heap<> heap;
  auto s = heap.alloc<mheap::PreSeedStackSpanPolicy>(1);
  return s ? 0 : 1;
}
