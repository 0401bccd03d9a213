// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/span_state.hpp — the states of a span record, and every legal move between them (the
/// table and the transitions are in the header itself, as plain comments).
//
// Vocabulary: included by policies (span kinds name the live state they use) and by the core.
// Internal checks (Config::internal_checks, mheap/detail/internal_check.hpp) verify the state
// before each move.
//
// A record's state says who holds its pages; its generation's parity (mheap/span.hpp) says whether
// a caller does: odd while a SpanRef owns the span, even otherwise. A span a kind holds but no
// caller owns is *parked*: idle, whole, waiting in a span cache for the next request of its kind
// and length. Parking and unparking change only the generation, the one word of a record that
// threads touch without the heap lock (mheap/detail/shared_word.hpp), so a thread's own span
// cache works without locking, and the heap, reading a neighbour's state under its lock while it
// merges, never races with it.
//
// | state      | generation | means                                  | held by                      | page map points at it from     |
// |------------|------------|----------------------------------------|------------------------------|--------------------------------|
// | unused     | even       | describes nothing; waits in the pool   | SpanPool's unused list       | maybe stale interior entries   |
// | free       | even       | idle run, merged with free neighbours  | FreeSet (a list or the tree) | its first and last page        |
// | scavenging | even       | free, out of the free set while its    | a release job (the lock is   | its first and last page        |
// |            |            | pages go back to the source            | dropped meanwhile)           |                                |
// | in_use     | odd        | live, garbage-collected kind           | its owner's SpanRef          | every page (ends only for a    |
// | manual     | odd        | live, manually managed kind            | its owner's SpanRef          | kind with !maps_interior_pages)|
// | in_use/    | even       | parked: idle, kept whole for its kind  | a span cache's stack for its | as while live                  |
// |   manual   |            |                                        | kind and length, an outbox,  |                                |
// |            |            |                                        | or an arena's returned stack |                                |
//
// Transitions (→ new state: function; the core is mheap/heap_core.hpp, the face mheap/heap_shard.hpp):
//   unused → free          grow() (fresh pages), cut_tail() (the tail of a split)
//   free → free            grow(): the free span ending the arena takes the fresh pages in (same base)
//   unused → unused        grow(): a spare record taken and retired at once, first in line for cut_tail()
//   free → live            alloc(): taken from the free set, cut, make_live()
//   free → parked          refill_locked(): taken from the free set, cut, park_locked() for a thread whose stack is empty
//   parked → live          alloc(): popped from a span cache, unpark() (generation only)
//   live → parked          free(): claimed (generation only), pushed on the freeing thread's cache
//                          (its stack for the kind and length, or its outbox when that is full; a
//                          short span neither takes goes with the outbox on the arena's returned
//                          stack, returned_spans.hpp, and so does a guest's long span)
//   live → free            free(): claimed, then free_span_locked() merges it (insert_free())
//   parked → parked        FrontEnd::drain_returned_locked(): from the returned stack onto the stacks
//                          of a home thread locking the arena for its cache, where they have room
//   parked → free          flush_locked(), unpark_to_free(): before growth, scavenging, the retention
//                          bound, at thread exit; an outbox at its thread's next lock; the returned
//                          stack at a home thread's lock for its cache (what its stacks leave), a
//                          guest's lock, a lock for a long span, a flush, a thread's exit, or its
//                          drain past the bound by the thread that found it there
//   free → scavenging      release_locked(): taken out of the free set before the lock drops
//   scavenging → free      release_locked(): put back (merged) once the lock is held again
//   free → unused          insert_free()/absorb(): a neighbour merged into another record
// Nothing else moves a record: a live span never becomes unused directly, and no state but free
// is ever merged into.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstdint>
#include <type_traits>

namespace mheap {

/// Who holds a span record's pages (with the generation's parity: whether a caller owns them).
enum class SpanState : std::uint8_t {
  unused = 0,  ///< record sits in the span pool; describes nothing
  free,        ///< on a free list or in the large-span tree
  in_use,      ///< live, garbage-collected heap (Go's mSpanInUse)
  manual,      ///< live, managed by its user (Go's mSpanManual: stacks, work buffers)
  scavenging,  ///< free, taken out of the free set while its pages are given back outside the lock
};

/// Held by a kind: live, or parked in a span cache (the generation tells which).
constexpr bool is_held(SpanState s) noexcept { return s == SpanState::in_use || s == SpanState::manual; }
/// A span record's generation (SpanHeader::generation): 64 bits wherever the target changes 64 bits
/// atomically without a lock (every 64-bit host, and 32-bit x86 and Arm A-profile), where a record
/// would need centuries of alloc/free cycles to wrap. Elsewhere (a Cortex-M) the machine word: a
/// wider one would cost a library call to change and 4 more bytes in every record. There a stale
/// SpanRef could match its record again after 2^31 alloc/free cycles of that very record while the
/// stale copy is kept: misuse detection is exact up to that count.
using Generation = std::conditional_t<__atomic_always_lock_free(sizeof(std::uint64_t), 0), std::uint64_t, std::uintptr_t>;

/// Whether a caller owns the span: an odd generation (even: free, unused or parked).
constexpr bool is_owned(Generation generation) noexcept { return (generation & 1) != 0; }

}  // namespace mheap
