// SPDX-License-Identifier: BSL-1.0
// The audit must be able to fail. Each case simulates a wild write into the heap's metadata (the
// page map sits in the page source's memory; span records are reachable through lookup()), checks
// that the census names what broke, then undoes the write and checks the audit is clean again.
#define BOOST_TEST_MODULE audit
#include <cstdint>
#include <string>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {
using Config = test::ArenaConfig<>;
using TestHeap = Heap<Config>;

// The page map is the first page-aligned thing in the reservation (mheap/page_source.hpp).
void** page_map_of(TestHeap& heap) {
  auto raw = reinterpret_cast<std::uintptr_t>(heap.page_source().base());
  return reinterpret_cast<void**>((raw + kPage - 1) & ~(kPage - 1));
}
SpanHeader* writable(const SpanHeader* h) { return const_cast<SpanHeader*>(h); }

void require_failure_mentions(TestHeap& heap, const std::string& words) {
  const AuditReport report = heap.audit();
  BOOST_TEST(!report);
  BOOST_TEST(std::string(report.what()).find(words) != std::string::npos, "report was:\n" << report.what());
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_cleared_page_map_entry_is_reported) {
  auto heap = test::make_heap<TestHeap>();
  auto s = heap->alloc<GCSpanPolicy>(4);  // the first span: arena page 0
  require_clean(*heap);
  void** map = page_map_of(*heap);
  void* saved = map[2];
  BOOST_REQUIRE(saved == s.header());
  map[2] = nullptr;
  require_failure_mentions(*heap, "page map: page 2 of span");
  map[2] = saved;
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_span_that_changed_length_breaks_the_tiling) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(4);
  auto b = heap->alloc<GCSpanPolicy>(4);
  writable(a.header())->npages = 5;
  require_failure_mentions(*heap, "does not start a span");
  writable(a.header())->npages = 4;
  require_clean(*heap);
  (void)b;
}

BOOST_AUTO_TEST_CASE(a_span_charged_to_the_wrong_kind_shows_in_the_counters) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(4);
  const auto gc_kind = a.header()->kind;
  writable(a.header())->kind = Config::SpanKinds::index_of<StackSpanPolicy>;
  require_failure_mentions(*heap, "wrong state for");
  writable(a.header())->state = SpanState::manual;
  require_failure_mentions(*heap, "heap_inuse is 32768, spans say 0");
  writable(a.header())->state = SpanState::in_use;
  writable(a.header())->kind = gc_kind;
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(released_pages_that_no_counter_knows_of_are_reported) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(4);
  auto* live = static_cast<TestHeap::span_type*>(writable(a.header()));  // the whole record
  live->idle.npreleased = 1;
  require_failure_mentions(*heap, "live span at");
  live->idle.npreleased = 0;
  require_clean(*heap);
}

// Long free spans live in one of two trees by whether all their pages are released
// (mheap/free_set.hpp); a span whose pages changed under it sits in the wrong one.
BOOST_AUTO_TEST_CASE(a_long_span_in_the_wrong_tree_is_reported) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(200);
  auto fence = heap->alloc<GCSpanPolicy>(1);  // a is not merged into what follows
  auto* record = static_cast<TestHeap::span_type*>(writable(a.header()));
  heap->free(a);
  require_clean(*heap);
  record->idle.npreleased = 200;
  require_failure_mentions(*heap, "is in the large-span tree for resident spans");
  record->idle.npreleased = 0;
  require_clean(*heap);
  BOOST_TEST(heap->scavenge(200 * kPage) == 200 * kPage);  // a moves to the tree of released spans
  record->idle.npreleased = 199;
  require_failure_mentions(*heap, "is in the large-span tree for released spans");
  record->idle.npreleased = 200;
  require_clean(*heap);
  (void)fence;
}

BOOST_AUTO_TEST_CASE(a_live_span_marked_free_is_not_in_the_free_set) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(4);
  writable(a.header())->state = SpanState::free;
  require_failure_mentions(*heap, "is not in the free set");
  writable(a.header())->state = SpanState::in_use;
  require_clean(*heap);
}
