// SPDX-License-Identifier: BSL-1.0
// mheap/heap_split_merge.hpp — cutting a span in two and merging free neighbours: how HeapCore
// keeps the arena tiled and no two free spans touching (mheap/heap_core.hpp states the invariants).
// Members of HeapCore, defined here; called with the lock held. `inline`, as they were inside the
// class: cut_tail() and insert_free() are on the alloc and free paths.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "heap_core.hpp"
#include "layout.hpp"

namespace mheap {

// Keeps the first n pages in s; the rest becomes the free span `tail`. No counter moves.
// Released pages: a span released whole passes to its tail the tail's pages from the first
// granule boundary of the page source on, which stay released (the tail goes back behind resident
// spans, and no later pass releases them again). Pages before that boundary share a granule with
// pages handed out, which the OS brings back whole when they are touched: they stay with s, to be
// made usable, as does every released page of a span released in part (where those lie is not
// recorded). So a span's released pages still lie inside its length rounded inward to granules,
// which releases rely on (ReleaseBatch::releasable).
template <class Config>
inline void HeapCore<Config>::cut_tail(span_type* s, std::size_t n, span_type* tail) noexcept {
  detail::internal_check<checks>([&] { return n < s->npages && tail->state == SpanState::unused; },
                                 "cut_tail: split past the span's end, or into a record in use");
  tail->base = s->base + (n << page_shift);
  tail->npages = s->npages - n;
  auto recency = free_set_type::Recency::warm;
  if constexpr (releases) {
    std::size_t tail_released = 0;
    if (s->fully_released()) {
      const std::size_t granule = granule_of(source_);
      const auto from = reinterpret_cast<std::uintptr_t>(tail->base);
      const std::size_t shared = granule > page_bytes ? (layout::align_up(from, granule) - from) >> page_shift : 0;
      tail_released = tail->npages > shared ? tail->npages - shared : 0;
    }
    tail->idle = {.npreleased = tail_released, .tick = s->idle.tick};
    s->idle.npreleased -= tail_released;
    if (tail_released != 0) recency = free_set_type::Recency::cold;
  }
  tail->interior_mapped = false;
  tail->needzero = s->needzero;
  tail->state = SpanState::free;
  s->npages = n;
  arena_.map().set_ends(arena_.page_of(tail->base), tail->npages, tail);
  free_.insert(*tail, recency);
}

// Merges free span s with its free neighbours, then files it in the free set. The neighbours'
// records are retired; s keeps the merged run. Reads only first/last page entries of the map.
template <class Config>
inline void HeapCore<Config>::insert_free(span_type* s, typename free_set_type::Recency recency) noexcept {
  PageMap<span_type>& map = arena_.map();
  const std::size_t first = arena_.page_of(s->base);
  if (first > 0) {
    span_type* before = map[first - 1];
    if (before != nullptr && before->state == SpanState::free) {
      free_.erase(*before);
      s->base = before->base;
      // The record no longer starts where its last owner's span did (free() names that base).
      generation::store(s->generation, generation::load(s->generation) + 2);
      s->npages += before->npages;
      absorb(s, before);
    }
  }
  const std::size_t end = arena_.page_of(s->base) + s->npages;
  if (end < arena_.pages()) {
    span_type* after = map[end];
    if (after != nullptr && after->state == SpanState::free) {
      free_.erase(*after);
      s->npages += after->npages;
      absorb(s, after);
      map.set(end, s);  // where `after` began now names the span holding it (free_at reports it exactly)
    }
  }
  map.set_ends(arena_.page_of(s->base), s->npages, s);
  s->interior_mapped = false;  // a free span is mapped at its ends only (page_map.hpp)
  free_.insert(*s, recency);
}
// The merged span was freed as late as its latest part: never older (Go 1.9 stamps the merged
// span with the newest free), so merging never makes memory look idle longer than it was.
template <class Config>
inline void HeapCore<Config>::absorb(span_type* s, span_type* neighbour) noexcept {
  s->needzero = s->needzero || neighbour->needzero;
  if constexpr (releases) {
    s->idle.npreleased += neighbour->idle.npreleased;
    s->idle.tick = std::max(s->idle.tick, neighbour->idle.tick);
  }
  retire_record(neighbour);
}

}  // namespace mheap
