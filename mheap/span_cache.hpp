// SPDX-License-Identifier: BSL-1.0
// mheap/span_cache.hpp — parked spans: recently freed short spans kept whole, per kind and length,
// for the next request of that kind and length.
//
// Go 1.14 gave each P a cache of pages so that the common allocation skips the page heap's search
// and lock. Here a span cache is a LIFO stack of parked spans (mheap/span_state.hpp) for every
// (kind, length) with length below MaxPages: freeing n pages of a kind pushes the span (no merge,
// no record retired, no page-map store), allocating n pages of that kind pops it (no search, no
// split, no record taken, no page-map store: the span is still mapped as its kind was). Parked
// spans are idle — heap_idle counts them — but sit outside the free set, so they do not merge with
// their neighbours until their cache is flushed.
//
// The cache holds no lock and no atomics: one thread owns it at a time. A single-threaded heap
// has one (inside the heap, used under its NullLock); a heap with per-thread caches gives every
// thread its own (mheap/thread_caches.hpp). The heap flushes a cache before it grows, scavenges or
// enforces the retention bound, so caching never keeps memory from the page source for long.
//
// Invariants (audit() checks them): a parked span is on stacks_[kind][npages] of exactly one
// cache and nowhere else; counts_[k][n] is the length of stacks_[k][n]; pages_ is the sum of the
// parked spans' lengths.
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace mheap {

template <class SpanT, std::size_t Kinds, std::size_t MaxPages>
class SpanCache {
 public:
  static constexpr std::size_t max_pages = MaxPages;  // spans of this length or more are not cached

  // A parked span of kind k and exactly n pages, taken off its stack, or null.
  SpanT* pop(std::size_t k, std::size_t n) noexcept {
    if (n >= MaxPages) return nullptr;
    SpanT* s = stacks_[k][n];
    if (s != nullptr) {
      stacks_[k][n] = s->next;
      --counts_[k][n];
      pages_ -= n;
    }
    return s;
  }

  // Parks s, a span of kind k and n pages (the caller has its length at hand), when it is short
  // enough, its stack holds fewer than per_length spans, and the cache holds no more than
  // capacity_pages with it. The per-length bound keeps a few long spans from filling the cache
  // while the short lengths that most requests ask for find no room.
  bool push(SpanT* s, std::size_t k, std::size_t n, std::size_t capacity_pages, std::uint32_t per_length) noexcept {
    if (n >= MaxPages || counts_[k][n] >= per_length || pages_ + n > capacity_pages) return false;
    s->next = stacks_[k][n];
    stacks_[k][n] = s;
    ++counts_[k][n];
    pages_ += n;
    return true;
  }

  // Empties stack (k, n), handing every span to f.
  template <class F>
  void drain_stack(std::size_t k, std::size_t n, F&& f) {
    while (SpanT* s = stacks_[k][n]) {
      stacks_[k][n] = s->next;
      --counts_[k][n];
      pages_ -= n;
      f(s);
    }
  }

  // Empties the cache, handing every span to f.
  template <class F>
  void drain(F&& f) {
    for (std::size_t k = 0; k < Kinds && pages_ != 0; ++k)
      for (std::size_t n = 1; n < MaxPages && pages_ != 0; ++n) drain_stack(k, n, f);
  }

  std::uint32_t count(std::size_t k, std::size_t n) const noexcept { return counts_[k][n]; }

  // f(span, kind, stack_length) for every parked span.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t k = 0; k < Kinds; ++k)
      for (std::size_t n = 1; n < MaxPages; ++n)
        for (const SpanT* s = stacks_[k][n]; s != nullptr; s = s->next) f(*s, k, n);
  }

  std::size_t pages() const noexcept { return pages_; }

 private:
  std::array<std::array<SpanT*, MaxPages>, Kinds> stacks_{};         // [k][n]: parked spans, most recent first
  std::array<std::array<std::uint32_t, MaxPages>, Kinds> counts_{};  // [k][n]: spans on stacks_[k][n]
  std::size_t pages_ = 0;                                            // pages held, all stacks together
};

// What a heap configured without a span cache (span_cache_pages == 0) holds instead: no storage,
// and every call folds away.
template <class SpanT>
class NoSpanCache {
 public:
  static constexpr std::size_t max_pages = 0;
  SpanT* pop(std::size_t, std::size_t) noexcept { return nullptr; }
  bool push(SpanT*, std::size_t, std::size_t, std::size_t, std::uint32_t) noexcept { return false; }
  template <class F>
  void drain(F&&) {}
  std::uint32_t count(std::size_t, std::size_t) const noexcept { return 0; }
  template <class F>
  void for_each(F&&) const {}
  std::size_t pages() const noexcept { return 0; }
};

}  // namespace mheap
