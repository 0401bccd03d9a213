// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/stats.hpp — the heap's raw counters (Go's mstats) and the per-heap event counts.
///
/// Where it sits: every operation of Heap moves these counters under the heap lock; audit()
/// recomputes them from the spans and compares; mem_stats() turns them into the user view
/// (mheap/mem_stats.hpp). All counters are in bytes unless the name says otherwise.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mheap {

/// Raw counters, named as Go 1.9's mstats after commit dc0f0ab ("don't count manually-managed
/// spans from heap_{inuse,sys}"). Users extend them by deriving a stats type with more
/// std::uint64_t members and naming those members in their own ManualSpanPolicy kinds.
///
/// Invariants (checked by audit()):
///
///     heap_idle + heap_inuse == heap_sys
///     heap_inuse   == bytes of live spans of kinds that count toward heap_sys
///     heap_idle    == bytes of free spans
///     heap_released == released bytes of free spans, and heap_released <= heap_idle
///     heap_sys + Σ counters of the kinds outside heap_sys == bytes obtained for spans
struct Stats {
  std::uint64_t heap_sys = 0;       ///< bytes of span memory that belong to the garbage-collected heap
  std::uint64_t heap_idle = 0;      ///< bytes in free spans
  std::uint64_t heap_inuse = 0;     ///< bytes in live spans of kinds that count toward heap_sys
  std::uint64_t heap_released = 0;  ///< bytes of free spans given back to the page source
  std::uint64_t stacks_inuse = 0;   ///< bytes in live spans of StackSpanPolicy (manually managed)
  std::uint64_t mspan_inuse = 0;    ///< bytes of span records handed out by the span pool
  std::uint64_t mspan_sys = 0;      ///< bytes the span pool took from the page source
  std::uint64_t other_sys = 0;      ///< bytes of page map that cover the grown arena

  /// Every counter equal.
  friend bool operator==(const Stats&, const Stats&) = default;
};

/// Cumulative counts of one span kind: Go's Mallocs, Frees and TotalAlloc at span level. Kept
/// incrementally beside the kind's counter (with thread caches, in the threads' deltas, folded in
/// at the same cut as the bytes), so in every snapshot allocs - frees is the kind's live spans and
/// alloc_bytes - free_bytes its live bytes; audit() checks both against the spans.
struct KindTotals {
  std::uint64_t allocs = 0;       ///< spans handed out as this kind, ever
  std::uint64_t frees = 0;        ///< spans of this kind given back, ever
  std::uint64_t alloc_bytes = 0;  ///< bytes handed out as this kind, ever
  std::uint64_t free_bytes = 0;   ///< bytes of this kind given back, ever

  /// One span of `bytes` handed out.
  constexpr void count_alloc(std::uint64_t bytes) noexcept {
    ++allocs;
    alloc_bytes += bytes;
  }
  /// One span of `bytes` given back.
  constexpr void count_free(std::uint64_t bytes) noexcept {
    ++frees;
    free_bytes += bytes;
  }
  /// Every count equal.
  friend bool operator==(const KindTotals&, const KindTotals&) = default;
};

/// What happened to a heap, as counts. Not part of Go's accounting; for tests, tuning and the
/// benchmark's reports. Kept beside the counters so one lock guards both.
struct HeapEvents {
  std::uint64_t grow_calls = 0;       ///< successful growths of the arena
  std::uint64_t grow_failures = 0;    ///< page source refused to commit
  std::uint64_t zeroed_bytes = 0;     ///< bytes cleared because a zeroed alloc found a dirty span
  std::uint64_t release_calls = 0;    ///< calls into the page source's release()
  std::uint64_t released_bytes = 0;   ///< bytes handed to those calls (cumulative)
  std::uint64_t misuses = 0;          ///< misuses reported to the error policy

  /// Every count equal.
  friend bool operator==(const HeapEvents&, const HeapEvents&) = default;
};

namespace detail {
// A struct of std::uint64_t counters and nothing else (KindTotals, HeapEvents, MemStats).
template <class S>
concept AllCounters = std::is_trivially_copyable_v<S> && sizeof(S) % sizeof(std::uint64_t) == 0 &&
                      std::has_unique_object_representations_v<S>;
}  // namespace detail

/// Adds every count of `more` to `into`: KindTotals, HeapEvents and MemStats, whose members are all
/// std::uint64_t (a heap of several arenas adds up its arenas', mheap/arena_set.hpp). A Stats type
/// is added up by add_heap_counters (mheap/accounting.hpp), which knows which members are counters.
template <detail::AllCounters S>
void add_counters(S& into, const S& more) noexcept {
  constexpr std::size_t n = sizeof(S) / sizeof(std::uint64_t);
  std::uint64_t a[n], b[n];
  std::memcpy(a, &into, sizeof(S));
  std::memcpy(b, &more, sizeof(S));
  for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
  std::memcpy(&into, a, sizeof(S));
}

}  // namespace mheap
