// SPDX-License-Identifier: BSL-1.0
// The guards between the page map, the arena and the span records (mheap/layout.hpp): the layout
// computed on its own, and a one-byte overflow off the last span or underflow off the first span of
// a fully grown heap faulting instead of rewriting the heap's metadata.
#define BOOST_TEST_MODULE guard
#include <algorithm>
#include <csignal>
#include <string>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kAsan;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;

constexpr LayoutShape kShape{13, 8, 72, 2};  // 8 KiB pages, 8-byte entries, 72-byte records, 16 KiB chunks
constexpr std::uintptr_t kBase = std::uintptr_t{1} << 32;

// Records the span pool carves from `bytes` of record region: whole chunks, each losing its tail
// shorter than a record, then what is left as the last chunk (mheap/span_pool.hpp).
std::size_t records_in(const LayoutShape& shape, std::size_t bytes) {
  const std::size_t chunk = shape.pool_chunk_pages << shape.page_shift;
  return bytes / chunk * (chunk / shape.record_bytes) + bytes % chunk / shape.record_bytes;
}

// Everything a layout promises, for one reservation.
void check_layout(const LayoutShape& shape, std::uintptr_t base, std::size_t capacity, std::size_t granule) {
  const Layout l = lay_out(shape, base, capacity, granule);
  BOOST_REQUIRE(l.usable());
  const std::size_t page = std::size_t{1} << shape.page_shift;
  const std::uintptr_t map_end = l.map + layout::map_bytes(shape, l.arena_pages);
  const std::uintptr_t arena_end = l.arena + (std::uintptr_t{l.arena_pages} << shape.page_shift);
  BOOST_TEST(l.map >= base);
  BOOST_TEST(l.map % page == 0u);
  BOOST_TEST(l.arena % page == 0u);
  BOOST_TEST(l.pool + l.pool_bytes <= base + capacity);
  BOOST_TEST(l.pool_bytes >= layout::pool_bytes(shape, l.arena_pages));
  // A record for every page plus the two a growth holds, or as many as the configuration bounds
  // them to: never fewer, and no whole page more.
  const std::size_t wanted = shape.reserved_records != 0 ? std::min(shape.reserved_records, l.arena_pages + 2) : l.arena_pages + 2;
  BOOST_TEST(records_in(shape, l.pool_bytes) >= wanted);
  BOOST_TEST(records_in(shape, l.pool_bytes - page) < wanted);
  // The map covers every arena page.
  BOOST_TEST(layout::map_bytes(shape, l.arena_pages) >= l.arena_pages * shape.map_entry_bytes);
  if (granule == 0) {
    BOOST_TEST(l.arena == map_end);
    BOOST_TEST(l.pool == arena_end);
  } else {
    // A whole guard granule sits between each pair, untouched even by commits the source rounds
    // outward to its granule.
    const std::size_t g = std::max(granule, page);
    BOOST_TEST(l.guard_bytes == g);
    BOOST_TEST(l.arena % g == 0u);
    BOOST_TEST(l.pool % g == 0u);
    BOOST_TEST((map_end + g - 1) / g * g <= l.arena - g);
    BOOST_TEST((arena_end + g - 1) / g * g <= l.pool - g);
  }
  // The arena is the largest that fits.
  std::uintptr_t end = 0;
  layout::place(shape, l.map, l.arena_pages + 1, l.guard_bytes, end);
  BOOST_TEST(end > base + capacity);
}

}  // namespace

BOOST_AUTO_TEST_CASE(layouts_keep_their_promises) {
  for (std::size_t granule : {std::size_t{0}, std::size_t{4096}, std::size_t{8192}, std::size_t{2} << 20}) {
    check_layout(kShape, kBase, std::size_t{64} << 20, granule);
    check_layout(kShape, kBase + 4096, std::size_t{64} << 20, granule);  // misaligned base
    check_layout(kShape, kBase, (std::size_t{64} << 30) + 12345, granule);
  }
  constexpr LayoutShape small{8, 4, 32, 1};  // 256-byte pages on a 32-bit-like target
  check_layout(small, kBase, std::size_t{64} << 10, 256);
  check_layout(small, kBase, std::size_t{64} << 10, 0);
  for (std::size_t records : {2, 3, 64, 200, 100000}) {
    LayoutShape bounded = small;
    bounded.reserved_records = records;
    check_layout(bounded, kBase, std::size_t{64} << 10, 0);
    LayoutShape big = kShape;
    big.reserved_records = records;
    check_layout(big, kBase, std::size_t{64} << 20, 4096);
  }
}

// What a 64 KiB arena keeps for spans with the small configuration's 32-byte records and 4-byte
// map entries (docs/embedded.md): the shares issue 11 asks for, at 256-byte and 1 KiB pages.
BOOST_AUTO_TEST_CASE(a_small_arena_is_mostly_pages) {
  constexpr std::size_t arena = std::size_t{64} << 10;
  constexpr LayoutShape p256{8, 4, 32, 1}, p1k{10, 4, 32, 1};
  // One record per page, the worst case: 223 of 256 pages (87 %), 61 of 64 (95 %).
  BOOST_TEST(lay_out(p256, kBase, arena, 0).arena_pages == 223u);
  BOOST_TEST(lay_out(p1k, kBase, arena, 0).arena_pages == 61u);
  // At most 64 spans at once: 244 of 256 pages (95 %).
  LayoutShape bounded = p256;
  bounded.reserved_records = 64;
  BOOST_TEST(lay_out(bounded, kBase, arena, 0).arena_pages == 244u);
}

BOOST_AUTO_TEST_CASE(a_reservation_too_small_for_one_page_is_unusable) {
  BOOST_TEST(!lay_out(kShape, kBase, 3 * 8192, 4096).usable());
  BOOST_TEST(!lay_out(kShape, 0, std::size_t{64} << 20, 4096).usable());
  BOOST_TEST(!lay_out(kShape, kBase + 1, 8192, 0).usable());
}

static_assert(lay_out(kShape, kBase, std::size_t{1} << 20, 4096).usable(), "the layout is a constant expression");

namespace {
// OS memory, small enough to fill: the arena ends where its guard begins.
struct SmallMmap : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  static constexpr std::size_t span_cache_pages = 0;
};

// Fills the whole arena with one span and writes one byte just past its end or just before its
// start. Exits 3 if the heap could not be filled, 4/5 (audit clean/broken) if the write went through.
void write_off_a_full_heap(bool past_the_end) {
  auto heap = test::make_heap<Heap<SmallMmap>>(std::size_t{4} << 20);
  auto all = heap->alloc<GC>(heap->capacity_pages());
  if (!all) _exit(3);
  auto* base = static_cast<volatile char*>(all.base());
  if (past_the_end)
    base[all.bytes()] = 1;
  else
    base[-1] = 1;
  _exit(heap->audit() ? 4 : 5);
}

// The write faulted: SIGSEGV on the protected guard (under ASan, its report on the poisoned guard).
bool faulted(const test::ChildResult& r) {
  if (r.signal == SIGSEGV) return true;
  return kAsan && !r.clean_exit && r.stderr_text.find("AddressSanitizer") != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_whole_arena_is_usable_between_the_guards) {
  auto heap = test::make_heap<Heap<SmallMmap>>(std::size_t{4} << 20);
  auto all = heap->alloc<GC>(heap->capacity_pages(), true);
  BOOST_REQUIRE(all);
  auto* p = static_cast<volatile char*>(all.base());
  p[0] = 1;
  p[all.bytes() - 1] = 1;
  BOOST_TEST(!heap->alloc<GC>(1));
  require_clean(*heap);
  heap->free(all);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(one_byte_past_the_last_span_faults) {
  const auto r = test::run_in_child([] { write_off_a_full_heap(true); });
  BOOST_TEST(faulted(r), "child ended with signal " << r.signal << ", stderr: " << r.stderr_text);
}

BOOST_AUTO_TEST_CASE(one_byte_before_the_first_span_faults) {
  const auto r = test::run_in_child([] { write_off_a_full_heap(false); });
  BOOST_TEST(faulted(r), "child ended with signal " << r.signal << ", stderr: " << r.stderr_text);
}

// A StaticArena cannot protect memory: under AddressSanitizer its guards are poisoned instead.
BOOST_AUTO_TEST_CASE(static_arena_guards_are_poisoned_for_asan, *boost::unit_test::enable_if<kAsan>()) {
  const auto r = test::run_in_child([] {
    auto heap = test::make_heap<Heap<test::ArenaConfig<std::size_t{1} << 20>>>();
    auto all = heap->alloc<GC>(heap->capacity_pages());
    if (!all) _exit(3);
    static_cast<volatile char*>(all.base())[all.bytes()] = 1;
    _exit(0);
  });
  BOOST_TEST(!r.clean_exit);
  BOOST_TEST(r.stderr_text.find("use-after-poison") != std::string::npos, "stderr: " << r.stderr_text);
}
