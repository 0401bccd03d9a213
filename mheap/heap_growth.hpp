// SPDX-License-Identifier: BSL-1.0
// mheap/heap_growth.hpp — how a heap gets its pages and its span records: the layout of its
// reservation, what an allocation does when the free set has no span for it (flush, wait, grow),
// growing the arena, taking and retiring records. Members of HeapCore
// (mheap/heap_core.hpp), defined here so that header keeps to the spans it moves under the lock.
// All of it runs with the heap lock held (the constructor's lay_out() before anyone else can call).
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "detail/cpu_relax.hpp"
#include "detail/lock_guard.hpp"
#include "heap_core.hpp"

namespace mheap {

// Splits the reservation into page map, guard, arena, guard, record pool (mheap/layout.hpp),
// makes the guards fault (protected by a source that can, poisoned for AddressSanitizer always)
// and builds the free set's containers. Once: in the constructor, or for a constant-initialised
// heap on its first allocation (lay_out_on_first_use).
template <class Config>
void HeapCore<Config>::lay_out() noexcept {
  laid_out_ = true;
  free_.prepare();
  if constexpr (releases) front_.bypass_locked(retention_.is_set());  // a configured bound (set_idle_retention)
  const Layout l = planned_layout();
  if (!l.usable()) return;
  arena_.place(l);
  pool_.place(reinterpret_cast<std::byte*>(l.pool), l.pool_bytes,
              layout_shape.pool_chunk_pages << page_shift, static_cast<std::uint8_t>(page_shift));
  guard_bytes_ = l.guard_bytes;
  for (std::byte* guard : {arena_.base() - guard_bytes_, pool_.base() - guard_bytes_}) {
    if constexpr (ProtectingPageSourcePolicy<source_type>) (void)source_.protect(guard, guard_bytes_);
    detail::poison_free_memory<Config::valgrind_annotations>(guard, guard_bytes_);  // protected or not
  }
}

template <class Config>
Layout HeapCore<Config>::planned_layout() const noexcept {
  // base() is an accessor; PageSourcePolicy does not ask for it on a const source.
  const auto base = reinterpret_cast<std::uintptr_t>(const_cast<source_type&>(source_).base());
  if constexpr (layout_is_static) {
    constexpr Layout at_alignment = mheap::lay_out(layout_shape, source_type::alignment, source_type::fixed_capacity,
                                                   Config::guard_pages ? page_bytes : 0);
    return at_alignment.moved_up(base - source_type::alignment);
  } else {
    const std::size_t granule = std::max(granule_of(source_), page_bytes);  // commits may round out to it
    return mheap::lay_out(layout_shape, base, source_.capacity(), Config::guard_pages ? granule : 0);
  }
}
// For a constant-initialised heap, under the lock: lays out once; true when n pages could ever fit.
template <class Config>
bool HeapCore<Config>::lay_out_on_first_use(std::size_t n) noexcept {
  detail::LockGuard guard(lock_);
  if (!laid_out_) lay_out();
  return n <= arena_.capacity_pages();
}
// Pages the arena may grow to; before a constant-initialised heap lays itself out, what it will get.
template <class Config>
std::size_t HeapCore<Config>::planned_capacity_pages() const noexcept {
  detail::LockGuard guard(lock_);  // laid_out_ and the arena are the lock's
  return laid_out_ ? arena_.capacity_pages() : planned_layout().arena_pages;
}

// alloc_span_locked() when the free set had nothing to give: no span fit n pages, or one did but
// no record could be had for its tail (no_record). Parked spans come back first: merged, they may
// fit, and they give their records back (Config::reserved_span_records); parked spans never make
// the heap larger. Then spans other threads are releasing outside the lock; then, once, the paced
// bound's release before growth; and only then does the heap grow; never for want of a record, as
// growth needs records too.
template <class Config>
typename HeapCore<Config>::span_type* HeapCore<Config>::alloc_span_after_miss(std::size_t n, bool no_record) {
  if (!no_record) {
    // More than every idle page and all the room left: hopeless, touch nothing. Only a request
    // longer than the room can be, so only then are the threads' deltas folded in first (a cut,
    // which with other threads' caches in the arena may cost a membarrier(2) call,
    // mheap/window_fence.hpp); a shorter one passes the check whatever heap_idle, unfolded, says.
    const std::size_t room = arena_.capacity_pages() - arena_.pages();
    if (n > room) front_.fold_locked(*this);
    if (n > (stats_.heap_idle >> page_shift) + room) return nullptr;
  }
  // Then the paced bound (Go's synchronous scavenging), once: it drops the lock to release, so the
  // flush and the wait run again (spans parked or being released meanwhile).
  for (bool released = false;; released = true) {
    for (;;) {
      if (front_.flush_all_locked(*this)) {
        no_record = false;
        if (span_type* s = take_free_locked(n, no_record)) return s;
      }
      if (no_record) return nullptr;
      if (releasing_pages_ == 0) break;
      // Another thread is releasing spans outside the lock: idle, but out of reach until they come
      // back. Wait for them rather than grow the heap or fail. (Never with NullLock: there no other
      // thread can be releasing.)
      {
        detail::UnlockGuard unlocked(lock_);
        detail::cpu_relax();
      }
      if (span_type* s = take_free_locked(n, no_record)) return s;
    }
    if (released || !release_before_growth(n)) break;
    if (span_type* s = take_free_locked(n, no_record)) return s;
  }
  if (!grow(n)) return nullptr;
  return take_free_locked(n, no_record);  // grow() left a free span of at least n pages, and a spare record if longer
}

// What grow(n) would commit, read from the arena as it is now (grow() and the release before it
// each read it under the lock).
template <class Config>
typename HeapCore<Config>::GrowthPlan HeapCore<Config>::plan_growth(std::size_t n) const noexcept {
  const std::size_t grown = arena_.pages();
  const std::size_t room = arena_.capacity_pages() - grown;
  // A free span at the end of the arena takes the new pages in: grow only by the rest.
  span_type* last = grown != 0 ? arena_.map()[grown - 1] : nullptr;
  const bool free_tail = last != nullptr && last->state == SpanState::free;
  const std::size_t tail_pages = free_tail ? last->npages : 0;
  const std::size_t need = n > tail_pages ? n - tail_pages : 1;
  if (need > room) return {last, tail_pages, 0};
  const std::size_t granules = (std::max(need, min_grow_pages) + grow_granule_pages - 1) / grow_granule_pages;
  return {last, tail_pages, std::min(granules * grow_granule_pages, room)};
}

// Grows the arena so that a free span of at least n pages exists at its end: fresh pages merge
// with a free span already there, so only the rest is asked for (at least min_grow_pages, in
// granules). On failure nothing the heap accounts for changes (Arena::commit_to keeps commits).
template <class Config>
bool HeapCore<Config>::grow(std::size_t n) {
  const std::size_t grown = arena_.pages();
  const GrowthPlan plan = plan_growth(n);
  if (plan.ask == 0) return false;
  span_type* last = plan.tail;
  const std::size_t tail = plan.tail_pages;
  const std::size_t ask = plan.ask;
  if (!arena_.commit_to(grown + ask, source_)) {
    ++events_.grow_failures;
    return false;
  }
  // The records this growth needs: one for the new pages, unless the free span ending the arena
  // takes them in, and one for the rest the caller will cut off, unless the span is exactly n
  // pages. Taking them now means nothing can fail once the arena has grown. Taken after the
  // commit, so a source that refuses moves no record counter; a heap out of records
  // (Config::reserved_span_records) keeps the pages it committed for its next growth, uncounted
  // until then, as after any failure here.
  const bool joins_tail = tail != 0;
  const bool cut_ahead = tail + ask > n;
  span_type* r = joins_tail ? last : new_record();
  span_type* spare = r != nullptr && cut_ahead ? new_record() : nullptr;
  if (r == nullptr || (cut_ahead && spare == nullptr)) {
    if (r != nullptr && !joins_tail) retire_record(r);
    ++events_.grow_failures;
    return false;
  }
  if (spare != nullptr) retire_record(spare);  // first in line for the caller's cut_tail()
  if (joins_tail) {
    // The span keeps its base (a ref to it is not live: no generation moves), its released pages
    // and its needzero (the new pages are zero, so only its old pages decide).
    free_.erase(*r);
    r->npages += ask;
  } else {
    r->base = arena_.page_addr(grown);
    r->npages = ask;
    r->needzero = false;  // fresh from the source: zero
    r->state = SpanState::free;
    if constexpr (releases) r->idle.npreleased = 0;
  }
  stamp_idle(r);  // idle from now, as a merge with the new pages would stamp it
  detail::poison_free_memory<Config::valgrind_annotations>(arena_.page_addr(grown), ask << page_shift);
  arena_.extend_to(grown + ask);
  stats_.heap_sys += ask << page_shift;
  stats_.heap_idle += ask << page_shift;
  ++events_.grow_calls;
  insert_free(r);  // maps its ends and files it; nothing free lies before it to merge with
  return true;
}

template <class Config>
typename HeapCore<Config>::span_type* HeapCore<Config>::new_record() noexcept {
  return pool_.take([this](std::byte* p, std::size_t n) { return source_.commit(p, n); });
}
// free → unused: a record merged away (or a spare) goes back to the pool, unlinked.
template <class Config>
void HeapCore<Config>::retire_record(span_type* s) noexcept {
  if constexpr (Config::HookLinks::mode == detail::bi::safe_link)
    detail::internal_check<checks>([&] { return !s->list_hook.is_linked() && !s->tree_hook.is_linked(); },
                                   "retire_record: the record is still linked into the free set");
  generation::store(s->generation, generation::load(s->generation) + 2);  // even stays even: nobody owns it
  pool_.retire(s);
}

}  // namespace mheap
