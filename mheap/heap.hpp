// mheap/heap.hpp — the page heap: hands out spans of whole pages and takes them back.
//
// Flow of an allocation (Go 1.9's mheap.allocSpanLocked, with compile-time span kinds):
//   alloc<Kind>(n) → a cached span of exactly n pages if the span cache has one
//   (mheap/span_cache.hpp), else the best-fitting free span (mheap/free_set.hpp), flushing the
//   cache and then growing the arena from the page source when none fits → cut the tail off as a
//   new free span → mark the span live as Kind, enter its pages in the page map → charge Kind's
//   counters → clear it outside the lock if the caller asked for zeroed memory and it is dirty.
// Flow of a free: check the span is live and of this kind (misuse otherwise, reported before
//   anything changes) → credit the counters → keep it whole in the span cache if it is short and
//   the cache has room, else merge it with the free neighbours before and after and put the result
//   in the free set → enforce the retention bound, if one is set.
//
// Layout of the page source's reservation, fixed at construction:
//
//     [ page map | arena (spans, grows upward) | span records (committed in chunks) ]
//
// Invariants (audit() checks every one):
//   - the grown arena, pages [0, arena_pages_), is tiled by spans, free or live, with no gaps;
//   - no two free spans touch: every free merges with both free neighbours;
//   - counters: see mheap/stats.hpp; page map: see mheap/page_map.hpp; free set: free_set.hpp.
// Guarded by lock_: every member below it. The map and pool are reached only under it; so is the
// page source, except release(), which scavenging calls with the lock dropped
// (ReleasingPageSourcePolicy says what that asks of a source).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "mheap/audit.hpp"
#include "mheap/config.hpp"
#include "mheap/free_set.hpp"
#include "mheap/layout.hpp"
#include "mheap/mem_stats.hpp"
#include "mheap/page_map.hpp"
#include "mheap/sanitizers.hpp"
#include "mheap/span_cache.hpp"
#include "mheap/span.hpp"
#include "mheap/span_pool.hpp"
#include "mheap/span_ref.hpp"
#include "mheap/stats.hpp"
#include "policies/clock.hpp"
#include "policies/lock.hpp"
#include "policies/misuse.hpp"
#include "policies/page_source.hpp"
#include "policies/span_kind.hpp"
#include "policies/span_lists.hpp"

namespace mheap {

namespace detail {
// A kind's counter must be its own: charging a counter the heap itself keeps would corrupt it.
template <class StatsT, SpanKind K>
constexpr bool counter_is_accounting_field() {
  for (auto field : {&Stats::heap_sys, &Stats::heap_idle, &Stats::heap_released, &Stats::mspan_inuse,
                     &Stats::mspan_sys, &Stats::other_sys})
    if (counter_is<StatsT, K>(field)) return true;
  return false;
}
template <class StatsT, class Kinds>
constexpr bool kinds_fit_stats = [] {
  bool ok = true;
  Kinds::for_each([&]<class K, std::size_t>() { ok = ok && SpanKindFor<K, StatsT>; });
  return ok;
}();
template <class StatsT, class Kinds>
constexpr bool kinds_own_their_counters = [] {
  bool ok = true;
  Kinds::for_each([&]<class K, std::size_t>() {
    if constexpr (CounterBoundAtCompileTime<K>) {
      ok = ok && !counter_is_accounting_field<StatsT, K>();
      // heap_inuse is the own counter of the garbage-collected kind only: a manual kind naming it
      // would be charged once and then taken out of HeapInuse by MemStats (mem_stats.hpp).
      if constexpr (!K::counts_toward_heap_sys || K::state == SpanState::manual)
        ok = ok && !counter_is<StatsT, K>(&Stats::heap_inuse);
    }
  });
  return ok;
}();
// Kinds that share a counter must agree on heap_sys: Sys and the audit count a counter once.
template <class StatsT, class Kinds>
constexpr bool shared_counters_agree = [] {
  bool ok = true;
  Kinds::for_each([&]<class A, std::size_t>() {
    Kinds::for_each([&]<class B, std::size_t>() {
      if constexpr (CounterBoundAtCompileTime<A> && CounterBoundAtCompileTime<B>)
        if (same_counter<StatsT, A, B>() && A::counts_toward_heap_sys != B::counts_toward_heap_sys) ok = false;
    });
  });
  return ok;
}();
}  // namespace detail

template <class Config = DefaultConfig>
class Heap {
 public:
  using config_type = Config;
  using lock_type = typename Config::Lock;
  using source_type = typename Config::PageSource;
  using stats_type = typename Config::Stats;
  using span_kinds = typename Config::SpanKinds;
  using misuse_policy_type = typename Config::MisusePolicy;
  using clock_type = typename Config::Clock;

  static constexpr std::size_t page_shift = Config::page_shift;
  static constexpr std::size_t page_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t max_list_pages = Config::max_list_pages;

  // ---- the configuration's policies, each checked where the heap takes it -------------------
  static_assert(LockPolicy<lock_type>,
                "Config::Lock does not satisfy mheap::LockPolicy (default-constructible, lock(), unlock())");
  static_assert(PageSourcePolicy<source_type>,
                "Config::PageSource does not satisfy mheap::PageSourcePolicy (base(), capacity(), commit(p, n))");
  static_assert(!std::is_same_v<source_type, NoPageSource>,
                "this target has no OS page source: set Config::PageSource (e.g. StaticArena<Bytes>)");
  static_assert(std::is_base_of_v<Stats, stats_type>, "Config::Stats must be mheap::Stats or derive from it");
  static_assert(is_span_kinds<span_kinds>, "Config::SpanKinds must be mheap::SpanKinds<Kind...>");
  static_assert(detail::kinds_fit_stats<stats_type, span_kinds>,
                "a kind in Config::SpanKinds names a counter that is not a std::uint64_t member of Config::Stats");
  static_assert(detail::kinds_own_their_counters<stats_type, span_kinds>,
                "a kind in Config::SpanKinds charges heap_sys, heap_idle, heap_released, mspan_* or "
                "other_sys (or heap_inuse, and it is a manual kind): those are the heap's own; give the "
                "kind a counter of its own");
  static_assert(detail::shared_counters_agree<stats_type, span_kinds>,
                "two kinds in Config::SpanKinds share a counter but not counts_toward_heap_sys: a "
                "counter is either inside heap_sys or outside it");
  static_assert(ListLinkPolicy<typename Config::ListLinks>,
                "Config::ListLinks does not satisfy mheap::ListLinkPolicy (NormalLinks or SafeLinks)");
  static_assert(LargeSpanTreePolicy<typename Config::LargeSpanTree>,
                "Config::LargeSpanTree does not satisfy mheap::LargeSpanTreePolicy (RbTree, AvlTree, ...)");
  static_assert(MisuseHandler<misuse_policy_type>,
                "Config::MisusePolicy does not satisfy mheap::MisuseHandler (report(const MisuseReport&))");
  static_assert(ClockPolicy<clock_type>, "Config::Clock does not satisfy mheap::ClockPolicy (now() in nanoseconds)");
  static_assert(page_shift >= 8 && page_shift <= 30, "Config::page_shift must be in [8, 30]");
  static_assert(Config::min_grow_bytes >= page_bytes && Config::grow_granule_bytes >= page_bytes,
                "Config::min_grow_bytes and grow_granule_bytes must be at least one page");
  // Growth sizes are added to page counts: a quarter of the address space keeps that from wrapping.
  static_assert(Config::min_grow_bytes <= SIZE_MAX / 4 && Config::grow_granule_bytes <= SIZE_MAX / 4,
                "Config::min_grow_bytes and grow_granule_bytes must be at most SIZE_MAX / 4");
  static_assert(Config::span_pool_chunk_bytes >= page_bytes, "Config::span_pool_chunk_bytes must be at least one page");

  using span_type = Span<typename Config::ListLinks, typename Config::LargeSpanTree>;

  // Arguments go to the page source (e.g. the reservation size of an MmapSource).
  template <class... SourceArgs>
  explicit Heap(SourceArgs&&... source_args) : source_(std::forward<SourceArgs>(source_args)...) {
    lay_out();
  }
  // Takes back the sanitizer marks the heap put on its range (free spans, guards): whatever uses
  // that memory next, a StaticArena's owner or the next mapping at the same address, starts clean.
  ~Heap() {
    if (arena_capacity_pages_ == 0) return;
    detail::unpoison_memory<Config::valgrind_annotations>(arena_ - guard_bytes_, guard_bytes_ + (arena_pages_ << page_shift), false);
    detail::unpoison_memory<Config::valgrind_annotations>(pool_base_ - guard_bytes_, guard_bytes_, false);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // ---- spans --------------------------------------------------------------------------------
  // Allocates npages whole pages as Kind. Empty on npages == 0, on a request larger than the page
  // source could ever give, and when the source is exhausted; no span byte or counter has then
  // moved, except that the span cache may have been merged into the free set first (span
  // records retired or taken: mspan_inuse and mspan_sys may move).
  // zeroed: the memory reads as zero. Only a dirty span is cleared (fresh pages are already zero).
  template <class Kind>
  [[nodiscard]] SpanRef<Kind> alloc(std::size_t npages, bool zeroed = false) {
    static_assert(span_kinds::template contains<Kind>, "Heap::alloc: Config::SpanKinds does not list this Kind");
    if (npages == 0 || npages > arena_capacity_pages_) return {};
    span_type* s;
    bool dirty;
    {
      LockGuard guard(lock_);
      s = cache_.pop(npages);
      if (s == nullptr) {
        s = alloc_span_locked(npages);
        if (s == nullptr) return {};
      }
      make_live<Kind>(s);
      dirty = s->needzero;
      if (zeroed && dirty) events_.zeroed_bytes += npages << page_shift;
    }
    // The span is ours alone now: clear it without holding up other threads.
    detail::unpoison_memory<Config::valgrind_annotations>(s->base, npages << page_shift, !dirty || zeroed);
    if (zeroed && dirty) std::memset(s->base, 0, npages << page_shift);
    return SpanRef<Kind>(s, s->generation);
  }

  // Frees a span. An empty ref is a no-op. A ref that is no longer live (double free) or does not
  // come from this heap is reported to the misuse policy, and nothing changes.
  template <class Kind>
  void free(SpanRef<Kind> ref) {
    static_assert(span_kinds::template contains<Kind>, "Heap::free: Config::SpanKinds does not list this Kind");
    if (!ref) return;
    LockGuard guard(lock_);
    if (!owns_record(ref.span_)) [[unlikely]]  // before the cast: a foreign record may be another type
      return report(Misuse::foreign_span, ref.span_, Kind::name);
    auto* s = static_cast<span_type*>(ref.span_);
    if (s->generation != ref.generation_ || s->state != Kind::state ||
        s->kind != span_kinds::template index_of<Kind>) [[unlikely]] {
      if (s->generation == ref.generation_ && s->is_live()) return report(Misuse::wrong_kind, s->base, Kind::name);
      // Name the caller's span only while the record still describes it as freed: one free later,
      // its base unchanged (merging below it or retiring it bumps the generation). Otherwise the
      // record may describe someone else's span now, so no address.
      return report(Misuse::double_free, s->generation == ref.generation_ + 1 ? s->base : nullptr, Kind::name);
    }
    free_span_locked<Kind>(s);
    enforce_retention_locked();
  }

  // Frees the live span of Kind whose first byte is base (a C-style interface for callers that keep
  // only addresses). Every address that is not such a base is reported as misuse.
  template <class Kind>
  void free_at(const void* base) {
    static_assert(span_kinds::template contains<Kind>, "Heap::free_at: Config::SpanKinds does not list this Kind");
    LockGuard guard(lock_);
    const std::size_t page = page_of(base);
    if (page >= arena_pages_) return report(Misuse::outside_heap, base, Kind::name);
    span_type* s = map_[page];
    if (s == nullptr || !s->is_live() || s->base != base) return report(Misuse::not_span_base, base, Kind::name);
    if (s->kind != span_kinds::template index_of<Kind>) return report(Misuse::wrong_kind, base, Kind::name);
    free_span_locked<Kind>(s);
    enforce_retention_locked();
  }

  // The live span holding address p, or null: p outside the arena or in a free or cached span.
  // For a kind that does not map interior pages, an interior address may also answer null.
  const SpanHeader* lookup(const void* p) {
    LockGuard guard(lock_);
    const std::size_t page = page_of(p);
    if (page >= arena_pages_) return nullptr;
    const span_type* s = map_[page];
    if (s == nullptr || !s->is_live() || !contains(s, p)) return nullptr;  // stale entry
    return s;
  }

  // ---- giving memory back to the page source (needs a ReleasingPageSourcePolicy) -------------
  // Released pages stay in heap_sys and heap_idle and are counted in heap_released; allocating
  // from a span with released pages makes it usable again whole and lowers heap_released. The
  // system calls are made outside the heap lock: the spans being released are out of the free
  // set meanwhile (state scavenging), so no other thread can hand them out.

  // Releases free pages until max_bytes have been released; returns the bytes released. Order:
  // largest spans first. Large idle spans are the least likely to be reused soon and cost one
  // system call for many pages. Among long spans (the tree) of one length, the highest address
  // first, so the low end of the arena, where best fit with lowest address places new spans, stays
  // resident; among short ones (the lists) of one length, the one freed longest ago, which the
  // next allocation of that length would take last. Whole spans are released while they fit in
  // what is left of max_bytes; a span with nothing released yet may give its highest pages to use
  // up the rest.
  std::size_t scavenge(std::size_t max_bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    LockGuard guard(lock_);
    flush_cache_locked();
    return release_locked(max_bytes, [](const span_type&) { return true; });
  }

  // Releases every free page (Go's debug.FreeOSMemory).
  std::size_t release_all()
    requires ReleasingPageSourcePolicy<source_type>
  {
    return scavenge(std::numeric_limits<std::size_t>::max());
  }

  // Go 1.9's rule: releases the spans that have been free for at least min_idle_ns, by the
  // configuration's clock. Each call is a scavenger tick: a span is stamped, when freed, with the
  // current tick number (the free path never reads the clock), and counts as free from the start
  // of the next tick. So a span is never released early; a span freed before the first call is
  // released from the first call that comes min_idle_ns after it. Call it periodically (or use
  // BackgroundScavenger); the resolution of idle time is the period between calls.
  std::size_t scavenge_idle(std::uint64_t min_idle_ns)
    requires ReleasingPageSourcePolicy<source_type>
  {
    LockGuard guard(lock_);
    flush_cache_locked();
    const std::uint64_t now = clock_.now();
    ++tick_;
    tick_started_[tick_ % tick_history] = now;
    return release_locked(std::numeric_limits<std::size_t>::max(),
                          [&](const span_type& s) { return idle_at_least(s.idle_since, now, min_idle_ns); });
  }

  // Retention policy, an alternative to time: after each free, idle pages not yet released beyond
  // this many bytes are released (largest spans first). The default keeps everything.
  void set_idle_retention(std::size_t bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    LockGuard guard(lock_);
    retention_bytes_ = bytes;
    retention_shortfall_ = 0;
    enforce_retention_locked();
  }

  clock_type& clock() noexcept { return clock_; }  // unsynchronized, like misuse_policy()

  // Returns the span cache's spans to the free set, merged with their neighbours. The heap does
  // this itself whenever it matters (before growing, scavenging or enforcing retention).
  void flush_cache() {
    LockGuard guard(lock_);
    flush_cache_locked();
  }
  // Pages held in the span cache (idle, counted in heap_idle, not yet merged).
  std::size_t cached_pages() {
    LockGuard guard(lock_);
    return cache_.pages();
  }

  // ---- counters and checks ------------------------------------------------------------------
  stats_type stats() {
    LockGuard guard(lock_);
    return stats_;
  }
  MemStats mem_stats() {
    LockGuard guard(lock_);
    return make_mem_stats<stats_type, span_kinds>(stats_);
  }
  HeapEvents events() {
    LockGuard guard(lock_);
    return events_;
  }
  // Recomputes every counter from the spans and checks every invariant; says what failed.
  AuditReport audit() {
    LockGuard guard(lock_);
    return Census<Heap>::run(*this);
  }

  // These three hand out the heap's own objects without its lock: use them while no other
  // thread uses the heap (tests, set-up).
  misuse_policy_type& misuse_policy() noexcept { return misuse_; }
  source_type& page_source() noexcept { return source_; }
  // Largest span this heap can ever hand out, in pages (0 when the reservation failed).
  std::size_t capacity_pages() const noexcept { return arena_capacity_pages_; }

 private:
  template <class H>
  friend class Census;

  using free_set_type = FreeSet<span_type, max_list_pages, typename Config::LargeSpanTree>;

  static constexpr std::size_t pages_for(std::size_t bytes) noexcept { return layout::pages_for(bytes, page_shift); }
  static constexpr std::size_t min_grow_pages = pages_for(Config::min_grow_bytes);
  static constexpr std::size_t grow_granule_pages = pages_for(Config::grow_granule_bytes);
  static constexpr std::size_t pool_chunk_pages = pages_for(Config::span_pool_chunk_bytes);
  static_assert((pool_chunk_pages << page_shift) / sizeof(span_type) >= 1,
                "Config::span_pool_chunk_bytes must hold a span record");
  static constexpr LayoutShape layout_shape{page_shift, PageMap<span_type>::entry_bytes, sizeof(span_type),
                                            pool_chunk_pages};

  // Bytes of page map needed to cover `pages` arena pages, in whole pages.
  static constexpr std::size_t map_bytes_for(std::size_t pages) noexcept { return layout::map_bytes(layout_shape, pages); }

  // Splits the reservation into page map, guard, arena, guard, record pool (mheap/layout.hpp) and
  // makes the guards fault: protected by a source that can, poisoned for AddressSanitizer always.
  void lay_out() noexcept {
    const std::size_t granule = ProtectingPageSourcePolicy<source_type> ? granule_of(source_) : page_bytes;
    const Layout l = mheap::lay_out(layout_shape, reinterpret_cast<std::uintptr_t>(source_.base()),
                                    source_.capacity(), Config::guard_pages ? granule : 0);
    if (!l.usable()) return;
    map_.place(reinterpret_cast<void*>(l.map));
    arena_ = reinterpret_cast<std::byte*>(l.arena);
    arena_capacity_pages_ = l.arena_pages;
    pool_base_ = reinterpret_cast<std::byte*>(l.pool);
    pool_capacity_bytes_ = l.pool_bytes;
    guard_bytes_ = l.guard_bytes;
    for (std::byte* guard : {arena_ - guard_bytes_, pool_base_ - guard_bytes_}) {
      if constexpr (ProtectingPageSourcePolicy<source_type>)
        if (guard_bytes_ != 0) (void)source_.protect(guard, guard_bytes_);  // refused: poisoned all the same
      detail::poison_free_memory<Config::valgrind_annotations>(guard, guard_bytes_);
    }
  }

  std::size_t page_of(const void* p) const noexcept {
    // Wraps to a huge value below the arena, so one comparison with arena_pages_ rejects both sides.
    return (reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(arena_)) >> page_shift;
  }
  std::byte* page_addr(std::size_t page) const noexcept { return arena_ + (page << page_shift); }
  static bool contains(const span_type* s, const void* p) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(s->base) < (s->npages << page_shift);
  }
  bool owns_record(const void* record) const noexcept {
    return reinterpret_cast<std::uintptr_t>(record) - reinterpret_cast<std::uintptr_t>(pool_base_) < pool_committed_bytes_;
  }

  [[gnu::cold]] [[gnu::noinline]] void report(Misuse what, const void* address, const char* kind_name) {
    ++events_.misuses;
    misuse_.report(MisuseReport{what, address, kind_name});
  }

  // ---- allocation ---------------------------------------------------------------------------
  // A free span of exactly n pages, taken out of the free set (its state still free), or null.
  span_type* alloc_span_locked(std::size_t n) {
    span_type* s = free_.take(n);
    if (s == nullptr && n > (stats_.heap_idle >> page_shift) + (arena_capacity_pages_ - arena_pages_))
      return nullptr;  // more than every idle page and all the room left: hopeless, touch nothing
    while (s == nullptr) {
      if (cache_.pages() != 0) {
        flush_cache_locked();  // cached spans, merged, may fit: use them before growing
        s = free_.take(n);
        if (s != nullptr) break;
      }
      if (releasing_pages_ == 0) break;
      // Another thread is releasing spans outside the lock: idle, but out of reach until they
      // come back. Wait for them rather than grow the heap or fail. (Never with NullLock: there
      // no other thread can be releasing.)
      {
        UnlockGuard unlocked(lock_);
        cpu_relax();
      }
      s = free_.take(n);
    }
    if (s == nullptr) {
      if (!grow(n)) return nullptr;
      s = free_.take(n);  // grow() left a free span of at least n pages
    }
    if (s->npages > n) {
      // The record for the tail comes first: if it cannot be had, s goes back untouched.
      span_type* tail = new_record();
      if (tail == nullptr) {
        free_.insert(*s);
        return nullptr;
      }
      make_usable(s);
      cut_tail(s, n, tail);
    } else {
      make_usable(s);
    }
    return s;
  }

  // A span with released pages is made usable again whole; those pages read as zero, so the span's
  // needzero flag (about the unreleased pages) still tells whether it must be cleared.
  void make_usable(span_type* s) noexcept {
    if (s->npreleased != 0) {
      stats_.heap_released -= s->npreleased << page_shift;
      s->npreleased = 0;
    }
  }

  // Keeps the first n pages in s; the rest becomes the free span `tail`. No counter moves.
  void cut_tail(span_type* s, std::size_t n, span_type* tail) noexcept {
    tail->base = s->base + (n << page_shift);
    tail->npages = s->npages - n;
    tail->npreleased = 0;  // make_usable() emptied s
    tail->interior_mapped = false;
    tail->needzero = s->needzero;
    tail->idle_since = s->idle_since;
    tail->state = SpanState::free;
    s->npages = n;
    map_.set_ends(page_of(tail->base), tail->npages, tail);
    free_.insert(*tail);
  }

  template <class Kind>
  void make_live(span_type* s) noexcept {
    s->state = Kind::state;
    s->kind = span_kinds::template index_of<Kind>;
    ++s->generation;
    // Interior pointers must find their span. A span back from the cache whose pages all still map
    // to it (it was live as such a kind and has not changed since) needs no store at all.
    if constexpr (Kind::maps_interior_pages) {
      if (!s->interior_mapped) {
        map_.set_all(page_of(s->base), s->npages, s);
        s->interior_mapped = true;
      }
    } else {
      map_.set_ends(page_of(s->base), s->npages, s);
    }
    charge<Kind>(s->npages << page_shift);
  }

  // The accounting table of go-mheap-facts.md, one row per kind placement.
  template <class Kind>
  void charge(std::uint64_t bytes) noexcept {
    stats_.heap_idle -= bytes;
    if constexpr (Kind::counts_toward_heap_sys) {
      stats_.heap_inuse += bytes;
      if constexpr (!charges_only_heap_inuse<Kind>) stats_.*(Kind::counter) += bytes;
    } else {
      stats_.heap_sys -= bytes;  // manually managed memory does not count toward heap_sys
      stats_.*(Kind::counter) += bytes;
    }
  }
  template <class Kind>
  void credit(std::uint64_t bytes) noexcept {
    stats_.heap_idle += bytes;
    if constexpr (Kind::counts_toward_heap_sys) {
      stats_.heap_inuse -= bytes;
      if constexpr (!charges_only_heap_inuse<Kind>) stats_.*(Kind::counter) -= bytes;
    } else {
      stats_.heap_sys += bytes;
      stats_.*(Kind::counter) -= bytes;
    }
  }

  // ---- free ---------------------------------------------------------------------------------
  template <class Kind>
  void free_span_locked(span_type* s) noexcept {
    detail::poison_free_memory<Config::valgrind_annotations>(s->base, s->npages << page_shift);
    credit<Kind>(s->npages << page_shift);
    ++s->generation;
    s->needzero = true;  // a span freed after use is dirty
    if (cache_.push(s, Config::span_cache_pages, Config::span_cache_per_length)) {
      s->state = SpanState::cached;
      return;
    }
    s->state = SpanState::free;
    s->idle_since = tick_;
    insert_free(s);
  }

  // A cached span counts as idle from the tick it leaves the cache: later than its free, so the
  // idle-time rule stays on the safe side.
  void flush_cache_locked() noexcept {
    cache_.drain([this](span_type* s) {
      s->state = SpanState::free;
      s->idle_since = tick_;
      insert_free(s);
    });
  }

  // Merges free span s with its free neighbours, then files it in the free set. The neighbours'
  // records are retired; s keeps the merged run. Reads only first/last page entries of the map.
  void insert_free(span_type* s, typename free_set_type::Recency recency = free_set_type::Recency::warm) noexcept {
    const std::size_t first = page_of(s->base);
    if (first > 0) {
      span_type* before = map_[first - 1];
      if (before != nullptr && before->state == SpanState::free) {
        free_.erase(*before);
        s->base = before->base;
        ++s->generation;  // the record no longer starts where its last owner's span did (free())
        s->npages += before->npages;
        absorb(s, before);
      }
    }
    const std::size_t end = page_of(s->base) + s->npages;
    if (end < arena_pages_) {
      span_type* after = map_[end];
      if (after != nullptr && after->state == SpanState::free) {
        free_.erase(*after);
        s->npages += after->npages;
        absorb(s, after);
      }
    }
    map_.set_ends(page_of(s->base), s->npages, s);
    s->interior_mapped = false;  // a free span is mapped at its ends only (page_map.hpp)
    free_.insert(*s, recency);
  }
  void absorb(span_type* s, span_type* neighbour) noexcept {
    s->npreleased += neighbour->npreleased;
    s->needzero = s->needzero || neighbour->needzero;
    s->idle_since = std::max(s->idle_since, neighbour->idle_since);
    retire_record(neighbour);
  }

  // ---- growth -------------------------------------------------------------------------------
  // Grows the arena so that a free span of at least n pages exists at its end: fresh pages merge
  // with a free span already there, so only the rest is asked for (at least min_grow_pages, in
  // granules). On failure nothing the heap accounts for changes: the source's commits are kept
  // (committed_*), uncounted, and reused by the next growth.
  bool grow(std::size_t n) {
    const std::size_t room = arena_capacity_pages_ - arena_pages_;
    // A free span at the end of the arena will merge with the new pages: grow only by the rest.
    const span_type* last = arena_pages_ != 0 ? map_[arena_pages_ - 1] : nullptr;
    const std::size_t tail = last != nullptr && last->state == SpanState::free ? last->npages : 0;
    const std::size_t need = n > tail ? n - tail : 1;
    if (need > room) return false;
    const std::size_t ask = std::min(round_up(std::max(need, min_grow_pages), grow_granule_pages), room);
    const std::size_t new_end = arena_pages_ + ask;
    if (!commit_map(new_end) || !commit_arena(new_end)) {
      ++events_.grow_failures;
      return false;
    }
    // Two records: one for the new span, one for the tail the caller will cut from it. Taking both
    // now means nothing can fail once the arena has grown.
    span_type* r = new_record();
    span_type* spare = r ? new_record() : nullptr;
    if (spare == nullptr) {
      if (r != nullptr) retire_record(r);
      ++events_.grow_failures;
      return false;
    }
    retire_record(spare);  // first in line for the caller's cut_tail()
    r->base = page_addr(arena_pages_);
    r->npages = ask;
    r->npreleased = 0;
    r->needzero = false;  // fresh from the source: zero
    r->state = SpanState::free;
    r->idle_since = tick_;
    detail::poison_free_memory<Config::valgrind_annotations>(r->base, ask << page_shift);
    arena_pages_ = new_end;
    stats_.heap_sys += ask << page_shift;
    stats_.heap_idle += ask << page_shift;
    stats_.other_sys = map_bytes_for(arena_pages_);
    ++events_.grow_calls;
    insert_free(r);
    return true;
  }
  static constexpr std::size_t round_up(std::size_t n, std::size_t granule) noexcept {
    return (n + granule - 1) / granule * granule;
  }
  bool commit_map(std::size_t pages) noexcept {
    const std::size_t need = map_bytes_for(pages);
    if (need <= map_committed_bytes_) return true;
    if (!source_.commit(map_.bytes() + map_committed_bytes_, need - map_committed_bytes_)) return false;
    map_committed_bytes_ = need;
    return true;
  }
  bool commit_arena(std::size_t pages) noexcept {
    if (pages <= arena_committed_pages_) return true;
    const std::size_t from = arena_committed_pages_;
    if (!source_.commit(page_addr(from), (pages - from) << page_shift)) return false;
    arena_committed_pages_ = pages;
    return true;
  }

  // ---- release engine -----------------------------------------------------------------------
  static constexpr std::size_t release_batch = 32;  // spans per trip outside the lock
  static constexpr std::size_t no_retention_bound = static_cast<std::size_t>(-1);
  static constexpr std::size_t tick_history = 64;   // scavenger ticks whose start times are kept

  // True when a span stamped with tick `stamp` has been free for at least min_ns at `now`. It
  // became free before tick stamp + 1 started; if that start has left the history, the oldest
  // start kept is a later time, so judging by it is still never early.
  bool idle_at_least(std::uint64_t stamp, std::uint64_t now, std::uint64_t min_ns) const noexcept {
    std::uint64_t next = stamp + 1;
    if (next > tick_) return false;  // freed during the current tick
    if (tick_ - next >= tick_history) next = tick_ - tick_history + 1;
    return now - tick_started_[next % tick_history] >= min_ns;
  }

  // The bound is reached except for idle pages no release can cover: runs shorter than the page
  // source's granule, and what a source refused. What a pass leaves above the bound is remembered
  // (retention_shortfall_), and the next pass waits until idle memory grows past it, so frees do not
  // scan the free set again and again for pages that cannot go.
  void enforce_retention_locked() noexcept {
    if constexpr (ReleasingPageSourcePolicy<source_type>) {
      const std::size_t unreleased = stats_.heap_idle - stats_.heap_released;
      if (retention_bytes_ != no_retention_bound && unreleased > retention_bytes_ &&
          unreleased - retention_bytes_ > retention_shortfall_) [[unlikely]] {
        flush_cache_locked();  // cached spans are idle too, and only the free set can be released
        release_locked(unreleased - retention_bytes_, [](const span_type&) { return true; }, Overshoot::allowed);
        const std::size_t left = stats_.heap_idle - stats_.heap_released;
        retention_shortfall_ = left > retention_bytes_ ? left - retention_bytes_ : 0;
      }
    }
  }

  // One span's share of a release: `bytes` from `from` (whole granules of the page source), after
  // which the span has `released_after` released pages.
  struct ReleaseJob {
    span_type* span;
    std::byte* from;
    std::size_t bytes;
    std::size_t released_after;
    bool done;
  };

  // Whether a release may exceed its budget. A span that is already partly released can only be
  // released whole (where its released pages lie is not recorded), which may overshoot: fine for
  // the retention bound (a floor on what to release), not for scavenge(max_bytes) (a ceiling).
  enum class Overshoot { forbidden, allowed };

  // The highest `pages` pages of s, rounded inward to whole granules of the page source: what a
  // release of them really gives back, so that heap_released counts exactly that (a run shorter
  // than a granule gives nothing). A span's released pages always lie inside the run of its whole
  // length rounded this way, so releasing that run covers them all.
  struct PageRun {
    std::byte* from;
    std::size_t pages;
  };
  static PageRun releasable(const span_type& s, std::size_t pages, std::size_t granule) noexcept {
    const auto end = reinterpret_cast<std::uintptr_t>(s.base) + (s.npages << page_shift);
    std::uintptr_t lo = end - (pages << page_shift), hi = end;
    if (granule > page_bytes) {
      lo = layout::align_up(lo, granule);
      hi = hi / granule * granule;
      if (hi <= lo) return {nullptr, 0};
    }
    return {reinterpret_cast<std::byte*>(lo), (hi - lo) >> page_shift};
  }

  // Releases up to `budget` bytes from the free spans `wanted` accepts, largest first. Called and
  // returns with the lock held; drops it around the page source's release calls.
  template <class Wanted>
  std::size_t release_locked(std::size_t budget, Wanted wanted, Overshoot overshoot = Overshoot::forbidden) {
    const std::size_t granule = granule_of(source_);
    std::size_t released = 0;
    for (;;) {
      std::array<ReleaseJob, release_batch> jobs;
      std::size_t n = 0, planned = 0;
      free_.visit_largest_first([&](span_type& s) {
        if (s.npreleased == s.npages || !wanted(s)) return false;
        const std::size_t remaining = budget - released - planned;
        // Whole pages: rounded down under a ceiling, up under a floor.
        const std::size_t left =
            (remaining >> page_shift) + (overshoot == Overshoot::allowed && (remaining & (page_bytes - 1)) != 0);
        if (left == 0) return true;  // not a page left to release: stop looking
        // A clean span may give a part, its highest pages; a partly released one goes whole again.
        const PageRun run = releasable(s, s.npreleased == 0 ? std::min(s.npages, left) : s.npages, granule);
        if (run.pages <= s.npreleased) return false;  // nothing more this span can give
        const std::size_t fresh = run.pages - s.npreleased;
        if (fresh > left && overshoot == Overshoot::forbidden) return false;
        jobs[n++] = ReleaseJob{&s, run.from, run.pages << page_shift, run.pages, false};
        planned += fresh << page_shift;
        return n == release_batch || planned + released >= budget;
      });
      if (n == 0) return released;
      for (std::size_t i = 0; i < n; ++i) {
        free_.erase(*jobs[i].span);
        jobs[i].span->state = SpanState::scavenging;
        releasing_pages_ += jobs[i].span->npages;
      }
      {
        UnlockGuard unlocked(lock_);
        for (std::size_t i = 0; i < n; ++i) {
          ReleaseJob& job = jobs[i];
          detail::unpoison_memory<Config::valgrind_annotations>(job.from, job.bytes, false);  // a source may write it (StaticArena zeroes)
          job.done = source_.release(job.from, job.bytes) == job.bytes;
          detail::poison_free_memory<Config::valgrind_annotations>(job.from, job.bytes);
        }
      }
      bool all_done = true;
      for (std::size_t i = 0; i < n; ++i) {
        ReleaseJob& job = jobs[i];
        span_type* s = job.span;
        ++events_.release_calls;
        if (job.done) {
          const std::size_t fresh = job.released_after - s->npreleased;
          events_.released_bytes += job.bytes;
          s->npreleased = job.released_after;
          stats_.heap_released += fresh << page_shift;
          released += fresh << page_shift;
          if (s->npreleased == s->npages) s->needzero = false;  // released pages read as zero
        } else {
          all_done = false;  // a source that refuses is not asked again in this call
        }
        releasing_pages_ -= s->npages;
        s->state = SpanState::free;
        insert_free(s, free_set_type::Recency::cold);  // resident spans of its length go first
      }
      if (!all_done || n < release_batch || released >= budget) return released;
    }
  }

  // ---- span records -------------------------------------------------------------------------
  span_type* new_record() noexcept {
    span_type* s = pool_.try_alloc();
    if (s == nullptr) s = new_record_from_fresh_chunk();
    if (s != nullptr) {
      stats_.mspan_inuse += sizeof(span_type);
      s->page_shift = static_cast<std::uint8_t>(page_shift);
    }
    return s;
  }
  span_type* new_record_from_fresh_chunk() noexcept {
    const std::size_t bytes = std::min(pool_chunk_pages << page_shift, pool_capacity_bytes_ - pool_committed_bytes_);
    if (bytes < sizeof(span_type)) return nullptr;
    std::byte* chunk = pool_base_ + pool_committed_bytes_;
    if (!source_.commit(chunk, bytes)) return nullptr;
    pool_committed_bytes_ += bytes;
    pool_.add_chunk(chunk, bytes);
    stats_.mspan_sys += bytes;
    return pool_.try_alloc();
  }
  void retire_record(span_type* s) noexcept {
    ++s->generation;  // it describes no span now: no ref's double free may name its stale base
    pool_.retire(s);
    stats_.mspan_inuse -= sizeof(span_type);
  }

  // ---- state ----------------------------------------------------------------------------------
  [[no_unique_address]] IsolatedLock<lock_type> lock_;
  source_type source_;
  stats_type stats_{};
  HeapEvents events_{};
  [[no_unique_address]] misuse_policy_type misuse_{};
  free_set_type free_;
  SpanCache<span_type, max_list_pages> cache_;  // freed short spans, whole (span_cache.hpp)
  SpanPool<span_type> pool_;
  PageMap<span_type> map_;                 // entry p: the span holding arena page p (page_map.hpp)
  std::byte* arena_ = nullptr;             // page 0 of the arena
  std::size_t arena_pages_ = 0;            // pages grown; [0, arena_pages_) is tiled by spans
  std::size_t arena_capacity_pages_ = 0;   // pages the arena may grow to
  std::size_t arena_committed_pages_ = 0;  // ≥ arena_pages_: commits outlive a failed growth
  std::size_t map_committed_bytes_ = 0;
  std::byte* pool_base_ = nullptr;         // span records live in [pool_base_, + pool_committed_bytes_)
  std::size_t pool_committed_bytes_ = 0;
  std::size_t pool_capacity_bytes_ = 0;
  std::size_t guard_bytes_ = 0;            // each guard: [arena_ - guard, arena_), [pool_base_ - guard, pool_base_)
  std::uint32_t audit_epoch_ = 0;          // numbers each census (marks in Span::audit_mark)
  [[no_unique_address]] clock_type clock_{};
  std::uint64_t tick_ = 0;                 // scavenger ticks so far; free spans are stamped with it
  std::array<std::uint64_t, tick_history> tick_started_{};  // [t % tick_history]: when tick t began
  std::size_t retention_bytes_ = Config::idle_retention_bytes;  // unreleased idle bytes kept at most
  std::size_t releasing_pages_ = 0;        // pages of spans in state scavenging (out of the free set)
  std::size_t retention_shortfall_ = 0;    // unreleased idle bytes above the bound that the last pass could not reach
};

}  // namespace mheap
