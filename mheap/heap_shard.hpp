// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/heap_shard.hpp — one arena's page heap: hands out spans of whole pages and takes them back.
/// Heap<Config> (mheap/heap.hpp) is a HeapShard when Config has one arena, and a set of them
/// (mheap/arena_set.hpp) when it has several; the API and its costs are documented here.
///
/// Flow of an allocation (Go 1.9's mheap.allocSpanLocked, with compile-time span kinds):
///   alloc<Kind>(n) → a cached span of exactly n pages if the span cache has one
///   (mheap/span_cache.hpp), else the best-fitting free span (mheap/free_set.hpp), flushing the
///   cache and then growing the arena (mheap/arena.hpp) from the page source when none fits → cut
///   the tail off as a new free span → mark the span live as Kind, enter its pages in the page map
///   → charge Kind's counters (mheap/accounting.hpp) → clear it outside the lock if the caller asked
///   for zeroed memory and it is dirty.
/// Flow of a free: check the span is live and of this kind (misuse otherwise, reported before
///   anything changes) → credit the counters → keep it whole in the span cache if it is short and
///   the cache has room, else merge it with the free neighbours before and after and put the result
///   in the free set → enforce the retention bound, if one is set (mheap/release_engine.hpp).
/// Span states and who moves them: mheap/span_state.hpp. The reservation: mheap/layout.hpp.
///
/// This header is the public face of one arena: the lock, the checks of what callers hand in,
/// misuse reports and the API with its costs. The spans themselves are moved in
/// mheap/heap_core.hpp, under the lock; the page source is reached only under it too, except
/// release(), which scavenging calls with the lock dropped (ReleasingPageSourcePolicy says what
/// that asks of a source).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "audit.hpp"
#include "config.hpp"
#include "config_check.hpp"
#include "detail/lock_guard.hpp"
#include "detail/with_teardown.hpp"
#include "heap_core.hpp"
#include "mem_stats.hpp"
#include "release_engine.hpp"
#include "span_ref.hpp"
#include "stats.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"

namespace mheap {

template <class UserConfig>
class ArenaSet;

/// One arena's page heap: hands out spans of whole pages, each held as one of the configuration's
/// span kinds (alloc<Kind>()), and takes them back (free()). UserConfig is DefaultConfig or a struct
/// derived from it (mheap/config.hpp); a broken one is reported in one compile error
/// (mheap/config_check.hpp). Users name Heap<Config> (mheap/heap.hpp), which is this class when
/// Config has one arena.
template <class UserConfig>
class HeapShard : private detail::WithTeardown<HeapCore<checked_config_t<UserConfig>>> {
  // The configuration, checked once (mheap/config_check.hpp): a broken one is reported there, in
  // one error, and the heap builds with a fallback so nothing below adds another.
  static_assert(sizeof(detail::ConfigCheck<UserConfig>) != 0);  // its static_asserts name a broken rule
  using Config = checked_config_t<UserConfig>;
  using Core = HeapCore<Config>;
  static constexpr bool config_ok = config_is_valid<UserConfig>;

  // What the public face uses of the core (mheap/heap_core.hpp).
  using Core::arena_, Core::clock_, Core::events_, Core::front_, Core::lock_, Core::misuse_, Core::pool_,
      Core::retention_, Core::source_, Core::ticks_;
  using Core::alloc_span_locked, Core::enforce_retention_locked, Core::release_locked, Core::report,
      Core::snapshot_locked;
  using Core::per_thread;
  using typename Core::cache_type, typename Core::front_end_type, typename Core::generation,
      typename Core::thread_cache_type;

 public:
  using config_type = UserConfig;  ///< The configuration as given (the heap builds with checked_config_t of it).
  /// The checked configuration's types: Clock, Lock, MisusePolicy, PageSource, SpanKinds and Stats,
  /// and the span record (Span, mheap/span.hpp; lookup() hands out its SpanHeader).
  using typename Core::clock_type, typename Core::lock_type, typename Core::misuse_policy_type,
      typename Core::source_type, typename Core::span_kinds, typename Core::span_type, typename Core::stats_type;
  /// The checked configuration's pages: max_list_pages and page_shift, and the page size in bytes.
  using Core::max_list_pages, Core::page_bytes, Core::page_shift;

  /// Arguments go to the page source (for an MmapSource, the reservation size).
  /// Cost: the source's constructor, two protect() calls for the guards; no page is committed.
  /// A heap on a StaticArena can be constant-initialised: `constinit static Heap<Cfg> heap;` runs no
  /// constructor, and the heap lays itself out on its first allocation (docs/embedded.md).
  template <class... SourceArgs>
  constexpr explicit HeapShard(SourceArgs&&... source_args)
      : detail::WithTeardown<Core>(std::forward<SourceArgs>(source_args)...) {}

  // ---- spans --------------------------------------------------------------------------------
  /// Allocates npages whole pages as Kind. Empty on npages == 0, on a request larger than the page
  /// source could ever give, and when the source is exhausted; no span byte or counter has then
  /// moved, except that span caches may have been merged into the free set first (span records
  /// retired or taken: mspan_inuse and mspan_sys may move) and the paced bound may have released.
  /// zeroed: the memory reads as zero. Only a dirty span is cleared (fresh pages are already zero).
  /// Cost: O(1) from a span cache — with per-thread caches (the default where there are threads)
  /// without the heap lock: a pop, a generation store and the thread's counter delta. Else, under
  /// the lock, O(1) from an exact list or O(log free large spans) from the tree; a thread's empty
  /// stack takes one from the heap; + O(npages) page-map stores for a
  /// kind that maps interior pages (unless the span was parked as that kind); + O(npages) zeroing
  /// of a dirty span when zeroed; on a miss that finds nothing, one flush of the caller's cache
  /// (O(parked spans) merges), the paced bound's release (the lock dropped around the calls) and a
  /// growth (two commits); while another thread releases spans it waits for them rather than grow.
  template <class Kind>
  [[nodiscard]] SpanRef<Kind> alloc(std::size_t npages, bool zeroed = false) {
    return alloc_with<Kind>(npages, zeroed, [this] { return front_.this_thread_cache(*this); });
  }

  /// Frees a span. An empty ref is a no-op. A ref that is no longer live (double free) or does not
  /// come from this heap is reported to the misuse policy, and nothing changes. Two threads freeing
  /// the same span at once: exactly one frees it, the other reports a double free.
  /// Cost: O(1), without the heap lock, into the caller's span cache (per-thread caches): a range
  /// check, one compare-and-swap on the record's generation, a push and a counter delta; when the
  /// stack and the outbox are full, one more compare-and-swap hands the outbox back to the arena
  /// (mheap/returned_spans.hpp); a long span goes to the heap under the lock. Otherwise, under the lock, O(1)
  /// into the heap's span cache, or two neighbour merges and a free-set insert (O(log n) for a
  /// large span); + a release pass when the retention bound, or the paced bound, is exceeded
  /// (see set_idle_retention).
  template <class Kind>
  void free(SpanRef<Kind> ref) {
    free_with(ref, [this] { return front_.this_thread_cache(*this); });
  }

  /// Frees the live span of Kind whose first byte is base (a C-style interface for callers that keep
  /// only addresses). Every address that is not such a base is reported as misuse; the base of a
  /// span that is no longer live as a double free.
  /// Cost: as free(), plus one page-map read, under the heap lock.
  template <class Kind>
  void free_at(const void* base) {
    free_at_with<Kind>(base, front_.this_thread_cache(*this));
  }

  /// The live span holding address p, or null: p outside the arena or in a free or parked span.
  /// For a kind that does not map interior pages, an interior address may also answer null.
  /// The record may change once the lock is dropped (another thread frees the span): to read the
  /// span, use span_at(), which copies it under the lock. Cost: O(1): one page-map read.
  const SpanHeader* lookup(const void* p) const {
    detail::LockGuard guard(lock_);
    return live_span_at_locked(p);
  }

  /// A copy of the live span holding address p, taken under the lock, or nothing (as lookup()).
  /// Cost: O(1).
  std::optional<SpanInfo> span_at(const void* p) const {
    detail::LockGuard guard(lock_);
    const span_type* s = live_span_at_locked(p);
    if (s == nullptr) return std::nullopt;
    const char* kind_name = nullptr;
    span_kinds::for_each([&]<class K, std::size_t I>() {
      if (I == s->kind) kind_name = K::name;
    });
    return SpanInfo{s->base, s->npages, s->npages << page_shift, s->kind, kind_name};
  }

  /// Visits every span of the grown arena once, in address order, with a copy of it:
  /// `visit(const SpanView&)` (mheap/span_view.hpp). The spans tile the grown arena: the first
  /// starts at page 0, each starts at the end_page() of the one before, the last ends at the grown
  /// end. Returns the MemStats of the same instant, which the spans add up to (take_census() in
  /// mheap/span_census.hpp does the adding).
  ///
  /// The walk holds the heap lock, with thread caches stopped (as audit() does), so it sees one
  /// instant. The visitor therefore must not call back into this heap (it would deadlock, or under
  /// NullLock see the heap change under the walk) and should be quick: copy what it needs and work
  /// on it afterwards. On a heap whose audit() fails the walk stops at the first page that does not
  /// start a span.
  /// Cost: O(spans + parked spans) under the lock, plus the visitor; with thread caches, a stop
  /// of the front end.
  template <class Visitor>
  MemStats for_each_span(Visitor&& visit) const;  // defined in mheap/heap_walk.hpp

  // ---- giving memory back to the page source (needs a ReleasingPageSourcePolicy) -------------
  // Released pages stay in heap_sys and heap_idle and are counted in heap_released; allocating
  // from a span with released pages makes the pages handed out usable again (of a span released
  // only in part, the whole span) and lowers heap_released. The system calls are made outside the
  // heap lock: the spans being released are out of the free set meanwhile (state scavenging), so
  // no other thread can hand them out. A source with a granule coarser than a page is asked for
  // whole granules only, and exactly what it gives back is counted.

  /// Releases free pages until max_bytes have been released; returns the bytes released. Order:
  /// largest spans first. Large idle spans are the least likely to be reused soon and cost one
  /// system call for many pages. Among long spans (the tree) of one length, the highest address
  /// first, so the low end of the arena, where best fit with lowest address places new spans, stays
  /// resident; among short ones (the lists) of one length, the one at the back of its list (already
  /// released ones, then the highest addresses), which the next allocation of that length would
  /// take last. Whole spans are released while they fit in what is left of max_bytes; a span with
  /// nothing released yet may give its highest pages to use up the rest.
  /// Cost: a cache flush, O(free spans visited), one source.release() per span released (32 per
  /// trip with the lock dropped).
  std::size_t scavenge(std::size_t max_bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    front_.flush_all_locked(*this);
    return release_locked(max_bytes, [](const span_type&) { return true; });
  }

  /// Releases every free page (Go's debug.FreeOSMemory). Cost: as scavenge().
  std::size_t release_all()
    requires ReleasingPageSourcePolicy<source_type>
  {
    return scavenge(std::numeric_limits<std::size_t>::max());
  }

  /// Go 1.9's rule: releases the spans that have been free for at least min_idle_ns, by the
  /// configuration's clock (IdleTicks in mheap/release_engine.hpp: a span is never released early;
  /// the resolution is the period between calls). Call it periodically, or use BackgroundScavenger.
  /// Cost: as scavenge(), plus one clock read.
  std::size_t scavenge_idle(std::uint64_t min_idle_ns)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    front_.flush_all_locked(*this);
    const std::uint64_t now = clock_.now();
    ticks_.begin_tick(now);
    return release_locked(std::numeric_limits<std::size_t>::max(),
                          [&](const span_type& s) { return ticks_.idle_at_least(s.idle.tick, now, min_idle_ns); });
  }

  /// Retention policy, an alternative to time: after each free, idle pages not yet released beyond
  /// this many bytes are released (largest spans first); RetentionBound::none keeps everything.
  /// Any call, RetentionBound::none included, replaces for good the paced bound (on by default on OS
  /// memory; Config::idle_retention_percent: idle memory within a share of the bytes in use).
  /// The bound holds except for idle runs no release can cover (shorter than the source's granule).
  /// Cost: one release pass now; later, on a free that exceeds the bound, a pass (as scavenge()).
  void set_idle_retention(std::size_t bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    retention_.set(bytes);
    this->stop_pacing_locked();  // the caller's bound replaces the paced one, for good
    front_.bypass_locked(retention_.is_set());  // every free is then checked against the bound
    enforce_retention_locked();
  }

  clock_type& clock() noexcept { return clock_; }  ///< The configuration's clock; unsynchronized, like misuse_policy().

  /// Returns the parked spans of every span cache (the heap's one, or every thread's) to the free
  /// set, merged with their neighbours. The heap does this itself whenever it matters (before
  /// growing, scavenging or enforcing retention). Cost: O(parked spans) merges; O(kinds ×
  /// max_list_pages) per cache to find them; with thread caches, a stop of the front end (each
  /// thread's window waited out).
  void flush_cache() {
    detail::LockGuard guard(lock_);
    front_.flush_all_locked(*this);
  }
  /// Pages parked in every span cache (idle, counted in heap_idle, not yet merged).
  /// Cost: O(1) per cache; with thread caches, a stop of the front end.
  std::size_t cached_pages() const {
    detail::LockGuard guard(lock_);
    typename front_end_type::Stop stop(front_);
    return front_.parked_pages();
  }

  // ---- counters and checks ------------------------------------------------------------------
  /// Snapshots taken under the lock: every identity of mheap/stats.hpp holds in each. Cost: O(1)
  /// (mem_stats: O(kinds²) at compile time, O(kinds) at run time).
  stats_type stats() const {
    detail::LockGuard guard(lock_);
    return snapshot_locked();
  }
  /// The same snapshot with Go's runtime.MemStats field names (mheap/mem_stats.hpp).
  /// Cost: as stats(), plus a stop of the front end with thread caches (CacheIdle counts
  /// every thread's parked spans).
  MemStats mem_stats() const {
    detail::LockGuard guard(lock_);
    typename front_end_type::Stop stop(front_);
    const stats_type s = snapshot_locked();
    return make_mem_stats<stats_type, span_kinds>(s, this->totals_, std::uint64_t{front_.parked_pages()} << page_shift);
  }
  /// The length of the longest span in the free set, in pages (0: none); parked and
  /// being-released spans are not in it. Cost: O(1) under the lock (the tree's last span, or the
  /// highest bit of the lists' bitmap: max_list_pages / word bits words at most).
  std::size_t largest_free_pages() const {
    detail::LockGuard guard(lock_);
    return this->free_.largest_pages();
  }
  /// Per kind, by its index in SpanKinds: spans and bytes handed out and given back, ever. A
  /// snapshot of the same cut as stats(). Cost: as stats().
  std::array<KindTotals, span_kinds::size> kind_totals() const {
    detail::LockGuard guard(lock_);
    (void)snapshot_locked();  // folds the threads' deltas in
    return this->totals_;
  }
  /// The event counts (growths, zeroings, releases, misuses: mheap/stats.hpp), thread caches' zeroings included.
  HeapEvents events() const {
    detail::LockGuard guard(lock_);
    HeapEvents e = events_;
    e.zeroed_bytes += front_.zeroed_bytes_in_threads();
    return e;
  }
  /// Recomputes every counter from the spans and checks every invariant; says what failed.
  /// With thread caches, the front end is stopped meanwhile (threads wait for the lock instead).
  /// Cost: O(arena pages + free spans + parked spans), under the lock: for tests and debugging.
  AuditReport audit() const {
    detail::LockGuard guard(lock_);
    typename front_end_type::Stop stop(front_);
    return Census<Core>::run(*this);
  }

  /// Reports a misuse only its caller can see (an adapter's Misuse::wrong_size, mheap/span_heap.hpp)
  /// as the heap reports its own: counted in events().misuses and handed to the misuse policy under
  /// the lock, so that it never runs at the same time as another report. Cost: the lock.
  void report_misuse(const MisuseReport& r) {
    detail::LockGuard guard(lock_);
    this->report(r.what, r.address, r.kind_name);
  }

  // These three hand out the heap's own objects without its lock: use them while no other
  // thread uses the heap (tests, set-up); report_misuse() is the way to report while it is in use.
  misuse_policy_type& misuse_policy() noexcept { return misuse_; }  ///< The policy misuse is reported to.
  source_type& page_source() noexcept { return source_; }  ///< The page source the heap was constructed with.
  /// Largest span this heap can ever hand out, in pages (0 when the reservation failed). Cost: O(1),
  /// under the lock.
  std::size_t capacity_pages() const noexcept { return this->planned_capacity_pages(); }

 private:
  template <class>
  friend class ArenaSet;  // a heap of several arenas reads which arena holds a span or an address
  // The arena whose core c is (a thread's cache names its arena by its core).
  static HeapShard& of(Core& c) noexcept { return static_cast<HeapShard&>(static_cast<detail::WithTeardown<Core>&>(c)); }
  // One of k arenas: its paced bound's floor is a k-th of the configuration's.
  void share_idle_floor(std::size_t k) noexcept {
    if constexpr (Core::paces) {
      detail::LockGuard guard(lock_);
      this->paced_.share_floor(k);
    }
  }

  // The paths behind alloc(), free() and free_at(), with the thread cache to use named by the
  // caller (a heap of several arenas names the thread's home cache, a guest cache, or none):
  // mheap/heap_paths.hpp.
  template <class Kind, class ThreadCacheOf>
  SpanRef<Kind> alloc_with(std::size_t npages, bool zeroed, ThreadCacheOf&& thread_cache);
  template <class Kind, class ThreadCacheOf>
  void free_with(SpanRef<Kind> ref, ThreadCacheOf&& thread_cache);
  template <class Kind>
  void free_at_with(const void* base, thread_cache_type* tc);

  // The checks of what callers hand in, and the reports of what fails them (mheap/heap_checks.hpp).
  const span_type* live_span_at_locked(const void* p) const;
  template <class Kind>
  span_type* claim_at_locked(const void* base);
  [[gnu::cold]] [[gnu::noinline]] void report_bad_free(const span_type* s, Generation ref_generation, const char* kind);
  [[gnu::cold]] [[gnu::noinline]] void report_bad_free_locked(const span_type* s, Generation ref_generation,
                                                              const char* kind);
  // By value: free() then keeps its ref in registers (a reference to it would put it on the stack).
  template <class Kind>
  [[gnu::cold]] [[gnu::noinline]] void report_foreign(SpanRef<Kind> ref);

  // A claimed span, under the lock: parked in the caller's cache (its thread's, or the heap's one)
  // if it is short and there is room, else merged into the free set.
  template <class Kind>
  void free_claimed_locked(span_type* s, thread_cache_type* tc) {
    detail::internal_check<Core::checks>([&] { return s->state == Kind::state && s->kind == span_kinds::template index_of<Kind>; },
                                         "free: a claimed span is not held by its kind");
    const std::size_t n = s->npages;
    cache_type* cache = front_.heap_cache();
    if constexpr (per_thread) cache = tc != nullptr && !tc->guest ? &tc->spans : nullptr;  // a guest stacks nothing
    if (cache == nullptr || !front_.template park_locked<Kind>(*this, *cache, s, n)) {
      detail::poison_free_memory<Config::valgrind_annotations>(s->base, n << page_shift);
      s->needzero = true;  // freed after use: dirty
      this->template free_span_locked<Kind>(s);
      this->pace_retention_locked();  // the free set grew
    }
    enforce_retention_locked();  // parked spans are idle too
  }

};

}  // namespace mheap

#include "heap_checks.hpp"  // what free(), free_at() and lookup() check
#include "heap_paths.hpp"   // alloc(), free() and free_at() behind the public face
#include "heap_walk.hpp"  // Heap::for_each_span
