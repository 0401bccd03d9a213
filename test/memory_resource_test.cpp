// SPDX-License-Identifier: BSL-1.0
// mheap::MemoryResource (mheap/memory_resource.hpp): std::pmr containers and the standard pool
// resources drawing their memory from a heap, page rounding and alignment, equality, exhaustion,
// and deallocations that do not match what was allocated. The audit runs after every step. The
// file uses two heap configurations with thread caches (Heap<> and MmapHeap), one through a
// MemoryResource: GCC 12 did not compile that while mheap/thread_caches.hpp kept a thread_local
// static data member with a destructor (GCC bug 66944).
#define BOOST_TEST_MODULE memory_resource
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory_resource>
#include <new>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "mheap/memory_resource.hpp"
#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

// OS memory, the default lock and per-thread caches, misuse recorded: what a program would use.
using MmapHeap = Heap<test::MmapConfig>;
constexpr std::size_t kReserve = std::size_t{1} << 30;
// A small fixed arena, single-threaded: exact counters and a heap that runs out.
using SmallHeap = Heap<test::ArenaConfig<std::size_t{2} << 20>>;
using ArenaHeap = Heap<test::ArenaConfig<>>;

template <class H>
std::uint64_t heap_inuse(const H& heap) {
  return heap.stats().heap_inuse;
}

bool aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(span_pages_rounds_to_whole_pages_and_adds_slack_above_the_page) {
  using R = MemoryResource<ArenaHeap>;
  static_assert(R::page_bytes == kPage);
  BOOST_TEST(R::span_pages(0, 1) == 1u);
  BOOST_TEST(R::span_pages(1, 8) == 1u);
  BOOST_TEST(R::span_pages(kPage, 16) == 1u);
  BOOST_TEST(R::span_pages(kPage + 1, 16) == 2u);
  BOOST_TEST(R::span_pages(kPage, kPage) == 1u);
  BOOST_TEST(R::span_pages(kPage, 4 * kPage) == 4u);  // 1 page + 3 pages of slack
  BOOST_TEST(R::span_pages(1, 2 * kPage) == 2u);
  BOOST_TEST(R::span_pages(3, 3) == 0u);  // not a power of two
  BOOST_TEST(R::span_pages(3, 0) == 0u);
  BOOST_TEST(R::span_pages(std::numeric_limits<std::size_t>::max(), 8) == 0u);
  BOOST_TEST(R::span_pages(std::numeric_limits<std::size_t>::max() - kPage, 2 * kPage) == 0u);
}

BOOST_AUTO_TEST_CASE(pmr_vector_draws_its_blocks_from_the_heap) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  MemoryResource<MmapHeap> resource(*heap);
  {
    std::pmr::vector<std::uint64_t> v(&resource);
    for (std::uint64_t i = 0; i < 200'000; ++i) {
      v.push_back(i);
      if ((i & (i - 1)) == 0) {  // after each power of two: the vector's one block, exactly
        const std::size_t bytes = v.capacity() * sizeof(std::uint64_t);
        BOOST_TEST(heap_inuse(*heap) == MemoryResource<MmapHeap>::span_pages(bytes, alignof(std::uint64_t)) * kPage);
        BOOST_TEST(heap->span_at(v.data()).has_value());
        require_clean(*heap);
      }
    }
    for (std::uint64_t i = 0; i < v.size(); ++i) BOOST_REQUIRE(v[i] == i);
    BOOST_TEST(heap->mem_stats().HeapInuse >= v.size() * sizeof(std::uint64_t));
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(monotonic_buffer_resource_on_top) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  MemoryResource<MmapHeap> resource(*heap);
  {
    std::pmr::monotonic_buffer_resource arena(&resource);
    std::pmr::vector<std::pmr::vector<int>> lists(&arena);
    for (int i = 0; i < 2'000; ++i) {
      lists.emplace_back(static_cast<std::size_t>(i % 97 + 1), i);
      if (i % 500 == 0) require_clean(*heap);
    }
    BOOST_TEST(heap_inuse(*heap) > 0u);
    for (int i = 0; i < 2'000; ++i) BOOST_REQUIRE(lists[static_cast<std::size_t>(i)].back() == i);
    lists = decltype(lists)(&arena);  // drop the containers; the monotonic resource keeps its buffers
    BOOST_TEST(heap_inuse(*heap) > 0u);
    arena.release();
    BOOST_TEST(heap_inuse(*heap) == 0u);
    require_clean(*heap);
    lists.emplace_back(10, 7);  // usable again after release
    BOOST_TEST(heap_inuse(*heap) > 0u);
    lists = decltype(lists)(&arena);
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(unsynchronized_pool_resource_on_top) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  MemoryResource<MmapHeap> resource(*heap);
  {
    std::pmr::unsynchronized_pool_resource pool({/*max_blocks_per_chunk=*/64, /*largest_required_pool_block=*/4096},
                                                &resource);
    struct Block {
      void* p;
      std::size_t bytes, alignment;
    };
    std::vector<Block> live;
    std::mt19937 rng(13);
    for (int step = 0; step < 20'000; ++step) {
      if (live.empty() || rng() % 3 != 0) {
        // Mostly pooled sizes; one in eight larger than the pools (straight to the heap). Sizes
        // are multiples of their alignment, as an object's are (libstdc++ 12's pools align a
        // block only to its pool's size).
        const std::size_t alignment = std::size_t{1} << (rng() % 5);
        const std::size_t raw = rng() % 8 == 0 ? 4097 + rng() % (64 << 10) : 1 + rng() % 4096;
        const std::size_t bytes = (raw + alignment - 1) / alignment * alignment;
        void* p = pool.allocate(bytes, alignment);
        BOOST_REQUIRE_MESSAGE(aligned(p, alignment), "pool block of " << bytes << " bytes at " << p << " not aligned to " << alignment);
        static_cast<unsigned char*>(p)[0] = 1;
        static_cast<unsigned char*>(p)[bytes - 1] = 2;
        live.push_back({p, bytes, alignment});
      } else {
        const std::size_t i = rng() % live.size();
        pool.deallocate(live[i].p, live[i].bytes, live[i].alignment);
        live[i] = live.back();
        live.pop_back();
      }
      if (step % 2'000 == 0) require_clean(*heap);
    }
    BOOST_TEST(heap_inuse(*heap) > 0u);
    for (const Block& b : live) pool.deallocate(b.p, b.bytes, b.alignment);
    require_clean(*heap);
    pool.release();
    BOOST_TEST(heap_inuse(*heap) == 0u);
    require_clean(*heap);
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(synchronized_pool_resource_shared_by_threads) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  MemoryResource<MmapHeap> resource(*heap);
  {
    std::pmr::synchronized_pool_resource pool(&resource);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
      threads.emplace_back([&pool, t] {
        std::mt19937 rng(t);
        std::pmr::vector<std::pmr::vector<std::uint32_t>> lists(&pool);
        for (int step = 0; step < 5'000; ++step) {
          if (lists.size() < 64 || rng() % 2 == 0) {
            const std::size_t n = 1 + rng() % (rng() % 16 == 0 ? 20'000 : 200);
            lists.emplace_back(n, t);
          } else {
            lists.erase(lists.begin() + static_cast<std::ptrdiff_t>(rng() % lists.size()));
          }
        }
        for (const auto& l : lists)
          if (!std::all_of(l.begin(), l.end(), [t](std::uint32_t x) { return x == t; })) std::abort();
      });
    }
    for (int i = 0; i < 20; ++i) require_clean(*heap);  // audits while the threads run
    for (std::thread& th : threads) th.join();
    require_clean(*heap);
    pool.release();
    BOOST_TEST(heap_inuse(*heap) == 0u);
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(resources_are_equal_over_the_same_heap_and_kind) {
  auto heap = test::make_heap<ArenaHeap>();
  auto other_heap = test::make_heap<ArenaHeap>();
  MemoryResource<ArenaHeap> a(*heap), b(*heap), elsewhere(*other_heap);
  MemoryResource<ArenaHeap, StackSpanPolicy> stacks(*heap);
  BOOST_TEST(a.is_equal(a));
  BOOST_TEST(a.is_equal(b));
  BOOST_TEST(b.is_equal(a));
  BOOST_TEST((a == b));
  BOOST_TEST(!a.is_equal(elsewhere));
  BOOST_TEST(!a.is_equal(stacks));  // same heap, another kind: it cannot free a's blocks as its kind
  BOOST_TEST(!stacks.is_equal(a));
  BOOST_TEST(!a.is_equal(*std::pmr::new_delete_resource()));
  BOOST_TEST(&a.heap() == heap.get());

  // Equal resources free each other's blocks; a container moves between them without copying.
  void* p = a.allocate(3 * kPage);
  BOOST_TEST(heap_inuse(*heap) == 3 * kPage);
  b.deallocate(p, 3 * kPage);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  std::pmr::vector<int> va({1, 2, 3}, &a);
  const int* data = va.data();
  std::pmr::vector<int> vb(&b);
  vb = std::move(va);
  BOOST_TEST(vb.data() == data);  // equal allocators: the buffer moved
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_block_is_charged_to_its_kind) {
  auto heap = test::make_heap<ArenaHeap>();
  MemoryResource<ArenaHeap, StackSpanPolicy> stacks(*heap);
  void* p = stacks.allocate(2 * kPage + 1);
  BOOST_TEST(heap->stats().stacks_inuse == 3 * kPage);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->mem_stats().StackInuse == 3 * kPage);
  require_clean(*heap);
  stacks.deallocate(p, 2 * kPage + 1);
  BOOST_TEST(heap->stats().stacks_inuse == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(alignment_up_to_the_page_is_free_above_it_costs_slack) {
  auto heap = test::make_heap<ArenaHeap>();
  MemoryResource<ArenaHeap> resource(*heap);
  // Up to the page: page-aligned, exactly the rounded pages.
  for (std::size_t alignment = 1; alignment <= kPage; alignment *= 2) {
    void* p = resource.allocate(kPage + 5, alignment);
    BOOST_TEST(aligned(p, kPage));
    BOOST_TEST(heap_inuse(*heap) == 2 * kPage);
    resource.deallocate(p, kPage + 5, alignment);
    BOOST_TEST(heap_inuse(*heap) == 0u);
    require_clean(*heap);
  }
  // Above it: aligned as asked, alignment − page bytes of slack. A one-page span first, so that
  // the next span starts off the larger alignments and the slack is really used.
  void* filler = resource.allocate(1);
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t alignment = 2 * kPage; alignment <= 64 * kPage; alignment *= 2) {
    const std::uint64_t before = heap_inuse(*heap);
    void* p = resource.allocate(3 * kPage, alignment);
    BOOST_TEST(aligned(p, alignment));
    BOOST_TEST(heap_inuse(*heap) - before == (3 + alignment / kPage - 1) * kPage);
    const auto span = heap->span_at(p);
    BOOST_REQUIRE(span.has_value());
    BOOST_TEST(static_cast<std::byte*>(p) + 3 * kPage <= static_cast<std::byte*>(span->base) + span->bytes);
    std::fill_n(static_cast<unsigned char*>(p), 3 * kPage, 0xAB);
    blocks.emplace_back(p, alignment);
    require_clean(*heap);
  }
  for (auto [p, alignment] : blocks) {
    resource.deallocate(p, 3 * kPage, alignment);
    require_clean(*heap);
  }
  resource.deallocate(filler, 1);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);

  // An over-aligned type in a pmr container.
  struct alignas(4 * kPage) Wide {
    unsigned char bytes[100];
  };
  {
    std::pmr::vector<Wide> v(5, Wide{}, &resource);
    BOOST_TEST(aligned(v.data(), 4 * kPage));
    require_clean(*heap);
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(zero_bytes_is_one_page) {
  auto heap = test::make_heap<ArenaHeap>();
  MemoryResource<ArenaHeap> resource(*heap);
  void* p = resource.allocate(0);
  void* q = resource.allocate(0);
  BOOST_TEST(p != q);
  BOOST_TEST(heap_inuse(*heap) == 2 * kPage);
  resource.deallocate(p, 0);
  resource.deallocate(q, 0);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(exhaustion_throws_bad_alloc_and_changes_nothing) {
  auto heap = test::make_heap<SmallHeap>();
  MemoryResource<SmallHeap> resource(*heap);
  // More than the arena holds: refused before the source is asked.
  BOOST_CHECK_THROW((void)resource.allocate(4 << 20), std::bad_alloc);
  BOOST_CHECK_THROW((void)resource.allocate(std::numeric_limits<std::size_t>::max()), std::bad_alloc);
  BOOST_CHECK_THROW((void)resource.allocate(64, 48), std::bad_alloc);  // not a power of two
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);

  // Fill it block by block until it runs out.
  std::vector<void*> blocks;
  for (;;) {
    try {
      blocks.push_back(resource.allocate(64 << 10));
    } catch (const std::bad_alloc&) {
      break;
    }
    BOOST_REQUIRE(blocks.size() < 1000);
  }
  BOOST_TEST(blocks.size() > 10u);
  const Stats full = heap->stats();
  BOOST_TEST(full.heap_inuse == blocks.size() * (64 << 10));
  require_clean(*heap);
  BOOST_CHECK_THROW((void)resource.allocate(64 << 10), std::bad_alloc);
  BOOST_TEST(heap->stats() == full);  // a refused request moves no counter

  for (void* p : blocks) resource.deallocate(p, 64 << 10);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
  void* again = resource.allocate(256 << 10);  // and it works again
  resource.deallocate(again, 256 << 10);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_pool_resource_on_an_exhausted_heap_passes_bad_alloc_on) {
  auto heap = test::make_heap<SmallHeap>();
  MemoryResource<SmallHeap> resource(*heap);
  {
    std::pmr::unsynchronized_pool_resource pool(&resource);  // takes its bookkeeping from the heap now
    std::pmr::vector<int> small({1, 2, 3}, &pool);
    std::vector<void*> blocks;
    for (;;) {
      try {
        blocks.push_back(resource.allocate(kPage));
      } catch (const std::bad_alloc&) {
        break;
      }
      BOOST_REQUIRE(blocks.size() < 1000);
    }
    require_clean(*heap);
    BOOST_CHECK_THROW((void)pool.allocate(256 << 10), std::bad_alloc);
    BOOST_CHECK_THROW(std::pmr::vector<char>(1 << 20, 'x', &pool), std::bad_alloc);
    BOOST_TEST(small.back() == 3);
    require_clean(*heap);
    for (void* p : blocks) resource.deallocate(p, kPage);
    std::pmr::vector<char> big(1 << 20, 'x', &pool);  // room again
    BOOST_TEST(heap_inuse(*heap) >= (1u << 20));
    require_clean(*heap);
  }
  BOOST_TEST(heap_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(mismatched_deallocations_are_reported_and_free_nothing) {
  auto heap = test::make_heap<ArenaHeap>();
  MemoryResource<ArenaHeap> resource(*heap);
  MemoryResource<ArenaHeap, StackSpanPolicy> stacks(*heap);
  auto& misuse = heap->misuse_policy();
  void* p = resource.allocate(3 * kPage);
  const Stats live = heap->stats();

  auto expect = [&](Misuse what, unsigned long count) {
    BOOST_TEST(misuse.count == count);
    BOOST_TEST(misuse.last.what == what);
    BOOST_TEST(heap->stats() == live);  // nothing freed
    require_clean(*heap);
  };
  resource.deallocate(p, 5 * kPage);  // another page count
  expect(Misuse::wrong_size, 1);
  BOOST_TEST(misuse.last.address == p);
  resource.deallocate(p, kPage);
  expect(Misuse::wrong_size, 2);
  resource.deallocate(p, 3 * kPage, 4 * kPage);  // claims an alignment it was not allocated with
  BOOST_TEST(misuse.count == 3u);
  BOOST_TEST((misuse.last.what == Misuse::wrong_size || misuse.last.what == Misuse::not_span_base));
  BOOST_TEST(heap->stats() == live);
  resource.deallocate(static_cast<std::byte*>(p) + 16, 3 * kPage);  // inside the block
  expect(Misuse::not_span_base, 4);
  stacks.deallocate(p, 3 * kPage);  // another kind
  expect(Misuse::wrong_kind, 5);
  int local = 0;
  resource.deallocate(&local, sizeof local);  // not the heap's
  expect(Misuse::outside_heap, 6);

  resource.deallocate(p, 3 * kPage - 100);  // the same page count: not detectable, and correct
  BOOST_TEST(misuse.count == 6u);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
  resource.deallocate(p, 3 * kPage);  // twice
  BOOST_TEST(misuse.count == 7u);
  BOOST_TEST((misuse.last.what == Misuse::double_free || misuse.last.what == Misuse::not_span_base));
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
}

// A wrong size only the resource can see is reported the way the heap reports its own misuse:
// counted in events().misuses, and never at the same time as another report, here while threads
// double-free spans of the same heap. Unserialized, TSan finds the race on the policy's counts
// (the policy records misuse, it is not thread-safe); uncounted, the events().misuses check fails.
BOOST_AUTO_TEST_CASE(wrong_sizes_from_threads_are_reported_once_each_with_the_heaps_own_reports) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  MemoryResource<MmapHeap> resource(*heap);
  constexpr unsigned kThreads = 3, kRounds = 300;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      void* p = resource.allocate(2 * kPage);
      for (unsigned i = 0; i < kRounds; ++i) {
        resource.deallocate(p, 5 * kPage);  // reported by the resource: wrong_size
        const auto r = heap->alloc<GCSpanPolicy>(1);
        heap->free(r);
        heap->free(r);  // reported by the heap: double_free
      }
      resource.deallocate(p, 2 * kPage);
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(heap->misuse_policy().count == 2u * kThreads * kRounds);
  BOOST_TEST(heap->events().misuses == 2u * kThreads * kRounds);
  BOOST_TEST(heap_inuse(*heap) == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_wrong_size_aborts_under_the_default_policy) {
  const test::ChildResult r = test::run_in_child([] {
    auto heap = test::make_heap<Heap<>>(std::size_t{256} << 20);  // not on an ASan fake stack: over-aligned
    MemoryResource<Heap<>> resource(*heap);
    void* p = resource.allocate(2 * kPage);
    resource.deallocate(p, 7 * kPage);
  });
  BOOST_TEST(r.aborted);
  BOOST_TEST(r.stderr_text.find("mheap: fatal: deallocation size or alignment does not match the span") !=
             std::string::npos, r.stderr_text);
}
