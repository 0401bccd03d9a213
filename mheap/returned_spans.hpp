// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/returned_spans.hpp — parked spans that threads freeing into an arena they do not allocate
/// from hand back to it in batches, without its lock.
///
/// Why: in a pipeline one thread allocates and another frees. The freeing thread's spans belong to
/// the allocating thread's arena (mheap/arena_set.hpp), whose lock the allocating thread takes on
/// every allocation its empty cache cannot serve. A free under that lock, once per span, moved the
/// lock and the free set between the cores every time (2026-12-07, a producer handing 2 million
/// spans of 1–4 pages to a consumer over a queue: 410–510 ns per span). Taking it once per batch
/// was worse (1,050 ns): the allocating thread, finding it held for a whole batch, fell asleep in the
/// kernel. So the freeing thread (its guest cache, mheap/thread_caches.hpp) pushes each batch onto
/// this stack with one compare-and-swap, and whoever next holds the arena's lock for its cache
/// (mheap/front_end.hpp visit_locked: the allocating thread, typically) or stops the front end
/// takes the whole stack and puts its spans in the free set. The lock then stays with the thread
/// that allocates.
///
/// Invariants: every span on the stack is parked (held, its generation even; mheap/span_state.hpp),
/// linked through `next`, and on no other stack, outbox or list; its free was credited in its
/// freeing thread's window. A push happens inside that thread's window, so a stopped front end
/// sees the stack stand still. The page count push() returns is at least the pages on the stack
/// (added before the push, taken off after the drain), so a freeing thread that finds it above its
/// bound drains the stack itself (under the lock): an arena nobody allocates from any more holds
/// no more than that bound and a batch.
#pragma once
#include "detail/require_cxx20.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mheap {

/// The returned stack of one arena (see the file comment), on a cache line of its own: the pushes
/// of guests must not evict what the arena's own threads read on every window.
template <class SpanT>
class alignas(64) ReturnedSpans {
 public:
  /// Pushes box[0..size) and s as one batch and returns the pages on the stack with them. Any
  /// thread, inside its window; the spans are its own (parked, out of every other container).
  std::size_t push(SpanT* const* box, std::uint32_t size, SpanT* s) noexcept {
    std::size_t pages = s->npages;
    SpanT* first = s;
    for (std::uint32_t i = 0; i < size; ++i) {
      box[i]->next = first;
      first = box[i];
      pages += first->npages;
    }
    const std::size_t total = pages_.fetch_add(pages, std::memory_order_relaxed) + pages;
    SpanT* head = head_.load(std::memory_order_relaxed);
    do {
      s->next = head;  // push only: a head taken and pushed again in between is still a head
    } while (!head_.compare_exchange_weak(head, first, std::memory_order_release, std::memory_order_relaxed));
    return total;
  }
  /// Whether the stack may hold spans: one load, for the lock holder's path.
  bool empty() const noexcept { return head_.load(std::memory_order_relaxed) == nullptr; }
  /// Takes every span off the stack and hands each to f. The arena's lock holder.
  template <class F>
  void drain(F&& f) noexcept {
    SpanT* s = head_.exchange(nullptr, std::memory_order_acquire);
    std::size_t pages = 0;
    while (s != nullptr) {
      SpanT* next = s->next;
      pages += s->npages;
      f(s);
      s = next;
    }
    pages_.fetch_sub(pages, std::memory_order_relaxed);
  }
  /// f(span) for every span on the stack (the front end stopped: nothing is pushed meanwhile).
  template <class F>
  void for_each(F&& f) const {
    for (const SpanT* s = head_.load(std::memory_order_acquire); s != nullptr; s = s->next) f(*s);
  }

 private:
  std::atomic<SpanT*> head_{nullptr};
  std::atomic<std::size_t> pages_{0};
};

}  // namespace mheap
