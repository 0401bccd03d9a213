// SPDX-License-Identifier: BSL-1.0
// The release engine's pieces without a heap (mheap/release_engine.hpp): the idle-time rule on
// scavenger ticks, and which pages of a span a release really gives back.
#define BOOST_TEST_MODULE release_engine
#include <cstddef>
#include <cstdint>

#include "test/test_support.hpp"

using namespace mheap;

namespace {
constexpr std::uint64_t kMinute = 60'000'000'000ull;

struct FakeSpan {
  std::byte* base;
  std::size_t npages;
  IdleRecord idle;  // the engine reads and writes only idle.npreleased
};
using Batch = ReleaseBatch<FakeSpan, 13>;
constexpr std::size_t kPage = 8192;
std::byte* at(std::uintptr_t address) { return reinterpret_cast<std::byte*>(address); }
}  // namespace

BOOST_AUTO_TEST_CASE(a_span_is_idle_from_the_tick_after_its_free) {
  IdleTicks ticks;
  const std::uint64_t before_first = ticks.stamp();  // freed before any tick
  ticks.begin_tick(0);
  BOOST_TEST(!ticks.idle_at_least(before_first, 0, 1));       // the first tick knows no earlier time
  BOOST_TEST(ticks.idle_at_least(before_first, 0, 0));
  const std::uint64_t during_first = ticks.stamp();           // freed during tick 1
  BOOST_TEST(!ticks.idle_at_least(during_first, 100 * kMinute, 0));  // never old within its own tick
  ticks.begin_tick(5 * kMinute);
  BOOST_TEST(ticks.idle_at_least(before_first, 5 * kMinute, 5 * kMinute));
  BOOST_TEST(ticks.idle_at_least(during_first, 5 * kMinute, 0));
  BOOST_TEST(!ticks.idle_at_least(during_first, 5 * kMinute, 1));  // counted from tick 2's start
  ticks.begin_tick(9 * kMinute);
  BOOST_TEST(ticks.idle_at_least(during_first, 9 * kMinute, 4 * kMinute));
  BOOST_TEST(!ticks.idle_at_least(during_first, 9 * kMinute, 4 * kMinute + 1));
}

BOOST_AUTO_TEST_CASE(a_stamp_older_than_the_history_is_judged_by_the_oldest_start_kept) {
  IdleTicks ticks;
  const std::uint64_t old = ticks.stamp();
  for (std::uint64_t t = 1; t <= 200; ++t) ticks.begin_tick(t * kMinute);
  // Tick `old + 1` started at minute 1, long forgotten; the oldest start kept is tick 137's: later,
  // so the span looks younger than it is, never older.
  const std::uint64_t oldest_kept = (200 - IdleTicks::history + 1) * kMinute;
  BOOST_TEST(ticks.idle_at_least(old, 200 * kMinute, 200 * kMinute - oldest_kept));
  BOOST_TEST(!ticks.idle_at_least(old, 200 * kMinute, 200 * kMinute - oldest_kept + 1));
}

// Found by review: two scavenge_idle() calls overlap (each drops the lock to release). The one that
// read its clock first must not judge by a tick the other began later: that start lies after its
// `now`, and the subtraction used to wrap and call a span freed a moment ago long idle.
BOOST_AUTO_TEST_CASE(a_tick_begun_after_now_never_makes_a_span_idle) {
  IdleTicks ticks;
  ticks.begin_tick(10 * kMinute);            // call A: now = 10 min
  const std::uint64_t freed = ticks.stamp();  // a span freed while A has the lock dropped
  ticks.begin_tick(20 * kMinute);            // call B begins the next tick at 20 min
  BOOST_TEST(!ticks.idle_at_least(freed, 10 * kMinute, 1));  // A's second batch, with A's `now`
  BOOST_TEST(ticks.idle_at_least(freed, 20 * kMinute, 0));
}

BOOST_AUTO_TEST_CASE(releasable_pages_are_whole_granules_inside_the_asked_pages) {
  const std::uintptr_t base = std::uintptr_t{1} << 30;  // granule-aligned
  FakeSpan s{at(base + kPage), 10, {}};                  // pages 1..10 of a 4-page granule grid
  auto whole = Batch::releasable(s, 10, 4 * kPage);
  BOOST_TEST(whole.from == at(base + 4 * kPage));
  BOOST_TEST(whole.pages == 4u);                        // pages 4..7; 8..10 end short of a granule
  auto top3 = Batch::releasable(s, 3, 4 * kPage);       // pages 8..10: no whole granule
  BOOST_TEST(top3.pages == 0u);
  auto fine = Batch::releasable(s, 3, 4096);            // a granule below the page: exact
  BOOST_TEST(fine.from == at(base + 8 * kPage));
  BOOST_TEST(fine.pages == 3u);
  // Under a floor the run rounds outward within the span: at least the pages asked, in granules.
  auto floor3 = Batch::releasable(s, 3, 4 * kPage, Overshoot::allowed);
  BOOST_TEST(floor3.from == at(base + 4 * kPage));
  BOOST_TEST(floor3.pages == 4u);
  FakeSpan short_span{at(base + kPage), 2, {}};  // pages 1..2: no whole granule to give, even so
  BOOST_TEST(Batch::releasable(short_span, 2, 4 * kPage, Overshoot::allowed).pages == 0u);
}
