// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/mem_stats.hpp — the user's view of the counters, as Go's runtime.MemStats after the seed.
///
/// After commit dc0f0ab the view equals the raw counters: HeapSys = heap_sys, HeapInuse =
/// heap_inuse, StackSys = StackInuse = stacks_inuse. A heap may still serve a manual kind with the
/// older accounting (ManualInHeapSpanPolicy: the span stays inside heap_sys and heap_inuse); its
/// counter is then subtracted from HeapSys and HeapInuse here, exactly as Go 1.8's readmemstats_m
/// subtracted StackInuse. Either way each byte obtained for spans is counted once in Sys.
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <cstdint>

#include "accounting.hpp"
#include "stats.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

/// The user's view (Heap::mem_stats()), field names as Go's runtime.MemStats; all in bytes.
struct MemStats {
  std::uint64_t Sys = 0;           ///< every byte the heap obtained, counted once (= sum of the *Sys fields)
  std::uint64_t HeapSys = 0;       ///< bytes of the garbage-collected heap, idle or in use
  std::uint64_t HeapIdle = 0;      ///< bytes in free spans
  std::uint64_t HeapInuse = 0;     ///< bytes in live garbage-collected spans
  std::uint64_t HeapReleased = 0;  ///< bytes of free spans given back to the OS
  std::uint64_t StackInuse = 0;    ///< bytes in live stack spans
  std::uint64_t StackSys = 0;      ///< bytes obtained for stacks (= StackInuse: no OS stacks here)
  std::uint64_t MSpanInuse = 0;    ///< bytes of span records in use
  std::uint64_t MSpanSys = 0;      ///< bytes obtained for span records
  std::uint64_t OtherSys = 0;      ///< bytes of page map
  std::uint64_t ManualSys = 0;     ///< bytes in live spans of manual kinds other than stacks (not Go's)
  // Cumulative, at span level, over the kinds of the garbage-collected heap (SpanState::in_use):
  // Go counts heap objects here; a page heap's objects are its spans. Per kind: Heap::kind_totals().
  std::uint64_t Mallocs = 0;       ///< spans of the garbage-collected heap handed out, ever
  std::uint64_t Frees = 0;         ///< spans of the garbage-collected heap given back, ever
  std::uint64_t TotalAlloc = 0;    ///< bytes of those spans handed out, ever (never decreases)
  /// bytes of free spans waiting whole: span caches, outboxes, returned stacks (part of HeapIdle;
  /// not Go's)
  std::uint64_t CacheIdle = 0;

  /// Every field equal.
  friend bool operator==(const MemStats&, const MemStats&) = default;
};

/// The view of raw counters s (with the kinds' cumulative totals, by kind index, and the bytes
/// parked in span caches) of a heap that
/// serves Kinds: each distinct manual counter counted once, a pre-seed kind's counter taken back
/// out of HeapSys and HeapInuse.
template <class StatsT, class Kinds>
MemStats make_mem_stats(const StatsT& s, const std::array<KindTotals, Kinds::size>& totals = {},
                        std::uint64_t span_cache_bytes = 0) {
  MemStats m;
  m.CacheIdle = span_cache_bytes;
  Kinds::for_each([&]<class K, std::size_t I>() {
    if constexpr (K::state == SpanState::in_use) {
      m.Mallocs += totals[I].allocs;
      m.Frees += totals[I].frees;
      m.TotalAlloc += totals[I].alloc_bytes;
    }
  });
  m.HeapSys = s.heap_sys;
  m.HeapIdle = s.heap_idle;
  m.HeapInuse = s.heap_inuse;
  m.HeapReleased = s.heap_released;
  m.MSpanInuse = s.mspan_inuse;
  m.MSpanSys = s.mspan_sys;
  m.OtherSys = s.other_sys;
  // Each distinct counter of the manual kinds once (mheap/accounting.hpp): Sys never counts a byte twice.
  for_each_distinct_counter<StatsT, Kinds, CounterWalk::manual_kinds>([&]<class K, std::size_t>() {
    const std::uint64_t bytes = s.*(K::counter);
    if constexpr (K::counts_toward_heap_sys) {  // pre-seed accounting: take it back out of the heap figures
      m.HeapSys -= bytes;
      m.HeapInuse -= bytes;
    }
    if (detail::counter_is<StatsT, K>(&Stats::stacks_inuse)) {
      m.StackInuse += bytes;
      m.StackSys += bytes;
    } else {
      m.ManualSys += bytes;
    }
  });
  m.Sys = m.HeapSys + m.StackSys + m.MSpanSys + m.OtherSys + m.ManualSys;
  return m;
}

}  // namespace mheap
