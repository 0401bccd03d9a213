// SPDX-License-Identifier: BSL-1.0
// mheap/heap.hpp — the page heap: hands out spans of whole pages and takes them back.
//
// Flow of an allocation (Go 1.9's mheap.allocSpanLocked, with compile-time span kinds):
//   alloc<Kind>(n) → a cached span of exactly n pages if the span cache has one
//   (mheap/span_cache.hpp), else the best-fitting free span (mheap/free_set.hpp), flushing the
//   cache and then growing the arena (mheap/arena.hpp) from the page source when none fits → cut
//   the tail off as a new free span → mark the span live as Kind, enter its pages in the page map
//   → charge Kind's counters (mheap/accounting.hpp) → clear it outside the lock if the caller asked
//   for zeroed memory and it is dirty.
// Flow of a free: check the span is live and of this kind (misuse otherwise, reported before
//   anything changes) → credit the counters → keep it whole in the span cache if it is short and
//   the cache has room, else merge it with the free neighbours before and after and put the result
//   in the free set → enforce the retention bound, if one is set (mheap/release_engine.hpp).
// Span states and who moves them: mheap/span_state.hpp. The reservation: mheap/layout.hpp.
//
// This header is the public face: the lock, the checks of what callers hand in, misuse reports and
// the API with its costs. The spans themselves are moved in mheap/heap_core.hpp, under the lock;
// the page source is reached only under it too, except release(), which scavenging calls with the
// lock dropped (ReleasingPageSourcePolicy says what that asks of a source).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "audit.hpp"
#include "config.hpp"
#include "config_check.hpp"
#include "detail/lock_guard.hpp"
#include "heap_core.hpp"
#include "mem_stats.hpp"
#include "release_engine.hpp"
#include "span_ref.hpp"
#include "stats.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"

namespace mheap {

template <class UserConfig = DefaultConfig>
class Heap : private HeapCore<checked_config_t<UserConfig>> {
  // The configuration, checked once (mheap/config_check.hpp): a broken one is reported there, in
  // one error, and the heap builds with a fallback so nothing below adds another.
  static_assert(sizeof(detail::ConfigCheck<UserConfig>) != 0);  // its static_asserts name a broken rule
  using Config = checked_config_t<UserConfig>;
  using Core = HeapCore<Config>;
  static constexpr bool config_ok = config_is_valid<UserConfig>;

  // What the public face uses of the core (mheap/heap_core.hpp).
  using Core::arena_, Core::cache_, Core::clock_, Core::events_, Core::lock_, Core::misuse_, Core::pool_,
      Core::retention_, Core::source_, Core::ticks_;
  using Core::alloc_span_locked, Core::enforce_retention_locked, Core::flush_cache_locked,
      Core::release_locked, Core::report, Core::snapshot_locked;

 public:
  using config_type = UserConfig;
  using typename Core::clock_type, typename Core::lock_type, typename Core::misuse_policy_type,
      typename Core::source_type, typename Core::span_kinds, typename Core::span_type, typename Core::stats_type;
  using Core::max_list_pages, Core::page_bytes, Core::page_shift;

  // Arguments go to the page source (e.g. the reservation size of an MmapSource).
  // Cost: the source's constructor, two protect() calls for the guards; no page is committed.
  template <class... SourceArgs>
  explicit Heap(SourceArgs&&... source_args) : Core(std::forward<SourceArgs>(source_args)...) {}

  // ---- spans --------------------------------------------------------------------------------
  // Allocates npages whole pages as Kind. Empty on npages == 0, on a request larger than the page
  // source could ever give, and when the source is exhausted; no span byte or counter has then
  // moved, except that the span cache may have been merged into the free set first (span
  // records retired or taken: mspan_inuse and mspan_sys may move).
  // zeroed: the memory reads as zero. Only a dirty span is cleared (fresh pages are already zero).
  // Cost: O(1) from the span cache or an exact list; else O(log free large spans) for the tree;
  // + O(npages) page-map stores for a kind that maps interior pages (unless the span comes back
  // from the cache unchanged); + O(npages) zeroing of a dirty span when zeroed; on a miss that
  // finds nothing, one flush of the whole span cache (O(cached spans) merges) and a growth (two
  // commits); while another thread releases spans it waits for them rather than grow.
  template <class Kind>
  [[nodiscard]] SpanRef<Kind> alloc(std::size_t npages, bool zeroed = false) {
    static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::alloc: Config::SpanKinds does not list this Kind");
    if constexpr (config_ok) {
      if (npages == 0 || npages > arena_.capacity_pages()) return {};
      span_type* s;
      bool dirty;
      {
        detail::LockGuard guard(lock_);
        s = cache_.pop(npages);
        if (s == nullptr) {
          s = alloc_span_locked(npages);
          if (s == nullptr) return {};
        }
        this->template make_live<Kind>(s);
        dirty = s->needzero;
        if (zeroed && dirty) events_.zeroed_bytes += npages << page_shift;
      }
      // The span is ours alone now: clear it without holding up other threads.
      detail::unpoison_memory<Config::valgrind_annotations>(s->base, npages << page_shift, !dirty || zeroed);
      if (zeroed && dirty) std::memset(s->base, 0, npages << page_shift);
      return SpanRef<Kind>(s, s->generation);
    } else {
      return {};
    }
  }

  // Frees a span. An empty ref is a no-op. A ref that is no longer live (double free) or does not
  // come from this heap is reported to the misuse policy, and nothing changes.
  // Cost: O(1) into the span cache; else two neighbour merges and a free-set insert (O(log n) for
  // a large span); + a release pass when the retention bound is exceeded (see set_idle_retention).
  template <class Kind>
  void free(SpanRef<Kind> ref) {
    static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::free: Config::SpanKinds does not list this Kind");
    if constexpr (config_ok) {
      if (!ref) return;
      detail::LockGuard guard(lock_);
      if (!pool_.owns(ref.span_)) [[unlikely]]  // before the cast: a foreign record may be another type
        return report(Misuse::foreign_span, ref.span_, Kind::name);
      auto* s = static_cast<span_type*>(ref.span_);
      if (s->generation != ref.generation_ || s->state != Kind::state ||
          s->kind != span_kinds::template index_of<Kind>) [[unlikely]]
        return report_bad_free(s, ref.generation_, Kind::name);
      this->template free_span_locked<Kind>(s);
      enforce_retention_locked();
    }
  }

  // Frees the live span of Kind whose first byte is base (a C-style interface for callers that keep
  // only addresses). Every address that is not such a base is reported as misuse.
  // Cost: as free(), plus one page-map read.
  template <class Kind>
  void free_at(const void* base) {
    static_assert(!config_ok || span_kinds::template contains<Kind>, "Heap::free_at: Config::SpanKinds does not list this Kind");
    if constexpr (config_ok) {
      detail::LockGuard guard(lock_);
      const std::size_t page = arena_.page_of(base);
      if (page >= arena_.pages()) return report(Misuse::outside_heap, base, Kind::name);
      span_type* s = arena_.map()[page];
      if (s == nullptr || !s->is_live() || s->base != base) return report(Misuse::not_span_base, base, Kind::name);
      if (s->kind != span_kinds::template index_of<Kind>) return report(Misuse::wrong_kind, base, Kind::name);
      this->template free_span_locked<Kind>(s);
      enforce_retention_locked();
    }
  }

  // The live span holding address p, or null: p outside the arena or in a free or cached span.
  // For a kind that does not map interior pages, an interior address may also answer null.
  // Cost: O(1): one page-map read.
  const SpanHeader* lookup(const void* p) const {
    detail::LockGuard guard(lock_);
    const std::size_t page = arena_.page_of(p);
    if (page >= arena_.pages()) return nullptr;
    const span_type* s = arena_.map()[page];
    if (s == nullptr || !s->is_live()) return nullptr;  // free, or a stale entry of a free span's interior
    const auto offset = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(s->base);
    return offset < (s->npages << page_shift) ? s : nullptr;  // a stale entry naming a record reused elsewhere
  }

  // ---- giving memory back to the page source (needs a ReleasingPageSourcePolicy) -------------
  // Released pages stay in heap_sys and heap_idle and are counted in heap_released; allocating
  // from a span with released pages makes it usable again whole and lowers heap_released. The
  // system calls are made outside the heap lock: the spans being released are out of the free
  // set meanwhile (state scavenging), so no other thread can hand them out. A source with a
  // granule coarser than a page is asked for whole granules only, and exactly what it gives back
  // is counted.

  // Releases free pages until max_bytes have been released; returns the bytes released. Order:
  // largest spans first. Large idle spans are the least likely to be reused soon and cost one
  // system call for many pages. Among long spans (the tree) of one length, the highest address
  // first, so the low end of the arena, where best fit with lowest address places new spans, stays
  // resident; among short ones (the lists) of one length, the one freed longest ago, which the
  // next allocation of that length would take last. Whole spans are released while they fit in
  // what is left of max_bytes; a span with nothing released yet may give its highest pages to use
  // up the rest.
  // Cost: a cache flush, O(free spans visited), one source.release() per span released (32 per
  // trip with the lock dropped).
  std::size_t scavenge(std::size_t max_bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    flush_cache_locked();
    return release_locked(max_bytes, [](const span_type&) { return true; });
  }

  // Releases every free page (Go's debug.FreeOSMemory). Cost: as scavenge().
  std::size_t release_all()
    requires ReleasingPageSourcePolicy<source_type>
  {
    return scavenge(std::numeric_limits<std::size_t>::max());
  }

  // Go 1.9's rule: releases the spans that have been free for at least min_idle_ns, by the
  // configuration's clock (IdleTicks in mheap/release_engine.hpp: a span is never released early;
  // the resolution is the period between calls). Call it periodically, or use BackgroundScavenger.
  // Cost: as scavenge(), plus one clock read.
  std::size_t scavenge_idle(std::uint64_t min_idle_ns)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    flush_cache_locked();
    const std::uint64_t now = clock_.now();
    ticks_.begin_tick(now);
    return release_locked(std::numeric_limits<std::size_t>::max(),
                          [&](const span_type& s) { return ticks_.idle_at_least(s.idle_tick, now, min_idle_ns); });
  }

  // Retention policy, an alternative to time: after each free, idle pages not yet released beyond
  // this many bytes are released (largest spans first). The default keeps everything. The bound
  // holds except for idle runs no release can cover (shorter than the source's granule).
  // Cost: one release pass now; later, on a free that exceeds the bound, a pass (as scavenge()).
  void set_idle_retention(std::size_t bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    detail::LockGuard guard(lock_);
    retention_.set(bytes);
    enforce_retention_locked();
  }

  clock_type& clock() noexcept { return clock_; }  // unsynchronized, like misuse_policy()

  // Returns the span cache's spans to the free set, merged with their neighbours. The heap does
  // this itself whenever it matters (before growing, scavenging or enforcing retention).
  // Cost: O(cached spans) merges; O(max_list_pages) to find them.
  void flush_cache() {
    detail::LockGuard guard(lock_);
    flush_cache_locked();
  }
  // Pages held in the span cache (idle, counted in heap_idle, not yet merged). Cost: O(1).
  std::size_t cached_pages() const {
    detail::LockGuard guard(lock_);
    return cache_.pages();
  }

  // ---- counters and checks ------------------------------------------------------------------
  // Snapshots taken under the lock: every identity of mheap/stats.hpp holds in each. Cost: O(1)
  // (mem_stats: O(kinds²) at compile time, O(kinds) at run time).
  stats_type stats() const {
    detail::LockGuard guard(lock_);
    return snapshot_locked();
  }
  MemStats mem_stats() const {
    detail::LockGuard guard(lock_);
    return make_mem_stats<stats_type, span_kinds>(snapshot_locked());
  }
  HeapEvents events() const {
    detail::LockGuard guard(lock_);
    return events_;
  }
  // Recomputes every counter from the spans and checks every invariant; says what failed.
  // Cost: O(arena pages + free spans + cached spans), under the lock: for tests and debugging.
  AuditReport audit() const {
    detail::LockGuard guard(lock_);
    return Census<Core>::run(*this);
  }

  // These three hand out the heap's own objects without its lock: use them while no other
  // thread uses the heap (tests, set-up).
  misuse_policy_type& misuse_policy() noexcept { return misuse_; }
  source_type& page_source() noexcept { return source_; }
  // Largest span this heap can ever hand out, in pages (0 when the reservation failed). Cost: O(1).
  std::size_t capacity_pages() const noexcept { return arena_.capacity_pages(); }

 private:
  // A ref that failed free()'s check: live with the generation it names means another kind;
  // anything else was freed. Name the caller's span only while the record still describes it as
  // freed: one free later, its base unchanged (merging below it or retiring it bumps the
  // generation). Otherwise the record may describe someone else's span now, so no address.
  [[gnu::cold]] [[gnu::noinline]] void report_bad_free(const span_type* s, std::uint64_t generation, const char* kind) {
    if (s->generation == generation && s->is_live()) return report(Misuse::wrong_kind, s->base, kind);
    report(Misuse::double_free, s->generation == generation + 1 ? s->base : nullptr, kind);
  }
};

}  // namespace mheap
