// SPDX-License-Identifier: BSL-1.0
// In AddressSanitizer builds (bazel test --config=asan), a free or released span's memory is
// poisoned and unpoisoned when handed out again, so a use after free of a span is reported at the
// faulting access. Without ASan these cases are skipped (the suite's asan run executes them).
#define BOOST_TEST_MODULE poison
#include <memory>
#include <new>
#include <string>

#include "test/test_support.hpp"

#if defined(MHEAP_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using namespace mheap;
using mheap::test::kAsan;
using mheap::test::kPage;

namespace {
using TestHeap = Heap<test::ArenaConfig<std::size_t{16} << 20>>;

bool poisoned([[maybe_unused]] const void* p) {
#if defined(MHEAP_ASAN)
  return __asan_address_is_poisoned(p) != 0;
#else
  return false;
#endif
}

}  // namespace

BOOST_AUTO_TEST_CASE(free_spans_are_poisoned_and_live_spans_are_not, *boost::unit_test::enable_if<kAsan>()) {
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(4);
  auto* p = static_cast<char*>(a.base());
  BOOST_TEST(!poisoned(p));
  BOOST_TEST(!poisoned(p + 4 * kPage - 1));
  BOOST_TEST(poisoned(p + 4 * kPage));  // the free tail of the grown chunk
  heap->free(a);
  BOOST_TEST(poisoned(p));
  BOOST_TEST(poisoned(p + 2 * kPage));
  auto b = heap->alloc<GCSpanPolicy>(2, true);  // reuses the start: unpoisoned, and zeroed
  BOOST_TEST(!poisoned(b.base()));
  BOOST_TEST(poisoned(p + 2 * kPage));
  heap->free(b);
  heap->release_all();  // released memory stays poisoned
  BOOST_TEST(poisoned(p));
  test::require_clean(*heap);
}

// Pages a growth adds to the free span ending the arena are poisoned where they lie, past the old
// end: the arena beyond its grown end was never poisoned, so poisoning from the span's base would
// leave the rest cut off after the request open.
BOOST_AUTO_TEST_CASE(pages_grown_into_a_free_span_are_poisoned, *boost::unit_test::enable_if<kAsan>()) {
  auto heap = test::make_heap<TestHeap>();
  auto first = heap->alloc<GCSpanPolicy>(4);
  const std::size_t chunk = heap->stats().heap_sys / kPage;  // the first growth: min_grow_bytes
  auto rest = heap->alloc<GCSpanPolicy>(chunk - 4);
  BOOST_REQUIRE(rest);
  heap->free(rest);  // the arena now ends in a free span of chunk - 4 pages
  auto* p = static_cast<char*>(first.base());
  auto big = heap->alloc<GCSpanPolicy>(chunk + 72);  // joins it with one more chunk of new pages
  BOOST_REQUIRE(big);
  BOOST_TEST(big.base() == p + 4 * kPage);
  BOOST_REQUIRE(heap->stats().heap_sys == 2 * chunk * kPage);
  BOOST_TEST(!poisoned(p + (chunk + 76) * kPage - 1));  // the span's last byte
  BOOST_TEST(poisoned(p + (chunk + 76) * kPage));       // the free rest after it ...
  BOOST_TEST(poisoned(p + 2 * chunk * kPage - 1));      // ... to the arena's new end
  heap->free(big);
  heap->free(first);
  test::require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_use_after_free_of_a_span_is_reported, *boost::unit_test::enable_if<kAsan>()) {
  auto [clean_exit, aborted, report, signal] = test::run_in_child([] {
    auto heap = test::make_heap<TestHeap>();
    auto a = heap->alloc<GCSpanPolicy>(3);
    auto* p = static_cast<volatile char*>(a.base());
    p[100] = 1;  // fine while live
    heap->free(a);
    p[100] = 2;  // use after free
  });
  BOOST_TEST(!clean_exit);
  BOOST_TEST(report.find("use-after-poison") != std::string::npos, "child stderr:\n" << report);
}

BOOST_AUTO_TEST_CASE(poisoning_is_off_without_asan, *boost::unit_test::enable_if<!kAsan>()) {
  // Without ASan the hooks are empty: a freed span's memory stays accessible (no tool would
  // report it); nothing to check beyond the heap working as usual.
  auto heap = test::make_heap<TestHeap>();
  auto a = heap->alloc<GCSpanPolicy>(1);
  heap->free(a);
  test::require_clean(*heap);
}

// A destroyed heap takes its marks back: whatever uses the memory next must not meet stale poison
// (before the fix a later mapping at the same address, or a later local buffer where a StaticArena
// heap had lived, reported use-after-poison on its first write).
BOOST_AUTO_TEST_CASE(a_destroyed_heap_leaves_no_poison_behind, *boost::unit_test::enable_if<kAsan>()) {
#if defined(MHEAP_ASAN)
  // A StaticArena heap placed in memory the test owns and keeps after the heap is gone.
  using ArenaHeap = Heap<test::ArenaConfig<std::size_t{1} << 20>>;
  auto storage = std::make_unique<std::byte[]>(sizeof(ArenaHeap) + alignof(ArenaHeap));
  void* raw = storage.get();
  std::size_t room = sizeof(ArenaHeap) + alignof(ArenaHeap);
  void* at = std::align(alignof(ArenaHeap), sizeof(ArenaHeap), raw, room);
  auto* heap = ::new (at) ArenaHeap();
  auto a = heap->alloc<GCSpanPolicy>(3);
  auto b = heap->alloc<GCSpanPolicy>(2);
  heap->free(a);
  BOOST_TEST(__asan_region_is_poisoned(at, sizeof(ArenaHeap)) != nullptr);  // free span and guards
  heap->free(b);
  heap->~ArenaHeap();
  BOOST_TEST(__asan_region_is_poisoned(at, sizeof(ArenaHeap)) == nullptr);

  // An MmapSource heap: its reservation is unmapped, and the next mapping there must be clean.
  std::byte* arena_start = nullptr;
  std::size_t grown = 0;
  {
    // On the heap, where operator new honours the heap's 64-byte alignment (ASan's fake stack
    // frames need not).
    auto mapped = test::make_heap<Heap<test::MmapConfig>>(std::size_t{64} << 20);
    auto s = mapped->alloc<GCSpanPolicy>(1);
    arena_start = static_cast<std::byte*>(s.base());
    grown = mapped->stats().heap_sys;
    mapped->free(s);
    BOOST_TEST(__asan_region_is_poisoned(arena_start, grown) != nullptr);
  }
  BOOST_TEST(__asan_region_is_poisoned(arena_start - kPage, grown + kPage) == nullptr);
#endif
}
