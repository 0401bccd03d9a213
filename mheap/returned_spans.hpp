// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/returned_spans.hpp — parked spans that threads hand back to an arena in batches, without
/// its lock: a thread freeing into an arena it does not allocate from, and a thread whose own
/// stacks and outbox are full.
///
/// Why: in a pipeline one thread allocates and another frees. The freeing thread's spans belong to
/// the allocating thread's arena (mheap/arena_set.hpp), whose lock the allocating thread takes on
/// every allocation its empty cache cannot serve. A free under that lock, once per span, moved the
/// lock and the free set between the cores every time (2026-12-07, a producer handing 2 million
/// spans of 1–4 pages to a consumer over a queue: 430–470 ns per span; 318–323 with this stack;
/// bench/ workload `pipeline`, the churn size mix, alternated runs: 544 with a lock per span, 504
/// with this stack but long spans under the lock, 284 with them in the batches).
/// Taking it once per batch was worse (1,050 ns): the allocating thread, finding it held for a
/// whole batch, fell asleep in the kernel. So the freeing thread (its guest cache,
/// mheap/thread_caches.hpp) pushes each batch onto this stack with one compare-and-swap, and the
/// stack is drained whole under the arena's lock (mheap/front_end.hpp). A home thread does the same
/// with the short spans its stacks and outbox have no room for, which is the pipeline's every free
/// when both threads call one arena home (Config::arenas = 1: 2026-12-07, an AMD EPYC VM, bench/
/// `pipeline/adaptivelock_one_arena`, 3 alternated runs: 1.42–1.43 → 0.70–0.73 µs per span).
/// At the next lock a home thread of the arena takes for its cache (the allocating thread,
/// typically), onto that thread's stacks as far as they have room, the rest into the free set:
/// what the others free is what it allocates next, without the lock (2026-12-07, medians of 5
/// alternated runs: 692 → 571 ns per span; the thread still locks for half its allocations, whose
/// lengths its stacks do not hold). Wholly into the free set: at a guest's lock for its cache, a
/// lock for a long span or without a cache, a flush of every cache (before growth, scavenging and
/// the bound), any thread's exit from the arena, and a drain past the bound by the thread that
/// found the stack there. The lock then stays with the thread that allocates. Stops that only read
/// (audit(), cached_pages()) see the spans where they are. What a thread's visit for its cache, or
/// its drain past the bound, sends to the free set paces the paced bound
/// (mheap/paced_retention.hpp), each span counted as a free, as a free under the lock would, after
/// folding that thread's own deltas (its frees; others' stay in theirs until a cut; a visit folds
/// only past an outbox's worth). Not counted: a flush's (growth and scavenging apply the bound
/// themselves), a thread's exit's, a long allocation's (it takes from the free set at once).
///
/// Invariants: every span on the stack is parked (held, its generation even; mheap/span_state.hpp),
/// linked through `next`, and on no other stack, outbox or list; its free was credited in its
/// freeing thread's window. A push happens inside that thread's window, so a stopped front end
/// sees the stack stand still. The count push() returns is of the pages pushed so far, its own
/// included, less those drained (added before each push, taken off after each drain): never below
/// the pages on the stack, so a thread that finds it above its bound drains the stack itself
/// (under the lock), and an arena nobody allocates from holds no more than that bound and a batch
/// per thread pushing at that moment (and what the threads' outboxes hold).
#pragma once
#include "detail/require_cxx20.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "detail/lock_guard.hpp"  // cache_line_bytes

namespace mheap {

/// The returned stack of one arena (see the file comment), on a cache line of its own: the pushes
/// of other threads must not evict what each thread reads on every window.
template <class SpanT>
class alignas(detail::cache_line_bytes) ReturnedSpans {
 public:
  /// Pushes box[0..size) and s as one batch and returns the count above (its own pages in it). Any
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
  /// Whether the stack is empty (one relaxed load, for the lock holder's path: a push it misses
  /// is drained by the next lock holder).
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
