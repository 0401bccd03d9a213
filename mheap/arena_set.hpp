// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/arena_set.hpp — a heap of several arenas, so that threads do not share one.
///
/// Why: one heap shared by two threads costs 4–5× the time per operation of one thread
/// (bench/RESULTS.md, 2026-12-07), however little the threads touch its lock: every lock the heap
/// takes moves its free set, counters and records between the cores, ~1 µs each time. A heap per
/// thread, with the same code path, measured 1.0×. So a heap whose Config::arenas is more than one
/// is that many complete heaps (HeapShard, mheap/heap_shard.hpp: each with its own page source,
/// lock, free set, span records, page map and thread caches) behind one API:
///
///   - alloc: from the calling thread's home arena, the one the fewest live threads call home
///     when it first allocates (made then, from a replica of the first arena's page source,
///     ReplicablePageSource); the other arenas only when the home cannot give the span.
///   - free, free_at, lookup, span_at: in the arena holding the span's record or the address. A
///     free goes through the thread's cache in its home arena, else through its guest cache in the
///     span's (mheap/thread_caches.hpp), which hands spans back in batches without that arena's
///     lock (mheap/returned_spans.hpp); free_at goes to the arena under its lock.
///   - counters and audit: every arena's, added up (each a snapshot of its own, so every identity
///     holds in the sum); releasing and retention: every arena, each bound held per arena.
///   - misuse_policy() and clock(): one object every arena reaches; page_source() and
///     capacity_pages(): the first arena's.
///
/// What it costs: a home lookup per alloc (a thread-local load, two atomic loads, four compares), an
/// owner lookup per free (an atomic load and a range compare per arena slot but the first, and the
/// home lookup), and memory: each arena grows on its own, and one arena's free spans do not serve
/// another's requests (jemalloc's trade, for the same reason). A single-threaded program sees a
/// heap of one arena. Arenas are made under the registry mutex of mheap/thread_caches.hpp, at
/// most arenas - 1 times per heap (one whose source reserved nothing stays made, empty, unpicked).
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "arena_config.hpp"
#include "audit.hpp"
#include "config.hpp"
#include "heap_shard.hpp"
#include "mem_stats.hpp"
#include "span_ref.hpp"
#include "stats.hpp"
#include "thread_caches.hpp"
#if MHEAP_HAS_THREADS
#include <mutex>

namespace mheap {
/// A heap of arena_count<UserConfig> arenas (see the file comment); the API and its costs are
/// HeapShard's (mheap/heap_shard.hpp), plus the lookups above. Users name it Heap<UserConfig>.
template <class UserConfig>
class ArenaSet {
  using Shard = HeapShard<detail::ArenaConfig<UserConfig>>;
  using Core = typename Shard::Core;
  using thread_cache_type = typename Shard::thread_cache_type;
  static constexpr std::size_t count = arena_count<UserConfig>;
  static_assert(count > 1 && count <= 64 && Shard::per_thread);
  // An arena, published with release after its regions: what free() and lookups read, on lines
  // nothing writes once it is made (its pool shares a line its thread writes on every split).
  struct Entry {
    std::atomic<Shard*> arena{nullptr};
    std::uintptr_t records = 0;  // the record region (SpanPool)
    std::size_t record_bytes = 0;
    std::uintptr_t pages = 0;  // the reserved pages (Arena)
    std::size_t page_bytes = 0;
  };

 public:
  using config_type = UserConfig;                              ///< The configuration as given.
  using lock_type = typename Shard::lock_type;                 ///< Config::Lock (each arena has one)
  using misuse_policy_type = typename UserConfig::MisusePolicy;  ///< Config::MisusePolicy (one, shared)
  using clock_type = typename UserConfig::Clock;               ///< Config::Clock (one, shared)
  using source_type = typename Shard::source_type;             ///< Config::PageSource (each arena has one)
  using span_kinds = typename Shard::span_kinds;               ///< Config::SpanKinds
  using span_type = typename Shard::span_type;                 ///< The span record (mheap/span.hpp)
  using stats_type = typename Shard::stats_type;               ///< Config::Stats
  static constexpr std::size_t max_list_pages = Shard::max_list_pages;  ///< Config::max_list_pages
  static constexpr std::size_t page_bytes = Shard::page_bytes;          ///< The page size in bytes
  static constexpr std::size_t page_shift = Shard::page_shift;          ///< Config::page_shift

  /// Arguments go to the first arena's page source; the others are made like it when a thread
  /// first calls them home (ReplicablePageSource). Cost: as HeapShard's constructor, once.
  template <class... SourceArgs>
  explicit ArenaSet(SourceArgs&&... source_args) : first_(std::forward<SourceArgs>(source_args)...) {
    connect(first_);
    publish(0, first_);
  }
  ~ArenaSet() {
    for (std::size_t i = count - 1; i != 0; --i)
      delete arenas_[i].arena.load(std::memory_order_relaxed);
  }
  ArenaSet(const ArenaSet&) = delete;
  ArenaSet& operator=(const ArenaSet&) = delete;

  // ---- spans --------------------------------------------------------------------------------
  /// HeapShard::alloc, from the calling thread's home arena; then, if that one cannot give the
  /// span, from each other arena made (each with its miss path: a request no arena can serve
  /// costs every arena's). Cost: + the home lookup (a thread-local load, two atomic loads, four
  /// compares).
  template <class Kind>
  [[nodiscard]] SpanRef<Kind> alloc(std::size_t npages, bool zeroed = false) {
    // Checked here, once: an arena would say it again on each path into it.
    static_assert(span_kinds::template contains<Kind>, "Heap::alloc: Config::SpanKinds does not list this Kind");
    if constexpr (span_kinds::template contains<Kind>) {
      thread_cache_type* tc = home_cache();
      Shard& home = arena_of_cache(tc);
      if (SpanRef<Kind> r = home.template alloc_with<Kind>(npages, zeroed, [tc] { return tc; })) [[likely]]
        return r;
      return alloc_elsewhere<Kind>(home, npages, zeroed);
    } else {
      return {};
    }
  }
  /// HeapShard::free, in the arena holding the span's record (a foreign ref: misuse, reported),
  /// through the thread's cache if that is its home arena, else its guest cache there.
  /// Cost: + an atomic load and a range compare per arena slot but the first, and the home lookup.
  template <class Kind>
  void free(SpanRef<Kind> ref) {
    static_assert(span_kinds::template contains<Kind>, "Heap::free: Config::SpanKinds does not list this Kind");
    if constexpr (span_kinds::template contains<Kind>) {
      if (!ref) return;
      Shard& a = arena_holding(ref.header(), &Entry::records, &Entry::record_bytes);
      a.free_with(ref, [&] { return ThisThread<thread_cache_type>::free_cache_for(static_cast<Core*>(&a)); });
    }
  }
  /// HeapShard::free_at, in the arena holding base (any other address: misuse, reported), as free().
  template <class Kind>
  void free_at(const void* base) {
    static_assert(span_kinds::template contains<Kind>, "Heap::free_at: Config::SpanKinds does not list this Kind");
    if constexpr (span_kinds::template contains<Kind>) {
      Shard& a = arena_holding(base, &Entry::pages, &Entry::page_bytes);
      a.template free_at_with<Kind>(base, cache_if_home(a));
    }
  }
  /// HeapShard::lookup, in the arena holding p (null outside every arena).
  const SpanHeader* lookup(const void* p) const { return arena_holding(p, &Entry::pages, &Entry::page_bytes).lookup(p); }
  /// HeapShard::span_at, in the arena holding p.
  std::optional<SpanInfo> span_at(const void* p) const {
    return arena_holding(p, &Entry::pages, &Entry::page_bytes).span_at(p);
  }
  /// HeapShard::for_each_span over every arena made, in address order, each at an instant of its
  /// own. The arenas' grown pages are numbered as if laid end to end in that order, so the spans
  /// tile [0, pages grown in all) as in a heap of one (SpanView::arena says which arena a span is
  /// in; its base is its address). Returns the sum of their MemStats.
  template <class Visitor>
  MemStats for_each_span(Visitor&& visit) const {
    std::array<const Shard*, count> made{};
    std::size_t n = 0;
    for_each_arena([&](const Shard& a) { made[n++] = &a; });
    std::sort(made.begin(), made.begin() + n, [](const Shard* x, const Shard* y) {
      return std::less<const std::byte*>()(x->arena_.base(), y->arena_.base());
    });
    MemStats total{};
    std::size_t pages_before = 0;  // the arenas walked so far, laid end to end
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t index = index_of(*made[i]);
      std::size_t pages = 0;
      add_counters(total, made[i]->for_each_span([&](const SpanView& v) {
        SpanView in_heap = v;
        in_heap.arena = index;
        in_heap.first_page += pages_before;
        pages += v.npages;
        visit(static_cast<const SpanView&>(in_heap));
      }));
      pages_before += pages;
    }
    return total;
  }

  // ---- giving memory back -------------------------------------------------------------------
  /// HeapShard::scavenge over the arenas in order, until max_bytes are released.
  std::size_t scavenge(std::size_t max_bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    std::size_t released = 0;
    for_each_arena([&](Shard& a) {
      if (released < max_bytes) released += a.scavenge(max_bytes - released);
    });
    return released;
  }
  /// HeapShard::release_all, every arena.
  std::size_t release_all()
    requires ReleasingPageSourcePolicy<source_type>
  {
    return scavenge(std::numeric_limits<std::size_t>::max());
  }
  /// HeapShard::scavenge_idle, every arena.
  std::size_t scavenge_idle(std::uint64_t min_idle_ns)
    requires ReleasingPageSourcePolicy<source_type>
  {
    std::size_t released = 0;
    for_each_arena([&](Shard& a) { released += a.scavenge_idle(min_idle_ns); });
    return released;
  }
  /// HeapShard::set_idle_retention, every arena, and every arena made later: the bound holds per arena.
  void set_idle_retention(std::size_t bytes)
    requires ReleasingPageSourcePolicy<source_type>
  {
    {
      std::lock_guard g(thread_cache_registry_mutex());  // arenas are made under it, and take the bound
      retention_ = bytes;
    }
    for_each_arena([&](Shard& a) { a.set_idle_retention(bytes); });  // the passes: not under the mutex
  }
  clock_type& clock() noexcept { return clock_; }  ///< The clock every arena reads; unsynchronized.
  /// HeapShard::flush_cache, every arena.
  void flush_cache() {
    for_each_arena([](Shard& a) { a.flush_cache(); });
  }
  /// HeapShard::cached_pages, summed.
  std::size_t cached_pages() const {
    std::size_t pages = 0;
    for_each_arena([&](const Shard& a) { pages += a.cached_pages(); });
    return pages;
  }

  // ---- counters and checks ------------------------------------------------------------------
  /// The sum of every arena's snapshot: each keeps every identity, so the sum does.
  stats_type stats() const {
    stats_type total{};
    for_each_arena([&](const Shard& a) { add_heap_counters<stats_type, span_kinds>(total, a.stats()); });
    return total;
  }
  /// The sum of every arena's MemStats.
  MemStats mem_stats() const {
    return sum([](const Shard& a) { return a.mem_stats(); });
  }
  /// The longest free span of any arena, in pages.
  std::size_t largest_free_pages() const {
    std::size_t pages = 0;
    for_each_arena([&](const Shard& a) { pages = std::max(pages, a.largest_free_pages()); });
    return pages;
  }
  /// Per kind, summed over the arenas.
  std::array<KindTotals, span_kinds::size> kind_totals() const {
    std::array<KindTotals, span_kinds::size> totals{};
    for_each_arena([&](const Shard& a) {
      const auto mine = a.kind_totals();
      for (std::size_t k = 0; k < totals.size(); ++k) add_counters(totals[k], mine[k]);
    });
    return totals;
  }
  /// The event counts, summed over the arenas.
  HeapEvents events() const {
    return sum([](const Shard& a) { return a.events(); });
  }
  /// Every arena's audit; a failure is listed under "arena <index>:".
  AuditReport audit() const {
    AuditReport report;
    for (std::size_t i = 0; i < count; ++i)
      if (const Shard* a = arenas_[i].arena.load(std::memory_order_acquire)) report.merge("arena", i, a->audit());
    return report;
  }

  void report_misuse(const MisuseReport& r) { first_.report_misuse(r); }  ///< HeapShard's, counted in the first arena.
  misuse_policy_type& misuse_policy() noexcept { return misuse_; }  ///< The policy every arena reports to.
  source_type& page_source() noexcept { return first_.page_source(); }  ///< The first arena's page source.
  /// Largest span this heap can ever hand out, in pages: the first arena's (all are alike, unless a
  /// later one's reservation fell back to less).
  std::size_t capacity_pages() const noexcept { return first_.capacity_pages(); }

 private:
  // Arena a reports to this heap's misuse policy, and reads its clock when the clock has state.
  void connect(Shard& a) noexcept {
    a.misuse_policy().to = &misuse_;
    a.misuse_policy().serial = &misuse_serial_;
    if constexpr (!std::is_empty_v<clock_type>) a.clock().to = &clock_;
  }

  // The calling thread's cache in its home arena (null if the thread can have none: it is exiting,
  // and then uses the first arena without one).
  thread_cache_type* home_cache() noexcept {
    return ThisThread<thread_cache_type>::home_cache_for(this, [this] { return pick_home(); });
  }
  Shard& arena_of_cache(thread_cache_type* c) noexcept {
    return c != nullptr ? Shard::of(*c->owner.load(std::memory_order_relaxed)) : first_;
  }
  // The thread's cache in arena a if a is its home (null: free_at goes to a under its lock).
  thread_cache_type* cache_if_home(const Shard& a) const noexcept {
    thread_cache_type* c = ThisThread<thread_cache_type>::home_cache_of(this);
    return c != nullptr && c->owner.load(std::memory_order_relaxed) == static_cast<const Core*>(&a) ? c : nullptr;
  }
  // Under the registry mutex: the arena the fewest live threads call home (the lowest first),
  // made if it is not yet, with this thread counted in.
  std::pair<Core*, std::uint32_t*> pick_home() noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < count; ++i)
      if (homes_[i] < homes_[best]) best = i;
    Shard* a = arenas_[best].arena.load(std::memory_order_relaxed);
    if (a == nullptr) {
      a = new (std::nothrow) Shard(replica_of, std::as_const(first_.page_source()));
      if (a != nullptr) make(best, *a);
      if (a == nullptr || a->capacity_pages() == 0) {  // out of memory or address space:
        if (a != nullptr) homes_[best] = unusable;   // its source reserved nothing: never again
        best = 0;                                     // the first arena takes the thread in
        a = &first_;
      }
    }
    ++homes_[best];
    return {static_cast<Core*>(a), &homes_[best]};
  }
  // Arena i, just made (under the registry mutex): wired to the heap's policies and bound, published,
  // and the paced bound's floor shared out again.
  void make(std::size_t i, Shard& a) noexcept {
    connect(a);
    if constexpr (ReleasingPageSourcePolicy<source_type>)
      if (retention_) a.set_idle_retention(*retention_);
    publish(i, a);
    // The paced bound's floor is shared out: the arenas together tolerate at most the percentage of
    // all their bytes in use plus the floor. (An arena whose source reserved nothing holds no
    // idle byte; it is counted all the same.)
    std::size_t made = 0;
    for_each_arena([&](Shard&) { ++made; });
    for_each_arena([&](Shard& each) { each.share_idle_floor(made); });
  }
  template <class Kind>
  [[gnu::cold]] [[gnu::noinline]] SpanRef<Kind> alloc_elsewhere(Shard& home, std::size_t npages, bool zeroed) {
    SpanRef<Kind> r;
    if (npages == 0) return r;
    for_each_arena([&](Shard& a) {  // under each arena's lock: no thread allocates through a guest cache
      if (!r && &a != &home) r = a.template alloc_with<Kind>(npages, zeroed, [] { return static_cast<thread_cache_type*>(nullptr); });
    });
    return r;
  }

  // Arena i is made: its regions go into its entry, then the entry is published.
  void publish(std::size_t i, Shard& a) noexcept {
    Entry& e = arenas_[i];
    e.records = reinterpret_cast<std::uintptr_t>(a.pool_.base());
    e.record_bytes = a.pool_.region_bytes();
    e.pages = reinterpret_cast<std::uintptr_t>(a.arena_.base());
    e.page_bytes = a.arena_.capacity_pages() << page_shift;
    e.arena.store(&a, std::memory_order_release);
  }
  // The arena whose region holds p (records: a span's record; pages: an address), or the first,
  // which reports a foreign ref or address, or answers null. Reads only the entries (the arenas'
  // own lines are written by their threads).
  const Shard& arena_holding(const void* p, std::uintptr_t Entry::*base, std::size_t Entry::*bytes) const noexcept {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    for (std::size_t i = 1; i < count; ++i) {
      const Entry& e = arenas_[i];
      const Shard* a = e.arena.load(std::memory_order_acquire);  // first: the regions are written before it
      if (a != nullptr && at - e.*base < e.*bytes) return *a;
    }
    return first_;
  }
  Shard& arena_holding(const void* p, std::uintptr_t Entry::*base, std::size_t Entry::*bytes) noexcept {
    return const_cast<Shard&>(std::as_const(*this).arena_holding(p, base, bytes));
  }

  std::size_t index_of(const Shard& a) const noexcept {
    std::size_t i = 0;
    while (arenas_[i].arena.load(std::memory_order_relaxed) != &a) ++i;
    return i;
  }
  // f(arena) for every arena made, in index order.
  template <class F>
  void for_each_arena(F&& f) const {
    for (std::size_t i = 0; i < count; ++i)
      if (const Shard* a = arenas_[i].arena.load(std::memory_order_acquire)) f(*a);
  }
  template <class F>
  void for_each_arena(F&& f) {
    for (std::size_t i = 0; i < count; ++i)
      if (Shard* a = arenas_[i].arena.load(std::memory_order_acquire)) f(*a);
  }
  template <class F>
  auto sum(F&& figure) const {
    decltype(figure(first_)) total{};
    for_each_arena([&](const Shard& a) { add_counters(total, figure(a)); });
    return total;
  }

  [[no_unique_address]] misuse_policy_type misuse_{};
  std::mutex misuse_serial_;  // one report at a time (SharedMisuse)
  [[no_unique_address]] clock_type clock_{};
  // Before first_: a thread exiting while first_ is being destroyed may still lower its count.
  alignas(detail::cache_line_bytes) std::array<std::uint32_t, count> homes_{};
  // homes_[i] of an arena made whose source reserved nothing: no thread picks it (nor makes it again).
  static constexpr std::uint32_t unusable = std::numeric_limits<std::uint32_t>::max() / 2;
  Shard first_;
  // arenas_[i]: arena i once made (first_ is arena 0; the others are allocated, so that a heap of
  // one thread is the size of one arena), never unmade before the heap goes. homes_[i]: the live
  // threads whose home arena i is. Both change only under the registry mutex
  // (mheap/thread_caches.hpp), which also orders them against thread exits.
  alignas(detail::cache_line_bytes) std::array<Entry, count> arenas_{};
  std::optional<std::size_t> retention_;  // set_idle_retention's bound, for arenas made later
};

}  // namespace mheap

#endif  // MHEAP_HAS_THREADS
