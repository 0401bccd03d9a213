// SPDX-License-Identifier: BSL-1.0
// mheap/front_end.hpp — the heap's front end: the span caches in front of the free set, and, for
// a heap shared by threads, everything that lets each thread use its own without the lock.
//
// What a thread replicates of a heap and what a small target compiles away are the same part:
//   span_cache_pages == 0            no cache: no code, no storage (NoSpanCache);
//   one cache (NullLock, or a shared lock with thread_caches = false): the heap's own, used under
//                                    its lock, charging the heap's counters directly;
//   thread caches (the default where there are threads): one per thread (mheap/thread_caches.hpp),
//                                    used inside the thread's window (mheap/consistent_stats.hpp)
//                                    without the lock, charging the thread's deltas.
// The core (mheap/heap_core.hpp) owns one FrontEnd and calls it before it grows, scavenges, enforces
// retention or snapshots its counters; the public face (mheap/heap_shard.hpp) calls it first on every
// alloc and free. Every function that needs the core takes it as `core`, under the lock when its
// name says `_locked`.
#pragma once
#include "detail/require_cxx20.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "accounting.hpp"
#include "config.hpp"
#include "consistent_stats.hpp"
#include "detail/absent.hpp"
#include "detail/asymmetric_fence.hpp"
#include "detail/lock_guard.hpp"
#include "detail/shared_word.hpp"
#include "returned_spans.hpp"
#include "sanitizers.hpp"
#include "span_cache.hpp"
#include "span_state.hpp"
#include "thread_caches.hpp"
#include "window_fence.hpp"
#include "../policies/lock.hpp"

namespace mheap {

// Config: a checked configuration; SpanT: its span record; Core: the HeapCore that owns this.
template <class Config, class SpanT, class Core>
class FrontEnd {
  using span_kinds = typename Config::SpanKinds;
  static constexpr std::size_t page_shift = Config::page_shift;

 public:
  static constexpr bool has_cache = Config::span_cache_pages != 0;
  static constexpr bool per_thread = has_thread_caches<Config>;
  static constexpr bool has_heap_cache = has_cache && !per_thread;  // the heap's one cache, under its lock
  using cache_type = std::conditional_t<has_cache, SpanCache<SpanT, span_kinds::size, Config::max_list_pages>,
                                        NoSpanCache<SpanT>>;
  using thread_cache_type = ThreadCache<Core, SpanT, span_kinds::size, Config::max_list_pages>;
  using generation = detail::SharedWord<per_thread>;  // the record word threads share (span_state.hpp)

  // Threads must not find a half-destroyed heap: the core's destructor calls this first.
  void detach_threads() noexcept {
    if constexpr (per_thread) threads_.detach_all();
  }

  // The calling thread's cache (made on its first call; null if it cannot be had). Call it
  // without the heap lock: a first call registers the cache under it.
  thread_cache_type* this_thread_cache(Core& core) noexcept {
#if MHEAP_HAS_THREADS
    if constexpr (per_thread) return ThisThread<thread_cache_type>::cache_for(&core);
#endif
    (void)core;
    return nullptr;
  }

  // ---- one cache, the heap's own (under the heap lock) ------------------------------------------
  // A parked span of Kind and n pages, made live, the heap's counters charged; or null.
  template <class Kind>
  SpanT* pop_locked(Core& core, std::size_t n) noexcept {
    if constexpr (has_heap_cache) {
      SpanT* s = cache_.pop(span_kinds::template index_of<Kind>, n);
      if (s != nullptr) {
        charge<Kind, Core::counter_checks>(core.stats_, std::uint64_t{n} << page_shift);
        core.totals_[span_kinds::template index_of<Kind>].count_alloc(std::uint64_t{n} << page_shift);
        unpark(s);  // last: the caller reads the generation back, and no counter store comes between
      }
      return s;
    }
    (void)core, (void)n;
    return nullptr;
  }

  // Parks s, a claimed span of Kind and n pages, in cache c (the heap's, or the calling thread's
  // under the lock) if it has room, crediting the heap's counters. False: the caller frees it to
  // the heap. A full stack or cache is not emptied to make room: with mixed lengths that only moved
  // spans in and out of the cache (measured: more instructions per operation than merging the one span).
  template <class Kind>
  bool park_locked(Core& core, cache_type& c, SpanT* s, std::size_t n) noexcept {
    if (!c.push(s, span_kinds::template index_of<Kind>, n, Config::span_cache_pages, Config::span_cache_per_length))
      return false;
    detail::poison_free_memory<Config::valgrind_annotations>(s->base, n << page_shift);
    s->needzero = true;  // freed after use
    credit<Kind, Core::counter_checks>(core.stats_, std::uint64_t{n} << page_shift);
    core.totals_[span_kinds::template index_of<Kind>].count_free(std::uint64_t{n} << page_shift);
    return true;
  }
  cache_type* heap_cache() noexcept {
    if constexpr (has_heap_cache) return &cache_; else return nullptr;
  }

  // ---- thread caches -------------------------------------------------------------------------------
  // alloc() of a short span: popped inside the thread's window without the lock, the thread's
  // deltas charged; when the stack is empty, or the window does not open (the front end stopped or
  // bypassed, or a visit the window fence asks for), under the lock: from the stack, or one span
  // from the heap (Core::refill_locked), the heap's counters charged. Null: the heap is exhausted.
  template <class Kind>
  SpanT* alloc_from_thread_cache(Core& core, thread_cache_type& tc, std::size_t n, bool zeroed) {
    constexpr std::size_t k = span_kinds::template index_of<Kind>;
    const std::uint64_t bytes = std::uint64_t{n} << page_shift;
    if (tc.window.open(threads_.epoch)) {
      if (SpanT* s = tc.spans.pop(k, n)) {
        unpark(s);
        tc.window.add_alloc(k, bytes);
        tc.window.close();
        if (zeroed && s->needzero)
          tc.zeroed_bytes.store(tc.zeroed_bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
        return s;
      }
      tc.window.close();
    }
    detail::LockGuard guard(core.lock_);
    const std::uint32_t freed = visit_locked(core, tc);
    SpanT* s = tc.spans.pop(k, n);
    if (s == nullptr) s = core.template refill_locked<Kind>(n);
    if (s != nullptr) {
      core.template unpark_and_charge_locked<Kind>(s);
      if (zeroed && s->needzero) core.events_.zeroed_bytes += bytes;
    }
    pace_visit_locked(core, tc, freed);  // after the refill: a pass first would release what it takes
    return s;
  }

  // free(), inside the thread's window: the claim (the check of the ref, see Heap::free) and the
  // push, with the thread's deltas credited: on its stack; if it has no room, in its outbox, for
  // its next lock; if that is full, a short span goes with the outbox onto the arena's returned
  // stack in one batch, not a lock per span, and so does a guest's long one (a guest stacks
  // nothing; handed_over: the stack is over its bound, the caller drains it under the lock). Claim
  // and push share one window, so a stopped front end never sees a claimed span it cannot account
  // for; a home thread's long span is in_transit until the caller has placed it.
  enum class FreeStep { parked, handed_over, bad_ref, claimed, not_tried };
  template <class Kind>
  FreeStep free_without_lock(thread_cache_type& tc, SpanT* s, Generation ref_generation) {
    if (!tc.window.open(threads_.epoch)) return FreeStep::not_tried;  // the caller locks
    if (!generation::claim(s->generation, ref_generation)) {
      tc.window.close();
      return FreeStep::bad_ref;
    }
    constexpr std::size_t k = span_kinds::template index_of<Kind>;
    const std::size_t n = s->npages;
    const bool stacked = !tc.guest && tc.spans.push(s, k, n, Config::span_cache_pages, Config::span_cache_per_length);
    const bool boxed = !stacked && n < cache_type::max_pages && tc.outbox_size < thread_cache_type::outbox_capacity &&
                       tc.outbox_pages + n <= Config::span_cache_pages / 2;
    const bool batch = !stacked && !boxed && (tc.guest || n < cache_type::max_pages);
    if (stacked || boxed || batch) {
      detail::poison_free_memory<Config::valgrind_annotations>(s->base, n << page_shift);
      s->needzero = true;  // a span freed after use is dirty
      tc.window.add_free(k, std::uint64_t{n} << page_shift);
      if (boxed) tc.box(s, n);
      bool over = false;
      if (batch) {  // the full outbox and s, one batch onto the returned stack
        over = returned_.push(tc.outbox.data(), tc.outbox_size, s) > Config::span_cache_pages;
        tc.clear_outbox();
      }
      tc.window.close();
      return over ? FreeStep::handed_over : FreeStep::parked;
    }
    tc.in_transit.store(tc.in_transit.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    tc.window.close();
    return FreeStep::claimed;
  }

  // The calling thread, holding the lock for its cache: the visit to the fence (window_fence.hpp),
  // its outbox to the free set, the returned spans to its stacks (below; a guest's: none); returns
  // how many reached the free set (frees, for pace_visit_locked).
  std::uint32_t visit_locked(Core& core, thread_cache_type& tc) noexcept {
    fence_.visit_locked(threads_.epoch, tc.window.windows_since_cut());
    return drain_outbox_locked(core, tc) + drain_returned_locked(core, tc.guest ? nullptr : &tc.spans);
  }
  // `freed` frees a visit sent to the free set pace the bound as frees under the lock do (after the
  // caller's allocation). Past an outbox's worth the thread's own frees are folded in first, or stale
  // counters could hide them (a fold per visit cost 3-4 ns per operation, threads/adaptivelock/1).
  void pace_visit_locked(Core& core, thread_cache_type& tc, std::uint32_t freed) noexcept {
    if (freed > thread_cache_type::outbox_capacity) fold_all_locked(core, tc);
    if (freed != 0) core.pace_retention_locked(freed);
  }
  // The returned spans, under the lock: parked on `stacks` (a home thread's, the lock holder's;
  // what its arena's threads free is what it allocates) where they have room, as its own frees
  // would; the rest into the free set (parked → free, merged), their count returned.
  std::uint32_t drain_returned_locked(Core& core, cache_type* stacks = nullptr) noexcept {
    std::uint32_t freed = 0;
    if constexpr (per_thread)
      if (!returned_.empty())
        returned_.drain([&](SpanT* s) {
          if (stacks && stacks->push(s, s->kind, s->npages, Config::span_cache_pages, Config::span_cache_per_length)) return;
          core.unpark_to_free(s);
          ++freed;
        });
    return freed;
  }
  // Both buffers of c's deltas into the counters: by c's owner under the lock, or a stop.
  static void fold_all_locked(const Core& core, thread_cache_type& c) noexcept {
    c.window.take_all([&](std::size_t k, const KindDelta& d) { fold_delta(core, k, d); });
  }
  // The thread's outbox into the free set (parked → free, merged), its size returned: under the lock.
  std::uint32_t drain_outbox_locked(Core& core, thread_cache_type& tc) noexcept {
    const std::uint32_t boxed = tc.outbox_size;
    for (std::uint32_t i = 0; i < boxed; ++i) core.unpark_to_free(tc.outbox[i]);
    tc.clear_outbox();
    return boxed;
  }
  // The caller of a FreeStep::claimed, under the lock: the span has arrived.
  static void arrived_locked(thread_cache_type& tc) noexcept {
    tc.in_transit.store(tc.in_transit.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  // Claimed spans on their way from a thread's window to the heap (audit(): they are in no cache).
  std::size_t claimed_in_transit() const noexcept { return sum_over_threads<&thread_cache_type::in_transit>(); }

  // Stops the threads' lock-free use of their caches while it lives: the lock holder may flush them.
  class [[nodiscard]] Stop {
   public:
    explicit Stop(const FrontEnd& f) noexcept : f_(f) {
      if constexpr (per_thread) {
        // Not nested: the inner stop's end would restart the threads under the outer one.
        detail::internal_check<Config::internal_checks>(
            [&] { return !(f_.threads_.epoch.value.load(std::memory_order_relaxed) & FrontEndEpoch::stopped); },
            "FrontEnd::Stop: the front end is stopped already");
        f_.move_epoch_locked([](std::uint32_t old) { return old | FrontEndEpoch::stopped; });
      }
    }
    ~Stop() {
      if constexpr (per_thread) f_.threads_.epoch.value.fetch_and(~FrontEndEpoch::stopped, std::memory_order_release);
    }
    Stop(const Stop&) = delete;
    Stop& operator=(const Stop&) = delete;

   private:
    const FrontEnd& f_;
  };

  // The heap's side of the window handshake (mheap/consistent_stats.hpp), for a cut or a stop:
  // the epoch moves from old to next(old), with this heap's window fence (mheap/window_fence.hpp);
  // then, on the asymmetric fence, one membarrier(2) call makes every window opened before the move
  // visible; then every window is waited out. Only other threads' windows can be open (the caller,
  // holding the lock, has closed its own), so an arena where no other thread has a cache (a guest's
  // counts) pays no system call. A cut while the front end is stopped (mem_stats()) needs neither:
  // no window is open, and any that opens sees the stop and touches nothing. Returns old.
  template <class Next>
  std::uint32_t move_epoch_locked(Next next) const noexcept {
    FrontEndEpoch& epoch = threads_.epoch;
    const std::uint32_t old = epoch.value.load(std::memory_order_relaxed);  // only the lock holder writes it
    if (old & FrontEndEpoch::stopped) {
      epoch.value.store(next(old), std::memory_order_relaxed);  // threads read it after the stop's release
      return old;
    }
    bool others = false;
    threads_.for_each([&](const thread_cache_type& c) { others = others || !c.window.mine(); });
    epoch.value.store(fence_.with_fence(next(old)), std::memory_order_seq_cst);
    if (WindowFence::heavy_needed(old, others)) detail::AsymmetricFence::heavy();
    std::uint64_t seq_sum = 0;
    threads_.for_each([&](thread_cache_type& c) { seq_sum += c.window.wait_closed(); });
    fence_.after_cut(epoch, old, seq_sum, others);
    return old;
  }

  // While a retention bound is set, threads use their caches only under the lock, where every free
  // is checked against it (a lock-free free could not be).
  void bypass_locked(bool on) noexcept {
    if constexpr (per_thread) {
      std::atomic<std::uint32_t>& e = threads_.epoch.value;
      on ? e.fetch_or(FrontEndEpoch::bypassed, std::memory_order_seq_cst)
         : e.fetch_and(~FrontEndEpoch::bypassed, std::memory_order_seq_cst);
    }
  }

  // ---- what the core asks of the front end ---------------------------------------------------------
  // Every parked span, in every cache, back to the free set (and, with thread caches, every delta
  // into the counters). Before growth, scavenging, the retention bound. False: no cache held any.
  bool flush_all_locked(Core& core) noexcept {
    if constexpr (per_thread) {
      Stop stop(*this);
      bool any = false;
      threads_.for_each([&](thread_cache_type& c) {
        any = any || c.spans.pages() != 0 || c.outbox_size != 0;
        drain_outbox_locked(core, c);
        core.flush_locked(c.spans);
        fold_all_locked(core, c);
      });
      any = any || !returned_.empty();
      drain_returned_locked(core);  // every batch threads handed back
      return any;
    } else if constexpr (has_cache) {
      const bool any = cache_.pages() != 0;
      core.flush_locked(cache_);
      return any;
    } else {
      (void)core;
      return false;
    }
  }

  // The threads' deltas, cut at one instant, into the heap's counters (mheap/consistent_stats.hpp).
  void fold_locked(const Core& core) const noexcept {
    if constexpr (per_thread) {
      const std::uint32_t old = move_epoch_locked([](std::uint32_t e) { return e + FrontEndEpoch::step; });
      threads_.for_each([&](thread_cache_type& c) {
        c.window.take(old, [&](std::size_t k, const KindDelta& d) { fold_delta(core, k, d); });
      });
    }
    (void)core;
  }

  // f(cache) for every span cache: the heap's one, or every thread's (audit(): front end stopped).
  template <class F>
  void for_each_cache(F&& f) const {
    if constexpr (per_thread)
      threads_.for_each([&](const thread_cache_type& c) { f(c.spans); });
    else if constexpr (has_cache)
      f(cache_);
  }
  // f(span) for every parked span in an outbox or on the returned stack (audit(): front end stopped).
  template <class F>
  void for_each_in_outboxes(F&& f) const {
    if constexpr (per_thread) {
      threads_.for_each([&](const thread_cache_type& c) {
        for (std::uint32_t i = 0; i < c.outbox_size; ++i) f(*c.outbox[i]);
      });
      returned_.for_each(f);
    }
  }
  // Pages parked in every cache, outbox and the returned stack (front end stopped).
  std::size_t parked_pages() const noexcept {
    std::size_t pages = 0;
    for_each_cache([&](const cache_type& c) { pages += c.pages(); });
    for_each_in_outboxes([&](const SpanT& s) { pages += s.npages; });
    return pages;
  }
  // HeapEvents::zeroed_bytes counted by threads without the lock.
  std::uint64_t zeroed_bytes_in_threads() const noexcept { return sum_over_threads<&thread_cache_type::zeroed_bytes>(); }
  // ThisThread (through the core) calls these two under the registry mutex, with the heap lock.
  void link_locked(thread_cache_type& c) noexcept {
    threads_.link(c);
    fence_.linked_locked(threads_.epoch);
  }
  void retire_locked(Core& core, thread_cache_type& c) noexcept {
    drain_outbox_locked(core, c);
    drain_returned_locked(core);  // its batches, with whatever others pushed
    core.flush_locked(c.spans);
    fold_all_locked(core, c);
    core.events_.zeroed_bytes += c.zeroed_bytes.load(std::memory_order_relaxed);
    fence_.retired_locked(c.window.seq());
    threads_.unlink(c);
  }

  // parked → live: only the generation moves (by its owner: no lock needed, span_state.hpp).
  static void unpark(SpanT* s) noexcept {
    const Generation g = generation::load(s->generation);
    detail::internal_check<Config::internal_checks>([&] { return !is_owned(g) && is_held(s->state); },
                                                    "unpark: the span is not parked");
    generation::store(s->generation, g + 1);
  }

 private:
  // One atomic counter of every thread's cache, added up (relaxed loads: the lock holder's view).
  template <auto Field>
  std::uint64_t sum_over_threads() const noexcept {
    std::uint64_t n = 0;
    if constexpr (per_thread) threads_.for_each([&](const thread_cache_type& c) { n += (c.*Field).load(std::memory_order_relaxed); });
    return n;
  }
  static void fold_delta(const Core& core, std::size_t k, const KindDelta& d) noexcept {
    span_kinds::for_each([&]<class K, std::size_t I>() {
      if (I == k) charge<K>(core.stats_, d.net_bytes);  // modulo 2^64: a negative delta credits
    });
    KindTotals& t = core.totals_[k];
    t.allocs += d.allocs;
    t.frees += d.frees;
    t.alloc_bytes += d.alloc_bytes;
    t.free_bytes += d.alloc_bytes - d.net_bytes;  // net = allocated - freed
  }

#if MHEAP_HAS_THREADS
  using registry_type = ThreadCacheRegistry<thread_cache_type>;
#else
  using registry_type = detail::Absent<1>;  // no threads on this target: per_thread is false
#endif
  // The heap's one span cache, or the registry of its threads' caches, or neither. Mutable: a
  // snapshot moves the epoch and takes the threads' deltas, which changes no counter's value.
  [[no_unique_address]] std::conditional_t<has_heap_cache, cache_type, detail::Absent<0>> cache_;
  [[no_unique_address]] mutable std::conditional_t<per_thread, registry_type, detail::Absent<1>> threads_;
  [[no_unique_address]] mutable std::conditional_t<per_thread, WindowFence, detail::Absent<2>> fence_;
  // What threads handed back in batches (returned_spans.hpp; its own cache line, off the epoch's every window reads).
  [[no_unique_address]] std::conditional_t<per_thread, ReturnedSpans<SpanT>, detail::Absent<3>> returned_;
};

}  // namespace mheap
