// SPDX-License-Identifier: BSL-1.0
// The span cache: freed short spans kept whole for the next request of their length; bounded per
// length and in total; flushed before the heap grows, scavenges or enforces retention; and misuse
// of a cached span is caught like any other.
#define BOOST_TEST_MODULE span_cache
#include <vector>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {
using GC = GCSpanPolicy;

struct Config : test::ArenaConfig<> {
  static constexpr std::size_t span_cache_pages = 64;
  static constexpr std::uint32_t span_cache_per_length = 4;
};
using TestHeap = Heap<Config>;
}  // namespace

BOOST_AUTO_TEST_CASE(a_freed_short_span_comes_back_whole_for_its_length) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(5);
  auto b = heap->alloc<GC>(5);
  void* base_a = a.base();
  const Stats live = heap->stats();
  heap->free(a);
  // Idle, not live, not merged: the record stays (no split or merge next time).
  BOOST_TEST(heap->stats().heap_idle == live.heap_idle + 5 * kPage);
  BOOST_TEST(heap->stats().heap_inuse == live.heap_inuse - 5 * kPage);
  BOOST_TEST(heap->stats().mspan_inuse == live.mspan_inuse);
  BOOST_TEST(heap->lookup(base_a) == nullptr);
  require_clean(*heap);
  auto c = heap->alloc<GC>(5);
  BOOST_TEST(c.base() == base_a);
  BOOST_TEST(heap->stats() == live);
  heap->free(b);
  heap->free(c);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(the_cache_is_bounded_per_length_and_in_total) {
  auto heap = test::make_heap<TestHeap>();
  std::vector<SpanRef<GC>> ones, twenties, fences;
  for (int i = 0; i < 6; ++i) {
    ones.push_back(heap->alloc<GC>(1));
    fences.push_back(heap->alloc<GC>(1));
  }
  for (int i = 0; i < 4; ++i) {
    twenties.push_back(heap->alloc<GC>(20));
    fences.push_back(heap->alloc<GC>(1));
  }
  for (auto s : ones) heap->free(s);
  BOOST_TEST(heap->cached_pages() == 4u);  // at most 4 spans per length
  for (auto s : twenties) heap->free(s);
  BOOST_TEST(heap->cached_pages() == 4u + 3 * 20);  // a fourth 20 would pass the 64-page bound
  require_clean(*heap);
  const auto idle = heap->stats().heap_idle;
  heap->flush_cache();
  BOOST_TEST(heap->cached_pages() == 0u);
  BOOST_TEST(heap->stats().heap_idle == idle);  // flushing moves no idle byte
  require_clean(*heap);
  for (auto s : fences) heap->free(s);
  heap->flush_cache();
  BOOST_TEST(heap->stats().mspan_inuse == sizeof(TestHeap::span_type));  // one free span is left
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(long_spans_are_never_cached) {
  auto heap = test::make_heap<TestHeap>();
  auto big = heap->alloc<GC>(TestHeap::max_list_pages);
  auto fence = heap->alloc<GC>(1);
  heap->free(big);
  BOOST_TEST(heap->cached_pages() == 0u);
  auto again = heap->alloc<GC>(TestHeap::max_list_pages);
  BOOST_TEST(static_cast<bool>(again));
  (void)fence;
  require_clean(*heap);
}

namespace {
struct Tight : Config {
  static constexpr std::size_t min_grow_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t grow_granule_bytes = std::size_t{1} << page_shift;
};
}  // namespace

BOOST_AUTO_TEST_CASE(the_heap_flushes_the_cache_before_it_grows) {
  auto heap = test::make_heap<Heap<Tight>>();
  std::vector<SpanRef<GC>> spans;
  for (int i = 0; i < 4; ++i) spans.push_back(heap->alloc<GC>(8));
  for (auto s : spans) heap->free(s);  // 32 pages, all cached, adjacent
  BOOST_TEST(heap->cached_pages() == 32u);
  const auto sys = heap->stats().heap_sys;
  const auto grows = heap->events().grow_calls;
  auto merged = heap->alloc<GC>(32);  // fits only once the cached spans merge
  BOOST_TEST(static_cast<bool>(merged));
  BOOST_TEST(heap->events().grow_calls == grows);
  BOOST_TEST(heap->stats().heap_sys == sys);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(scavenging_releases_cached_spans_too) {
  using H = Heap<test::MmapConfig>;
  auto heap = test::make_heap<H>(std::size_t{1} << 30);
  auto a = heap->alloc<GC>(3);
  auto fence = heap->alloc<GC>(1);
  const std::size_t parked = heap->cached_pages();  // a thread's refill parks a few spans at once
  heap->free(a);  // parked
  BOOST_TEST(heap->cached_pages() == parked + 3u);
  heap->release_all();
  BOOST_TEST(heap->cached_pages() == 0u);
  BOOST_TEST(heap->stats().heap_released == heap->stats().heap_idle);
  (void)fence;
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(misuse_of_a_cached_span_is_reported) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(2);
  auto fence = heap->alloc<GC>(1);
  void* base = a.base();
  heap->free(a);  // cached
  const Stats before = heap->stats();
  heap->free(a);
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::double_free));
  heap->free_at<GC>(base);
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::double_free));
  BOOST_TEST(heap->misuse_policy().last.address == base);
  BOOST_TEST(heap->misuse_policy().count == 2u);
  BOOST_TEST(heap->stats() == before);
  // The cached span is handed out again, and the stale ref still cannot free it.
  auto b = heap->alloc<GC>(2);
  BOOST_REQUIRE(b.base() == base);
  heap->free(a);
  BOOST_TEST(heap->misuse_policy().count == 3u);
  BOOST_TEST(heap->lookup(base) == b.header());
  (void)fence;
  require_clean(*heap);
}

namespace {
struct OneCacheMmapConfig : test::MmapConfig {
  static constexpr bool thread_caches = false;  // one cache, the heap's, under its lock
};
}  // namespace

BOOST_AUTO_TEST_CASE(the_retention_bound_counts_cached_spans) {
  using H = Heap<OneCacheMmapConfig>;
  auto heap = test::make_heap<H>(std::size_t{1} << 30);
  heap->set_idle_retention(4 * kPage);
  std::vector<SpanRef<GC>> spans;
  for (int i = 0; i < 10; ++i) spans.push_back(heap->alloc<GC>(3));
  for (auto s : spans) {
    heap->free(s);
    const Stats st = heap->stats();
    BOOST_TEST(st.heap_idle - st.heap_released <= 4 * kPage);
  }
  require_clean(*heap);
}

// With thread caches the bound covers what is outside them: a thread parks without the lock, and
// each cache holds at most span_cache_pages (the README states this allowance).
BOOST_AUTO_TEST_CASE(with_thread_caches_the_retention_bound_leaves_out_parked_spans) {
  using H = Heap<test::MmapConfig>;
  auto heap = test::make_heap<H>(std::size_t{1} << 30);
  heap->set_idle_retention(4 * kPage);
  std::vector<SpanRef<GC>> spans;
  for (int i = 0; i < 10; ++i) spans.push_back(heap->alloc<GC>(3));
  for (int i = 0; i < 10; ++i) spans.push_back(heap->alloc<GC>(200));  // too long to park
  for (auto s : spans) {
    heap->free(s);
    const Stats st = heap->stats();
    BOOST_TEST(st.heap_idle - st.heap_released <= 4 * kPage + heap->cached_pages() * kPage);
    BOOST_TEST(heap->cached_pages() <= test::MmapConfig::span_cache_pages * 3 / 2);  // stacks and outbox
  }
  require_clean(*heap);
}
