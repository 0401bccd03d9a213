// SPDX-License-Identifier: BSL-1.0
// mheap/heap_core.hpp — the heap's state, and everything it does to spans under its lock.
//
// HeapShard (mheap/heap_shard.hpp) is the public face of one arena (Heap<Config>, mheap/heap.hpp,
// is one HeapShard or several): it takes the lock, validates what callers hand it and
// reports misuse, then calls in here, where everything runs with the lock held (release_locked()
// drops it around the page source's release calls, alloc_span_locked() while it waits for them).
// The parts it composes have headers of their own (docs/architecture.md).
//
// Invariants (audit() checks every one):
//   - the grown arena, pages [0, arena_.pages()), is tiled by spans, free or live, with no gaps;
//   - no two free spans touch: every free merges with both free neighbours;
//   - counters: mheap/stats.hpp; page map: mheap/page_map.hpp; free set: mheap/free_set.hpp;
//     span states and the moves between them: mheap/span_state.hpp.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "accounting.hpp"
#include "arena.hpp"
#include "detail/absent.hpp"
#include "detail/internal_check.hpp"
#include "detail/lock_guard.hpp"
#include "free_set.hpp"
#include "front_end.hpp"
#include "layout.hpp"
#include "paced_retention.hpp"
#include "release_engine.hpp"
#include "sanitizers.hpp"
#include "span.hpp"
#include "span_pool.hpp"
#include "stats.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"

namespace mheap {

template <class H>
class Census;


// Config: a checked configuration (mheap/config_check.hpp).
template <class Config>
class HeapCore {
 public:
  using lock_type = typename Config::Lock;
  using source_type = typename Config::PageSource;
  using stats_type = typename Config::Stats;
  using span_kinds = typename Config::SpanKinds;
  using misuse_policy_type = typename Config::MisusePolicy;
  using clock_type = typename Config::Clock;

  static constexpr std::size_t page_shift = Config::page_shift;
  static constexpr std::size_t page_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t max_list_pages = Config::max_list_pages;

  // Whether the heap gives pages back to its source: only then do free spans' records keep their
  // released pages and idle ticks (IdleRecord), and only then are frees stamped with a tick.
  static constexpr bool releases = ReleasingPageSourcePolicy<source_type>;
  // The paced bound: where pages can go back, unless turned off or replaced by a fixed bound
  // (by default only where they go back to an OS: paced_retention_percent, mheap/config.hpp).
  static constexpr bool paces = releases && paced_retention_percent<Config> != 0 &&
                                Config::idle_retention_bytes == RetentionBound::none;
  using paced_type = PacedRetention<paced_retention_percent<Config>, Config::idle_retention_floor_bytes,
                                    std::uint64_t{Config::idle_retention_decay_ms} * 1'000'000>;
  using span_type = Span<typename Config::HookLinks, typename Config::LargeSpanTree, releases>;
  using free_set_type = FreeSet<span_type, max_list_pages, typename Config::LargeSpanTree>;
  using release_batch_type = ReleaseBatch<span_type, page_shift>;

  // The span caches in front of the free set (mheap/front_end.hpp): none, the heap's one, or one
  // per thread. A NullLock heap is single-threaded by declaration: no thread-local, no atomic, no
  // per-thread anything.
  using front_end_type = FrontEnd<Config, span_type, HeapCore>;
  static constexpr bool per_thread = front_end_type::per_thread;
  using cache_type = typename front_end_type::cache_type;
  using thread_cache_type = typename front_end_type::thread_cache_type;

  // Cost: the source's constructor, two protect() calls for the guards; no page is committed.
  // Constant-initialised (a `constinit` heap on a StaticArena; docs/embedded.md): nothing at all.
  // Everything here is then zero bytes, and the heap lays itself out on its first allocation.
  template <class... SourceArgs>
  constexpr explicit HeapCore(SourceArgs&&... source_args) : source_(std::forward<SourceArgs>(source_args)...) {
    if (!std::is_constant_evaluated()) lay_out();
  }
  HeapCore(const HeapCore&) = delete;
  HeapCore& operator=(const HeapCore&) = delete;

  // What the heap must do before it goes: let go of the threads' caches, and take back the
  // sanitizer marks it put on its range. Without either, nothing: a heap on a StaticArena is then
  // trivially destructible, and a static one registers nothing to run at exit (mheap/heap_shard.hpp).
  static constexpr bool has_teardown = per_thread || detail::marks_memory<Config::valgrind_annotations>;

 protected:
  // Takes back the sanitizer marks the heap put on its range (free spans, guards): whatever uses
  // that memory next, a StaticArena's owner or the next mapping at the same address, starts clean.
  void tear_down() noexcept {
    front_.detach_threads();  // first: exiting threads must not find a half-destroyed heap
    if (arena_.capacity_pages() == 0) return;
    detail::unpoison_memory<Config::valgrind_annotations>(arena_.base() - guard_bytes_,
                                                          guard_bytes_ + (arena_.pages() << page_shift), false);
    detail::unpoison_memory<Config::valgrind_annotations>(pool_.base() - guard_bytes_, guard_bytes_, false);
  }

  template <class H>
  friend class Census;
  friend front_end_type;
#if MHEAP_HAS_THREADS
  friend class ThisThread<thread_cache_type>;
#endif

  static constexpr bool checks = Config::internal_checks;
  // With per-thread caches, the heap's counters lag the threads' deltas until a snapshot folds
  // them in, so only snapshots, not the running counters, can be held to "never below zero".
  static constexpr bool counter_checks = checks && !per_thread;
  using generation = typename front_end_type::generation;  // the record word threads share (span_state.hpp)

  static constexpr std::size_t pages_for(std::size_t bytes) noexcept { return layout::pages_for(bytes, page_shift); }
  static constexpr std::size_t min_grow_pages = pages_for(Config::min_grow_bytes);
  static constexpr std::size_t grow_granule_pages = pages_for(Config::grow_granule_bytes);
  static constexpr LayoutShape layout_shape{page_shift, PageMap<span_type>::entry_bytes, sizeof(span_type),
                                            pages_for(Config::span_pool_chunk_bytes), Config::reserved_span_records};

  // ---- laying out and growing (defined in mheap/heap_growth.hpp) ----------------------------
  // A layout depends on the base address only through its alignment to the page (or to a guard
  // granule). A source whose base is aligned to a multiple of both and whose capacity is fixed
  // (StaticArena) gets its layout computed at compile time for a stand-in base, then moved: no
  // search is compiled into the image.
  static constexpr bool layout_is_static = [] {
    if constexpr (FixedCapacityPageSource<source_type> && !GranularPageSource<source_type>)
      return source_type::alignment % page_bytes == 0;
    else
      return false;
  }();
  void lay_out() noexcept;
  Layout planned_layout() const noexcept;
  [[gnu::cold]] [[gnu::noinline]] bool lay_out_on_first_use(std::size_t n) noexcept;
  std::size_t planned_capacity_pages() const noexcept;
  span_type* alloc_span_after_miss(std::size_t n, bool no_record);
  // What grow(n) would do: the span ending the arena (a free one takes the new pages in) and the
  // pages it commits (0: no room).
  struct GrowthPlan {
    span_type* tail;         // the span ending the arena (free when tail_pages != 0), or null
    std::size_t tail_pages;  // its length (0: none)
    std::size_t ask;         // pages to commit (0: no room)
  };
  GrowthPlan plan_growth(std::size_t n) const noexcept;
  bool grow(std::size_t n);
  span_type* new_record() noexcept;
  void retire_record(span_type* s) noexcept;

  // The counters, with the ones kept elsewhere filled in (each number is kept once) and the
  // threads' deltas folded in at one cut (mheap/consistent_stats.hpp).
  stats_type snapshot_locked() const noexcept {
    front_.fold_locked(*this);
    stats_type s = stats_;
    s.mspan_inuse = pool_.inuse_bytes();
    s.mspan_sys = pool_.committed_bytes();
    s.other_sys = arena_.map_bytes();
    return s;
  }

  [[gnu::cold]] [[gnu::noinline]] void report(Misuse what, const void* address, const char* kind_name) {
    ++events_.misuses;
    misuse_.report(MisuseReport{what, address, kind_name});
  }

  // ---- allocation ---------------------------------------------------------------------------
  // A free span of exactly n pages, taken out of the free set (its state still free), or null.
  span_type* alloc_span_locked(std::size_t n) {
    bool no_record = false;  // a span fit, but the record for its tail could not be had
    if (span_type* s = take_free_locked(n, no_record)) return s;
    return alloc_span_after_miss(n, no_record);
  }

  // A free span of exactly n pages cut from the free set without growing, or null (no_record: one
  // fit, but no record could be had for the rest; it is back in the free set untouched).
  span_type* take_free_locked(std::size_t n, bool& no_record) noexcept {
    span_type* s = free_.take(n);
    if (s == nullptr) return nullptr;
    detail::internal_check<checks>([&] { return s->state == SpanState::free && s->npages >= n; },
                                   "alloc: the free set handed out a span that is not free or too short");
    if (s->npages > n) {
      // The record for the tail comes first: if it cannot be had, s goes back untouched.
      span_type* tail = new_record();
      if (tail == nullptr) {  // back where it was: behind resident spans if it holds released pages
        free_.insert(*s, s->released_pages() != 0 ? free_set_type::Recency::cold : free_set_type::Recency::warm);
        no_record = true;
        return nullptr;
      }
      cut_tail(s, n, tail);
    }
    make_usable(s);
    // A retention pass's shortfall lies in the free set: only allocations from it can lower it.
    if constexpr (releases)
      if (retention_.has_shortfall()) [[unlikely]] retention_.after_alloc(unreleased_idle() - (s->npages << page_shift));
    // Refilling a hole may end an episode above the paced bound, before the decay releases it.
    if constexpr (paces)
      if (paced_.above()) [[unlikely]] end_episode_after_alloc(s->npages << page_shift);
    return s;
  }

  // A span with released pages is made usable again whole: all its released pages count as
  // resident from now on (cut_tail() has already passed on to the rest what can stay released).
  // Those pages read as zero, so the span's needzero flag (about the unreleased pages) still tells
  // whether it must be cleared.
  void make_usable(span_type* s) noexcept {
    if constexpr (releases) {
      if (s->idle.npreleased != 0) {
        stats_.heap_released -= s->idle.npreleased << page_shift;
        s->idle.npreleased = 0;
      }
    }
  }

  // Keeps the first n pages in s; the rest becomes the free span `tail` (mheap/heap_split_merge.hpp).
  void cut_tail(span_type* s, std::size_t n, span_type* tail) noexcept;

  // free → parked as Kind: held by the kind, mapped as it maps a live span, still idle (no counter
  // moves), its generation even.
  template <class Kind>
  void park_locked(span_type* s) noexcept {
    detail::internal_check<checks>([&] { return s->state == SpanState::free; }, "park: the span is not free");
    s->state = Kind::state;
    s->kind = span_kinds::template index_of<Kind>;
    // Interior pointers must find their span. A span whose pages all still map to it (it was live
    // as such a kind and has not changed since) needs no store at all.
    if constexpr (Kind::maps_interior_pages) {
      if (!s->interior_mapped) {
        arena_.map().set_all(arena_.page_of(s->base), s->npages, s);
        s->interior_mapped = true;
      }
    } else {
      arena_.map().set_ends(arena_.page_of(s->base), s->npages, s);
    }
  }

  // free → live as Kind: parked, then unparked and charged.
  template <class Kind>
  void make_live(span_type* s) noexcept {
    park_locked<Kind>(s);
    unpark_and_charge_locked<Kind>(s);
  }
  // parked → live as Kind: owned (the generation turns odd), the heap's counters charged.
  template <class Kind>
  [[gnu::always_inline]] void unpark_and_charge_locked(span_type* s) noexcept {
    front_end_type::unpark(s);
    charge<Kind, counter_checks>(stats_, s->npages << page_shift);
    totals_[span_kinds::template index_of<Kind>].count_alloc(s->npages << page_shift);
  }

  // A span of n pages from the free set (grown if need be), made live as Kind; null if there is
  // none.
  template <class Kind>
  span_type* alloc_live_locked(std::size_t n) {
    span_type* s = alloc_span_locked(n);
    if (s != nullptr) make_live<Kind>(s);
    return s;
  }
  // The same, out of line, for alloc() after a span cache miss: its path through a hit then calls
  // nothing, so it needs no saved registers and no stack frame (one of the changes that took the
  // hot 1-page pair from 5.6 to 4.8 ns, bench/RESULTS.md of 2026-12-07). A heap without a cache
  // calls alloc_live_locked() inline: every allocation comes that way, and the call would cost
  // 16 B on a Cortex-M4 (docs/embedded.md), as does a heap whose caches are its threads' (its
  // path under the lock never finds a cache).
  template <class Kind>
  [[gnu::noinline]] span_type* alloc_live_after_cache_miss_locked(std::size_t n) {
    return alloc_live_locked<Kind>(n);
  }

  // A span of Kind and n pages for a thread whose stack is empty, parked (the caller unparks it).
  // One at a time: taking several at once (half a stack) measured slower on the thread benchmark
  // (116 against 73 ns/op, 2026-11-29): spans parked ahead of need leave longer requests without a
  // fit, and each such miss flushes every cache.
  template <class Kind>
  span_type* refill_locked(std::size_t n) {
    span_type* s = alloc_span_locked(n);
    if (s != nullptr) park_locked<Kind>(s);
    return s;
  }

  // ---- free ---------------------------------------------------------------------------------
  // live → free (merged), for a span whose free() the caller has claimed (its generation even).
  // The length is read once, before the counters move: stores through the stats may alias the
  // record's fields, and reloading costs the hot path.
  template <class Kind>
  void free_span_locked(span_type* s) noexcept {
    detail::internal_check<checks>([&] { return s->state == Kind::state && !is_owned(generation::load(s->generation)); },
                                   "free: the span is not a claimed span of its kind");
    const std::size_t bytes = s->npages << page_shift;
    credit<Kind, counter_checks>(stats_, bytes);
    totals_[span_kinds::template index_of<Kind>].count_free(bytes);
    s->state = SpanState::free;
    stamp_idle(s);
    insert_free(s);
  }

  // parked → free, for every span of cache c. A parked span counts as idle from the tick it
  // leaves the cache: later than its free, so the idle-time rule stays on the safe side.
  void flush_locked(cache_type& c) noexcept {
    c.drain([this](span_type* s) { unpark_to_free(s); });
  }
  void unpark_to_free(span_type* s) noexcept {
    detail::internal_check<checks>([&] { return is_held(s->state) && !is_owned(generation::load(s->generation)); },
                                   "flush: a cached span is not parked");
    s->state = SpanState::free;
    stamp_idle(s);
    insert_free(s);
  }
  // The tick from which a span counts as idle (release_engine.hpp reads it); nothing to keep when
  // the heap never gives pages back.
  void stamp_idle(span_type* s) noexcept {
    if constexpr (releases) s->idle.tick = ticks_.stamp();
  }

  // ---- the front end (mheap/front_end.hpp) --------------------------------------------------------
  // ThisThread (mheap/thread_caches.hpp) calls these two under the registry mutex.
  void register_thread_cache(thread_cache_type& c) noexcept {
    detail::LockGuard guard(lock_);
    front_.link_locked(c);
  }
  void retire_thread_cache(thread_cache_type& c) noexcept {
    detail::LockGuard guard(lock_);
    front_.retire_locked(*this, c);
  }

  // ---- splitting and merging (defined in mheap/heap_split_merge.hpp) ----------------------------
  // Merges free span s with its free neighbours, then files it in the free set.
  void insert_free(span_type* s, typename free_set_type::Recency recency = free_set_type::Recency::warm) noexcept;
  void absorb(span_type* s, span_type* neighbour) noexcept;  // s takes in its free neighbour's record

  // ---- giving memory back (defined in mheap/heap_release.hpp; the planning: release_engine.hpp) --
  std::size_t unreleased_idle() const noexcept { return stats_.heap_idle - stats_.heap_released; }
  std::size_t unreleased_idle_not_in_flight() const noexcept;  // less spans being released
  // After a free: the retention bound (RetentionBound says what it promises); unset, one compare.
  void enforce_retention_locked() noexcept {
    if constexpr (releases)
      if (retention_.is_set()) [[unlikely]] enforce_retention_bound();
  }
  [[gnu::noinline]] void enforce_retention_bound() noexcept;
  void pace_retention_locked(std::uint32_t frees = 1) noexcept;  // after frees that grew the free set: the paced bound
  [[gnu::noinline]] void paced_release() noexcept;
  bool release_before_growth(std::size_t n) noexcept;  // the paced bound, before a growth for n pages
  void end_episode_after_alloc(std::size_t bytes) noexcept;  // an allocation took bytes from the free set
  void stop_pacing_locked() noexcept;  // set_idle_retention: the caller's bound replaces the paced one
  template <class Wanted>
  std::size_t release_locked(std::size_t budget, Wanted wanted, Overshoot overshoot = Overshoot::forbidden);

  static constexpr auto retention_init() noexcept {
    if constexpr (releases) return RetentionBound{Config::idle_retention_bytes}; else return detail::Absent<3>{};
  }

  // ---- state ----------------------------------------------------------------------------------
  [[no_unique_address]] mutable detail::IsolatedLock<lock_type> lock_;
  source_type source_;
  // mspan_* and other_sys are kept by the pool and the arena (snapshot_locked). Mutable: a
  // snapshot folds the threads' deltas in, which changes where counts are kept, not their values.
  mutable stats_type stats_{};
  mutable std::array<KindTotals, span_kinds::size> totals_{};  // per kind, by index (stats.hpp); folded like stats_
  HeapEvents events_{};
  [[no_unique_address]] misuse_policy_type misuse_{};
  free_set_type free_;
  [[no_unique_address]] front_end_type front_;  // the span caches (front_end.hpp)
  SpanPool<span_type, per_thread> pool_;                    // span records (span_pool.hpp)
  Arena<span_type, page_shift> arena_;          // grown pages and their page map (arena.hpp)
  std::size_t guard_bytes_ = 0;                 // each guard, before the arena and before the pool
  mutable std::uint32_t audit_epoch_ = 0;       // numbers each census (marks in Span::audit_mark)
  [[no_unique_address]] clock_type clock_{};
  // Scavenger ticks (free spans are stamped with them) and the retention bound: only where the
  // source can give pages back; elsewhere neither takes a byte (520 bytes of ticks on a host).
  [[no_unique_address]] std::conditional_t<releases, IdleTicks, detail::Absent<2>> ticks_;
  [[no_unique_address]] std::conditional_t<releases, RetentionBound, detail::Absent<3>> retention_{
      retention_init()};
  [[no_unique_address]] std::conditional_t<paces, paced_type, detail::Absent<4>> paced_;
  std::size_t releasing_pages_ = 0;      // pages of spans in state scavenging (out of the free set)
  bool laid_out_ = false;                // lay_out() has run (a constant-initialised heap: not yet)
};

}  // namespace mheap

// The out-of-line parts, one concern each.
#include "heap_growth.hpp"
#include "heap_release.hpp"
#include "heap_split_merge.hpp"
