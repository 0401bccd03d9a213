// SPDX-License-Identifier: BSL-1.0
// examples/fiber_stacks.cpp — goroutine stacks in C++: 10,000 Boost.Context fibers whose stacks are
// StackSpanPolicy spans of one mheap::Heap<>, and the heap's MemStats before, while they all live,
// after they have finished, and after release_all().
//
// What it shows is the accounting of Go 1.9's goroutine stacks (docs/go-accounting.md): a live
// stack is StackInuse (and StackSys) and is not part of HeapSys, so HeapInuse stays 0 however many
// fibers run; a finished fiber's stack span goes back to the heap, where it is idle HeapSys until
// the heap reuses or releases it. Each stack has a guard page below it (PROT_NONE through
// MmapSource), which is part of its span and so of StackInuse.
//
//   ./bazelw run //examples:fiber_stacks
#include <boost/context/fiber.hpp>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "mheap/fiber_stack.hpp"
#include "mheap/mheap.hpp"

namespace {

using boost::context::fiber;

constexpr std::size_t kFibers = 10'000;
constexpr std::size_t kStackBytes = 16 << 10;  // Go 1.9 starts a goroutine at 2 KiB; a heap page here is 8 KiB
constexpr int kRounds = 3;                     // each fiber yields this many times before it ends

void print_row(const char* name, const mheap::MemStats (&when)[4], std::uint64_t mheap::MemStats::*field) {
  std::printf("  %-13s", name);
  for (const mheap::MemStats& m : when) std::printf(" %12.2f", static_cast<double>(m.*field) / 1048576.0);
  std::printf("\n");
}

// A little work on the fiber's own stack: a recursion up to 50 frames deep, a few KiB of the 16
// (a cap of a few hundred frames overflows into the guard page, and the program faults there).
[[gnu::noinline]] std::uint64_t collatz_steps(std::uint64_t n, int depth = 0) {
  volatile unsigned char frame[32];  // some room on the stack per level
  frame[0] = static_cast<unsigned char>(n);
  if (n == 1 || depth == 50) return static_cast<std::uint64_t>(depth) + (frame[0] & 0u);
  return collatz_steps(n % 2 == 0 ? n / 2 : 3 * n + 1, depth + 1);
}

}  // namespace

int main() {
  auto heap = std::make_unique<mheap::Heap<>>();  // the default heap: MmapSource, thread caches
  mheap::FiberStackAllocator<mheap::Heap<>> stacks(*heap, kStackBytes);
  std::printf("fiber_stacks: %zu fibers, %zu KiB stacks; each stack span is %zu pages of %zu KiB "
              "(the guard page included)\n",
              kFibers, kStackBytes >> 10, stacks.span_pages(), mheap::Heap<>::page_bytes >> 10);

  mheap::MemStats when[4];
  when[0] = heap->mem_stats();

  // Start every fiber; each runs until its first yield, so all 10,000 stacks are live at once.
  std::vector<fiber> fibers;
  fibers.reserve(kFibers);
  std::uint64_t total_steps = 0;
  for (std::size_t i = 0; i < kFibers; ++i) {
    fibers.emplace_back(std::allocator_arg, stacks, [i, &total_steps](fiber&& scheduler) {
      for (int round = 0; round < kRounds; ++round) {
        total_steps += collatz_steps(i + 1 + static_cast<std::size_t>(round));
        scheduler = std::move(scheduler).resume();  // yield
      }
      return std::move(scheduler);
    });
    fibers.back() = std::move(fibers.back()).resume();
  }
  when[1] = heap->mem_stats();
  const bool audit_during = static_cast<bool>(heap->audit());

  // Round-robin until every fiber has ended (an ended fiber is an empty fiber).
  for (std::size_t alive = kFibers; alive != 0;) {
    alive = 0;
    for (fiber& f : fibers)
      if (f) {
        f = std::move(f).resume();
        alive += f ? 1 : 0;
      }
  }
  when[2] = heap->mem_stats();
  const std::size_t released = heap->release_all();
  when[3] = heap->mem_stats();

  std::printf("\n  %-13s %12s %12s %12s %12s\n", "MiB", "before", "during", "after", "release_all");
  print_row("StackInuse", when, &mheap::MemStats::StackInuse);
  print_row("StackSys", when, &mheap::MemStats::StackSys);
  print_row("HeapInuse", when, &mheap::MemStats::HeapInuse);
  print_row("HeapIdle", when, &mheap::MemStats::HeapIdle);
  print_row("HeapSys", when, &mheap::MemStats::HeapSys);
  print_row("HeapReleased", when, &mheap::MemStats::HeapReleased);
  print_row("MSpanSys", when, &mheap::MemStats::MSpanSys);
  print_row("OtherSys", when, &mheap::MemStats::OtherSys);
  print_row("Sys", when, &mheap::MemStats::Sys);

  const mheap::AuditReport audit_after = heap->audit();
  std::printf("\n%" PRIu64 " collatz steps computed on the fibers' stacks; release_all() gave back %zu MiB\n",
              total_steps, released >> 20);
  std::printf("audit while the fibers lived: %s; after: %s\n", audit_during ? "clean" : "FAILED",
              audit_after ? "clean" : "FAILED");
  if (!audit_after) std::printf("%.*s", static_cast<int>(audit_after.what().size()), audit_after.what().data());

  // The example checks its own story, so the test suite can run it.
  const bool ok = audit_during && audit_after && when[1].StackInuse >= kFibers * kStackBytes &&
                  when[1].HeapInuse == 0 && when[2].StackInuse == 0 && when[2].HeapInuse == 0 &&
                  when[2].HeapSys >= when[1].StackInuse;
  return ok ? 0 : 1;
}
