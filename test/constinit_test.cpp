// SPDX-License-Identifier: BSL-1.0
// A heap on a StaticArena declared `constinit` (docs/embedded.md): nothing runs before main() and
// nothing at exit, its bytes are all zero until first use (so it sits in .bss), every call before
// the first allocation has a defined outcome, the first allocation lays it out exactly as a heap
// built at run time, and fresh pages are not cleared a second time. A StaticArena built at run
// time over garbage still hands out zeroed pages.
#define BOOST_TEST_MODULE constinit
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "test/test_support.hpp"

using namespace mheap;

namespace {

// 4 KiB pages, 8 MiB: big enough that clearing it would show in the resident set.
template <class Tree, std::size_t ListPages>
struct StaticConfig : DefaultConfig {
  using Lock = NullLock;
  using PageSource = StaticArena<std::size_t{8} << 20>;
  using MisusePolicy = RecordMisuse;
  using LargeSpanTree = Tree;
  static constexpr std::size_t page_shift = 12;
  static constexpr std::size_t max_list_pages = ListPages;
  static constexpr bool internal_checks = true;
};
using WithTree = StaticConfig<RbTree, 128>;
using Lists = StaticConfig<NoTree, (std::size_t{8} << 20 >> 12) + 1>;

// One heap per case: each case must meet its heap unused.
constinit Heap<WithTree> untouched_tree_heap;
constinit Heap<Lists> untouched_list_heap;
constinit Heap<WithTree> resident_heap;
constinit Heap<Lists> misuse_heap;
// The paced bound on (its state is all zero too), with a floor this arena can pass.
struct Paced : WithTree {
  static constexpr unsigned idle_retention_percent = 50;
  static constexpr std::size_t idle_retention_floor_bytes = std::size_t{1} << 20;
  static constexpr std::uint32_t idle_retention_decay_ms = 0;  // at once: no clock to move here
};
constinit Heap<Paced> paced_heap;

// Nothing to run at exit, unless this build marks memory for a sanitizer (the heap then takes its
// marks back when it goes).
static_assert(std::is_trivially_destructible_v<Heap<WithTree>> || detail::marks_memory<false>);
static_assert(std::is_trivially_destructible_v<Heap<Lists>> || detail::marks_memory<false>);
// A heap that must let go of threads' caches keeps its destructor.
static_assert(!std::is_trivially_destructible_v<Heap<>>);

template <class H>
bool all_zero_bytes(const H& heap) {
  const auto* p = reinterpret_cast<const unsigned char*>(&heap);
  return std::all_of(p, p + sizeof(H), [](unsigned char b) { return b == 0; });
}

// Pages of [p, p + bytes) in memory (mincore): a page nobody wrote to is not.
std::size_t resident_pages(const void* p, std::size_t bytes) {
  const std::size_t os_page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p) / os_page * os_page;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes + os_page - 1) / os_page * os_page;
  std::vector<unsigned char> in((end - begin) / os_page);
  BOOST_REQUIRE(mincore(reinterpret_cast<void*>(begin), end - begin, in.data()) == 0);
  return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char v) { return v & 1; }));
}

template <class H>
void first_use_matches_a_heap_built_at_run_time(H& heap) {
  BOOST_TEST(all_zero_bytes(heap));  // constant-initialised to zero: .bss, nothing ran
  auto built = test::make_heap<H>();  // the same configuration, laid out by its constructor
  BOOST_TEST(heap.capacity_pages() == built->capacity_pages());  // known before the first use
  BOOST_TEST(heap.capacity_pages() > 0u);
  BOOST_TEST(all_zero_bytes(heap));  // asking did not lay it out

  // Observers and misuse before the first allocation: defined, and nothing moves.
  test::require_clean(heap);
  BOOST_TEST(heap.stats() == Stats{});
  BOOST_TEST(heap.scavenge(std::size_t{1} << 20) == 0u);
  BOOST_TEST(!heap.span_at(&heap).has_value());
  BOOST_TEST(heap.lookup(&heap) == nullptr);
  auto foreign = built->template alloc<GCSpanPolicy>(1);
  heap.free(foreign);
  BOOST_TEST(heap.misuse_policy().count == 1u);
  BOOST_TEST(heap.misuse_policy().last.what == Misuse::foreign_span);
  heap.template free_at<GCSpanPolicy>(foreign.base());
  BOOST_TEST(heap.misuse_policy().last.what == Misuse::outside_heap);
  built->free(foreign);
  BOOST_TEST(heap.template alloc<GCSpanPolicy>(0).base() == nullptr);
  BOOST_TEST(heap.template alloc<GCSpanPolicy>(heap.capacity_pages() + 1).base() == nullptr);
  test::require_clean(heap);

  // The first allocation lays the heap out: the same spans as the heap built at run time.
  std::vector<SpanRef<GCSpanPolicy>> mine, theirs;
  for (std::size_t n : {1, 3, 200, 2, 700, 1}) {
    mine.push_back(heap.template alloc<GCSpanPolicy>(n, true));
    theirs.push_back(built->template alloc<GCSpanPolicy>(n, true));
    BOOST_REQUIRE(mine.back() && theirs.back());
    const auto* base = static_cast<const std::byte*>(heap.page_source().base());
    const auto* their_base = static_cast<const std::byte*>(built->page_source().base());
    BOOST_TEST(static_cast<const std::byte*>(mine.back().base()) - base ==
               static_cast<const std::byte*>(theirs.back().base()) - their_base);
    test::require_clean(heap);
  }
  BOOST_TEST(heap.stats() == built->stats());
  for (std::size_t i = 0; i < mine.size(); i += 2) {
    heap.free(mine[i]);
    built->free(theirs[i]);
    test::require_clean(heap);
  }
  BOOST_TEST(heap.stats() == built->stats());
  BOOST_TEST(heap.capacity_pages() == built->capacity_pages());
  for (std::size_t i = 1; i < mine.size(); i += 2) heap.free(mine[i]);
  BOOST_TEST(heap.stats().heap_inuse == 0u);
  test::require_clean(heap);
}

}  // namespace

BOOST_AUTO_TEST_CASE(first_use_with_a_tree) { first_use_matches_a_heap_built_at_run_time(untouched_tree_heap); }
BOOST_AUTO_TEST_CASE(first_use_with_lists_only) { first_use_matches_a_heap_built_at_run_time(untouched_list_heap); }

// .bss is zero already: a span of fresh pages that nobody writes stays out of memory. (A heap that
// cleared what it commits would touch every page of it.)
BOOST_AUTO_TEST_CASE(fresh_pages_are_not_cleared_twice) {
  auto s = resident_heap.alloc<GCSpanPolicy>(1024, /*zeroed=*/true);  // 4 MiB, fresh: zero already
  BOOST_REQUIRE(s);
  BOOST_TEST(resident_pages(s.base(), s.bytes()) <= 1u);  // at most a page shared with something else
  const auto* bytes = static_cast<const unsigned char*>(s.base());
  BOOST_TEST((bytes[0] == 0 && bytes[s.bytes() / 2] == 0 && bytes[s.bytes() - 1] == 0));
  resident_heap.free(s);
  test::require_clean(resident_heap);
}

// Built at run time over memory full of garbage, a StaticArena clears what it commits.
BOOST_AUTO_TEST_CASE(an_arena_built_at_run_time_clears_what_it_commits) {
  using H = Heap<Lists>;
  auto* raw = static_cast<unsigned char*>(::operator new(sizeof(H), std::align_val_t{alignof(H)}));
  std::memset(raw, 0xab, sizeof(H));
  H* heap = ::new (raw) H;
  auto s = heap->alloc<GCSpanPolicy>(5);
  BOOST_REQUIRE(s);
  const auto* bytes = static_cast<const unsigned char*>(s.base());
  BOOST_TEST(std::all_of(bytes, bytes + s.bytes(), [](unsigned char b) { return b == 0; }));
  heap->free(s);
  test::require_clean(*heap);
  heap->~H();
  ::operator delete(raw, std::align_val_t{alignof(H)});
}

// Double frees and wrong addresses on the list-only heap, after its first use: reported, the audit
// clean.
BOOST_AUTO_TEST_CASE(misuse_on_a_list_only_heap) {
  auto a = misuse_heap.alloc<GCSpanPolicy>(4);
  auto b = misuse_heap.alloc<StackSpanPolicy>(2);
  BOOST_REQUIRE((a && b));
  const auto stale = a;
  misuse_heap.free(a);
  misuse_heap.free(stale);
  BOOST_TEST(misuse_heap.misuse_policy().last.what == Misuse::double_free);
  misuse_heap.free_at<GCSpanPolicy>(b.base());
  BOOST_TEST(misuse_heap.misuse_policy().last.what == Misuse::wrong_kind);
  misuse_heap.free_at<StackSpanPolicy>(static_cast<std::byte*>(b.base()) + 1);
  BOOST_TEST(misuse_heap.misuse_policy().last.what == Misuse::not_span_base);
  BOOST_TEST(misuse_heap.misuse_policy().count == 3u);
  test::require_clean(misuse_heap);
  misuse_heap.free(b);
  BOOST_TEST(misuse_heap.stats().heap_inuse == 0u);
  BOOST_TEST(misuse_heap.stats().stacks_inuse == 0u);
  test::require_clean(misuse_heap);
}

// A constant-initialised heap that paces starts as zero bytes, and then paces: 4 MiB of long spans
// freed against a 1 MiB floor are given back (StaticArena zeroes and counts them).
BOOST_AUTO_TEST_CASE(a_heap_that_paces_is_constant_initialised_all_the_same) {
  BOOST_TEST(all_zero_bytes(paced_heap));
  std::vector<SpanRef<GCSpanPolicy>> spans;
  for (int i = 0; i < 4; ++i) spans.push_back(paced_heap.alloc<GCSpanPolicy>(256));  // 1 MiB each
  for (auto& s : spans) paced_heap.free(s);
  BOOST_TEST(paced_heap.stats().heap_released > 0u);
  test::require_clean(paced_heap);
}
