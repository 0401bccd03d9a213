// SPDX-License-Identifier: BSL-1.0
// mheap/span_census.hpp — what the spans of a heap add up to: counts per kind, free spans by
// length, the largest free span, the pages waiting in span caches.
//
// Computed from one walk of the arena (Heap::for_each_span), so every figure is of one instant,
// and that instant's MemStats come with them. O(spans) under the heap lock, plus O(free lengths ×
// log) afterwards to sort the histogram; it allocates (std::vector, std::map), so it is for
// tools, tests and debugging rather than an embedded image's hot path.
//
// Invariants (test/span_walk_test.cpp checks them against the MemStats of the same instant):
//   Σ pages of every span == grown_pages, and grown_pages × page_bytes == the bytes obtained for
//   spans (Sys − MSpanSys − OtherSys);
//   (free_pages + cached_pages) × page_bytes == HeapIdle;  released_pages × page_bytes == HeapReleased;
//   live pages of the kinds counted in heap_sys × page_bytes == HeapInuse (Go 1.9 kinds).
//
// Room to grow: the heap may later keep cumulative counters per kind (span allocations, frees,
// bytes allocated: Go's span-level Mallocs / Frees / TotalAlloc) and the largest free span in
// O(1); those belong in KindCensus and SpanCensus::largest_free, which a census then copies
// instead of computing.
#pragma once
#include "detail/require_cxx20.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "mem_stats.hpp"
#include "span_view.hpp"

namespace mheap {

/// A heap that can be walked: Heap<Config>, or anything with its for_each_span(), page size,
/// capacity and kinds.
template <class H>
concept WalkableHeap = requires(const H& heap) {
  typename H::span_kinds;
  { H::page_bytes } -> std::convertible_to<std::size_t>;
  { heap.capacity_pages() } -> std::convertible_to<std::size_t>;
  { heap.for_each_span([](const SpanView&) {}) } -> std::same_as<MemStats>;
};

/// Free spans of one length (Go's BySize, at span level), backed and released separately.
struct FreeSpanLength {
  std::size_t npages = 0;          ///< the length, in pages
  std::size_t backed_spans = 0;    ///< free spans of this length with no page released
  std::size_t released_spans = 0;  ///< free spans of this length with at least one page released
  std::size_t released_pages = 0;  ///< pages released in those spans (≤ released_spans × npages)

  /// Every free span of this length.
  constexpr std::size_t spans() const noexcept { return backed_spans + released_spans; }
};

/// The spans one kind holds.
struct KindCensus {
  const char* name = nullptr;    ///< the kind's name (its `name` member)
  std::size_t live_spans = 0;    ///< spans charged to the kind (SpanUse::live)
  std::size_t live_pages = 0;    ///< their pages
  std::size_t cached_spans = 0;  ///< spans the kind holds parked in span caches (SpanUse::cached)
  std::size_t cached_pages = 0;  ///< their pages
};

/// A free span named by where it is (the largest one, for instance).
struct FreeSpanPlace {
  std::size_t first_page = 0;  ///< its first page in the arena
  std::size_t npages = 0;      ///< its length; 0: there is no free span
};

/// What the spans of a heap add up to at one instant, with that instant's MemStats.
struct SpanCensus {
  MemStats mem_stats;               ///< the counters at the instant of the walk
  std::size_t page_bytes = 0;       ///< the heap's page size
  std::size_t capacity_pages = 0;   ///< the most pages the arena may grow to
  std::size_t grown_pages = 0;      ///< pages grown so far: the spans tile [0, grown_pages)
  std::size_t spans = 0;            ///< every span of the grown arena
  std::vector<KindCensus> kinds;    ///< by kind index (the heap's SpanKinds), every kind listed
  std::vector<FreeSpanLength> free_by_length;  ///< ascending length; only lengths that have a free span
  std::size_t free_spans = 0;       ///< free spans (in the free set or being released)
  std::size_t free_pages = 0;       ///< their pages
  std::size_t released_pages = 0;   ///< pages of free spans given back to the page source
  std::size_t releasing_spans = 0;  ///< free spans being released right now (outside the lock)
  std::size_t releasing_pages = 0;  ///< their pages
  std::size_t cached_spans = 0;     ///< spans parked in span caches, every kind
  std::size_t cached_pages = 0;     ///< their pages: idle, waiting for a request of their kind and length
  FreeSpanPlace largest_free;       ///< the longest free span, the lowest-addressed of equals

  /// Live spans, every kind.
  std::size_t live_spans() const noexcept {
    std::size_t n = 0;
    for (const KindCensus& k : kinds) n += k.live_spans;
    return n;
  }
  /// Live pages, every kind.
  std::size_t live_pages() const noexcept {
    std::size_t n = 0;
    for (const KindCensus& k : kinds) n += k.live_pages;
    return n;
  }
};

/// Adds up spans into a SpanCensus: for callers that walk the heap themselves and want the spans
/// too (write_svg_map() keeps them to draw). take_census() is the usual way in.
class SpanCensusTaker {
 public:
  /// Starts an empty census of a heap of type H (its page size and kinds) and capacity.
  template <WalkableHeap H>
  static SpanCensusTaker for_heap(const H& heap) {
    SpanCensusTaker t;
    t.census_.page_bytes = H::page_bytes;
    t.census_.capacity_pages = heap.capacity_pages();
    H::span_kinds::for_each([&]<class K, std::size_t>() { t.census_.kinds.push_back(KindCensus{K::name}); });
    return t;
  }

  /// Counts one span. Cost: O(1), and O(log free lengths) for a free span.
  void count(const SpanView& v) {
    ++census_.spans;
    census_.grown_pages += v.npages;
    switch (v.use) {
      case SpanUse::live: {
        KindCensus& k = kind(v.kind);
        ++k.live_spans;
        k.live_pages += v.npages;
        break;
      }
      case SpanUse::cached: {
        KindCensus& k = kind(v.kind);
        ++k.cached_spans;
        k.cached_pages += v.npages;
        ++census_.cached_spans;
        census_.cached_pages += v.npages;
        break;
      }
      case SpanUse::releasing:
        ++census_.releasing_spans;
        census_.releasing_pages += v.npages;
        [[fallthrough]];
      case SpanUse::free: {
        ++census_.free_spans;
        census_.free_pages += v.npages;
        census_.released_pages += v.released_pages;
        FreeSpanLength& l = by_length_[v.npages];
        l.npages = v.npages;
        if (v.released_pages == 0) {
          ++l.backed_spans;
        } else {
          ++l.released_spans;
          l.released_pages += v.released_pages;
        }
        // Address order: the first of the longest length seen is the lowest-addressed one.
        if (v.npages > census_.largest_free.npages) census_.largest_free = FreeSpanPlace{v.first_page, v.npages};
        break;
      }
    }
  }

  /// The census, with the MemStats of the instant walked. Cost: O(free lengths).
  SpanCensus finish(const MemStats& at_walk) && {
    census_.mem_stats = at_walk;
    census_.free_by_length.reserve(by_length_.size());
    for (const auto& entry : by_length_) census_.free_by_length.push_back(entry.second);
    return std::move(census_);
  }

 private:
  // A kind index the heap does not list cannot come from a sound heap; it is given a row of its own
  // (no name) rather than dropped, so the census still adds up.
  KindCensus& kind(std::uint8_t index) {
    if (index >= census_.kinds.size()) census_.kinds.resize(std::size_t{index} + 1);
    return census_.kinds[index];
  }

  SpanCensus census_;
  std::map<std::size_t, FreeSpanLength> by_length_;  // ordered: the histogram comes out ascending
};

/// Walks the heap once (Heap::for_each_span) and adds its spans up.
/// Cost: O(spans × log free lengths); the walk holds the heap lock (and stops thread caches).
template <WalkableHeap H>
SpanCensus take_census(const H& heap) {
  SpanCensusTaker taker = SpanCensusTaker::for_heap(heap);
  const MemStats at_walk = heap.for_each_span([&](const SpanView& v) { taker.count(v); });
  return std::move(taker).finish(at_walk);
}

}  // namespace mheap
