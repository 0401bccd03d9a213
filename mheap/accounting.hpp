// SPDX-License-Identifier: BSL-1.0
// mheap/accounting.hpp — the one home of the accounting table: what allocating and freeing a span
// of each kind moves, and the walk that sees each distinct counter once.
//
// The table (docs/go-accounting.md has Go 1.9's version and the Go function behind each row):
//
//   | event                                   | heap_sys | heap_idle | heap_inuse | the kind's counter |
//   |-----------------------------------------|----------|-----------|------------|--------------------|
//   | grow by n                               | +n       | +n        |            |                    |
//   | alloc n, kind inside heap_sys (GC)      |          | −n        | +n         | +n (unless it is   |
//   |                                         |          |           |            |  heap_inuse itself)|
//   | alloc n, kind outside heap_sys (manual) | −n       | −n        |            | +n                 |
//   | free: the alloc's row, reversed         |          |           |            |                    |
//
// heap_released moves only with released pages (mheap/release_engine.hpp): −(released pages of the
// span an allocation makes usable), +(pages a release gives back).
//
// Used by the heap (charge, credit), the configuration checks (the rules at the bottom), MemStats
// (mheap/mem_stats.hpp), the audit (mheap/audit.hpp) and the tests' model.
#pragma once
#include "detail/require_cxx20.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "detail/internal_check.hpp"
#include "stats.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

namespace detail {
// True when kind A's counter is the same member as kind B's.
template <class StatsT, SpanKind A, SpanKind B>
constexpr bool same_counter() {
  return static_cast<std::uint64_t StatsT::*>(A::counter) == static_cast<std::uint64_t StatsT::*>(B::counter);
}
template <class StatsT, SpanKind K>
constexpr bool counter_is(std::uint64_t Stats::*member) {
  return static_cast<std::uint64_t StatsT::*>(K::counter) == static_cast<std::uint64_t StatsT::*>(member);
}
}  // namespace detail

// True when the kind's own counter is heap_inuse itself (so it must not be charged twice).
template <SpanKind K>
inline constexpr bool charges_only_heap_inuse = [] {
  if constexpr (CounterBoundAtCompileTime<K> &&
                std::is_same_v<std::remove_cv_t<decltype(K::counter)>, std::uint64_t Stats::*>)
    return K::counter == &Stats::heap_inuse;
  else
    return false;
}();

// ---- the table ---------------------------------------------------------------------------------
namespace detail {
// Between the update of heap_idle and the next counter: a compiler-only barrier (no instruction).
// It keeps g++ from merging the two neighbouring updates into one 16-byte load and store in one
// of alloc and free but not the other; a wide load right after two narrow stores to the same bytes
// cannot be forwarded from the store buffer and waits for them (measured on the hot 1-page pair:
// 11.8 ns with the merge, 6.0 without).
inline void keep_counter_updates_apart() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
}  // namespace detail

template <SpanKind Kind, bool Checks = false, class StatsT>
[[gnu::always_inline]] inline void charge(StatsT& s, std::uint64_t bytes) noexcept {
  detail::internal_check<Checks>([&] { return s.heap_idle >= bytes; }, "charge: heap_idle would wrap below zero");
  s.heap_idle -= bytes;
  detail::keep_counter_updates_apart();
  if constexpr (Kind::counts_toward_heap_sys) {
    s.heap_inuse += bytes;
    if constexpr (!charges_only_heap_inuse<Kind>) s.*(Kind::counter) += bytes;
  } else {
    s.heap_sys -= bytes;  // manually managed memory does not count toward heap_sys
    s.*(Kind::counter) += bytes;
  }
}

template <SpanKind Kind, bool Checks = false, class StatsT>
[[gnu::always_inline]] inline void credit(StatsT& s, std::uint64_t bytes) noexcept {
  detail::internal_check<Checks>([&] { return s.*(Kind::counter) >= bytes; },
                                 "credit: the kind's counter would wrap below zero");
  s.heap_idle += bytes;
  detail::keep_counter_updates_apart();
  if constexpr (Kind::counts_toward_heap_sys) {
    s.heap_inuse -= bytes;
    if constexpr (!charges_only_heap_inuse<Kind>) s.*(Kind::counter) -= bytes;
  } else {
    s.heap_sys += bytes;
    s.*(Kind::counter) -= bytes;
  }
}

// ---- each distinct counter once -----------------------------------------------------------------
enum class CounterWalk { all_kinds, manual_kinds };

// Calls f.template operator()<K, I>() once for each distinct counter that the kinds (all, or only
// the manually managed ones) charge, naming the first such kind in SpanKinds order. heap_inuse
// itself is the heap's counter and is not visited. Kinds sharing a counter are seen once, so Sys
// never counts a byte twice and the audit compares each counter once.
template <class StatsT, class Kinds, CounterWalk Walk = CounterWalk::all_kinds, class F>
constexpr void for_each_distinct_counter(F&& f) {
  auto walked = []<class K>() { return Walk == CounterWalk::all_kinds || K::state == SpanState::manual; };
  Kinds::for_each([&]<class K, std::size_t I>() {
    if constexpr (!charges_only_heap_inuse<K> && walked.template operator()<K>()) {
      bool seen_before = false;
      Kinds::for_each([&]<class J, std::size_t JI>() {
        if constexpr (JI < I && walked.template operator()<J>())
          if (detail::same_counter<StatsT, J, K>()) seen_before = true;
      });
      if (!seen_before) f.template operator()<K, I>();
    }
  });
}

// Calls f.template operator()<J, JI>() for every kind J that charges K's counter (K included).
template <class StatsT, class Kinds, class K, class F>
constexpr void for_each_kind_sharing_counter(F&& f) {
  Kinds::for_each([&]<class J, std::size_t JI>() {
    if (detail::same_counter<StatsT, J, K>()) f.template operator()<J, JI>();
  });
}

// Bytes the heap obtained for spans: heap_sys plus each distinct counter outside it.
template <class StatsT, class Kinds>
constexpr std::uint64_t obtained_bytes(const StatsT& s) {
  std::uint64_t outside = 0;
  for_each_distinct_counter<StatsT, Kinds>([&]<class K, std::size_t>() {
    if constexpr (!K::counts_toward_heap_sys) outside += s.*(K::counter);
  });
  return s.heap_sys + outside;
}

/// Adds the counters a heap keeps in `more` to `into` (a heap of several arenas adds up its
/// arenas', mheap/arena_set.hpp): the heap's own, and each distinct counter of the kinds once.
/// Members of a user's stats type that no kind names stay as they are in `into`.
template <class StatsT, class Kinds>
constexpr void add_heap_counters(StatsT& into, const StatsT& more) noexcept {
  for (auto field : {&Stats::heap_sys, &Stats::heap_idle, &Stats::heap_inuse, &Stats::heap_released,
                     &Stats::mspan_inuse, &Stats::mspan_sys, &Stats::other_sys})
    into.*field += more.*field;
  for_each_distinct_counter<StatsT, Kinds>([&]<class K, std::size_t>() { into.*(K::counter) += more.*(K::counter); });
}

// ---- rules a kind list must keep (checked when a heap is configured: mheap/config_check.hpp) ----
namespace detail {
template <class StatsT, class Kinds>
constexpr bool kinds_fit_stats() {
  bool ok = true;
  Kinds::for_each([&]<class K, std::size_t>() { ok = ok && SpanKindFor<K, StatsT>; });
  return ok;
}
// A kind's counter must be its own: charging a counter the heap itself keeps would corrupt it.
// heap_inuse is the own counter of the garbage-collected kind only: a manual kind naming it would
// be charged once and then taken out of HeapInuse by MemStats.
template <class StatsT, class Kinds>
constexpr bool kinds_own_their_counters() {
  bool ok = true;
  Kinds::for_each([&]<class K, std::size_t>() {
    if constexpr (CounterBoundAtCompileTime<K>) {
      for (auto field : {&Stats::heap_sys, &Stats::heap_idle, &Stats::heap_released, &Stats::mspan_inuse,
                         &Stats::mspan_sys, &Stats::other_sys})
        ok = ok && !counter_is<StatsT, K>(field);
      if constexpr (!K::counts_toward_heap_sys || K::state == SpanState::manual)
        ok = ok && !counter_is<StatsT, K>(&Stats::heap_inuse);
    }
  });
  return ok;
}
// Kinds that share a counter must agree on heap_sys: Sys and the audit count a counter once.
template <class StatsT, class Kinds>
constexpr bool shared_counters_agree() {
  bool ok = true;
  Kinds::for_each([&]<class A, std::size_t>() {
    Kinds::for_each([&]<class B, std::size_t>() {
      if constexpr (CounterBoundAtCompileTime<A> && CounterBoundAtCompileTime<B>)
        if (same_counter<StatsT, A, B>() && A::counts_toward_heap_sys != B::counts_toward_heap_sys) ok = false;
    });
  });
  return ok;
}
}  // namespace detail

}  // namespace mheap
