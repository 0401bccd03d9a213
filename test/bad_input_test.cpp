// SPDX-License-Identifier: BSL-1.0
// Every bad input gets a defined outcome: an empty result, or a misuse report that names it, with the
// heap unchanged and the audit clean afterwards. The default policy's fatal message is checked in a
// child process.
#define BOOST_TEST_MODULE bad_input
#include <cstdint>
#include <limits>
#include <string>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {
using Config = test::ArenaConfig<std::size_t{4} << 20>;  // 4 MiB: easy to exhaust
using TestHeap = Heap<Config>;
using GC = GCSpanPolicy;

// Runs op and checks it changed no counter and no event but the ones named.
template <class H, class Op>
void require_unchanged(H& heap, Op op) {
  const auto stats = heap.stats();
  const auto grows = heap.events().grow_calls;
  op();
  BOOST_TEST(heap.stats() == stats);
  BOOST_TEST(heap.events().grow_calls == grows);
  require_clean(heap);
}
}  // namespace

BOOST_AUTO_TEST_CASE(zero_and_impossible_sizes_give_an_empty_ref) {
  auto heap = test::make_heap<TestHeap>();
  auto keep = heap->alloc<GC>(1);
  require_unchanged(*heap, [&] {
    BOOST_TEST(!heap->alloc<GC>(0));
    BOOST_TEST(!heap->alloc<StackSpanPolicy>(0, true));
    BOOST_TEST(!heap->alloc<GC>(std::numeric_limits<std::size_t>::max()));
    BOOST_TEST(!heap->alloc<GC>((std::numeric_limits<std::size_t>::max() >> Config::page_shift) + 1));  // bytes overflow
    BOOST_TEST(!heap->alloc<GC>(heap->capacity_pages() + 1));  // more than the source can ever give
  });
  BOOST_TEST(heap->events().grow_failures == 0u);  // rejected before asking the source
  heap->free(keep);
}

BOOST_AUTO_TEST_CASE(an_exhausted_source_gives_empty_refs_and_loses_nothing) {
  auto heap = test::make_heap<TestHeap>();
  std::vector<SpanRef<GC>> spans;
  while (auto s = heap->alloc<GC>(7)) spans.push_back(s);
  BOOST_TEST(spans.size() >= 60u);  // 4 MiB less map and records, in 56 KiB spans
  require_unchanged(*heap, [&] { BOOST_TEST(!heap->alloc<GC>(7)); });
  // Whatever is left is still handed out to requests that fit.
  const std::uint64_t idle_pages = heap->stats().heap_idle / kPage;
  if (idle_pages > 0) {
    auto rest = heap->alloc<GC>(idle_pages);
    BOOST_TEST(static_cast<bool>(rest));
    BOOST_TEST(heap->stats().heap_idle == 0u);
    heap->free(rest);
  }
  for (auto s : spans) heap->free(s);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->stats().heap_idle == heap->stats().heap_sys);
  // The heap is whole again: one span as large as everything grown.
  auto all = heap->alloc<GC>(heap->stats().heap_sys / kPage);
  BOOST_TEST(static_cast<bool>(all));
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(freeing_an_empty_ref_is_a_no_op) {
  auto heap = test::make_heap<TestHeap>();
  require_unchanged(*heap, [&] {
    heap->free(SpanRef<GC>{});
    heap->free(SpanRef<StackSpanPolicy>{});
  });
  BOOST_TEST(heap->misuse_policy().count == 0u);
}

BOOST_AUTO_TEST_CASE(double_free_is_reported_and_changes_nothing) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(3);
  auto b = heap->alloc<GC>(2);
  void* base_a = a.base();
  heap->free(a);
  require_unchanged(*heap, [&] { heap->free(a); });
  BOOST_TEST(heap->misuse_policy().count == 1u);
  BOOST_TEST(heap->misuse_policy().last.what == Misuse::double_free);
  BOOST_TEST(std::string(heap->misuse_policy().last.kind_name) == "GCSpanPolicy");

  // The record is reused for a new span at the same base: the stale ref still does not free it.
  auto c = heap->alloc<GC>(3);
  BOOST_REQUIRE(c.base() == base_a);
  require_unchanged(*heap, [&] { heap->free(a); });
  BOOST_TEST(heap->misuse_policy().count == 2u);
  BOOST_TEST(heap->lookup(base_a) == c.header());
  heap->free(c);
  heap->free(b);
  BOOST_TEST(heap->misuse_policy().count == 2u);
  BOOST_TEST(heap->events().misuses == 2u);
  require_clean(*heap);
}

// A double free names the caller's own span or no address: never the span that now uses the record.
// Before the fix the report read the record's base, which merging and reuse had moved to a span at
// another address, owned by someone else.
namespace {
struct NoCache : Config {
  static constexpr std::size_t span_cache_pages = 0;  // frees merge at once
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_double_free_never_names_another_owners_address) {
  auto heap = test::make_heap<Heap<NoCache>>();
  auto& policy = heap->misuse_policy();
  auto a = heap->alloc<GC>(4);
  auto b = heap->alloc<GC>(4);
  auto c = heap->alloc<GC>(4);
  auto d = heap->alloc<GC>(4);
  void* base_b = b.base();

  // Freed and unchanged since: the report names b's own base.
  heap->free(b);
  require_unchanged(*heap, [&] { heap->free(b); });
  BOOST_TEST(policy.last.what == Misuse::double_free);
  BOOST_TEST(policy.last.address == base_b);

  // c merges b into its record (b's record is retired); then a 1-page span splits the merged run
  // and the tail reuses b's record, at b's base + 1 page; a 7-page span takes that tail.
  heap->free(c);
  auto x = heap->alloc<GC>(1);
  auto y = heap->alloc<GC>(7);
  BOOST_REQUIRE(x.base() == base_b);
  BOOST_REQUIRE(y.base() == static_cast<void*>(static_cast<std::byte*>(base_b) + kPage));
  BOOST_REQUIRE(y.header() == static_cast<const SpanHeader*>(b.header()));  // b's record, y's span now
  require_unchanged(*heap, [&] { heap->free(b); });
  BOOST_TEST(policy.last.what == Misuse::double_free);
  BOOST_TEST(policy.last.address == nullptr, "named " << policy.last.address << ", y is at " << y.base());
  BOOST_TEST(policy.count == 2u);
  for (auto r : {a, d, x, y}) heap->free(r);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_span_of_another_heap_is_reported) {
  auto one = test::make_heap<TestHeap>();
  auto two = test::make_heap<TestHeap>();
  auto a = one->alloc<GC>(2);
  auto b = two->alloc<GC>(2);
  require_unchanged(*two, [&] { two->free(a); });
  BOOST_TEST(two->misuse_policy().last.what == Misuse::foreign_span);
  BOOST_TEST(two->misuse_policy().last.address == a.base());  // the span's address, not its record's
  one->free(a);
  two->free(b);
  require_clean(*one);
}

// free_at() of bases freed and merged since, whichever way they merged: "in free memory", not
// "not a base" (issue 12), and nothing moves.
BOOST_AUTO_TEST_CASE(free_at_of_a_base_freed_and_merged_says_free_memory) {
  auto heap = test::make_heap<TestHeap>();
  auto& policy = heap->misuse_policy();
  // [ x 130 ][ a 130 ][ y 130 ][ wall 1 ][ rest ]: too long for the span cache (below 128 pages), so
  // each free merges.
  auto x = heap->alloc<GC>(130);
  auto a = heap->alloc<GC>(130);
  auto y = heap->alloc<GC>(130);
  auto wall = heap->alloc<GC>(1);
  void* const bases[] = {x.base(), a.base(), y.base()};
  heap->free_at<GC>(bases[0]);
  heap->free_at<GC>(bases[2]);
  heap->free_at<GC>(bases[1]);  // merges with x before it and y after it: one free span of 390
  BOOST_TEST(policy.count == 0u);
  for (void* base : bases) {
    require_unchanged(*heap, [&] { heap->free_at<GC>(base); });
    BOOST_TEST((policy.last.what == Misuse::in_free_span), "free_at(" << base << ")");
    BOOST_TEST(policy.last.address == base);
  }
  BOOST_TEST(policy.count == 3u);
  heap->free(wall);
  require_clean(*heap);
}

// A copy of a freed ref describes nothing, even once its record describes a merged free span
// (issue 12: it used to answer the merged span's length, 128 pages, and its base), and freeing it
// again is still a double free.
BOOST_AUTO_TEST_CASE(a_stale_ref_describes_nothing) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(100);  // too long for the span cache: merges with the free rest at once
  const auto copy = a;
  BOOST_TEST(copy.live());
  BOOST_TEST(copy.npages() == 100u);
  heap->free(a);
  BOOST_TEST(static_cast<bool>(copy));  // still a ref that was handed out
  BOOST_TEST(!copy.live());
  BOOST_TEST(copy.base() == nullptr);
  BOOST_TEST(copy.npages() == 0u);
  BOOST_TEST(copy.bytes() == 0u);
  auto b = heap->alloc<GC>(2);  // may reuse the record
  BOOST_TEST(copy.base() == nullptr);
  heap->free(copy);
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::double_free));
  BOOST_TEST(b.live());
  heap->free(b);
  BOOST_TEST(!b.live());
  require_clean(*heap);
}

// span_at() copies the live span holding an address, so a caller need not read the heap's record
// after the lock is dropped; it answers nothing where lookup() answers null.
BOOST_AUTO_TEST_CASE(span_at_copies_the_live_span_holding_an_address) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(5);
  auto st = heap->alloc<StackSpanPolicy>(2);
  auto* base = static_cast<std::byte*>(a.base());
  const auto info = heap->span_at(base + 3 * kPage + 17);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->base == a.base());
  BOOST_TEST(info->npages == 5u);
  BOOST_TEST(info->bytes == 5 * kPage);
  BOOST_TEST(info->kind == Config::SpanKinds::index_of<GC>);
  BOOST_TEST(std::string(info->kind_name) == "GCSpanPolicy");
  BOOST_TEST(std::string(heap->span_at(st.base())->kind_name) == "StackSpanPolicy");
  BOOST_TEST(heap->lookup(base) == a.header());
  heap->free(a);
  BOOST_TEST(!heap->span_at(base).has_value());  // freed: nothing, as lookup()
  BOOST_TEST(heap->lookup(base) == nullptr);
  BOOST_TEST(!heap->span_at(nullptr).has_value());
  heap->free(st);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(free_at_rejects_every_address_that_is_not_a_live_base_of_the_kind) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GC>(4);
  auto st = heap->alloc<StackSpanPolicy>(2);
  auto* base = static_cast<std::byte*>(a.base());
  auto& policy = heap->misuse_policy();
  require_unchanged(*heap, [&] {
    heap->free_at<GC>(nullptr);
    BOOST_TEST((policy.last.what == Misuse::outside_heap));
    heap->free_at<GC>(&policy);
    BOOST_TEST((policy.last.what == Misuse::outside_heap));
    heap->free_at<GC>(base + kPage);
    BOOST_TEST((policy.last.what == Misuse::not_span_base));
    heap->free_at<GC>(base + 1);
    BOOST_TEST((policy.last.what == Misuse::not_span_base));
    heap->free_at<GC>(st.base());
    BOOST_TEST((policy.last.what == Misuse::wrong_kind));
    heap->free_at<GC>(base + 6 * kPage);  // the first page of the free span past the stack span
    BOOST_TEST((policy.last.what == Misuse::in_free_span));
    heap->free_at<GC>(base + 6 * kPage + 8);  // inside it, not on a page boundary
    BOOST_TEST((policy.last.what == Misuse::not_span_base));
  });
  BOOST_TEST(policy.count == 7u);
  heap->free_at<GC>(base);
  require_unchanged(*heap, [&] { heap->free_at<GC>(base); });  // twice
  BOOST_TEST((policy.last.what == Misuse::double_free));
  BOOST_TEST(policy.last.address == base);
  heap->free_at<StackSpanPolicy>(st.base());
  BOOST_TEST(policy.count == 8u);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
}

// ---- the default policy aborts with a message naming the misuse ------------------------------
namespace {
struct AbortingConfig : Config {
  using MisusePolicy = AbortOnMisuse;
};

}  // namespace

BOOST_AUTO_TEST_CASE(default_policy_aborts_naming_the_misuse) {
  auto [clean, aborted, message, signal] = test::run_in_child([] {
    auto heap = test::make_heap<Heap<AbortingConfig>>();
    auto a = heap->alloc<GC>(1);
    heap->free(a);
    heap->free(a);
  });
  BOOST_TEST(aborted);
  BOOST_TEST(message.find("mheap: fatal: double free") != std::string::npos, "stderr was: " << message);
  BOOST_TEST(message.find("GCSpanPolicy") != std::string::npos);

  auto [clean2, aborted2, message2, signal2] = test::run_in_child([] {
    auto heap = test::make_heap<Heap<AbortingConfig>>();
    auto a = heap->alloc<GC>(2);
    heap->free_at<GC>(static_cast<std::byte*>(a.base()) + 1);
  });
  BOOST_TEST(aborted2);
  BOOST_TEST(message2.find("not the base of a live span") != std::string::npos, "stderr was: " << message2);

  // A double free whose record has been reused says the address is no longer known.
  auto [clean3, aborted3, message3, signal3] = test::run_in_child([] {
    auto heap = test::make_heap<Heap<AbortingConfig>>();
    auto a = heap->alloc<GC>(1);
    heap->free(a);
    auto b = heap->alloc<GC>(1);  // same record, same base, another owner
    heap->free(a);
    heap->free(b);
  });
  BOOST_TEST(aborted3);
  BOOST_TEST(message3.find("mheap: fatal: double free") != std::string::npos, "stderr was: " << message3);
  BOOST_TEST(message3.find("address no longer known") != std::string::npos, "stderr was: " << message3);
}
