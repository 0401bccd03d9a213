// SPDX-License-Identifier: BSL-1.0
// mheap::FiberStackAllocator (mheap/fiber_stack.hpp): real Boost.Context fibers on StackSpanPolicy
// spans, charged to stacks_inuse and outside heap_sys while they live, given back after; the guard
// page below each stack (inaccessible while the stack lives, accessible again after, a stack
// overflow faulting inside it); StaticArena, which has no guard; contexts the allocator did not
// hand out. The audit runs after every step.
#define BOOST_TEST_MODULE fiber_stack
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mheap/fiber_stack.hpp"
#include "test/test_support.hpp"

using namespace mheap;
using boost::context::fiber;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using MmapHeap = Heap<test::MmapConfig>;
constexpr std::size_t kReserve = std::size_t{1} << 30;
using ArenaHeap = Heap<test::ArenaConfig<>>;

// 2 KiB heap pages under 4 KiB OS pages: the guard is a whole granule, off the span's base.
struct SmallPageConfig : test::MmapConfig {
  static constexpr std::size_t page_shift = 11;
};
using SmallPageHeap = Heap<SmallPageConfig>;

static_assert(BoostStackAllocator<FiberStackAllocator<Heap<>>>);
static_assert(BoostStackAllocator<FiberStackAllocator<MmapHeap>>);
static_assert(BoostStackAllocator<FiberStackAllocator<ArenaHeap>>);
static_assert(FiberStackAllocator<MmapHeap>::can_guard);
static_assert(!FiberStackAllocator<ArenaHeap>::can_guard);  // StaticArena cannot protect pages

// Whether one byte at p can be read, without touching it: write(2) reports EFAULT instead of faulting.
bool readable(const void* p) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const ssize_t n = write(fds[1], p, 1);
  const int error = errno;
  close(fds[0]);
  close(fds[1]);
  BOOST_REQUIRE(n == 1 || error == EFAULT);
  return n == 1;
}

// Touches `bytes` of the running stack, so the fiber really uses what it claims to.
[[gnu::noinline]] std::uintptr_t use_stack(std::size_t bytes) {
  auto* volatile area = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += 64) area[i] = static_cast<unsigned char>(i);
  return reinterpret_cast<std::uintptr_t>(area);
}

template <class H>
std::uint64_t stacks_inuse(const H& heap) {
  return heap.stats().stacks_inuse;
}

}  // namespace

BOOST_AUTO_TEST_CASE(geometry_of_a_guarded_stack) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  FiberStackAllocator<MmapHeap> stacks(*heap, 64 << 10);
  BOOST_TEST(stacks.guarded());
  BOOST_TEST(stacks.guard_bytes() == kPage);     // one heap page: coarser than the 4 KiB OS page
  BOOST_TEST(stacks.span_pages() == 64 / 8 + 1);  // the stack and its guard
  BOOST_TEST(&stacks.heap() == heap.get());

  boost::context::stack_context sctx = stacks.allocate();
  auto* const top = static_cast<std::byte*>(sctx.sp);
  BOOST_TEST(sctx.size == std::size_t{64} << 10);
  const auto span = heap->span_at(top - 1);
  BOOST_REQUIRE(span.has_value());
  BOOST_TEST(span->kind_name == std::string("StackSpanPolicy"));
  BOOST_TEST(static_cast<std::byte*>(span->base) + span->bytes == top);
  BOOST_TEST(span->npages == stacks.span_pages());
  BOOST_TEST(stacks_inuse(*heap) == stacks.span_pages() * kPage);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);

  auto* const base = static_cast<std::byte*>(span->base);
  BOOST_TEST(!readable(base));                   // the guard
  BOOST_TEST(!readable(base + kPage - 1));
  BOOST_TEST(readable(base + kPage));            // the stack's lowest byte
  BOOST_TEST(readable(top - 1));

  stacks.deallocate(sctx);
  BOOST_TEST(sctx.sp == nullptr);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  require_clean(*heap);
  // The guard went back accessible: the same pages as a GC span can be written everywhere. (The
  // span cache keeps spans per kind: merged into the free set, best fit at the lowest address
  // hands the same pages out again.)
  heap->flush_cache();
  auto gc = heap->alloc<GCSpanPolicy>(stacks.span_pages());
  BOOST_REQUIRE(gc);
  BOOST_REQUIRE(gc.base() == static_cast<void*>(base));
  BOOST_TEST(readable(base));
  std::memset(gc.base(), 0x7F, gc.bytes());
  heap->free(gc);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_hundred_fibers_live_on_stack_spans_outside_heap_sys) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  FiberStackAllocator<MmapHeap> stacks(*heap, 64 << 10);
  constexpr std::size_t kFibers = 100;
  const std::uint64_t span_bytes = stacks.span_pages() * kPage;
  {  // grow the heap once, so every stack below is carved from idle memory
    auto warm = heap->alloc<GCSpanPolicy>(2 * kFibers * stacks.span_pages());
    BOOST_REQUIRE(warm);
    heap->free(warm);
  }
  const Stats before = heap->stats();
  BOOST_TEST(before.stacks_inuse == 0u);

  std::vector<fiber> fibers;
  std::vector<std::uintptr_t> where(kFibers);
  int finished = 0;
  for (std::size_t i = 0; i < kFibers; ++i) {
    fibers.emplace_back(std::allocator_arg, stacks, [&, i](fiber&& caller) {
      where[i] = use_stack(8 << 10);  // 8 KiB of the 64
      caller = std::move(caller).resume();
      ++finished;
      return std::move(caller);
    });
    fibers.back() = std::move(fibers.back()).resume();  // runs up to its first suspension
    if (i % 25 == 0) require_clean(*heap);
  }
  // Every fiber lives, suspended, on its own stack span.
  const Stats live = heap->stats();
  BOOST_TEST(live.stacks_inuse == kFibers * span_bytes);
  BOOST_TEST(live.heap_sys == before.heap_sys - kFibers * span_bytes);  // outside heap_sys, as Go's stacks
  BOOST_TEST(live.heap_inuse == 0u);
  const MemStats view = heap->mem_stats();
  BOOST_TEST(view.StackInuse >= kFibers * (64 << 10));
  BOOST_TEST(view.StackSys == view.StackInuse);
  BOOST_TEST(view.Sys == heap->mem_stats().HeapSys + view.StackSys + view.MSpanSys + view.OtherSys + view.ManualSys);
  for (std::size_t i = 0; i < kFibers; ++i) {
    const auto span = heap->span_at(reinterpret_cast<const void*>(where[i]));
    BOOST_REQUIRE(span.has_value());
    BOOST_TEST(span->kind_name == std::string("StackSpanPolicy"));
  }
  require_clean(*heap);

  for (std::size_t i = 0; i < kFibers; ++i) {
    fibers[i] = std::move(fibers[i]).resume();  // runs to the end; the stack goes back
    BOOST_TEST(!fibers[i]);
    BOOST_TEST(stacks_inuse(*heap) == (kFibers - 1 - i) * span_bytes);
    if (i % 25 == 0) require_clean(*heap);
  }
  BOOST_TEST(finished == static_cast<int>(kFibers));
  const Stats after = heap->stats();
  BOOST_TEST(after.stacks_inuse == 0u);
  BOOST_TEST(after.heap_sys == before.heap_sys);
  BOOST_TEST(heap->mem_stats().StackInuse == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_fiber_destroyed_while_suspended_gives_its_stack_back) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  FiberStackAllocator<MmapHeap> stacks(*heap, 32 << 10);
  bool unwound = false;
  {
    struct SetOnUnwind {
      bool& flag;
      ~SetOnUnwind() { flag = true; }
    };
    fiber f{std::allocator_arg, stacks, [&](fiber&& caller) {
              SetOnUnwind guard{unwound};
              caller = std::move(caller).resume();  // never resumed: the fiber is unwound instead
              return std::move(caller);
            }};
    f = std::move(f).resume();
    BOOST_TEST(stacks_inuse(*heap) == stacks.span_pages() * kPage);
    require_clean(*heap);
  }
  BOOST_TEST(unwound);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_guard_coarser_than_the_page_sits_on_a_granule_boundary) {
  auto heap = test::make_heap<SmallPageHeap>(std::size_t{256} << 20);
  const std::size_t granule = MmapSource::os_page_size();
  BOOST_REQUIRE(granule > SmallPageHeap::page_bytes);  // 4 KiB and more on every Linux host
  FiberStackAllocator<SmallPageHeap> stacks(*heap, 16 << 10);
  BOOST_TEST(stacks.guard_bytes() == granule);
  std::vector<boost::context::stack_context> live;
  for (int i = 0; i < 8; ++i) {  // spans of an odd page count: bases both on and off a granule
    live.push_back(stacks.allocate());
    const boost::context::stack_context& sctx = live.back();
    BOOST_TEST(sctx.size >= std::size_t{16} << 10);
    auto* const low = static_cast<std::byte*>(sctx.sp) - sctx.size;  // the guard's end
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(low) % granule == 0u);
    BOOST_TEST(!readable(low - 1));
    BOOST_TEST(!readable(low - granule));
    BOOST_TEST(readable(low));
    const auto span = heap->span_at(low);
    BOOST_REQUIRE(span.has_value());
    BOOST_TEST(static_cast<std::byte*>(span->base) <= low - granule);  // the guard is inside the span
    require_clean(*heap);
  }
  int ran = 0;
  {
    fiber f{std::allocator_arg, stacks, [&](fiber&& caller) {
              use_stack(12 << 10);
              ++ran;
              return std::move(caller);
            }};
    f = std::move(f).resume();
  }
  BOOST_TEST(ran == 1);
  for (auto& sctx : live) stacks.deallocate(sctx);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

namespace {

// The death test's state, written by the child before it overflows and read by its signal handler.
std::uintptr_t g_guard_lo = 0, g_guard_hi = 0;

extern "C" void on_fault(int, siginfo_t* info, void*) {
  const auto at = reinterpret_cast<std::uintptr_t>(info->si_addr);
  _exit(at >= g_guard_lo && at < g_guard_hi ? 42 : 43);  // 42: the fault hit the guard
}

// Recurses until the stack runs out. Not instrumented by ASan, whose fake stack
// (detect_stack_use_after_return) would otherwise take the frames off the fiber's stack.
[[gnu::noinline]] [[gnu::no_sanitize_address]] int recurse(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (depth == INT_MAX) return frame[0];
  return recurse(depth + 1) + frame[0];
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_stack_overflow_faults_in_the_guard_page) {
  // In a child: the fault kills the process it happens in. The child's handler runs on an
  // alternate signal stack (the fiber's is exhausted) and exits 42 only if the faulting address
  // lies in the guard below the running fiber's stack; a process killed by the signal instead
  // (a handler that could not run) or any other outcome fails the test.
  // Under ASan: the recursion is not instrumented (see recurse), the runtime leaves SIGSEGV to the
  // handler installed here (allow_user_segv_handler, on by default), and the heap lives on the
  // heap, not on a fake stack. ASan also prints one warning ("ignoring requested
  // __asan_handle_no_return") when a fiber is unwound: Debian's Boost.Context switches stacks
  // with fcontext, which tells ASan nothing about the switch; no error report has followed it.
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    static char alt_stack[64 << 10];
    stack_t ss{};
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    if (sigaltstack(&ss, nullptr) != 0) _exit(44);
    struct sigaction sa{};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, nullptr) != 0 || sigaction(SIGBUS, &sa, nullptr) != 0) _exit(45);

    auto heap = test::make_heap<MmapHeap>(std::size_t{64} << 20);  // not on an ASan fake stack: over-aligned
    FiberStackAllocator<MmapHeap> stacks(*heap, 16 << 10);
    fiber f{std::allocator_arg, stacks, [&](fiber&& caller) {
              // The frame, not a local's address: ASan's fake stack may hold the locals elsewhere.
              const auto span = heap->span_at(__builtin_frame_address(0));
              if (!span) _exit(46);
              g_guard_lo = reinterpret_cast<std::uintptr_t>(span->base);
              g_guard_hi = g_guard_lo + stacks.guard_bytes();
              recurse(0);
              return std::move(caller);
            }};
    f = std::move(f).resume();
    _exit(47);  // the overflow did not fault
  }
  close(fds[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status), "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "; stderr:\n"
                                                          << err);
  BOOST_TEST(WEXITSTATUS(status) == 42, "child exit status " << WEXITSTATUS(status) << "; stderr:\n" << err);
}

BOOST_AUTO_TEST_CASE(static_arena_stacks_have_no_guard) {
  auto heap = test::make_heap<ArenaHeap>();
  FiberStackAllocator<ArenaHeap> stacks(*heap, 24 << 10);  // the default there: no guard
  BOOST_TEST(!stacks.guarded());
  BOOST_TEST(stacks.guard_bytes() == 0u);
  BOOST_TEST(stacks.span_pages() == 3u);
  BOOST_CHECK_THROW(FiberStackAllocator<ArenaHeap>(*heap, 24 << 10, true), std::invalid_argument);
  try {
    FiberStackAllocator<ArenaHeap> refused(*heap, 24 << 10, true);
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("guard_page on a page source that cannot protect pages") != std::string::npos);
  }
  int ran = 0;
  {
    fiber f{std::allocator_arg, stacks, [&](fiber&& caller) {
              use_stack(8 << 10);
              caller = std::move(caller).resume();
              ++ran;
              return std::move(caller);
            }};
    f = std::move(f).resume();
    BOOST_TEST(stacks_inuse(*heap) == 3 * kPage);
    BOOST_TEST(heap->mem_stats().StackInuse == 3 * kPage);
    require_clean(*heap);
    f = std::move(f).resume();
  }
  BOOST_TEST(ran == 1);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(bad_sizes_and_exhaustion) {
  auto heap = test::make_heap<MmapHeap>(std::size_t{64} << 20);
  BOOST_CHECK_THROW(FiberStackAllocator<MmapHeap>(*heap, 0), std::invalid_argument);
  FiberStackAllocator<MmapHeap> impossible(*heap, std::numeric_limits<std::size_t>::max());
  BOOST_TEST(impossible.span_pages() == 0u);
  BOOST_CHECK_THROW(impossible.allocate(), std::bad_alloc);
  FiberStackAllocator<MmapHeap> too_big(*heap, std::size_t{128} << 20);  // more than the reservation
  BOOST_CHECK_THROW(too_big.allocate(), std::bad_alloc);
  BOOST_CHECK_THROW((fiber{std::allocator_arg, too_big, [](fiber&& c) { return std::move(c); }}), std::bad_alloc);
  BOOST_TEST(heap->stats() == Stats{});  // nothing asked of the source, nothing moved
  require_clean(*heap);

  // Exhaustion part way: every stack allocated so far stays good, the audit clean.
  FiberStackAllocator<MmapHeap> stacks(*heap, 1 << 20);
  std::vector<boost::context::stack_context> live;
  for (;;) {
    try {
      live.push_back(stacks.allocate());
    } catch (const std::bad_alloc&) {
      break;
    }
    BOOST_REQUIRE(live.size() < 100);
  }
  BOOST_TEST(live.size() > 10u);
  BOOST_TEST(stacks_inuse(*heap) == live.size() * stacks.span_pages() * kPage);
  require_clean(*heap);
  for (auto& sctx : live) stacks.deallocate(sctx);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(contexts_it_did_not_hand_out_are_reported_and_free_nothing) {
  auto heap = test::make_heap<MmapHeap>(kReserve);
  FiberStackAllocator<MmapHeap> stacks(*heap, 32 << 10);
  FiberStackAllocator<MmapHeap> other_size(*heap, 64 << 10);
  auto& misuse = heap->misuse_policy();
  boost::context::stack_context sctx = stacks.allocate();
  const Stats live = heap->stats();
  auto expect = [&](Misuse what, unsigned long count) {
    BOOST_TEST(misuse.count == count);
    BOOST_TEST(misuse.last.what == what);
    BOOST_TEST(heap->stats() == live);
    require_clean(*heap);
  };

  boost::context::stack_context null_context;
  stacks.deallocate(null_context);  // no-op
  BOOST_TEST(misuse.count == 0u);

  boost::context::stack_context wrong = sctx;
  wrong.size -= kPage;
  stacks.deallocate(wrong);
  expect(Misuse::wrong_size, 1);
  other_size.deallocate(sctx);  // another allocator's geometry: its base lands inside no live stack's start
  BOOST_TEST(misuse.count == 2u);
  BOOST_TEST(heap->stats() == live);

  boost::context::fixedsize_stack boost_stacks(32 << 10);
  boost::context::stack_context foreign = boost_stacks.allocate();
  stacks.deallocate(foreign);
  expect(Misuse::outside_heap, 3);
  boost_stacks.deallocate(foreign);

  auto gc = heap->alloc<GCSpanPolicy>(stacks.span_pages());  // a GC span with a stack's shape
  boost::context::stack_context fake;
  fake.sp = static_cast<std::byte*>(gc.base()) + gc.bytes();
  fake.size = sctx.size;
  const Stats with_gc = heap->stats();
  stacks.deallocate(fake);
  BOOST_TEST(misuse.count == 4u);
  BOOST_TEST(misuse.last.what == Misuse::wrong_kind);
  BOOST_TEST(heap->stats() == with_gc);
  heap->free(gc);

  boost::context::stack_context copy = sctx;
  stacks.deallocate(sctx);  // correct
  BOOST_TEST(misuse.count == 4u);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  stacks.deallocate(copy);  // twice
  BOOST_TEST(misuse.count == 5u);
  BOOST_TEST(misuse.last.what == Misuse::double_free);
  BOOST_TEST(stacks_inuse(*heap) == 0u);
  require_clean(*heap);
}
