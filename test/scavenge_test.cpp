// SPDX-License-Identifier: BSL-1.0
// Returning memory to the page source: every accounting transition as exact byte deltas, the real
// RSS of the process, Go 1.9's idle-time rule with a clock the test drives, the retention bound,
// StaticArena, and Go's scvg trace line.
#define BOOST_TEST_MODULE scavenge
#include <cstdio>
#include <cstring>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "test/model.hpp"  // skewed_pages
#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;

// OS memory, exact growth so tests know every span, a clock the test drives.
struct Config : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  using Clock = ManualClock;
  using HookLinks = SafeLinks;
  static constexpr std::size_t min_grow_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t grow_granule_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t span_cache_pages = 0;  // every free merges at once
};
using TestHeap = Heap<Config>;

std::uint64_t released(TestHeap& h) { return h.stats().heap_released; }

// Resident set of this process in bytes, from /proc (smaps_rollup, else statm).
std::uint64_t rss_bytes() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  for (std::string line; std::getline(rollup, line);)
    if (line.rfind("Rss:", 0) == 0) return std::stoull(line.substr(4)) * 1024;
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(MmapSource::os_page_size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(release_partial_release_merge_and_reuse_move_exact_bytes) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(10);
  auto fence1 = heap->alloc<GC>(1);
  auto b = heap->alloc<GC>(6);
  auto fence2 = heap->alloc<GC>(1);
  void* base_a = a.base();
  heap->free(a);
  heap->free(b);
  require_clean(*heap);

  // Partial release: 4 pages from the largest free span (a, 10 pages), its highest pages.
  Stats before = heap->stats();
  BOOST_TEST(heap->scavenge(4 * kPage) == 4 * kPage);
  BOOST_TEST(heap->stats().heap_released - before.heap_released == 4 * kPage);
  BOOST_TEST(heap->stats().heap_idle == before.heap_idle);  // released pages stay idle and in heap_sys
  BOOST_TEST(heap->stats().heap_sys == before.heap_sys);
  BOOST_TEST(heap->events().release_calls == 1u);
  require_clean(*heap);

  // Whole release of what is left: a is partly released, so it is released whole again (6 new
  // pages), then b (6 pages).
  BOOST_TEST(heap->release_all() == 12 * kPage);
  BOOST_TEST(released(*heap) == 16 * kPage);
  BOOST_TEST(released(*heap) == heap->stats().heap_idle);
  require_clean(*heap);

  // Merge of released and unreleased neighbours: free fence1 (dirty, unreleased) between a and b.
  heap->free(fence1);
  BOOST_TEST(released(*heap) == 16 * kPage);  // the merged 17-page span holds 16 released pages
  require_clean(*heap);

  // Allocating from a partly released span makes it usable whole: heap_released drops by all 16.
  before = heap->stats();
  auto c = heap->alloc<GC>(3, true);
  BOOST_TEST(c.base() == base_a);
  BOOST_TEST(before.heap_released - heap->stats().heap_released == 16 * kPage);
  BOOST_TEST(heap->stats().heap_released == 0u);
  require_clean(*heap);
  heap->free(c);
  heap->free(fence2);
  require_clean(*heap);
}

// scavenge(n) never releases more than n: a partly released span is released whole or not at all,
// so with less budget left than its unreleased pages it is passed over, and the clean span beside
// it gives what fits.
BOOST_AUTO_TEST_CASE(a_partly_released_span_is_passed_over_when_the_budget_is_short) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(10);
  auto fence1 = heap->alloc<GC>(1);
  auto b = heap->alloc<GC>(6);
  auto fence2 = heap->alloc<GC>(1);
  heap->free(a);
  heap->free(b);
  BOOST_TEST(heap->scavenge(4 * kPage) == 4 * kPage);  // 4 of a's 10 pages (the largest span)
  BOOST_TEST(heap->scavenge(kPage) == kPage);          // not a's other 6 at once: 1 page of b
  BOOST_TEST(released(*heap) == 5 * kPage);
  require_clean(*heap);
  heap->free(fence1);
  heap->free(fence2);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_fully_released_span_needs_no_clearing) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(8);
  auto fence = heap->alloc<GC>(1);
  std::memset(a.base(), 0x77, 8 * kPage);
  void* base = a.base();
  heap->free(a);
  BOOST_TEST(heap->release_all() == 8 * kPage);
  const auto zeroed = heap->events().zeroed_bytes;
  auto again = heap->alloc<GC>(8, true);
  BOOST_REQUIRE(again.base() == base);
  BOOST_TEST(heap->events().zeroed_bytes == zeroed);  // known zero: not cleared again
  const auto* p = static_cast<const unsigned char*>(again.base());
  for (std::size_t i = 0; i < 8 * kPage; ++i) BOOST_REQUIRE(p[i] == 0);
  (void)fence;
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(largest_and_highest_spans_go_first) {
  auto heap = test::make_heap<TestHeap>();
  std::vector<SpanRef<GC>> spans, fences;
  std::vector<const SpanHeader*> headers;
  for (std::size_t n : {200, 300, 200, 5}) {
    spans.push_back(heap->template alloc<GC>(n));
    fences.push_back(heap->alloc<GC>(1));
  }
  std::vector<void*> bases;
  for (auto& s : spans) bases.push_back(s.base());
  for (auto& s : spans) heap->free(s);
  BOOST_TEST(heap->scavenge(300 * kPage) == 300 * kPage);  // the 300 first
  BOOST_TEST(heap->scavenge(200 * kPage) == 200 * kPage);  // then the higher of the two 200s
  // The lower 200 is still unreleased: allocating it moves no released bytes.
  const auto before = released(*heap);
  auto low = heap->alloc<GC>(200);
  BOOST_TEST(low.base() == bases[0]);
  BOOST_TEST(released(*heap) == before);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(rss_drops_when_memory_is_released) {
  using RssHeap = Heap<test::MmapConfig>;
  auto heap = test::make_heap<RssHeap>(std::size_t{2} << 30);
  constexpr std::size_t total = std::size_t{256} << 20;
  constexpr std::size_t span_pages = 64;  // 512 KiB spans
  std::vector<SpanRef<GC>> spans;
  for (std::size_t i = 0; i < total / (span_pages * kPage); ++i) {
    auto s = heap->alloc<GC>(span_pages);
    BOOST_REQUIRE(s);
    std::memset(s.base(), 0xC3, span_pages * kPage);  // touch every page
    spans.push_back(s);
  }
  const std::uint64_t rss_peak = rss_bytes();
  for (auto s : spans) heap->free(s);
  const std::uint64_t rss_freed = rss_bytes();
  const std::size_t got = heap->release_all();
  const std::uint64_t rss_after = rss_bytes();
  BOOST_TEST_MESSAGE("RSS peak " << (rss_peak >> 20) << " MiB, after free " << (rss_freed >> 20)
                                 << " MiB, after release_all " << (rss_after >> 20) << " MiB; released "
                                 << (got >> 20) << " MiB");
  BOOST_TEST(rss_freed + (std::uint64_t{1} << 20) >= rss_peak);  // freeing alone keeps the pages
  BOOST_TEST(rss_freed - rss_after >= total / 10 * 9);           // released: at least 90% of 256 MiB
  BOOST_TEST(heap->stats().heap_released == got);
  BOOST_TEST(got >= total);
  std::printf("%s\n", scvg_line(1, heap->stats()).c_str());

  // The memory is usable again and reads zero, without being cleared by the heap.
  const auto zeroed = heap->events().zeroed_bytes;
  auto again = heap->alloc<GC>(span_pages, true);
  BOOST_REQUIRE(again);
  const auto* p = static_cast<const unsigned char*>(again.base());
  for (std::size_t i = 0; i < span_pages * kPage; i += 512) BOOST_REQUIRE(p[i] == 0);
  BOOST_TEST(heap->events().zeroed_bytes == zeroed);
  heap->free(again);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(idle_time_rule_releases_only_spans_older_than_the_limit) {
  constexpr std::uint64_t minute = 60'000'000'000ull;
  auto heap = test::make_heap<TestHeap>();
  auto old_span = heap->alloc<GC>(4);
  auto f1 = heap->alloc<GC>(1);
  auto young = heap->alloc<GC>(3);
  auto f2 = heap->alloc<GC>(1);
  heap->free(old_span);
  BOOST_TEST(heap->scavenge_idle(5 * minute) == 0u);  // first tick at t=0: nothing known to be old
  heap->clock().advance(3 * minute);
  BOOST_TEST(heap->scavenge_idle(5 * minute) == 0u);  // old_span idle for 3 minutes at most
  heap->free(young);                                  // freed at t=3min
  heap->clock().advance(3 * minute);                  // t=6min
  BOOST_TEST(heap->scavenge_idle(5 * minute) == 4 * kPage);  // old_span: ≥ 6 min; young: < 5 min
  BOOST_TEST(released(*heap) == 4 * kPage);
  heap->clock().advance(2 * minute);  // t=8min: young has been free 5 minutes at least since t=3min?
  // young was stamped in the tick that began at t=0... no: it was freed during the tick that began
  // at t=3min, so it counts as free from t=6min (the next tick): 2 minutes at t=8min.
  BOOST_TEST(heap->scavenge_idle(5 * minute) == 0u);
  heap->clock().advance(3 * minute);  // t=11min: 5 minutes since t=6min
  BOOST_TEST(heap->scavenge_idle(5 * minute) == 3 * kPage);
  BOOST_TEST(released(*heap) == 7 * kPage);
  (void)f1, (void)f2;
  require_clean(*heap);
}

namespace {
constexpr std::uint64_t kMinute = 60'000'000'000ull;

// Frees three adjacent spans (2, 3 and 4 pages, fenced above) as `layout` says, one letter per
// span: 'i' freed long before a scavenge, 'f' freed a moment before it, '-' kept live. Every free
// span merges with the fresh ones, so nothing may be released until the fresh part has been idle
// for the limit: a merged span is as young as its newest free (Go 1.9 stamps it with that time).
template <class H>
void check_merge_is_as_young_as_its_newest_free(std::string_view layout) {
  BOOST_TEST_CONTEXT("layout " << layout) {
    auto heap = test::make_heap<H>();
    const std::size_t pages[3] = {2, 3, 4};
    std::vector<SpanRef<GC>> spans;
    for (std::size_t n : pages) spans.push_back(heap->template alloc<GC>(n));
    auto fence = heap->template alloc<GC>(1);  // keeps the three apart from any free tail of the arena
    std::size_t freed_pages = 0, fresh_pages = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      if (layout[i] != 'i') continue;
      heap->free(spans[i]);
      freed_pages += pages[i];
    }
    BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);  // t=0: tick 1 begins, nothing is old yet
    heap->clock().advance(10 * kMinute);
    for (std::size_t i = 0; i < 3; ++i) {
      if (layout[i] != 'f') continue;
      heap->free(spans[i]);
      freed_pages += pages[i];
      fresh_pages += pages[i];
    }
    if constexpr (H::config_type::span_cache_pages != 0)  // the fresh spans wait in the cache
      BOOST_TEST(heap->cached_pages() == fresh_pages);
    require_clean(*heap);
    // t=10min: the idle spans alone would go now, but merged with the fresh ones they count as free
    // from this tick on.
    BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);
    BOOST_TEST(heap->cached_pages() == 0u);
    require_clean(*heap);
    heap->clock().advance(5 * kMinute);
    BOOST_TEST(heap->scavenge_idle(5 * kMinute) == freed_pages * kPage);  // t=15min: 5 minutes since
    require_clean(*heap);
    (void)fence;
  }
}

struct CachingConfig : Config {
  static constexpr std::size_t span_cache_pages = 64;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_merge_is_as_young_as_its_newest_free) {
  for (std::string_view layout : {"if-", "fi-", "ifi"}) check_merge_is_as_young_as_its_newest_free<TestHeap>(layout);
}

// The same with a span cache: the fresh spans are cached when freed and merge with the idle ones only
// when scavenge_idle() flushes the cache, which stamps them with the tick they leave it.
BOOST_AUTO_TEST_CASE(a_cached_span_flushed_into_a_merge_makes_it_young) {
  for (std::string_view layout : {"if-", "fi-", "ifi"})
    check_merge_is_as_young_as_its_newest_free<Heap<CachingConfig>>(layout);
}

namespace {
// Runs the test's action inside its first release() call: the heap has dropped its lock there to
// make system calls, which is when another thread may free a span during the scavenger's tick.
class InterruptingSource : public MmapSource {
 public:
  using MmapSource::MmapSource;
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    if (auto action = std::exchange(during_release, nullptr)) action();
    return MmapSource::release(p, n);
  }
  std::function<void()> during_release;
};
struct InterruptedConfig : Config {
  using Lock = MutexLock;  // a real lock: freeing inside release() deadlocks unless the heap dropped it
  using PageSource = InterruptingSource;
};
}  // namespace

// A span freed during a scavenge_idle() call is stamped with the tick that call began, and counts as
// free only from the next one. The call goes back to the free set for more spans after each trip
// outside the lock, where it meets that span: it must leave it alone, however old the start of
// some other tick is.
BOOST_AUTO_TEST_CASE(a_span_freed_during_a_scavenger_tick_waits_for_the_next_tick) {
  auto heap = test::make_heap<Heap<InterruptedConfig>>(std::size_t{1} << 30);
  // More idle spans than one trip outside the lock releases (32), so the call looks again after
  // the action has run.
  constexpr std::size_t idle_spans = 100;
  std::vector<SpanRef<GC>> idle, fences;
  for (std::size_t i = 0; i < idle_spans; ++i) {
    idle.push_back(heap->alloc<GC>(1));
    fences.push_back(heap->alloc<GC>(1));
  }
  auto young = heap->alloc<GC>(2);
  auto fence = heap->alloc<GC>(1);
  for (auto s : idle) heap->free(s);
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);  // t=0: tick 1
  heap->clock().advance(10 * kMinute);
  heap->page_source().during_release = [&] { heap->free(young); };
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == idle_spans * kPage);  // t=10min: tick 2, young freed in it
  BOOST_TEST(!heap->page_source().during_release);  // the action ran
  BOOST_TEST(heap->stats().heap_released == idle_spans * kPage);
  require_clean(*heap);
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);  // t=10min: tick 3, young free from its start
  heap->clock().advance(5 * kMinute);
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 2 * kPage);  // t=15min: 5 minutes since
  require_clean(*heap);
  (void)fence;
}

namespace {
struct GrowingConfig : Config {  // grows by 1 MiB at least, as by default: growth leaves free pages
  static constexpr std::size_t min_grow_bytes = std::size_t{1} << 20;
};
}  // namespace

// Pages the arena grows by and no allocation takes are free from the tick the growth happens in,
// like a span freed then: the scavenger must not take them for long idle.
BOOST_AUTO_TEST_CASE(pages_fresh_from_growth_are_idle_from_their_tick_on) {
  auto heap = test::make_heap<Heap<GrowingConfig>>();
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);  // t=0: tick 1
  heap->clock().advance(10 * kMinute);
  auto span = heap->alloc<GC>(1);  // t=10min: the first growth, 1 MiB; the rest stays free
  const std::uint64_t left_free = heap->stats().heap_idle;
  BOOST_REQUIRE(left_free > 0u);
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == 0u);  // t=10min: tick 2, free since its start
  heap->clock().advance(5 * kMinute);
  BOOST_TEST(heap->scavenge_idle(5 * kMinute) == left_free);  // t=15min: 5 minutes since
  require_clean(*heap);
  heap->free(span);
}

BOOST_AUTO_TEST_CASE(retention_bound_holds_after_every_free) {
  auto heap = test::make_heap<TestHeap>();
  constexpr std::uint64_t bound = 64 * kPage;
  heap->set_idle_retention(bound);
  std::mt19937_64 rng(7);
  std::vector<SpanRef<GC>> live;
  for (int op = 0; op < 20000; ++op) {
    if (!live.empty() && rng() % 2) {
      const std::size_t k = rng() % live.size();
      heap->free(live[k]);
      live[k] = live.back();
      live.pop_back();
      const Stats s = heap->stats();
      BOOST_REQUIRE_MESSAGE(s.heap_idle - s.heap_released <= bound, "op " << op);
    } else {
      live.push_back(heap->alloc<GC>(test::skewed_pages(rng, 300)));
    }
    if (op % 500 == 0) require_clean(*heap);
  }
  BOOST_TEST(heap->events().release_calls > 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(static_arena_scavenges_with_the_same_api) {
  struct ArenaScavenge : test::ArenaConfig<std::size_t{16} << 20> {
    using Clock = ManualClock;
  };
  auto heap = test::make_heap<Heap<ArenaScavenge>>();
  auto a = heap->alloc<GC>(100);
  auto b = heap->alloc<StackSpanPolicy>(10);
  std::memset(a.base(), 0xAA, 100 * kPage);
  heap->free(a);
  const std::size_t got = heap->release_all();
  BOOST_TEST(got == heap->stats().heap_idle);
  BOOST_TEST(heap->stats().heap_released == got);
  require_clean(*heap);
  auto c = heap->alloc<GC>(100, true);
  const auto* p = static_cast<const unsigned char*>(c.base());
  BOOST_TEST(p[0] == 0);
  BOOST_TEST(p[100 * kPage - 1] == 0);
  BOOST_TEST(heap->events().zeroed_bytes == 0u);  // released memory is zero in the arena too
  heap->free(c);
  heap->free(b);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(scvg_line_has_gos_format) {
  Stats s;
  s.heap_inuse = std::uint64_t{3} << 20;
  s.heap_idle = std::uint64_t{5} << 20;
  s.heap_sys = std::uint64_t{8} << 20;
  s.heap_released = std::uint64_t{2} << 20;
  BOOST_TEST(std::string(scvg_line(7, s).view()) ==
             "scvg7: inuse: 3, idle: 5, sys: 8, released: 2, consumed: 6 (MB)");
}

BOOST_AUTO_TEST_CASE(releasing_outside_the_lock_is_safe_with_other_threads) {
  struct Shared : DefaultConfig {
    using MisusePolicy = RecordMisuse;
  };
  auto heap = test::make_heap<Heap<Shared>>(std::size_t{2} << 30);
  std::atomic<bool> stop{false};
  std::atomic<int> not_zero{0};  // Boost.Test's checks are not thread-safe: count, check after join
  std::thread scavenger([&] {
    while (!stop) heap->release_all();
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t)
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      std::vector<SpanRef<GC>> live;
      for (int i = 0; i < 20000; ++i) {
        if (!live.empty() && rng() % 2) {
          heap->free(live.back());
          live.pop_back();
        } else if (auto s = heap->alloc<GC>(test::skewed_pages(rng, 64), true)) {
          if (static_cast<unsigned char*>(s.base())[0] != 0) ++not_zero;
          static_cast<unsigned char*>(s.base())[0] = 1;
          live.push_back(s);
        }
      }
      for (auto s : live) heap->free(s);
    });
  for (auto& w : workers) w.join();
  stop = true;
  scavenger.join();
  BOOST_TEST(not_zero.load() == 0);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(background_scavenger_releases_idle_memory_until_stopped) {
  struct Shared : DefaultConfig {
    using MisusePolicy = RecordMisuse;
  };
  auto heap = test::make_heap<Heap<Shared>>(std::size_t{1} << 30);
  auto s = heap->alloc<GC>(128);
  heap->free(s);
  BackgroundScavenger<Heap<Shared>> scavenger(*heap);
  scavenger.start({std::chrono::milliseconds(5), std::chrono::milliseconds(0), false});
  for (int i = 0; i < 400 && heap->stats().heap_released == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  scavenger.stop();
  BOOST_TEST(heap->stats().heap_released == heap->stats().heap_idle);
  const auto ticks = scavenger.ticks();
  BOOST_TEST(ticks >= 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  BOOST_TEST(scavenger.ticks() == ticks);  // stopped means stopped
  require_clean(*heap);
}

namespace {
// Three 2-page spans in address order, each followed by a live 1-page fence so that none merges
// with another when freed: a list of length 2 whose order the tests below can read.
struct ThreeTwoPageSpans {
  explicit ThreeTwoPageSpans(TestHeap& heap)
      : first_fence(heap.alloc<GC>(1)),
        low(heap.alloc<GC>(2)),
        f1(heap.alloc<GC>(1)),
        mid(heap.alloc<GC>(2)),
        f2(heap.alloc<GC>(1)),
        high(heap.alloc<GC>(2)),
        f3(heap.alloc<GC>(1)),
        base_low(low.base()),
        base_mid(mid.base()),
        base_high(high.base()) {
    BOOST_TEST_REQUIRE((base_low < base_mid && base_mid < base_high));
  }
  SpanRef<GC> first_fence, low, f1, mid, f2, high, f3;
  void *base_low, *base_mid, *base_high;
};
}  // namespace

// The scavenger takes a list from its back: the span take() hands out last (mheap/free_set.hpp
// keeps the lower span of a length at the front), so the span released is not the next one used.
BOOST_AUTO_TEST_CASE(short_spans_handed_out_last_are_released_first) {
  auto heap = test::make_heap<TestHeap>();
  ThreeTwoPageSpans s(*heap);
  heap->free(s.mid);
  heap->free(s.low);  // lower: the next alloc(2) takes it, so mid is the one to release
  BOOST_TEST(heap->scavenge(2 * kPage) == 2 * kPage);
  auto again = heap->alloc<GC>(2);
  BOOST_TEST(again.base() == s.base_low);    // the resident span is handed out ...
  BOOST_TEST(released(*heap) == 2 * kPage);  // ... and the released one stays released
  require_clean(*heap);
}

// A released span goes back behind the resident spans of its length, even when it lies lower
// than they do: handing it out next would fault its pages in again while resident ones wait.
BOOST_AUTO_TEST_CASE(a_released_span_is_handed_out_after_resident_ones_of_its_length) {
  auto heap = test::make_heap<TestHeap>();
  ThreeTwoPageSpans s(*heap);
  heap->free(s.low);
  heap->free(s.high);  // above the list's head (low): behind it
  heap->free(s.mid);   // above the head too: behind high, so the list's back lies below its middle
  s.low = heap->alloc<GC>(2);  // the head; high is the head now, mid the back
  BOOST_TEST(heap->scavenge(2 * kPage) == 2 * kPage);  // the back: mid
  BOOST_TEST(released(*heap) == 2 * kPage);
  auto again = heap->alloc<GC>(2);
  BOOST_TEST(again.base() == s.base_high);   // resident, though mid lies lower ...
  BOOST_TEST(released(*heap) == 2 * kPage);  // ... and mid stays released
  auto last = heap->alloc<GC>(2);
  BOOST_TEST(last.base() == s.base_mid);
  BOOST_TEST(released(*heap) == 0u);
  require_clean(*heap);
}

// ... and a warm span freed after a release goes in front of the released one, wherever it lies:
// the list ends in released pages, so "behind the rest" would put it behind them.
BOOST_AUTO_TEST_CASE(a_span_freed_after_a_release_is_handed_out_before_the_released_one) {
  auto heap = test::make_heap<TestHeap>();
  ThreeTwoPageSpans s(*heap);
  heap->free(s.low);
  heap->free(s.mid);  // above the head: behind it
  BOOST_TEST(heap->scavenge(2 * kPage) == 2 * kPage);  // the back: mid, which goes back cold
  heap->free(s.high);  // above the head, but the list ends in released pages: in front
  auto a = heap->alloc<GC>(2);
  auto b = heap->alloc<GC>(2);
  BOOST_TEST(a.base() == s.base_high);
  BOOST_TEST(b.base() == s.base_low);
  BOOST_TEST(released(*heap) == 2 * kPage);  // mid, still released, still free
  require_clean(*heap);
}

namespace {
// Two long spans, fenced so that they cannot merge: the lower released whole, the higher free and
// resident.
struct ReleasedBelowResident {
  ReleasedBelowResident(TestHeap& heap, std::size_t low_pages, std::size_t high_pages) {
    auto low = heap.alloc<GC>(low_pages);
    fence_low = heap.alloc<GC>(1);
    auto high = heap.alloc<GC>(high_pages);
    fence_high = heap.alloc<GC>(1);
    base_low = low.base();
    base_high = high.base();
    heap.free(low);
    BOOST_TEST(heap.scavenge(low_pages * kPage) == low_pages * kPage);
    heap.free(high);
    require_clean(heap);
  }
  SpanRef<GC> fence_low, fence_high;
  const void* base_low = nullptr;
  const void* base_high = nullptr;
};
}  // namespace

// Long spans too: a resident span is handed out before a released one of its length, wherever it
// lies (they are in two trees, mheap/free_set.hpp) ...
BOOST_AUTO_TEST_CASE(a_released_long_span_is_handed_out_after_a_resident_one_of_its_length) {
  auto heap = test::make_heap<TestHeap>();
  ReleasedBelowResident s(*heap, 200, 200);
  auto part = heap->alloc<GC>(150);  // a tie between the two at a length above the request
  BOOST_TEST(part.base() == s.base_high);
  BOOST_TEST(released(*heap) == 200 * kPage);
  heap->free(part);  // high is whole again
  auto again = heap->alloc<GC>(200);
  BOOST_TEST(again.base() == s.base_high);     // resident, though low lies lower ...
  BOOST_TEST(released(*heap) == 200 * kPage);  // ... and low stays released
  auto last = heap->alloc<GC>(200);
  BOOST_TEST(last.base() == s.base_low);
  BOOST_TEST(released(*heap) == 0u);
  require_clean(*heap);
}

// ... but the best fit still wins over residence: a shorter released span before a longer
// resident one.
BOOST_AUTO_TEST_CASE(a_shorter_released_long_span_fits_before_a_longer_resident_one) {
  auto heap = test::make_heap<TestHeap>();
  ReleasedBelowResident s(*heap, 150, 300);
  auto fit = heap->alloc<GC>(140);
  BOOST_TEST(fit.base() == s.base_low);
  BOOST_TEST(released(*heap) == 10 * kPage);  // the rest of it stays released
  require_clean(*heap);
}

// A cut from a span released whole makes only the pages handed out usable: the rest stays
// released (heap_released counts it, a later pass does not release it again), until it is
// handed out in turn. A span released in part is made usable whole (where its released pages
// lie is not recorded).
BOOST_AUTO_TEST_CASE(the_rest_of_a_span_released_whole_stays_released) {
  auto heap = test::make_heap<TestHeap>();
  auto span = heap->alloc<GC>(200);
  auto fence = heap->alloc<GC>(1);
  heap->free(span);
  BOOST_TEST(heap->scavenge(200 * kPage) == 200 * kPage);
  auto head = heap->alloc<GC>(10);
  BOOST_TEST(released(*heap) == 190 * kPage);
  require_clean(*heap);
  const std::uint64_t calls = heap->events().release_calls;
  BOOST_TEST(heap->scavenge(190 * kPage) == 0u);  // nothing left to release
  BOOST_TEST(heap->events().release_calls == calls);
  auto short_rest = heap->alloc<GC>(100);  // 190 → 100 + 90: the 90 stay released
  BOOST_TEST(released(*heap) == 90 * kPage);
  require_clean(*heap);
  heap->free(head);
  heap->free(short_rest);  // merges: 110 resident pages and the 90 released ones, released in part
  BOOST_TEST(released(*heap) == 90 * kPage);
  require_clean(*heap);
  auto again = heap->alloc<GC>(50);  // cut from a span released in part: all of it usable
  BOOST_TEST(released(*heap) == 0u);
  require_clean(*heap);
  (void)fence, (void)again;
}

namespace {
// Releases only when the test says so, to hold a scavenge in the middle of its system calls.
class GatedSource : public MmapSource {
 public:
  using MmapSource::MmapSource;
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    entered = true;
    while (!open) std::this_thread::yield();
    return MmapSource::release(p, n);
  }
  std::atomic<bool> entered{false}, open{false};
};
struct GatedConfig : DefaultConfig {
  using Lock = MutexLock;
  using PageSource = GatedSource;
  using MisusePolicy = RecordMisuse;
  static constexpr std::size_t span_cache_pages = 0;
};
}  // namespace

BOOST_AUTO_TEST_CASE(an_alloc_during_a_release_waits_instead_of_growing) {
  auto heap = test::make_heap<Heap<GatedConfig>>(std::size_t{1} << 30);
  auto all = heap->alloc<GC>(128);  // the whole first growth
  heap->free(all);
  const Stats before = heap->stats();
  std::thread scavenger([&] { heap->release_all(); });
  while (!heap->page_source().entered) std::this_thread::yield();  // the span is out of the free set
  std::atomic<bool> done{false};
  SpanRef<GC> got;
  std::thread allocator([&] {
    got = heap->alloc<GC>(1);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(!done.load());  // waiting for the span being released, not growing
  heap->page_source().open = true;
  scavenger.join();
  allocator.join();
  BOOST_TEST(static_cast<bool>(got));
  BOOST_TEST(heap->stats().heap_sys == before.heap_sys);  // no growth
  heap->free(got);
  require_clean(*heap);
}
