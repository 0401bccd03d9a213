// SPDX-License-Identifier: BSL-1.0
// Every row of the accounting table (mheap/accounting.hpp, docs/go-accounting.md), as exact byte deltas, with the audit after
// each operation. Also the seed's diff: the same trace under Go 1.8's and Go 1.9's stack accounting.
#define BOOST_TEST_MODULE accounting
#include <cstdint>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

struct Delta {
  std::int64_t heap_sys, heap_idle, heap_inuse, heap_released, stacks_inuse;
};
Delta operator-(const Stats& after, const Stats& before) {
  auto d = [](std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b); };
  return {d(after.heap_sys, before.heap_sys), d(after.heap_idle, before.heap_idle),
          d(after.heap_inuse, before.heap_inuse), d(after.heap_released, before.heap_released),
          d(after.stacks_inuse, before.stacks_inuse)};
}
void check(const Delta& got, const Delta& want) {
  BOOST_TEST(got.heap_sys == want.heap_sys);
  BOOST_TEST(got.heap_idle == want.heap_idle);
  BOOST_TEST(got.heap_inuse == want.heap_inuse);
  BOOST_TEST(got.heap_released == want.heap_released);
  BOOST_TEST(got.stacks_inuse == want.stacks_inuse);
}

using Config = test::ArenaConfig<>;
using TestHeap = Heap<Config>;
constexpr std::int64_t P = static_cast<std::int64_t>(kPage);
constexpr std::int64_t kChunk = std::int64_t{1} << 20;  // min_grow_bytes

}  // namespace

BOOST_AUTO_TEST_CASE(grow_then_each_row_of_the_table) {
  auto heap = test::make_heap<TestHeap>();
  require_clean(*heap);
  BOOST_TEST(heap->stats() == Stats{});

  // grow by 1 MiB + allocate a 1-page GC span from it.
  Stats before = heap->stats();
  auto gc = heap->alloc<GCSpanPolicy>(1);
  BOOST_REQUIRE(gc);
  check(heap->stats() - before, {kChunk, kChunk - P, P, 0, 0});
  BOOST_TEST(heap->events().grow_calls == 1u);
  require_clean(*heap);

  // allocate GC span of n: heap_idle −n, heap_inuse +n.
  before = heap->stats();
  auto gc5 = heap->alloc<GCSpanPolicy>(5);
  check(heap->stats() - before, {0, -5 * P, 5 * P, 0, 0});
  require_clean(*heap);

  // allocate manual span of n: heap_sys −n, heap_idle −n, stacks_inuse +n.
  before = heap->stats();
  auto stack = heap->alloc<StackSpanPolicy>(4);
  check(heap->stats() - before, {-4 * P, -4 * P, 0, 0, 4 * P});
  require_clean(*heap);

  // free GC span of n: heap_idle +n, heap_inuse −n.
  before = heap->stats();
  heap->free(gc5);
  check(heap->stats() - before, {0, 5 * P, -5 * P, 0, 0});
  require_clean(*heap);

  // free manual span of n: heap_sys +n, heap_idle +n, stacks_inuse −n.
  before = heap->stats();
  heap->free(stack);
  check(heap->stats() - before, {4 * P, 4 * P, 0, 0, -4 * P});
  require_clean(*heap);

  heap->free(gc);
  const Stats end = heap->stats();
  BOOST_TEST(end.heap_sys == static_cast<std::uint64_t>(kChunk));
  BOOST_TEST(end.heap_idle == end.heap_sys);
  BOOST_TEST(end.heap_inuse == 0u);
  BOOST_TEST(end.stacks_inuse == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(growth_is_at_least_the_chunk_rounded_to_the_granule) {
  auto heap = test::make_heap<TestHeap>();
  auto big = heap->alloc<GCSpanPolicy>(129);  // > 1 MiB: grows by 129 pages rounded up to 64 KiB (8 pages)
  BOOST_REQUIRE(big);
  BOOST_TEST(heap->stats().heap_sys == 136 * kPage);
  BOOST_TEST(heap->stats().heap_idle == 7 * kPage);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(metadata_is_charged_to_mspan_and_other_sys) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(1);
  const Stats s = heap->stats();
  // One page of page map covers the first 1 MiB; one 16 KiB chunk of span records.
  BOOST_TEST(s.other_sys == kPage);
  BOOST_TEST(s.mspan_sys == 16u * 1024u);
  // Two records: the live span and the free tail.
  BOOST_TEST(s.mspan_inuse == 2 * sizeof(TestHeap::span_type));
  heap->free(a);  // cached whole: both records stay
  BOOST_TEST(heap->stats().mspan_inuse == 2 * sizeof(TestHeap::span_type));
  heap->flush_cache();  // merged with the tail: one record
  BOOST_TEST(heap->stats().mspan_inuse == sizeof(TestHeap::span_type));
  const MemStats m = heap->mem_stats();
  BOOST_TEST(m.Sys == s.heap_sys + s.mspan_sys + s.other_sys);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(user_view_equals_raw_counters_after_the_seed) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(10);
  auto b = heap->alloc<StackSpanPolicy>(3);
  const Stats s = heap->stats();
  const MemStats m = heap->mem_stats();
  BOOST_TEST(m.HeapSys == s.heap_sys);
  BOOST_TEST(m.HeapIdle == s.heap_idle);
  BOOST_TEST(m.HeapInuse == s.heap_inuse);
  BOOST_TEST(m.HeapReleased == s.heap_released);
  BOOST_TEST(m.StackInuse == s.stacks_inuse);
  BOOST_TEST(m.StackSys == s.stacks_inuse);
  BOOST_TEST(m.MSpanInuse == s.mspan_inuse);
  BOOST_TEST(m.MSpanSys == s.mspan_sys);
  BOOST_TEST(m.OtherSys == s.other_sys);
  BOOST_TEST(m.Sys == s.heap_sys + s.stacks_inuse + s.mspan_sys + s.other_sys);
  BOOST_TEST(m.Sys == m.HeapSys + m.StackSys + m.MSpanSys + m.OtherSys + m.ManualSys);
  heap->free(a);
  heap->free(b);
  require_clean(*heap);
}

// ---- the seed's diff --------------------------------------------------------------------------
namespace {
struct PreSeedConfig : Config {
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, PreSeedStackSpanPolicy>;
};
using PreSeedHeap = Heap<PreSeedConfig>;

// Runs the same deterministic trace of GC and stack spans on heap h with stack kind Stack.
template <class Stack, class H>
void run_trace(H& h) {
  SpanRef<GCSpanPolicy> gc[16];
  SpanRef<Stack> stacks[16];
  std::uint32_t x = 12345;
  auto next = [&] { return x = x * 1103515245u + 12345u, (x >> 8); };
  for (int step = 0; step < 2000; ++step) {
    const std::size_t i = next() % 16, pages = 1 + next() % 40;
    if (next() % 2) {
      if (gc[i]) h.free(gc[i]);
      gc[i] = h.template alloc<GCSpanPolicy>(pages);
    } else {
      if (stacks[i]) h.free(stacks[i]);
      stacks[i] = h.template alloc<Stack>(pages);
    }
    if (step % 100 == 0) require_clean(h);
  }
  require_clean(h);
}
}  // namespace

BOOST_AUTO_TEST_CASE(seed_diff_moves_stacks_out_of_heap_sys_and_heap_inuse) {
  auto post = test::make_heap<TestHeap>();
  auto pre = test::make_heap<PreSeedHeap>();
  run_trace<StackSpanPolicy>(*post);
  run_trace<PreSeedStackSpanPolicy>(*pre);

  const Stats a = post->stats(), b = pre->stats();
  BOOST_REQUIRE(a.stacks_inuse > 0u);
  BOOST_TEST(a.stacks_inuse == b.stacks_inuse);
  // Before the seed, stacks were inside heap_sys and heap_inuse; after it, outside both.
  BOOST_TEST(b.heap_sys - a.heap_sys == a.stacks_inuse);
  BOOST_TEST(b.heap_inuse - a.heap_inuse == a.stacks_inuse);
  BOOST_TEST(a.heap_idle == b.heap_idle);
  // The user view agrees: Go 1.8 subtracted stacks when exporting, Go 1.9 needs not.
  BOOST_TEST(post->mem_stats() == pre->mem_stats());
  BOOST_TEST(post->mem_stats().HeapSys == a.heap_sys);
  BOOST_TEST(pre->mem_stats().HeapSys == b.heap_sys - b.stacks_inuse);
}

// Go's span-level Mallocs / Frees / TotalAlloc: per kind, cumulative, through the span cache and
// around it, and in MemStats over the kinds of the garbage-collected heap only.
BOOST_AUTO_TEST_CASE(cumulative_totals_per_kind) {
  auto heap = test::make_heap<TestHeap>();
  constexpr std::size_t gc = TestHeap::span_kinds::index_of<GCSpanPolicy>;
  constexpr std::size_t stack = TestHeap::span_kinds::index_of<StackSpanPolicy>;
  BOOST_TEST((heap->kind_totals()[gc] == KindTotals{}));

  auto a = heap->alloc<GCSpanPolicy>(3);    // from the free set
  auto big = heap->alloc<GCSpanPolicy>(200);  // too long for the span cache
  auto st = heap->alloc<StackSpanPolicy>(2);
  heap->free(a);                             // parked in the span cache
  a = heap->alloc<GCSpanPolicy>(3);         // back out of it
  heap->free(a);
  heap->free(big);                           // merged at once
  require_clean(*heap);                      // the audit holds totals against the spans

  const auto t = heap->kind_totals();
  BOOST_TEST(t[gc].allocs == 3u);
  BOOST_TEST(t[gc].frees == 3u);
  BOOST_TEST(t[gc].alloc_bytes == (3 + 200 + 3) * kPage);
  BOOST_TEST(t[gc].free_bytes == t[gc].alloc_bytes);
  BOOST_TEST(t[stack].allocs == 1u);
  BOOST_TEST(t[stack].frees == 0u);
  BOOST_TEST(t[stack].alloc_bytes == 2 * kPage);

  const MemStats m = heap->mem_stats();
  BOOST_TEST(m.Mallocs == 3u);  // stacks are not the garbage-collected heap's
  BOOST_TEST(m.Frees == 3u);
  BOOST_TEST(m.TotalAlloc == (3 + 200 + 3) * kPage);
  heap->free(st);
  BOOST_TEST(heap->kind_totals()[stack].frees == 1u);
  BOOST_TEST(heap->mem_stats().Mallocs == 3u);
  require_clean(*heap);
}

// The longest span in the free set, in O(1) (the tree's last span or the bitmap's highest bit),
// and MemStats::CacheIdle (bytes parked in the span cache, part of HeapIdle).
BOOST_AUTO_TEST_CASE(largest_free_span_and_cache_idle) {
  auto heap = test::make_heap<TestHeap>();
  BOOST_TEST(heap->largest_free_pages() == 0u);
  auto a = heap->alloc<GCSpanPolicy>(3);
  const std::size_t grown = heap->stats().heap_sys / kPage;
  BOOST_TEST(heap->largest_free_pages() == grown - 3);  // the rest of the growth: in the tree
  auto b = heap->alloc<GCSpanPolicy>(grown - 3 - 5);
  BOOST_TEST(heap->largest_free_pages() == 5u);  // only a short span left: on its list
  BOOST_TEST(heap->mem_stats().CacheIdle == 0u);
  heap->free(a);  // 3 pages: parked in the span cache, not in the free set
  BOOST_TEST(heap->mem_stats().CacheIdle == 3 * kPage);
  BOOST_TEST(heap->mem_stats().HeapIdle == 8 * kPage);
  BOOST_TEST(heap->largest_free_pages() == 5u);
  require_clean(*heap);  // the audit holds largest_free_pages() against the walk
  heap->flush_cache();
  BOOST_TEST(heap->mem_stats().CacheIdle == 0u);
  BOOST_TEST(heap->largest_free_pages() == 5u);  // a's 3 pages do not touch the 5
  heap->free(b);  // 120 pages: parked too
  BOOST_TEST(heap->mem_stats().CacheIdle == (grown - 8) * kPage);
  heap->flush_cache();  // merges all three: one span of the whole growth, in the tree
  BOOST_TEST(heap->largest_free_pages() == grown);
  require_clean(*heap);
}
