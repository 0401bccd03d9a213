// SPDX-License-Identifier: BSL-1.0
// Issue 13's "done when": a program using only mheap::Heap<>, mheap::MemoryResource<mheap::Heap<>>
// and mheap::FiberStackAllocator<mheap::Heap<>> runs std::pmr containers and pool resources and 100
// real fibers that use 8 KiB of their 64 KiB stacks, with StackInuse >= 100 x 64 KiB while they
// live, StackInuse == 0 and heap_inuse == 0 after, and the audit clean throughout.
#define BOOST_TEST_MODULE clients
#include <boost/context/fiber.hpp>
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <memory_resource>
#include <string>
#include <utility>
#include <vector>

#include "mheap/fiber_stack.hpp"
#include "mheap/memory_resource.hpp"
#include "mheap/mheap.hpp"

namespace {

constexpr std::size_t kFibers = 100;
constexpr std::size_t kStackBytes = 64 << 10;
constexpr std::size_t kStackUsed = 8 << 10;

// Touches `bytes` of the running stack and returns the lowest byte touched.
[[gnu::noinline]] const void* use_stack(std::size_t bytes) {
  auto* volatile area = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += 64) area[i] = static_cast<unsigned char>(i);
  return const_cast<const unsigned char*>(area);
}

void require_clean(const mheap::Heap<>& heap) {
  const mheap::AuditReport report = heap.audit();
  BOOST_REQUIRE_MESSAGE(static_cast<bool>(report), "audit failed:\n" << std::string(report.what()));
}

}  // namespace

BOOST_AUTO_TEST_CASE(pmr_containers_pools_and_a_hundred_fibers_on_one_default_heap) {
  using boost::context::fiber;
  auto heap = std::make_unique<mheap::Heap<>>();  // over-aligned: not on the stack
  mheap::MemoryResource<mheap::Heap<>> memory(*heap);
  mheap::FiberStackAllocator<mheap::Heap<>> stacks(*heap, kStackBytes);
  require_clean(*heap);
  {
    std::pmr::synchronized_pool_resource shared_pool(&memory);
    std::pmr::unsynchronized_pool_resource local_pool(&memory);
    std::pmr::monotonic_buffer_resource scratch(&memory);

    std::pmr::map<std::size_t, std::pmr::string> log(&shared_pool);
    std::pmr::vector<fiber> fibers(&scratch);
    std::pmr::vector<const void*> stack_use(kFibers, nullptr, &local_pool);
    std::size_t finished = 0;
    for (std::size_t i = 0; i < kFibers; ++i) {
      fibers.emplace_back(std::allocator_arg, stacks, [&, i](fiber&& caller) {
        stack_use[i] = use_stack(kStackUsed);
        std::pmr::vector<std::uint64_t> squares(&local_pool);  // a container built inside the fiber
        for (std::uint64_t k = 0; k < 1000; ++k) squares.push_back(k * k);
        caller = std::move(caller).resume();  // suspended: the stack stays live
        std::pmr::string line("fiber ", &shared_pool);
        line += std::to_string(squares[i]);
        log.emplace(i, std::move(line));
        ++finished;
        return std::move(caller);
      });
      fibers.back() = std::move(fibers.back()).resume();
      if (i % 20 == 0) require_clean(*heap);
    }

    // All 100 live: their stacks are StackInuse, outside HeapSys; the containers are HeapInuse.
    const mheap::MemStats live = heap->mem_stats();
    BOOST_TEST(live.StackInuse >= kFibers * kStackBytes);
    BOOST_TEST(live.StackInuse == kFibers * stacks.span_pages() * mheap::Heap<>::page_bytes);
    BOOST_TEST(live.HeapInuse > 0u);
    BOOST_TEST(live.Sys == live.HeapSys + live.StackSys + live.MSpanSys + live.OtherSys + live.ManualSys);
    for (const void* p : stack_use) {  // each fiber's 8 KiB are on its own stack span
      const auto span = heap->span_at(p);
      BOOST_REQUIRE(span.has_value());
      BOOST_TEST(span->kind_name == std::string("StackSpanPolicy"));
    }
    require_clean(*heap);

    for (fiber& f : fibers) f = std::move(f).resume();  // each runs to its end
    BOOST_TEST(finished == kFibers);
    BOOST_TEST(log.size() == kFibers);
    BOOST_TEST(log.at(7) == "fiber 49");
    BOOST_TEST(heap->mem_stats().StackInuse == 0u);
    require_clean(*heap);
  }
  // The pools and containers are gone: nothing of the heap is in use.
  const mheap::MemStats after = heap->mem_stats();
  BOOST_TEST(after.StackInuse == 0u);
  BOOST_TEST(after.HeapInuse == 0u);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->stats().stacks_inuse == 0u);
  require_clean(*heap);
}
