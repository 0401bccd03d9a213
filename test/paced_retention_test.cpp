// SPDX-License-Identifier: BSL-1.0
// The paced bound (Config::idle_retention_percent, PacedRetention in mheap/release_engine.hpp),
// turned on at 50 %: a heap that shrinks from its peak gives memory back without being asked;
// steady churn within the bound and a heap below the floor make no system call; a bound the
// caller sets, or a configuration, turns it off; threads' frees reach it.
// The audit runs as the frees go. Run under TSan too (tag concurrent).
#define BOOST_TEST_MODULE paced_retention
#include <algorithm>
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
};
using TestHeap = Heap<Config>;
static_assert(DefaultConfig::idle_retention_percent == 0, "off by default");
static_assert(Config::idle_retention_floor_bytes == std::size_t{64} << 20,
              "the figures below follow the default floor");

// 160 pages (1.25 MiB of 8 KiB pages): longer than max_list_pages, so no span cache holds them and
// every free reaches the free set.
constexpr std::size_t kSpanPages = 160;
constexpr std::size_t kSpanBytes = kSpanPages * kPage;
static_assert(kSpanPages >= Config::max_list_pages);

// The bound for `inuse` bytes, and the most a free may leave before a pass runs (the slack).
std::size_t bound_of(std::size_t inuse) {
  return std::max(inuse / 100 * Config::idle_retention_percent, Config::idle_retention_floor_bytes);
}
std::size_t ceiling_of(std::size_t inuse) { return bound_of(inuse) + bound_of(inuse) / 8; }
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
//     widen the slack until it covers the span (release_engine.hpp).
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
// configuration with idle_retention_percent = 0 (the default) never paces.
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
