// SPDX-License-Identifier: BSL-1.0
// mheap/span_cache.hpp — recently freed short spans, kept whole for the next request of their length.
//
// Go 1.14 gave each P a cache of pages so that the common allocation skips the page heap's search.
// mheap keeps, per heap, a LIFO stack of freed spans for every length below MaxPages: freeing n
// pages pushes the span (no merge, no record retired), allocating n pages pops it (no search, no
// split, no record taken). Cached spans are idle — heap_idle counts them — but sit outside the
// free set, so they do not merge with their neighbours until the cache is flushed. The heap flushes
// it before it grows, before it scavenges, and when the retention bound wants memory back: caching
// never makes the heap larger and never keeps memory from the page source.
//
// Invariants (audit() checks them): a cached span has state cached and is on stacks_[npages] and
// nowhere else; counts_[n] is the length of stacks_[n]; pages_ is the sum of the cached spans'
// lengths.
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace mheap {

template <class SpanT, std::size_t MaxPages>
class SpanCache {
 public:
  static constexpr std::size_t max_pages = MaxPages;  // spans of this length or more are not cached

  // A cached span of exactly n pages, taken off its stack, or null.
  SpanT* pop(std::size_t n) noexcept {
    if (n >= MaxPages) return nullptr;
    SpanT* s = stacks_[n];
    if (s != nullptr) {
      stacks_[n] = s->next;
      --counts_[n];
      pages_ -= n;
    }
    return s;
  }

  // Caches s, a span of n pages (the caller has its length at hand), when it is short enough, its
  // stack holds fewer than per_length spans, and the cache holds no more than capacity_pages with
  // it. The per-length bound keeps a few long spans from filling the cache while the short lengths
  // that most requests ask for find no room.
  bool push(SpanT* s, std::size_t n, std::size_t capacity_pages, std::uint32_t per_length) noexcept {
    if (n >= MaxPages || counts_[n] >= per_length || pages_ + n > capacity_pages) return false;
    s->next = stacks_[n];
    stacks_[n] = s;
    ++counts_[n];
    pages_ += n;
    return true;
  }

  // Empties the cache, handing every span to f.
  template <class F>
  void drain(F&& f) {
    for (std::size_t n = 1; n < MaxPages && pages_ != 0; ++n) {
      while (SpanT* s = stacks_[n]) {
        stacks_[n] = s->next;
        --counts_[n];
        pages_ -= n;
        f(s);
      }
    }
  }

  std::uint32_t count(std::size_t n) const noexcept { return counts_[n]; }

  // f(span, stack_length) for every cached span.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t n = 1; n < MaxPages; ++n)
      for (const SpanT* s = stacks_[n]; s != nullptr; s = s->next) f(*s, n);
  }

  std::size_t pages() const noexcept { return pages_; }

 private:
  std::array<SpanT*, MaxPages> stacks_{};         // stacks_[n]: cached spans of n pages, most recent first
  std::array<std::uint32_t, MaxPages> counts_{};  // counts_[n]: spans on stacks_[n]
  std::size_t pages_ = 0;                         // pages held, all stacks together
};

}  // namespace mheap
