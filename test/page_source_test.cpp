// SPDX-License-Identifier: BSL-1.0
// Page sources: StaticArena and MmapSource reach the same heap, a refused reservation falls back
// to a halving of it, a failed one (even at the floor) gives a heap that refuses politely, and a
// source that fails the k-th commit (for every k) leaves the heap exactly as it was, with the next
// call working.
#define BOOST_TEST_MODULE page_source
#include <cstdint>
#include <cstring>
#include <vector>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

// Wraps a real source and refuses exactly one chosen commit (the k-th, counting from 1).
template <class Inner>
class FailingSource {
 public:
  template <class... Args>
  explicit FailingSource(Args&&... args) : inner_(std::forward<Args>(args)...) {}
  std::byte* base() { return inner_.base(); }
  std::size_t capacity() const { return inner_.capacity(); }
  bool commit(std::byte* p, std::size_t n) {
    if (++commits_ == fail_at_) return false;
    return inner_.commit(p, n);
  }
  void fail_commit_number(std::size_t k) { fail_at_ = k; }
  std::size_t commits() const { return commits_; }

 private:
  Inner inner_;
  std::size_t commits_ = 0;
  std::size_t fail_at_ = 0;
};
static_assert(PageSourcePolicy<FailingSource<MmapSource>>);

template <class Inner, std::size_t CachePages = 0>
struct FaultConfig : test::ArenaConfig<> {
  using PageSource = FailingSource<Inner>;
  static constexpr std::size_t span_cache_pages = CachePages;
  static constexpr std::size_t min_grow_bytes = std::size_t{64} << 10;     // grow often
  static constexpr std::size_t span_pool_chunk_bytes = std::size_t{8} << 10;  // and refill records often
};

// A fixed script that commits many times: growths, page-map pages and record chunks. Each
// allocation runs through attempt(alloc), which returns whether it succeeded.
template <class H, class Attempt>
void script(H& heap, Attempt attempt) {
  std::vector<SpanRef<GCSpanPolicy>> gc;
  std::vector<SpanRef<StackSpanPolicy>> stacks;
  for (int i = 0; i < 400; ++i) {
    const std::size_t pages = 1 + (i * 37) % 90;
    if (i % 3 == 0) {
      SpanRef<StackSpanPolicy> s;
      if (attempt([&] { return static_cast<bool>(s = heap.template alloc<StackSpanPolicy>(pages)); }))
        stacks.push_back(s);
    } else {
      SpanRef<GCSpanPolicy> s;
      if (attempt([&] { return static_cast<bool>(s = heap.template alloc<GCSpanPolicy>(pages)); })) gc.push_back(s);
    }
    if (i % 5 == 4 && !gc.empty()) {  // free some, so records are retired and reused
      heap.free(gc.front());
      gc.erase(gc.begin());
    }
  }
}

}  // namespace

// Runs the script once per commit k, failing exactly commit k, and checks each failed request.
// `same` compares the counters before and after a failed request.
template <class H, class Same>
void fail_every_commit(Same same) {
  std::size_t total = 0;
  {
    auto heap = test::make_heap<H>(std::size_t{256} << 20);
    script(*heap, [](auto alloc) {
      const bool ok = alloc();
      BOOST_REQUIRE(ok);
      return ok;
    });
    total = heap->page_source().commits();
    require_clean(*heap);
  }
  BOOST_TEST_MESSAGE("script commits " << total << " times");
  BOOST_REQUIRE(total >= 20u);

  for (std::size_t k = 1; k <= total; ++k) {
    auto heap = test::make_heap<H>(std::size_t{256} << 20);
    heap->page_source().fail_commit_number(k);
    int failures = 0;
    script(*heap, [&](auto alloc) {
      const Stats before = heap->stats();
      const bool ok = alloc();
      if (!ok) {
        ++failures;
        same(before, heap->stats());
        require_clean(*heap);
      }
      return ok;
    });
    BOOST_TEST(failures == 1, "commit " << k << " of " << total);  // and every later call worked
    BOOST_TEST(heap->events().grow_failures <= 1u);
    require_clean(*heap);
  }
}

BOOST_AUTO_TEST_CASE(every_failed_commit_leaves_the_heap_as_it_was) {
  fail_every_commit<Heap<FaultConfig<MmapSource>>>([](const Stats& before, const Stats& after) {
    BOOST_TEST(after == before);  // nothing the heap accounts for moved
  });
}

BOOST_AUTO_TEST_CASE(with_a_span_cache_a_failed_commit_only_flushes_the_cache) {
  // Before growing, the heap flushes its span cache into the free set (merging spans retires
  // their records). That survives a failed growth; every byte of span memory is where it was.
  fail_every_commit<Heap<FaultConfig<MmapSource, 256>>>([](const Stats& before, const Stats& after) {
    Stats ignoring_records = after;
    ignoring_records.mspan_inuse = before.mspan_inuse;
    BOOST_TEST(ignoring_records == before);
    BOOST_TEST(after.mspan_inuse <= before.mspan_inuse);
  });
}

BOOST_AUTO_TEST_CASE(a_failed_reservation_gives_a_heap_that_refuses) {
  using H = Heap<test::MmapConfig>;
  // More address space than any machine has, and a floor that is no less: nothing to fall back to.
  auto heap = test::make_heap<H>(std::size_t{1} << 62, std::size_t{1} << 61);
  BOOST_TEST(heap->page_source().base() == nullptr);
  BOOST_TEST(heap->page_source().capacity() == 0u);
  BOOST_TEST(heap->page_source().requested() == std::size_t{1} << 62);
  BOOST_TEST(heap->capacity_pages() == 0u);
  BOOST_TEST(!heap->alloc<GCSpanPolicy>(1));
  BOOST_TEST(heap->lookup(nullptr) == nullptr);
  BOOST_TEST(heap->stats() == Stats{});
  require_clean(*heap);
}

// A refused reservation is asked again at half the size until the kernel grants one: 2^62 bytes
// never fit (user space is 2^47 bytes, 2^56 with 5-level paging), a halving does, and the heap
// works in it.
BOOST_AUTO_TEST_CASE(a_refused_reservation_falls_back_to_a_halving) {
  using H = Heap<test::MmapConfig>;
  auto heap = test::make_heap<H>(std::size_t{1} << 62);
  const std::size_t got = heap->page_source().capacity();
  BOOST_TEST(heap->page_source().requested() == std::size_t{1} << 62);
  BOOST_TEST(got < heap->page_source().requested());
  BOOST_TEST(got >= MmapSource::default_floor_bytes);
  BOOST_TEST((got & (got - 1)) == 0u);  // 2^62 halved some times
  BOOST_TEST(heap->page_source().base() != nullptr);
  auto span = heap->alloc<GCSpanPolicy>(16);
  BOOST_TEST(static_cast<bool>(span));
  heap->free(span);
  require_clean(*heap);
}

// A reservation below the floor is tried as asked and not refused for being small.
BOOST_AUTO_TEST_CASE(a_reservation_below_the_floor_is_taken_as_asked) {
  MmapSource source(std::size_t{1} << 20);
  BOOST_TEST(source.capacity() == std::size_t{1} << 20);
  BOOST_TEST(source.requested() == std::size_t{1} << 20);
}

BOOST_AUTO_TEST_CASE(mmap_source_reservation_is_a_hard_limit) {
  using H = Heap<test::MmapConfig>;
  auto heap = test::make_heap<H>(std::size_t{8} << 20);
  std::vector<SpanRef<GCSpanPolicy>> spans;
  while (auto s = heap->alloc<GCSpanPolicy>(16, true)) {
    static_cast<char*>(s.base())[0] = 1;  // the memory is really there
    spans.push_back(s);
  }
  BOOST_TEST(spans.size() >= 60u);
  BOOST_TEST(heap->stats().heap_sys <= std::uint64_t{8} << 20);
  for (auto s : spans) heap->free(s);
  require_clean(*heap);
}

// The guard capability (GuardingPageSourcePolicy): protect() on committed memory makes it fault,
// unprotect() makes it usable again with its contents kept; both act on whole OS pages only.
static_assert(GuardingPageSourcePolicy<MmapSource>);
static_assert(!GuardingPageSourcePolicy<StaticArena<4096>>);
BOOST_AUTO_TEST_CASE(mmap_source_protects_and_unprotects_committed_pages) {
  MmapSource source(std::size_t{1} << 20);
  const std::size_t os_page = source.granule();
  std::byte* const p = source.base();
  BOOST_REQUIRE(source.commit(p, 4 * os_page));
  std::memset(p, 0x5A, 4 * os_page);
  // Whether one byte can be read, without faulting: write(2) says EFAULT instead.
  auto readable = [](const std::byte* q) {
    int fds[2];
    BOOST_REQUIRE(pipe(fds) == 0);
    const bool ok = write(fds[1], q, 1) == 1;
    close(fds[0]);
    close(fds[1]);
    return ok;
  };
  BOOST_TEST(source.protect(p + os_page, os_page));
  BOOST_TEST(readable(p + os_page - 1));
  BOOST_TEST(!readable(p + os_page));
  BOOST_TEST(!readable(p + 2 * os_page - 1));
  BOOST_TEST(readable(p + 2 * os_page));
  BOOST_TEST(source.unprotect(p + os_page, os_page));
  BOOST_TEST(readable(p + os_page));
  BOOST_TEST(static_cast<int>(p[os_page]) == 0x5A);  // contents kept
  // Partial OS pages are left alone (rounded inward): nothing to do, and that is success.
  BOOST_TEST(source.protect(p + os_page + 1, os_page - 2));
  BOOST_TEST(readable(p + os_page));
  BOOST_TEST(source.unprotect(p + os_page + 1, os_page - 2));
}

BOOST_AUTO_TEST_CASE(static_arena_is_zero_and_bounded) {
  StaticArena<std::size_t{1} << 20> arena;
  BOOST_TEST(arena.capacity() == std::size_t{1} << 20);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(arena.base()) % 4096 == 0u);
  std::memset(arena.base(), 0x5A, 64);  // garbage before the first commit ...
  BOOST_TEST(arena.commit(arena.base(), 4096));
  BOOST_TEST(static_cast<int>(arena.base()[0]) == 0);  // ... is cleared by it
  BOOST_TEST(!arena.commit(arena.base() + (1 << 20) - 4096, 8192));  // runs past the end
  BOOST_TEST(!arena.commit(arena.base() - 4096, 4096));               // before the start

  using H = Heap<test::ArenaConfig<std::size_t{1} << 20>>;
  auto heap = test::make_heap<H>();
  // 1 MiB of arena less its page map and records: a little under 128 pages.
  BOOST_TEST(heap->capacity_pages() < 128u);
  BOOST_TEST(heap->capacity_pages() >= 120u);
  auto all = heap->alloc<GCSpanPolicy>(heap->capacity_pages());
  BOOST_TEST(static_cast<bool>(all));
  BOOST_TEST(!heap->alloc<GCSpanPolicy>(1));
  require_clean(*heap);
  heap->free(all);
  require_clean(*heap);
}

namespace {
// Small pages and small record chunks waste the most per chunk.
struct SmallPages : test::ArenaConfig<std::size_t{1} << 20> {
  static constexpr std::size_t page_shift = 8;
  static constexpr std::size_t span_pool_chunk_bytes = 256;
  static constexpr std::size_t min_grow_bytes = 256;
  static constexpr std::size_t grow_granule_bytes = 256;
  static constexpr std::size_t span_cache_pages = 0;
};
}  // namespace

BOOST_AUTO_TEST_CASE(span_records_never_run_out_before_pages) {
  // One-page spans must still fill every page of the arena.
  auto heap = test::make_heap<Heap<SmallPages>>();
  std::size_t spans = 0;
  while (heap->alloc<GCSpanPolicy>(1)) ++spans;
  BOOST_TEST(spans == heap->capacity_pages());
  require_clean(*heap);
}
