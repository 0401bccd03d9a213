// SPDX-License-Identifier: BSL-1.0
// mheap/heap_paths.hpp — the paths behind HeapShard's alloc(), free() and free_at() (declared and
// documented in mheap/heap_shard.hpp), each with the thread cache to use named by its caller: the
// calling thread's own for a HeapShard; for a heap of several arenas (mheap/arena_set.hpp) the
// thread's cache in its home arena, or for a free its guest cache in the span's arena (or none).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstring>

#include "heap_shard.hpp"

namespace mheap {

// alloc() with the thread cache thread_cache() names (null: none; a heap of several arenas
// passes the thread's cache in its home arena).
template <class UserConfig>
template <class Kind, class ThreadCacheOf>
SpanRef<Kind> HeapShard<UserConfig>::alloc_with(std::size_t npages, bool zeroed, ThreadCacheOf&& thread_cache) {
  static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::alloc: Config::SpanKinds does not list this Kind");
  if constexpr (config_ok) {
    // One compare for both (npages == 0 wraps). Too long, or a constant-initialised heap's first
    // call: ask under the lock, which lays the heap out if it has not been (laid_out_ is read
    // only under the lock, so threads racing to the first call do not race on it).
    if (npages - 1 >= arena_.capacity_pages()) [[unlikely]]
      if (npages == 0 || !this->lay_out_on_first_use(npages)) return {};
    // The generation the ref carries is read once the span is live, before the zeroing: after a
    // memset call it would be loaded back from memory, and the hot pair's longest chain runs
    // through this word (a cache hit unparks last, so there the compiler keeps the stored value).
    span_type* s = nullptr;
    Generation live = 0;
    if constexpr (per_thread) {
      thread_cache_type* tc = thread_cache();
      if (tc != nullptr && npages < cache_type::max_pages) {
        s = front_.template alloc_from_thread_cache<Kind>(*this, *tc, npages, zeroed);
        if (s == nullptr) return {};
        live = generation::load(s->generation);
      }
    }
    if (s == nullptr) {
      detail::LockGuard guard(lock_);
      if constexpr (front_end_type::has_heap_cache) {
        s = front_.template pop_locked<Kind>(*this, npages);
        if (s == nullptr) [[unlikely]]
          s = this->template alloc_live_after_cache_miss_locked<Kind>(npages);
      } else {  // no cache under the lock (none, or the threads' own): every call comes this way
        front_.drain_returned_locked(*this);  // spans handed back may fit this one
        s = this->template alloc_live_locked<Kind>(npages);
      }
      if (s == nullptr) return {};
      live = generation::load(s->generation);
      if (zeroed && s->needzero) events_.zeroed_bytes += npages << page_shift;
    }
    // The span is ours alone now: clear it without holding up other threads.
    const bool dirty = s->needzero;
    detail::unpoison_memory<Config::valgrind_annotations>(s->base, npages << page_shift, !dirty || zeroed);
    if (zeroed && dirty) std::memset(s->base, 0, npages << page_shift);
    return SpanRef<Kind>(s, live);
  } else {
    return {};
  }
}

// free() into the thread cache thread_cache() names, asked once the ref has passed the checks
// (null: none, the free goes to the heap under the lock; in a heap of several arenas, a span of
// another arena than the thread's home goes to the thread's guest cache there, which hands it back
// in a batch, mheap/returned_spans.hpp).
template <class UserConfig>
template <class Kind, class ThreadCacheOf>
void HeapShard<UserConfig>::free_with(SpanRef<Kind> ref, ThreadCacheOf&& thread_cache) {
  static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::free: Config::SpanKinds does not list this Kind");
  if constexpr (config_ok) {
    if (!ref) return;
    if (!pool_.owns(ref.span_)) [[unlikely]]  // before the cast: a foreign record may be another type
      return report_foreign(ref);
    auto* s = static_cast<span_type*>(ref.span_);
    // The claim is the check: only the generation this ref was handed out with turns even, and
    // only once (mheap/detail/shared_word.hpp). Its kind is in its type, so it cannot be wrong.
    thread_cache_type* tc = thread_cache();
    bool claimed = false;
    if constexpr (per_thread) {
      if (tc != nullptr) {
        using Step = typename front_end_type::FreeStep;
        const Step step = front_.template free_without_lock<Kind>(*tc, s, ref.generation_);
        if (step == Step::parked) return;
        if (step == Step::bad_ref) [[unlikely]] return report_bad_free(s, ref.generation_, Kind::name);
        if (step == Step::handed_over) [[unlikely]] {  // the returned stack is over its bound
          detail::LockGuard guard(lock_);
          front_end_type::fold_all_locked(*this, *tc);  // its frees, for the paced bound to judge
          this->pace_retention_locked(front_.drain_returned_locked(*this));  // each span drained, a free
          return enforce_retention_locked();
        }
        claimed = step == Step::claimed;
      }
    }
    detail::LockGuard guard(lock_);
    if constexpr (per_thread)
      if (tc != nullptr) front_.pace_visit_locked(*this, *tc, front_.visit_locked(*this, *tc));  // it holds the lock anyway
    if (claimed && tc != nullptr) {  // claimed: in tc's window
      front_end_type::arrived_locked(*tc);
    } else if (!generation::claim(s->generation, ref.generation_)) [[unlikely]] {
      return report_bad_free_locked(s, ref.generation_, Kind::name);
    }
    free_claimed_locked<Kind>(s, tc);
  }
}

// free_at() into the thread cache tc (null: none), as free_with().
template <class UserConfig>
template <class Kind>
void HeapShard<UserConfig>::free_at_with(const void* base, thread_cache_type* tc) {
  static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::free_at: Config::SpanKinds does not list this Kind");
  if constexpr (config_ok) {
    detail::LockGuard guard(lock_);
    if (span_type* s = claim_at_locked<Kind>(base)) free_claimed_locked<Kind>(s, tc);
  }
}

}  // namespace mheap
