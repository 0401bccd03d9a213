// SPDX-License-Identifier: BSL-1.0
// mheap/span_state.hpp — the states of a span record, and every legal move between them.
//
// Vocabulary: included by policies (span kinds name the live state they use) and by the core.
// Every transition below is made under the heap lock by the function named; internal checks
// (Config::internal_checks, mheap/detail/internal_check.hpp) verify the state before each move.
//
// | state      | means                                   | held by                     | page map points at it from      |
// |------------|-----------------------------------------|-----------------------------|---------------------------------|
// | unused     | describes nothing; waits in the pool    | SpanPool's unused list      | maybe stale interior entries    |
// | free       | idle run, merged with free neighbours   | FreeSet (a list or the tree)| its first and last page         |
// | cached     | idle run kept whole, not merged         | SpanCache, stack of its len | every page if interior_mapped,  |
// |            |                                         |                             | else its first and last page    |
// | scavenging | free, out of the free set while its     | a release job (the lock is  | its first and last page         |
// |            | pages go back to the source             | dropped meanwhile)          |                                 |
// | in_use     | live, garbage-collected kind            | its owner's SpanRef         | every page (ends only for a     |
// | manual     | live, manually managed kind             | its owner's SpanRef         | kind with !maps_interior_pages) |
//
// Transitions (→ new state: function, in mheap/heap_core.hpp):
//   unused → free        grow() (fresh pages), cut_tail() (the tail of a split)
//   unused → unused      grow(): a spare record taken and retired at once, first in line for cut_tail()
//   free → in_use/manual alloc(): taken from the free set, cut, make_live()
//   cached → in_use/manual alloc(): popped from the span cache, make_live()
//   in_use/manual → cached  free_span_locked(): a short span while the cache has room
//   in_use/manual → free    free_span_locked(): otherwise, merged by insert_free()
//   cached → free        flush_cache_locked(): before growth, scavenging, the retention bound
//   free → scavenging    release_locked(): taken out of the free set before the lock drops
//   scavenging → free    release_locked(): put back (merged) once the lock is held again
//   free → unused        insert_free()/absorb(): a neighbour merged into another record
// Nothing else moves a record: a live span never becomes unused directly, and no state but free
// is ever merged into.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstdint>

namespace mheap {

enum class SpanState : std::uint8_t {
  unused = 0,  // record sits in the span pool; describes nothing
  free,        // on a free list or in the large-span tree
  in_use,      // live, garbage-collected heap (Go's mSpanInUse)
  manual,      // live, managed by its user (Go's mSpanManual: stacks, work buffers)
  scavenging,  // free, taken out of the free set while its pages are given back outside the lock
  cached,      // free, kept whole in the span cache for the next request of its length
};

constexpr bool is_live(SpanState s) noexcept { return s == SpanState::in_use || s == SpanState::manual; }

}  // namespace mheap
