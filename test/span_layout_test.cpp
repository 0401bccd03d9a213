// SPDX-License-Identifier: BSL-1.0
// Where spans come from and go back to: split, coalescing on both sides (the arena's last page too),
// growth onto a free span at the end, exact-list choice, best fit with the lowest address on ties, the
// length index of the tree, lookup of every part of a span, and the needzero rules.
#define BOOST_TEST_MODULE span_layout
#include <cstring>
#include <vector>

#include <boost/mpl/list.hpp>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

// Grows by exactly what is asked, so the arena holds only the spans a test makes, and caches
// nothing, so every free merges at once (the span cache has tests of its own).
template <class Tree = RbTree>
struct TightConfig : test::ArenaConfig<> {
  static constexpr std::size_t span_cache_pages = 0;
  static constexpr std::size_t min_grow_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t grow_granule_bytes = std::size_t{1} << page_shift;
  using LargeSpanTree = Tree;
};
using TightHeap = Heap<TightConfig<>>;
using GC = GCSpanPolicy;

std::byte* at(void* base, std::size_t pages) { return static_cast<std::byte*>(base) + pages * kPage; }

}  // namespace

BOOST_AUTO_TEST_CASE(split_leaves_the_tail_free_and_reuses_it) {
  auto heap = test::make_heap<Heap<test::ArenaConfig<>>>();
  auto a = heap->alloc<GC>(3);
  auto b = heap->alloc<GC>(2);
  BOOST_REQUIRE(a && b);
  BOOST_TEST(b.base() == at(a.base(), 3));  // b comes from a's tail
  BOOST_TEST(heap->stats().heap_idle == (128 - 5) * kPage);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(free_merges_with_both_neighbours) {
  auto heap = test::make_heap<TightHeap>();
  auto a = heap->alloc<GC>(2);
  auto b = heap->alloc<GC>(3);
  auto c = heap->alloc<GC>(4);
  auto fence = heap->alloc<GC>(1);
  void* base_a = a.base();
  void* base_b = b.base();
  heap->free(a);
  heap->free(c);
  require_clean(*heap);
  heap->free(b);  // merges with a before and c after
  require_clean(*heap);
  BOOST_TEST(heap->lookup(base_b) == nullptr);
  // The merged 9-page span is the only free span: a 9-page request takes it without growing.
  const auto grows = heap->events().grow_calls;
  auto merged = heap->alloc<GC>(9);
  BOOST_TEST(merged.base() == base_a);
  BOOST_TEST(heap->events().grow_calls == grows);
  BOOST_TEST(heap->stats().heap_idle == 0u);
  heap->free(merged);
  heap->free(fence);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(exact_lists_pick_the_smallest_that_fits) {
  auto heap = test::make_heap<TightHeap>();
  auto s3 = heap->alloc<GC>(3);
  auto f1 = heap->alloc<GC>(1);
  auto s5 = heap->alloc<GC>(5);
  auto f2 = heap->alloc<GC>(1);
  auto s7 = heap->alloc<GC>(7);
  auto f3 = heap->alloc<GC>(1);
  void* b3 = s3.base();
  void* b5 = s5.base();
  void* b7 = s7.base();
  heap->free(s7);
  heap->free(s3);
  heap->free(s5);
  require_clean(*heap);
  auto four = heap->alloc<GC>(4);  // lists 4 is empty: 5 is the smallest non-empty list ≥ 4
  BOOST_TEST(four.base() == b5);
  auto one = heap->alloc<GC>(1);  // the 1-page tail of the 5
  BOOST_TEST(one.base() == at(b5, 4));
  auto three = heap->alloc<GC>(3);
  BOOST_TEST(three.base() == b3);
  auto six = heap->alloc<GC>(6);
  BOOST_TEST(six.base() == b7);
  require_clean(*heap);
  for (auto r : {four, one, three, six, f1, f2, f3}) heap->free(r);
  require_clean(*heap);
}

// A short span lower than its list's head goes in front of it, any other behind the rest
// (mheap/free_set.hpp): whichever order two spans of one length are freed in, the lower is handed
// out first. Handing out the span freed last (LIFO) fails the first half.
BOOST_AUTO_TEST_CASE(short_lists_hand_out_low_addresses_first) {
  auto heap = test::make_heap<TightHeap>();
  auto x = heap->alloc<GC>(5);
  auto f1 = heap->alloc<GC>(1);
  auto y = heap->alloc<GC>(5);
  auto f2 = heap->alloc<GC>(1);
  void* bx = x.base();
  void* by = y.base();
  BOOST_TEST_REQUIRE(bx < by);
  heap->free(x);
  heap->free(y);  // freed last, but higher: behind x
  require_clean(*heap);
  x = heap->alloc<GC>(5);
  BOOST_TEST(x.base() == bx);
  y = heap->alloc<GC>(5);
  BOOST_TEST(y.base() == by);
  heap->free(y);
  heap->free(x);  // freed last and lower: in front of y
  require_clean(*heap);
  BOOST_TEST(heap->alloc<GC>(5).base() == bx);
  BOOST_TEST(heap->alloc<GC>(5).base() == by);
  (void)f1, (void)f2;
  require_clean(*heap);
}

using Trees = boost::mpl::list<RbTree, AvlTree, SplayTree, ScapegoatTree, Treap>;

BOOST_AUTO_TEST_CASE_TEMPLATE(large_spans_best_fit_lowest_address_on_ties, Tree, Trees) {
  auto heap = test::make_heap<Heap<TightConfig<Tree>>>();
  // Free large spans, in address order: 300, 200, 250, 200, 400 pages, separated by fences.
  const std::size_t sizes[] = {300, 200, 250, 200, 400};
  std::vector<SpanRef<GC>> spans, fences;
  std::vector<void*> bases;
  for (std::size_t n : sizes) {
    spans.push_back(heap->template alloc<GC>(n));
    bases.push_back(spans.back().base());
    fences.push_back(heap->template alloc<GC>(1));
  }
  for (std::size_t i : {4u, 1u, 3u, 0u, 2u}) heap->free(spans[i]);
  require_clean(*heap);
  const auto grows = heap->events().grow_calls;

  auto take = [&](std::size_t n) { return heap->template alloc<GC>(n).base(); };
  BOOST_TEST(take(200) == bases[1]);  // exact size, the lower of the two 200s
  BOOST_TEST(take(150) == bases[3]);  // smallest ≥ 150 is the other 200
  BOOST_TEST(take(240) == bases[2]);  // 250
  BOOST_TEST(take(260) == bases[0]);  // 300
  BOOST_TEST(take(399) == bases[4]);  // 400
  BOOST_TEST(heap->events().grow_calls == grows);
  // The tails (50, 10, 40, 1 pages) are all on lists: a 128-page request must grow.
  BOOST_TEST(take(128) != nullptr);
  BOOST_TEST(heap->events().grow_calls == grows + 1);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(lookup_finds_first_interior_and_last_pages) {
  auto heap = test::make_heap<Heap<test::ArenaConfig<>>>();
  auto before = heap->alloc<GC>(1);
  auto s = heap->alloc<GC>(10);
  auto after = heap->alloc<StackSpanPolicy>(2);
  const SpanHeader* h = s.header();
  std::byte* base = static_cast<std::byte*>(s.base());
  BOOST_TEST(heap->lookup(base) == h);
  BOOST_TEST(heap->lookup(base + 5 * kPage + 17) == h);
  BOOST_TEST(heap->lookup(base + 9 * kPage) == h);
  BOOST_TEST(heap->lookup(base + 10 * kPage - 1) == h);
  BOOST_TEST(heap->lookup(base + 10 * kPage) == after.header());
  BOOST_TEST(heap->lookup(base - 1) == before.header());
  BOOST_TEST(heap->lookup(at(after.base(), 1)) == after.header());  // manual kinds map every page too
  // Free memory and addresses outside the heap.
  BOOST_TEST(heap->lookup(at(after.base(), 2)) == nullptr);
  BOOST_TEST(heap->lookup(nullptr) == nullptr);
  BOOST_TEST(heap->lookup(&heap) == nullptr);
  BOOST_TEST(heap->lookup(at(before.base(), 0) - 4 * kPage) == nullptr);
  heap->free(s);
  BOOST_TEST(heap->lookup(base) == nullptr);
  BOOST_TEST(heap->lookup(base + 5 * kPage) == nullptr);
  heap->flush_cache();              // s was cached whole; put it back in the free set
  auto again = heap->alloc<GC>(3);  // reuses the start of the freed span
  BOOST_TEST(heap->lookup(base + 2 * kPage) == again.header());
  BOOST_TEST(heap->lookup(base + 5 * kPage) == nullptr);  // a stale interior entry is not believed
  require_clean(*heap);
}

namespace {
// A manual kind that enters only its first and last page in the page map.
struct EndsOnly {
  static constexpr auto counter = &Stats::stacks_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "EndsOnly";
};
struct EndsOnlyConfig : test::ArenaConfig<> {
  using SpanKinds = mheap::SpanKinds<GC, EndsOnly>;
};
}  // namespace

BOOST_AUTO_TEST_CASE(kinds_that_skip_interior_pages_are_found_at_their_ends) {
  auto heap = test::make_heap<Heap<EndsOnlyConfig>>();
  auto s = heap->alloc<EndsOnly>(8);
  BOOST_TEST(heap->lookup(s.base()) == s.header());
  BOOST_TEST(heap->lookup(at(s.base(), 7)) == s.header());
  BOOST_TEST(heap->lookup(at(s.base(), 3)) == nullptr);  // fresh interior entries are empty
  require_clean(*heap);
  heap->free(s);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(needzero_clears_only_dirty_memory_and_only_when_asked) {
  auto heap = test::make_heap<Heap<test::ArenaConfig<>>>();
  // Fresh memory is zero and is not rewritten.
  auto fresh = heap->alloc<GC>(4, true);
  BOOST_TEST(heap->events().zeroed_bytes == 0u);
  auto* p = static_cast<unsigned char*>(fresh.base());
  for (std::size_t i = 0; i < 4 * kPage; ++i) BOOST_REQUIRE(p[i] == 0);
  std::memset(p, 0xAB, 4 * kPage);
  heap->free(fresh);

  // Dirty memory comes back as it was when zeroing is not asked for.
  auto dirty = heap->alloc<GC>(4);
  BOOST_REQUIRE(dirty.base() == p);
  BOOST_TEST(p[0] == 0xAB);
  BOOST_TEST(p[4 * kPage - 1] == 0xAB);
  BOOST_TEST(heap->events().zeroed_bytes == 0u);
  heap->free(dirty);

  // ... and zeroed when it is: the dirty span (merged with the fresh rest: the OR is dirty) is cleared.
  auto zeroed = heap->alloc<GC>(4, true);
  BOOST_REQUIRE(zeroed.base() == p);
  BOOST_TEST(heap->events().zeroed_bytes == 4 * kPage);
  for (std::size_t i = 0; i < 4 * kPage; ++i) BOOST_REQUIRE(p[i] == 0);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(needzero_is_ored_when_merging) {
  auto heap = test::make_heap<TightHeap>();
  auto dirty = heap->alloc<GC>(2);
  void* dirty_base = dirty.base();
  std::memset(dirty_base, 1, 2 * kPage);
  heap->free(dirty);  // free and dirty
  // No 3-page span: the heap grows 1 fresh page, which the free dirty 2 at the arena's end take in.
  auto fresh_grow = heap->alloc<GC>(3, true);
  BOOST_TEST(fresh_grow.base() == dirty_base);
  BOOST_TEST(heap->events().zeroed_bytes == 3 * kPage);  // the merged span is dirty as a whole
  auto* p = static_cast<unsigned char*>(fresh_grow.base());
  for (std::size_t i = 0; i < 3 * kPage; ++i) BOOST_REQUIRE(p[i] == 0);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(repeated_large_lengths_keep_lowest_address_first, Tree, Trees) {
  // The tree's length index serves repeated lengths in O(1): it must still hand out the lowest
  // address of the length every time, whatever the order of frees.
  auto heap = test::make_heap<Heap<TightConfig<Tree>>>();
  std::vector<SpanRef<GC>> spans, fences;
  std::vector<void*> bases;
  for (int i = 0; i < 4; ++i) {
    spans.push_back(heap->template alloc<GC>(300));
    bases.push_back(spans.back().base());
    fences.push_back(heap->template alloc<GC>(1));
  }
  for (int i : {2, 3, 1, 0}) heap->free(spans[i]);  // the lowest freed last
  auto take = [&] { return heap->template alloc<GC>(300); };
  auto a = take();
  BOOST_TEST(a.base() == bases[0]);
  heap->free(a);  // goes back in front of the indexed one
  require_clean(*heap);
  a = take();
  BOOST_TEST(a.base() == bases[0]);
  auto b = take();
  BOOST_TEST(b.base() == bases[1]);
  heap->free(a);
  heap->free(b);
  require_clean(*heap);
  BOOST_TEST(take().base() == bases[0]);
  BOOST_TEST(take().base() == bases[1]);
  BOOST_TEST(take().base() == bases[2]);
  BOOST_TEST(take().base() == bases[3]);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(free_merges_with_a_one_page_span_that_ends_the_arena) {
  auto heap = test::make_heap<TightHeap>();
  auto a = heap->alloc<GC>(2);
  auto last = heap->alloc<GC>(1);  // the arena's last page
  void* base_a = a.base();
  heap->free(last);
  heap->free(a);  // its neighbour after is the last page: they merge
  require_clean(*heap);
  const auto grows = heap->events().grow_calls;
  auto merged = heap->alloc<GC>(3);
  BOOST_TEST(merged.base() == base_a);
  BOOST_TEST(heap->events().grow_calls == grows);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(growth_asks_only_for_what_the_free_span_at_the_end_lacks) {
  auto heap = test::make_heap<TightHeap>();
  auto a = heap->alloc<GC>(4);
  void* base_a = a.base();
  heap->free(a);  // 4 free pages end the arena
  auto b = heap->alloc<GC>(6);  // they merge with 2 fresh pages
  BOOST_TEST(b.base() == base_a);
  BOOST_TEST(heap->stats().heap_sys == 6 * kPage);
  BOOST_TEST(heap->stats().heap_idle == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(the_length_index_answers_only_for_its_own_length) {
  // 300 and 556 pages share a slot of the tree's length index (556 = 300 + 256).
  auto heap = test::make_heap<TightHeap>();
  auto a = heap->alloc<GC>(300);
  auto fence_a = heap->alloc<GC>(1);
  auto b = heap->alloc<GC>(300);
  auto fence_b = heap->alloc<GC>(1);
  auto c = heap->alloc<GC>(556);
  auto fence_c = heap->alloc<GC>(1);
  void* base_a = a.base();
  void* base_c = c.base();
  heap->free(a);
  heap->free(b);
  heap->free(c);
  auto first = heap->alloc<GC>(300);  // takes a; the index keeps b, the next 300-page span, in the slot
  BOOST_TEST(first.base() == base_a);
  auto longer = heap->alloc<GC>(556);  // the slot holds b, which is too short: the tree finds c
  BOOST_REQUIRE(longer);
  BOOST_TEST(longer.npages() == 556u);
  BOOST_TEST(longer.base() == base_c);
  require_clean(*heap);
  (void)fence_a, (void)fence_b, (void)fence_c;
}

namespace {
// Room reserved for 8 span records: one page of them, which holds a few dozen on a host.
struct FewRecordsConfig : TightConfig<> {
  static constexpr std::size_t reserved_span_records = 8;
};
}  // namespace

// With fewer records than pages, running out of records is a null result like running out of pages:
// nothing moves, the audit stays clean, and a freed span's record serves the next request.
BOOST_AUTO_TEST_CASE(running_out_of_span_records_returns_null_and_keeps_the_heap_sound) {
  using FewHeap = Heap<FewRecordsConfig>;
  auto heap = test::make_heap<FewHeap>();
  const std::size_t record_page_holds = kPage / sizeof(FewHeap::span_type);
  BOOST_REQUIRE(heap->capacity_pages() > record_page_holds + 4);  // pages outlast the records
  std::vector<SpanRef<GC>> live;
  while (auto r = heap->alloc<GC>(1)) live.push_back(r);
  // Each 1-page span has a record of its own, and nothing else does (growth is exact, so it needs
  // no record for a rest to cut off): the pool carved every record its one page holds, no more.
  BOOST_TEST(live.size() == record_page_holds);
  BOOST_TEST(heap->stats().heap_inuse == live.size() * kPage);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
  // A free gives its record back: the next request (same length, no split) gets it.
  heap->free(live.back());
  live.back() = heap->alloc<GC>(1);
  BOOST_TEST(static_cast<bool>(live.back()));
  require_clean(*heap);
  // Two neighbours freed merge into one span: one record for both, so a split of it has the other.
  heap->free(live[0]);
  heap->free(live[1]);
  live[0] = heap->alloc<GC>(1);
  live[1] = heap->alloc<GC>(1);
  BOOST_TEST((live[0] && live[1]));
  BOOST_TEST(!heap->alloc<GC>(1));  // and then none is left
  require_clean(*heap);
  for (auto& r : live) heap->free(r);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
  // All merged into one free span: one long request takes it whole.
  auto all = heap->alloc<GC>(record_page_holds - 1);
  BOOST_TEST(static_cast<bool>(all));
  require_clean(*heap);
  heap->free(all);
  require_clean(*heap);
}

// Growth needs a record only for what it cannot do without: none for new pages that join the free
// span ending the arena, none for a rest when the grown span is exactly as long as the request.
// With every record in use, a free span at the end still grows into a longer request.
BOOST_AUTO_TEST_CASE(a_growth_into_the_free_span_ending_the_arena_takes_no_record) {
  using FewHeap = Heap<FewRecordsConfig>;
  auto heap = test::make_heap<FewHeap>();
  std::vector<SpanRef<GC>> live;
  while (auto r = heap->alloc<GC>(1)) live.push_back(r);  // every record in use
  void* last_base = live.back().base();
  heap->free(live.back());  // the arena now ends in a free page, with the last record
  live.pop_back();
  const auto grown_before = heap->events().grow_calls;
  auto two = heap->alloc<GC>(2);  // one new page joins it: no record needed, none cut off
  BOOST_REQUIRE(static_cast<bool>(two));
  BOOST_TEST(two.base() == last_base);
  BOOST_TEST(heap->events().grow_calls == grown_before + 1);
  BOOST_TEST(heap->stats().heap_inuse == (live.size() + 2) * kPage);
  require_clean(*heap);
  heap->free(two);
  auto three = heap->alloc<GC>(3);  // again: one new page into the 2 free ones, exactly 3
  BOOST_TEST(three.base() == last_base);
  require_clean(*heap);
  heap->free(three);
  for (auto& r : live) heap->free(r);
  require_clean(*heap);
}

namespace {
// As FewRecordsConfig, growing by 4 pages at least: a growth may leave a rest to cut off.
struct FewRecordsWideGrowthConfig : FewRecordsConfig {
  static constexpr std::size_t min_grow_bytes = std::size_t{4} << page_shift;
};
}  // namespace

// A growth that would leave a rest needs a record for it; with none left it refuses, and nothing
// the heap accounts for moves.
BOOST_AUTO_TEST_CASE(a_growth_that_leaves_a_rest_needs_a_record_for_it) {
  auto heap = test::make_heap<Heap<FewRecordsWideGrowthConfig>>();
  std::vector<SpanRef<GC>> live;
  while (auto r = heap->alloc<GC>(1)) live.push_back(r);  // every record in use
  // What is left is the rest of the last growth, one free span with no record to split it.
  if (const std::size_t rest = heap->stats().heap_idle / kPage; rest != 0) {
    live.push_back(heap->alloc<GC>(rest));  // an exact fit needs none
    BOOST_REQUIRE(live.back());
  }
  const std::size_t end_pages = live.back().npages();
  heap->free(live.back());  // the arena ends in a free span, with its record
  live.pop_back();
  const auto before = heap->stats();
  const auto grown = heap->events().grow_calls;
  BOOST_TEST(!heap->alloc<GC>(end_pages + 1));  // 4 new pages join it: 3 left over, and no record for them
  BOOST_TEST(heap->events().grow_calls == grown);
  BOOST_TEST(heap->stats().heap_sys == before.heap_sys);
  BOOST_TEST(heap->stats().heap_idle == before.heap_idle);
  BOOST_TEST(heap->stats().mspan_inuse == before.mspan_inuse);
  require_clean(*heap);
  for (auto& r : live) heap->free(r);
  require_clean(*heap);
}

namespace {
// As FewRecordsConfig, with a span cache: parked spans keep their records.
struct FewRecordsCachedConfig : FewRecordsConfig {
  static constexpr std::size_t span_cache_pages = 64;
};
}  // namespace

// A split short of a record flushes the span cache first: parked spans merge with their free
// neighbours and give their records back, so the request is served instead of refused.
BOOST_AUTO_TEST_CASE(a_split_short_of_a_record_flushes_the_span_cache_first) {
  using CachedHeap = Heap<FewRecordsCachedConfig>;
  auto heap = test::make_heap<CachedHeap>();
  auto three = heap->alloc<GC>(3);
  std::vector<SpanRef<GC>> live;
  while (auto r = heap->alloc<GC>(1)) live.push_back(r);  // every record in use
  heap->free(live.back());
  live.pop_back();
  heap->free(live.back());
  live.pop_back();
  heap->flush_cache();                                   // the two merge: one record back
  live.push_back(heap->alloc<GC>(2));                    // an exact fit: every record but one in use
  BOOST_REQUIRE(static_cast<bool>(live.back()));
  heap->free(three);                                     // parked whole, with its record
  auto first = heap->alloc<GC>(1);                       // the flush puts it back; the split takes the last record
  BOOST_REQUIRE(static_cast<bool>(first));
  heap->free(first);                                     // parked again, next to the free 2-page rest
  // Another kind misses the cache; the 2-page rest must be split and no record is left, until the
  // parked page merges with it.
  auto stack = heap->alloc<StackSpanPolicy>(1);
  BOOST_TEST(static_cast<bool>(stack));
  require_clean(*heap);
  heap->free(stack);
  for (auto& r : live) heap->free(r);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
}
