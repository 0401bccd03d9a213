// SPDX-License-Identifier: BSL-1.0
// The paced bound (Config::idle_retention_percent, PacedRetention in mheap/paced_retention.hpp).
// Its rules without time first, at 50 % and releasing at once (idle_retention_decay_ms = 0): a
// heap that shrinks from its peak gives memory back without being asked; steady churn within the
// bound and a heap below the floor make no system call; a bound the caller sets, or a
// configuration, turns it off; threads' frees reach it. Then the default (100 %, a decay of one
// second) on a clock the test moves: idle memory goes back once it has lasted the decay, holes
// refilled sooner cost nothing, and the heap releases before it grows.
// The audit runs as the frees go. Run under TSan too (tag concurrent).
#define BOOST_TEST_MODULE paced_retention
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;

// The paced bound on OS memory, one thread: no thread-local machinery to reason about.
struct Config : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
  static constexpr unsigned idle_retention_percent = 50;
  static constexpr std::uint32_t idle_retention_decay_ms = 0;  // at once: the rules without time
};
using TestHeap = Heap<Config>;
// On by default where pages go back to an OS, off on a fixed arena (nobody to give them to).
static_assert(paced_retention_percent<DefaultConfig> == default_idle_retention_percent);
struct ArenaConfig : DefaultConfig {
  using PageSource = StaticArena<std::size_t{1} << 20>;
};
static_assert(paced_retention_percent<ArenaConfig> == 0);
static_assert(Config::idle_retention_floor_bytes == std::size_t{64} << 20,
              "the figures below follow the default floor");

// 160 pages (1.25 MiB of 8 KiB pages): longer than max_list_pages, so no span cache holds them and
// every free reaches the free set.
constexpr std::size_t kSpanPages = 160;
constexpr std::size_t kSpanBytes = kSpanPages * kPage;
static_assert(kSpanPages >= Config::max_list_pages);

// The bound of configuration C for `inuse` bytes, and the most a free may leave before a pass
// runs (the slack).
template <class C = Config>
std::size_t bound_of(std::size_t inuse) {
  return std::max<std::size_t>(inuse / 100 * paced_retention_percent<C>, C::idle_retention_floor_bytes);
}
template <class C = Config>
std::size_t ceiling_of(std::size_t inuse) { return bound_of<C>(inuse) + bound_of<C>(inuse) / 8; }
std::size_t unreleased(const Stats& s) { return s.heap_idle - s.heap_released; }

template <class H>
std::vector<SpanRef<GC>> alloc_spans(H& heap, std::size_t count) {
  std::vector<SpanRef<GC>> spans;
  for (std::size_t i = 0; i < count; ++i) {
    spans.push_back(heap.template alloc<GC>(kSpanPages));
    BOOST_REQUIRE(spans.back());
  }
  return spans;
}

}  // namespace

// The clock is read once in clock_period over-bound frees; a batch of frees drained at once (a
// guest's, mheap/returned_spans.hpp) counts as that many, and an empty one as none.
BOOST_AUTO_TEST_CASE(over_bound_frees_read_the_clock_once_a_period_counted_in_batches) {
  PacedRetention<100, 0, 1'000'000'000> p;
  constexpr std::uint32_t period = decltype(p)::clock_period;
  BOOST_TEST(!p.clock_due(0));     // nothing drained: nothing due, and nothing counted
  BOOST_TEST(p.clock_due());       // the first over-bound free reads the clock
  BOOST_TEST(!p.clock_due(period - 2));
  BOOST_TEST(!p.clock_due(0));
  BOOST_TEST(!p.clock_due(1));     // period - 1 since the read
  BOOST_TEST(p.clock_due(1));      // the period's last
  BOOST_TEST(p.clock_due(period));  // a batch of a whole period
  BOOST_TEST(!p.clock_due(period - 1));
  BOOST_TEST(p.clock_due(3));      // a batch that crosses the read
  PacedRetention<100, 0, 0> at_once;  // no decay: every over-bound free may release
  BOOST_TEST(at_once.clock_due(1));
  BOOST_TEST(!at_once.clock_due(0));
}

// 256 spans (320 MiB); nine in ten freed. After every free the unreleased idle bytes are within the
// bound and its slack; the pages come back for the next peak without the heap growing.
BOOST_AUTO_TEST_CASE(a_heap_shrinking_from_its_peak_gives_memory_back_as_it_goes) {
  auto heap = test::make_heap<TestHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*heap, 256);
  const std::size_t peak_sys = heap->stats().heap_sys;
  BOOST_REQUIRE_EQUAL(heap->events().release_calls, 0u);

  std::size_t frees = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i % 10 == 0) continue;  // stays live
    heap->free(spans[i]);
    spans[i] = {};
    ++frees;
    const Stats s = heap->stats();
    BOOST_REQUIRE_MESSAGE(unreleased(s) <= ceiling_of(s.heap_inuse),
                          "free " << frees << ": " << unreleased(s) << " idle bytes not released, ceiling "
                                  << ceiling_of(s.heap_inuse));
    if (frees % 32 == 0) require_clean(*heap);
  }
  require_clean(*heap);
  const Stats shrunk = heap->stats();
  const std::size_t freed = frees * kSpanBytes;
  BOOST_TEST(shrunk.heap_released >= freed - ceiling_of(shrunk.heap_inuse));
  BOOST_TEST(shrunk.heap_sys == peak_sys);  // released pages stay counted in heap_sys
  BOOST_TEST(heap->events().release_calls > 0u);
  BOOST_TEST_MESSAGE("release calls: " << heap->events().release_calls << " for " << frees << " frees");

  for (auto& s : spans)
    if (!s) s = heap->alloc<GC>(kSpanPages);
  require_clean(*heap);
  BOOST_TEST(heap->stats().heap_sys == peak_sys);  // the next peak reuses the released pages
  for (auto& s : spans) heap->free(s);
  require_clean(*heap);
}

// One churned span and 64 of 160 pages (80 MiB), fenced so that none merge, freed in that order:
// the first pass releases the longest first, the churned span among them. Allocated (its only fit)
// and freed again and again, that span then costs few passes. Without them every free past the
// bound would release it and the next allocation fault it back in: 100 passes.
//   - 4 MiB: one pass at most, which leaves it resident: the slack (8 MiB here) covers it.
//   - 16 MiB, longer than that slack: the passes that release it again find it was taken back, and
//     widen the slack until it covers the span (paced_retention.hpp).
void churn_one_span_at_the_bound(std::size_t churned_pages) {
  BOOST_TEST_CONTEXT("churned span of " << churned_pages << " pages") {
    auto heap = test::make_heap<TestHeap>(std::size_t{4} << 30);
    const std::size_t kChurned = churned_pages;
    std::vector<SpanRef<GC>> spans, fences;
    for (int i = 0; i < 65; ++i) {
      spans.push_back(heap->alloc<GC>(i == 0 ? kChurned : kSpanPages));
      fences.push_back(heap->alloc<GC>(1));  // no two freed spans merge
    }
    for (auto& s : spans) heap->free(s);
    const std::uint64_t calls = heap->events().release_calls;
    BOOST_REQUIRE(calls > 0u);  // the bound was passed: the longest spans went
    // A pass releases its budget (at most the slack and the churned span) largest first, the
    // churned span in one call and the rest in spans of 1.25 MiB: 10 calls at most over the 100
    // rounds, against at least one per round without the slack or its widening.
    for (int i = 0; i < 100; ++i) {
      heap->free(heap->alloc<GC>(kChurned));
      if (i % 25 == 0) require_clean(*heap);
    }
    BOOST_TEST(heap->events().release_calls - calls <= 10u);
    require_clean(*heap);
    for (auto& f : fences) heap->free(f);
    require_clean(*heap);
  }
}
BOOST_AUTO_TEST_CASE(a_span_allocated_and_freed_at_the_bound_is_not_released_every_time) {
  churn_one_span_at_the_bound(512);   // 4 MiB: within the slack
  churn_one_span_at_the_bound(2048);  // 16 MiB: past it, until the slack widens
}

// The slack widened by a churned span narrows again at the first pass whose memory nobody takes
// back: of 160 MiB freed afterwards (the heap shrinking), the first 80 MiB bring that pass about,
// and for the last 64 frees the ceiling of an eighth holds after every free.
BOOST_AUTO_TEST_CASE(a_widened_slack_narrows_as_the_heap_shrinks) {
  auto heap = test::make_heap<TestHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> shrinking, spans, fences;
  for (int i = 0; i < 128; ++i) {
    shrinking.push_back(heap->alloc<GC>(kSpanPages));
    fences.push_back(heap->alloc<GC>(1));
  }
  constexpr std::size_t kChurned = 2048;  // 16 MiB: past the first slack (10 MiB of an 80 MiB bound)
  for (int i = 0; i < 65; ++i) {
    spans.push_back(heap->alloc<GC>(i == 0 ? kChurned : kSpanPages));
    fences.push_back(heap->alloc<GC>(1));
  }
  for (auto& s : spans) heap->free(s);
  const std::uint64_t calls = heap->events().release_calls;
  for (int i = 0; i < 100; ++i) heap->free(heap->alloc<GC>(kChurned));
  BOOST_TEST(heap->events().release_calls - calls <= 10u);  // it widened
  require_clean(*heap);
  for (std::size_t i = 0; i < shrinking.size(); ++i) {
    heap->free(shrinking[i]);
    const Stats s = heap->stats();
    if (i >= shrinking.size() - 64)
      BOOST_REQUIRE_MESSAGE(unreleased(s) <= ceiling_of(s.heap_inuse),
                            "free " << i << ": " << unreleased(s) << " idle bytes not released, ceiling "
                                    << ceiling_of(s.heap_inuse));
  }
  require_clean(*heap);
  for (auto& f : fences) heap->free(f);
  require_clean(*heap);
}

// About 1.2 GiB live in 2,000 spans of 1 to 160 pages, churned with lengths of the same
// distribution: the holes the churn leaves and reuses stay far below the bound (about 600 MiB).
BOOST_AUTO_TEST_CASE(steady_churn_within_the_bound_makes_no_system_call) {
  auto heap = test::make_heap<TestHeap>(std::size_t{4} << 30);
  std::mt19937 rng(7);
  std::vector<SpanRef<GC>> spans;
  for (int i = 0; i < 2000; ++i) spans.push_back(heap->alloc<GC>(1 + rng() % kSpanPages));
  for (int step = 0; step < 4000; ++step) {
    auto& s = spans[rng() % spans.size()];
    heap->free(s);
    s = heap->alloc<GC>(1 + rng() % kSpanPages);
    BOOST_REQUIRE(s);
    if (step % 250 == 0) require_clean(*heap);
  }
  BOOST_TEST(heap->events().release_calls == 0u);
  BOOST_TEST(heap->stats().heap_released == 0u);
  for (auto& s : spans) heap->free(s);
  require_clean(*heap);
}

// Idle memory under the bound stays: 40 MiB all freed (below the floor), and a quarter of 320 MiB
// freed (within half of what stays in use, and above the floor).
BOOST_AUTO_TEST_CASE(idle_memory_within_the_bound_stays) {
  auto small = test::make_heap<TestHeap>(std::size_t{4} << 30);
  for (auto& s : alloc_spans(*small, 32)) small->free(s);
  BOOST_TEST(small->stats().heap_idle >= 32 * kSpanBytes);
  BOOST_TEST(small->events().release_calls == 0u);
  require_clean(*small);

  auto large = test::make_heap<TestHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*large, 256);
  for (std::size_t i = 0; i < spans.size(); i += 4) large->free(spans[i]);
  BOOST_TEST(large->events().release_calls == 0u);
  BOOST_REQUIRE(large->stats().heap_idle > Config::idle_retention_floor_bytes);
  require_clean(*large);
}

// Turned off two ways: a bound the caller sets replaces it (even "keep everything"), and a
// configuration with idle_retention_percent = 0 never paces.
struct NoPacingConfig : Config {
  static constexpr unsigned idle_retention_percent = 0;
};
BOOST_AUTO_TEST_CASE(a_bound_of_the_callers_or_the_configuration_turns_it_off) {
  auto asked = test::make_heap<TestHeap>(std::size_t{4} << 30);
  asked->set_idle_retention(RetentionBound::none);
  auto configured = test::make_heap<Heap<NoPacingConfig>>(std::size_t{4} << 30);
  for (auto& s : alloc_spans(*asked, 256)) asked->free(s);
  for (auto& s : alloc_spans(*configured, 256)) configured->free(s);
  BOOST_TEST(asked->events().release_calls == 0u);
  BOOST_TEST(configured->events().release_calls == 0u);
  require_clean(*asked);
  require_clean(*configured);
}

// With thread caches (AdaptiveLock, as DefaultConfig): two threads free nine tenths of 320 MiB
// of long spans that a third allocated, half each, from both halves, while each also churns short
// spans through its own cache without the lock (their counts wait in the thread's window until a
// fold). The audit holds, and a check after a fold (stats()) keeps the bound, spans parked in
// caches outside it.
struct ThreadConfig : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
  static constexpr unsigned idle_retention_percent = 50;
  static constexpr std::uint32_t idle_retention_decay_ms = 0;
};
BOOST_AUTO_TEST_CASE(frees_from_several_threads_keep_the_bound) {
  auto heap = test::make_heap<Heap<ThreadConfig>>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> mine[2];
  for (auto& m : mine) m = alloc_spans(*heap, 128);
  SpanRef<GC> last = heap->alloc<GC>(kSpanPages);  // freed after the threads, for a check after a fold
  auto free_most = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t));
    std::vector<SpanRef<GC>> short_spans(64);
    for (int other = 0; other < 2; ++other) {  // own half, then the other thread's
      std::vector<SpanRef<GC>>& v = mine[(t + other) % 2];
      for (std::size_t i = static_cast<std::size_t>(t); i < v.size(); i += 2) {
        if (i % 10 != 0) heap->free(v[i]);
        for (int k = 0; k < 32; ++k) {  // short spans: parked and unparked in the thread's cache
          auto& s = short_spans[rng() % short_spans.size()];
          heap->free(s);
          s = heap->alloc<GC>(1 + rng() % 4);
        }
      }
    }
    for (auto& s : short_spans) heap->free(s);
  };
  std::thread a(free_most, 0), b(free_most, 1);
  a.join();
  b.join();
  require_clean(*heap);
  const Stats folded = heap->stats();
  BOOST_TEST(folded.heap_released > 0u);
  BOOST_TEST(folded.heap_released <= folded.heap_idle);
  heap->free(last);  // a check on folded counters
  require_clean(*heap);
  const Stats s = heap->stats();
  BOOST_TEST(unreleased(s) <= ceiling_of(s.heap_inuse) + heap->cached_pages() * kPage);
}

// A thread's short spans that its cache has no room for reach the free set at its next lock (its
// outbox, and the batches it handed back onto the returned stack that its stacks cannot take):
// those frees pace the bound as frees under the lock do, judged on counters that hold the
// thread's own frees, once the allocation that took the lock has its span.
struct OneArenaThreads : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
  static constexpr unsigned arenas = 1;  // the thread is home: its overflow goes back in batches
  static constexpr unsigned idle_retention_percent = 50;
  static constexpr std::uint32_t idle_retention_decay_ms = 0;
  static constexpr std::size_t idle_retention_floor_bytes = 8 * kPage;  // below what the test frees
};
// Frees `count` spans of 1 page, without the lock, then allocates one the cache does not hold,
// under it; returns whether that lock released anything. The audit runs after the lock, not
// before: it folds the thread's deltas, which the lock must do itself.
bool the_next_lock_releases_after(std::size_t count) {
  auto heap = test::make_heap<Heap<OneArenaThreads>>(std::size_t{1} << 30);
  std::vector<SpanRef<GC>> spans;
  for (std::size_t i = 0; i < count; ++i) spans.push_back(heap->alloc<GC>(1));
  const std::uint64_t calls = heap->events().release_calls;
  for (auto r : spans) heap->free(r);
  BOOST_TEST(heap->events().release_calls == calls);  // no free took the lock
  BOOST_TEST(heap->cached_pages() >= count);
  auto r = heap->alloc<GC>(5);
  BOOST_TEST_REQUIRE(static_cast<bool>(r));
  const bool released = heap->events().release_calls != calls;
  const Stats s = heap->stats();
  if (released) BOOST_TEST(unreleased(s) <= ceiling_of<OneArenaThreads>(s.heap_inuse) + heap->cached_pages() * kPage);
  require_clean(*heap);
  heap->free(r);
  require_clean(*heap);
  return released;
}
BOOST_AUTO_TEST_CASE(a_threads_overflow_paces_the_bound_at_its_next_lock) {
  constexpr std::size_t outbox = ThreadCache<int, int, 1, 2>::outbox_capacity;
  constexpr std::size_t per_length = OneArenaThreads::span_cache_per_length, batches = 20;
  static_assert(batches * (outbox + 1) <= OneArenaThreads::span_cache_pages,
                "within the returned stack's bound: no drain past it, which paces on its own");
  BOOST_TEST(!the_next_lock_releases_after(per_length));  // all on the stack: nothing reached the free set
  BOOST_TEST(the_next_lock_releases_after(per_length + outbox));  // the outbox's
  BOOST_TEST(the_next_lock_releases_after(per_length + batches * (outbox + 1)));  // whole batches, the outbox empty
}

// ---- the default: 100 %, paced by a decay of one second ------------------------------------------
struct DefaultPacing : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  using Clock = ManualClock;  // heap.clock().advance(ns)
  static constexpr bool internal_checks = true;
};
using DefaultHeap = Heap<DefaultPacing>;
constexpr std::uint64_t kMs = 1'000'000;
static_assert(DefaultPacing::idle_retention_decay_ms == 1000);
static_assert(paced_retention_percent<DefaultPacing> == default_idle_retention_percent);

// Frees spans[from...] one at a time until one releases; returns how many it took. A free past the
// bound reads the clock once in clock_period (PacedRetention), so one of those may be needed.
constexpr std::uint32_t kClockPeriod = PacedRetention<1, 1, 1024>::clock_period;
template <class H>
std::size_t free_until_a_release(H& heap, std::vector<SpanRef<GC>>& spans, std::size_t from) {
  const std::uint64_t calls = heap.events().release_calls;
  for (std::size_t i = from; i < from + kClockPeriod; ++i) {
    heap.free(spans[i]);
    spans[i] = {};
    if (heap.events().release_calls != calls) return i + 1 - from;
  }
  BOOST_FAIL("no release in " << kClockPeriod << " frees");
  return 0;
}

// 660 MiB, 19 in 20 of its first 400 spans freed at one instant: nothing goes (the program may
// refill the holes at once), nor 60 ms later, though the share of the excess that time has run
// would pass the minimum. Half a second later frees release about half of the excess over the
// bound, and no more at that instant; once the excess has lasted the decay, all of it.
BOOST_AUTO_TEST_CASE(by_default_idle_memory_goes_back_once_it_has_lasted_the_decay) {
  constexpr std::size_t kFirst = 400;
  auto heap = test::make_heap<DefaultHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*heap, kFirst + 4 * kClockPeriod);  // 4 rounds of frees after
  for (std::size_t i = 0; i < kFirst; ++i)
    if (i % 20 != 0) {
      heap->free(spans[i]);
      spans[i] = {};
    }
  require_clean(*heap);
  BOOST_TEST(heap->events().release_calls == 0u);

  // Under a sixteenth of the decay: no pass so early in an episode, whatever the share.
  heap->clock().advance(60 * kMs);
  for (std::size_t i = kFirst; i < kFirst + kClockPeriod; ++i) {
    heap->free(spans[i]);
    spans[i] = {};
  }
  const Stats early = heap->stats();
  const std::size_t early_excess = unreleased(early) - bound_of<DefaultPacing>(early.heap_inuse);
  BOOST_REQUIRE(early_excess / 1000 * 60 > bound_of<DefaultPacing>(early.heap_inuse) / 16);  // the share would do
  BOOST_TEST(heap->events().release_calls == 0u);

  heap->clock().advance(440 * kMs);
  const std::size_t half_frees = free_until_a_release(*heap, spans, kFirst + kClockPeriod);
  require_clean(*heap);
  const Stats half = heap->stats();
  // The excess the releasing free saw: now's plus what it released.
  const std::size_t excess = unreleased(half) + half.heap_released - bound_of<DefaultPacing>(half.heap_inuse);
  BOOST_TEST_MESSAGE("half the decay: " << half_frees << " frees, " << half.heap_released << " of " << excess
                                        << " bytes of excess released");
  BOOST_TEST(half.heap_released >= excess * 4 / 10);
  BOOST_TEST(half.heap_released <= excess * 6 / 10 + kSpanBytes);

  // No second pass at the same instant: the next waits a sixteenth of the decay (else each clock
  // read would take a share of what the last one left, and the decay would not pace).
  const std::uint64_t calls = heap->events().release_calls;
  std::size_t next = kFirst + kClockPeriod + half_frees;
  for (std::size_t i = 0; i < kClockPeriod; ++i, ++next) {
    heap->free(spans[next]);
    spans[next] = {};
  }
  BOOST_TEST(heap->events().release_calls == calls);

  heap->clock().advance(500 * kMs);
  free_until_a_release(*heap, spans, next);
  require_clean(*heap);
  const Stats all = heap->stats();
  BOOST_TEST(unreleased(all) <= bound_of<DefaultPacing>(all.heap_inuse));
  for (auto& s : spans)
    if (s) heap->free(s);
  require_clean(*heap);
}

// 100 rounds a tenth of a second apart, each freeing 200 MiB above a 64 MiB bound and taking it
// back: every episode above the bound ends with the round, far sooner than the decay, so not one
// page is released, though the rounds last ten seconds.
BOOST_AUTO_TEST_CASE(holes_refilled_within_the_decay_cost_no_system_call) {
  auto heap = test::make_heap<DefaultHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*heap, 200);
  std::vector<SpanRef<GC>> fences = alloc_spans(*heap, 8);  // in use with spans 160–199: 60 MiB, under the floor
  for (int round = 0; round < 100; ++round) {
    for (std::size_t i = 0; i < 160; ++i) heap->free(spans[i]);
    heap->clock().advance(100 * kMs);
    for (std::size_t i = 0; i < 160; ++i) spans[i] = heap->alloc<GC>(kSpanPages);
    if (round % 25 == 0) require_clean(*heap);
  }
  BOOST_TEST(heap->events().release_calls == 0u);
  BOOST_TEST(heap->stats().heap_released == 0u);
  for (auto& s : spans) heap->free(s);
  for (auto& s : fences) heap->free(s);
  require_clean(*heap);
}

// A span longer than the slack, allocated and freed every tenth of a second for ten seconds, on
// top of idle memory just under the bound: each free starts an episode above the bound, and each
// allocation, refilling the hole, ends it; nothing is released.
BOOST_AUTO_TEST_CASE(a_span_refilled_within_the_decay_is_never_released) {
  auto heap = test::make_heap<DefaultHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> idle, fences;
  for (int i = 0; i < 48; ++i) {  // 60 MiB idle, fenced so that none merge: under the 64 MiB floor
    idle.push_back(heap->alloc<GC>(kSpanPages));
    fences.push_back(heap->alloc<GC>(1));
  }
  for (auto& s : idle) heap->free(s);
  constexpr std::size_t kChurned = 2048;  // 16 MiB: 76 MiB idle when freed, past the 72 MiB ceiling
  SpanRef<GC> churned = heap->alloc<GC>(kChurned);
  for (int round = 0; round < 100; ++round) {
    heap->free(churned);
    heap->clock().advance(100 * kMs);
    churned = heap->alloc<GC>(kChurned);
    BOOST_REQUIRE(churned);
    if (round % 25 == 0) require_clean(*heap);
  }
  BOOST_TEST(heap->events().release_calls == 0u);
  heap->free(churned);
  for (auto& f : fences) heap->free(f);
  require_clean(*heap);
}

// Go's synchronous scavenging: with 280 MiB idle and nothing released (no time has passed), a
// request that no free span fits makes the heap release down to the bound before it grows.
BOOST_AUTO_TEST_CASE(the_heap_releases_down_to_the_bound_before_it_grows) {
  auto heap = test::make_heap<DefaultHeap>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*heap, 256);
  for (std::size_t i = 0; i < spans.size(); ++i)
    if (i % 8 != 0) heap->free(spans[i]);  // runs of 7 spans: 1,120 pages at most
  BOOST_REQUIRE_EQUAL(heap->events().release_calls, 0u);
  const std::size_t sys_before = heap->stats().heap_sys;
  SpanRef<GC> big = heap->alloc<GC>(4096);  // 32 MiB: longer than every free run
  BOOST_REQUIRE(big);
  require_clean(*heap);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_sys > sys_before);  // it grew
  BOOST_TEST(s.heap_released > 0u);
  BOOST_TEST(unreleased(s) <= bound_of<DefaultPacing>(s.heap_inuse));
  // Nothing released went straight back into use: the free span ending the arena, which the
  // growth took in for the request, was left alone.
  BOOST_TEST(s.heap_released == heap->events().released_bytes);
  heap->free(big);
  for (std::size_t i = 0; i < spans.size(); i += 8) heap->free(spans[i]);
  require_clean(*heap);

  // A bound the caller sets turns the release before growth off too.
  auto kept = test::make_heap<DefaultHeap>(std::size_t{4} << 30);
  kept->set_idle_retention(RetentionBound::none);
  std::vector<SpanRef<GC>> all = alloc_spans(*kept, 256);
  for (std::size_t i = 0; i < all.size(); ++i)
    if (i % 8 != 0) kept->free(all[i]);
  SpanRef<GC> grown = kept->alloc<GC>(4096);
  BOOST_REQUIRE(grown);
  BOOST_TEST(kept->events().release_calls == 0u);
  kept->free(grown);
  for (std::size_t i = 0; i < all.size(); i += 8) kept->free(all[i]);
  require_clean(*kept);
}

// The default with thread caches (AdaptiveLock, as DefaultConfig): two threads free three quarters
// of 400 MiB of long spans at one instant, then, after the decay, most of the rest, while churning
// short spans through their caches. Nothing goes at first; after the decay the frees past the
// bound release the excess (but for what frees after the last clock read added). The clock moves
// only while the threads are joined.
struct ThreadDefault : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  using Clock = ManualClock;
  static constexpr bool internal_checks = true;
};
BOOST_AUTO_TEST_CASE(by_default_threads_frees_release_once_the_excess_has_lasted_the_decay) {
  auto heap = test::make_heap<Heap<ThreadDefault>>(std::size_t{4} << 30);
  std::vector<SpanRef<GC>> spans = alloc_spans(*heap, 320);
  auto free_where = [&](auto keep) {
    auto run = [&](std::size_t t) {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<SpanRef<GC>> short_spans(32);
      for (std::size_t i = t; i < spans.size(); i += 2) {
        if (!spans[i] || keep(i)) continue;
        heap->free(spans[i]);
        spans[i] = {};
        auto& s = short_spans[rng() % short_spans.size()];  // parked and unparked without the lock
        heap->free(s);
        s = heap->alloc<GC>(1 + rng() % 4);
      }
      for (auto& s : short_spans) heap->free(s);
    };
    std::thread a(run, 0), b(run, 1);
    a.join();
    b.join();
  };
  free_where([](std::size_t i) { return i % 4 == 0; });  // 240 freed: 300 MiB idle, 100 MiB in use
  require_clean(*heap);
  BOOST_TEST(heap->events().release_calls == 0u);
  BOOST_TEST(heap->stats().heap_released == 0u);

  heap->clock().advance(1100 * kMs);
  free_where([](std::size_t i) { return i % 16 == 0; });  // 60 more frees past the bound
  require_clean(*heap);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_released > 0u);
  // The default gives each thread an arena (mheap/arena_set.hpp), and the bound holds per arena:
  // the long spans are in the main thread's, the threads' short ones in theirs, each of which
  // keeps a share of the floor. Frees after the last clock read (up to a clock period's less one)
  // may each add a span, and the last pass, that many frees earlier, judged by a larger in-use;
  // two threads: twice that, at most (without the decay, 300 MiB would stay).
  std::array<std::size_t, 8> inuse{}, idle{};
  std::size_t arenas = 0, long_spans_arena = 0;
  heap->for_each_span([&](const SpanView& v) {
    arenas = std::max(arenas, v.arena + 1);
    if (v.use == SpanUse::live) inuse[v.arena] += v.bytes;
    if (v.idle()) idle[v.arena] += v.bytes - v.released_pages * kPage;
    if (v.use == SpanUse::live && v.npages == kSpanPages) long_spans_arena = v.arena;
  });
  BOOST_TEST(arenas >= 2u);  // the main thread's and at least one more (a thread may exit before the other starts)
  const std::size_t floor = DefaultConfig::idle_retention_floor_bytes / arenas;
  for (std::size_t a = 0; a < arenas; ++a) {
    const std::size_t bound = std::max(inuse[a], floor);
    const std::size_t slack = a == long_spans_arena ? bound / 8 + 2 * 2 * (kClockPeriod - 1) * kSpanBytes : 0;
    BOOST_TEST(idle[a] <= bound + slack + heap->cached_pages() * kPage,
               "arena " << a << ": idle " << idle[a] << ", in use " << inuse[a] << ", of " << arenas);
  }
  for (auto& r : spans)
    if (r) heap->free(r);
  require_clean(*heap);
}
