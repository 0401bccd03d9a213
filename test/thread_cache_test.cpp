// SPDX-License-Identifier: BSL-1.0
// Per-thread span caches (mheap/thread_caches.hpp) on the default configuration: spans freed by
// another thread than the one that allocated them, a thread that exits with a full cache, a double
// free raced by two threads, snapshots taken while threads run, growth that takes other threads'
// parked spans first, and the audit while threads run. Run under TSan too (tag concurrent).
#define BOOST_TEST_MODULE thread_cache
#include <atomic>
#include <barrier>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "test/test_support.hpp"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {
using GC = GCSpanPolicy;
using Stack = StackSpanPolicy;
// The default configuration (AdaptiveLock, thread caches), with misuse recorded and checks on.
struct ThreadConfig : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
};
using H = Heap<ThreadConfig>;
static_assert(std::is_same_v<ThreadConfig::Lock, AdaptiveLock> && ThreadConfig::thread_caches);

// Every identity of mheap/stats.hpp, on one snapshot.
std::string broken_identity(const Stats& s) {
  if (s.heap_idle + s.heap_inuse != s.heap_sys) return "heap_idle + heap_inuse != heap_sys";
  if (s.heap_inuse > s.heap_sys || s.heap_idle > s.heap_sys) return "a counter ran below zero";
  if (s.heap_released > s.heap_idle) return "heap_released > heap_idle";
  const MemStats m = make_mem_stats<Stats, ThreadConfig::SpanKinds>(s);
  if (m.Sys != m.HeapSys + m.StackSys + m.MSpanSys + m.OtherSys + m.ManualSys) return "Sys != the sum of the *Sys fields";
  return {};
}
}  // namespace

BOOST_AUTO_TEST_CASE(spans_freed_by_another_thread_go_back_whole) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  std::vector<SpanRef<GC>> made;
  std::vector<SpanRef<Stack>> stacks;
  std::thread producer([&] {
    for (int i = 0; i < 2000; ++i) {
      made.push_back(heap->alloc<GC>(1 + i % 9));
      stacks.push_back(heap->alloc<Stack>(1 + i % 3));
    }
  });
  producer.join();
  std::thread consumer([&] {
    for (auto r : made) heap->free(r);
    for (auto r : stacks) heap->free(r);
  });
  consumer.join();
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(s.stacks_inuse == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  BOOST_TEST(heap->cached_pages() == 0u);  // both threads have exited: their caches went back
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_thread_exits_with_a_full_cache_and_leaves_nothing_parked) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  std::size_t parked_before_exit = 0;
  std::thread t([&] {
    std::vector<SpanRef<GC>> spans;
    for (int i = 0; i < 200; ++i) spans.push_back(heap->alloc<GC>(1 + i % 4));
    for (auto r : spans) heap->free(r);
    parked_before_exit = heap->cached_pages();
  });
  t.join();
  BOOST_TEST(parked_before_exit > 0u);
  BOOST_TEST(parked_before_exit <= ThreadConfig::span_cache_pages * 3 / 2);  // stacks and outbox
  BOOST_TEST(heap->cached_pages() == 0u);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(s.heap_idle == s.heap_sys);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(a_double_free_raced_by_two_threads_frees_once_and_reports_once) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  constexpr int rounds = 2000;
  std::vector<SpanRef<GC>> refs;
  for (int i = 0; i < rounds; ++i) refs.push_back(heap->alloc<GC>(1 + i % 200));  // short and long
  std::barrier sync(2);
  auto racer = [&] {
    for (int i = 0; i < rounds; ++i) {
      sync.arrive_and_wait();
      heap->free(refs[i]);
    }
  };
  std::thread a(racer), b(racer);
  a.join();
  b.join();
  BOOST_TEST(heap->misuse_policy().count == static_cast<std::size_t>(rounds));  // exactly one loser per round
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::double_free));
  BOOST_TEST(heap->stats().heap_inuse == 0u);  // exactly one winner per round
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(every_snapshot_keeps_the_identities_while_threads_run) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(77 + t);
      std::vector<SpanRef<GC>> mine;
      std::vector<SpanRef<Stack>> stacks;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t n = rng() % 10 == 0 ? 1 + rng() % 300 : 1 + rng() % 6;
        if (mine.size() < 64 && rng() % 2 == 0) {
          if (auto r = heap->alloc<GC>(n)) mine.push_back(r);
          if (auto r = heap->alloc<Stack>(1 + n % 3)) stacks.push_back(r);
        } else if (!mine.empty()) {
          const std::size_t k = rng() % mine.size();
          heap->free(mine[k]);
          mine[k] = mine.back();
          mine.pop_back();
          if (!stacks.empty()) {
            heap->free(stacks.back());
            stacks.pop_back();
          }
        }
      }
      for (auto r : mine) heap->free(r);
      for (auto r : stacks) heap->free(r);
    });
  }
  std::string first_broken;
  std::size_t snapshots = 0, audits = 0, failed_audits = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
       std::chrono::steady_clock::now() < deadline;) {
    const std::string broken = broken_identity(heap->stats());
    if (!broken.empty() && first_broken.empty()) first_broken = broken;
    ++snapshots;
    if (snapshots % 16 == 0) {
      ++audits;
      if (!heap->audit()) ++failed_audits;  // the front end is stopped meanwhile: exact even now
    }
  }
  stop = true;
  for (auto& w : workers) w.join();
  BOOST_TEST_MESSAGE(snapshots << " snapshots, " << audits << " audits while 3 threads ran");
  BOOST_TEST(first_broken.empty(), first_broken);
  BOOST_TEST(failed_audits == 0u);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(s.stacks_inuse == 0u);
  require_clean(*heap);
}

// The rule holds within an arena: in a heap of several (the default, mheap/arena_set.hpp), each
// thread's arena grows on its own. So this is a heap of one, shared by both threads.
struct OneArenaConfig : ThreadConfig {
  static constexpr unsigned arenas = 1;
};
BOOST_AUTO_TEST_CASE(growth_takes_other_threads_parked_spans_first) {
  auto heap = test::make_heap<Heap<OneArenaConfig>>(std::size_t{1} << 32);
  std::barrier sync(2);
  std::thread parker([&] {
    std::vector<SpanRef<GC>> spans;
    for (int i = 0; i < 60; ++i) spans.push_back(heap->alloc<GC>(4));
    for (auto r : spans) heap->free(r);  // parked in this thread's cache, up to its bound
    sync.arrive_and_wait();              // stays alive, holding its cache, while main allocates
    sync.arrive_and_wait();
  });
  sync.arrive_and_wait();
  const std::size_t parked = heap->cached_pages();
  BOOST_TEST(parked >= 32u);
  const Stats before = heap->stats();
  // Everything idle, merged, fits one span only if the parked spans come back first.
  const std::size_t pages = before.heap_idle / kPage;
  auto big = heap->alloc<GC>(pages);
  BOOST_TEST(static_cast<bool>(big));
  BOOST_TEST(heap->stats().heap_sys == before.heap_sys);  // no growth: the other thread's cache gave way
  BOOST_TEST(heap->cached_pages() == 0u);
  sync.arrive_and_wait();
  parker.join();
  heap->free(big);
  require_clean(*heap);
}

// A request longer than the room left is hopeless only if the idle pages cannot make up the
// difference, and pages a thread parked are idle only in its deltas until a fold: the heap folds
// them in before it judges (mheap/heap_growth.hpp), and then its flush merges them with the room.
BOOST_AUTO_TEST_CASE(a_request_longer_than_the_room_counts_the_pages_a_thread_parked) {
  auto heap = test::make_heap<Heap<OneArenaConfig>>(std::size_t{8} << 20);
  std::vector<SpanRef<GC>> spans;
  for (int i = 0; i < 4; ++i) spans.push_back(heap->alloc<GC>(64));
  for (auto r : spans) heap->free(r);  // parked in this thread's cache
  BOOST_TEST(heap->cached_pages() == 256u);  // every grown page (no snapshot yet: nothing folded)
  const std::size_t n = heap->capacity_pages() - 8;  // longer than the room, not than the room and the idle pages
  auto big = heap->alloc<GC>(n);
  BOOST_TEST(static_cast<bool>(big));
  BOOST_TEST(heap->cached_pages() == 0u);
  BOOST_TEST(heap->stats().heap_sys == n * kPage);  // the 256 parked pages at its start, grown by the rest
  heap->free(big);
  require_clean(*heap);
}

namespace {
// Churns on `threads` threads until stop, each with its own spans, short and long, both kinds.
template <class Heap>
std::vector<std::thread> churners(Heap& heap, unsigned threads, std::atomic<bool>& stop) {
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&heap, &stop, t] {
      std::mt19937 rng(500 + t);
      std::vector<SpanRef<GC>> mine;
      while (!stop.load(std::memory_order_relaxed)) {
        if (mine.size() < 48 && rng() % 2 == 0) {
          if (auto r = heap.template alloc<GC>(rng() % 8 == 0 ? 1 + rng() % 400 : 1 + rng() % 5, rng() % 4 == 0))
            mine.push_back(r);
        } else if (!mine.empty()) {
          heap.free(mine.back());
          mine.pop_back();
        }
      }
      for (auto r : mine) heap.free(r);
    });
  }
  return workers;
}
}  // namespace

BOOST_AUTO_TEST_CASE(release_all_and_a_background_scavenger_race_the_front_end) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  BackgroundScavenger<H> scavenger(*heap);
  scavenger.start({std::chrono::milliseconds(1), std::chrono::nanoseconds(0), false});
  std::atomic<bool> stop{false};
  auto workers = churners(*heap, 2, stop);
  std::size_t released = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
       std::chrono::steady_clock::now() < deadline;)
    released += heap->release_all();
  stop = true;
  for (auto& w : workers) w.join();
  scavenger.stop();
  BOOST_TEST_MESSAGE("release_all gave back " << released << " bytes while the front end ran");
  const Stats s = heap->stats();
  BOOST_TEST(broken_identity(s).empty(), broken_identity(s));
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

namespace {
// An MmapSource that refuses every commit after a chosen one (growth, page map, records alike):
// shared by threads, so the count is atomic; and by every source of the heap (the default opens one
// per arena, mheap/arena_set.hpp), so the machine runs dry whichever arena asks. One heap at a time.
class RefusingSource : public MmapSource {
 public:
  using MmapSource::MmapSource;
  bool commit(std::byte* p, std::size_t n) {
    if (commits_.fetch_add(1) >= refuse_after_.load()) return false;
    return MmapSource::commit(p, n);
  }
  void refuse_after(std::size_t k) {
    commits_ = 0;
    refuse_after_ = k;
  }

 private:
  static inline std::atomic<std::size_t> commits_{0}, refuse_after_{~std::size_t{0}};
};
struct RefusingConfig : ThreadConfig {
  using PageSource = RefusingSource;
  static constexpr std::size_t min_grow_bytes = std::size_t{64} << 10;  // grow, and so commit, often
};
}  // namespace

// Threads whose refills fail (the source refuses every commit after a point) get empty refs and
// nothing else changes: every counter and the audit stay exact, and what was allocated frees.
BOOST_AUTO_TEST_CASE(failed_refills_leave_every_thread_and_the_heap_consistent) {
  auto heap = test::make_heap<Heap<RefusingConfig>>(std::size_t{1} << 32);
  heap->page_source().refuse_after(40);
  std::atomic<unsigned> refused{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < 2; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(900 + t);
      std::vector<SpanRef<GC>> mine;
      for (int i = 0; i < 4000; ++i) {
        if (rng() % 3 != 0) {
          if (auto r = heap->alloc<GC>(1 + rng() % 20))
            mine.push_back(r);
          else
            ++refused;
        } else if (!mine.empty()) {
          heap->free(mine.back());
          mine.pop_back();
        }
      }
      for (auto r : mine) heap->free(r);
    });
  }
  for (auto& w : workers) w.join();
  BOOST_TEST(refused.load() > 0u);  // the source did run dry
  const Stats s = heap->stats();
  BOOST_TEST(broken_identity(s).empty(), broken_identity(s));
  BOOST_TEST(s.heap_inuse == 0u);
  require_clean(*heap);
}

// A heap destroyed while a live thread holds a cache of it, and a new heap built at the same
// address: the thread's old cache is never taken for the new heap's, and a thread using two heaps
// in turn keeps one cache for each.
BOOST_AUTO_TEST_CASE(caches_follow_heaps_through_destruction_and_reuse_of_an_address) {
  // Heaps are over-aligned (their lock and epoch have cache lines of their own): on the heap, where
  // operator new honours that, not on a stack that a sanitizer may move.
  auto holder = std::make_unique<std::optional<H>>();
  std::optional<H>& slot = *holder;
  slot.emplace(std::size_t{1} << 30);
  H* first = &*slot;
  auto other_heap = test::make_heap<H>(std::size_t{1} << 30);
  H& other = *other_heap;
  std::barrier sync(2);
  std::thread user([&] {
    for (int i = 0; i < 100; ++i) {  // two heaps in turn: a cache in each
      auto a = slot->alloc<GC>(1 + i % 3);
      auto b = other.alloc<GC>(1 + i % 3);
      slot->free(a);
      other.free(b);
    }
    BOOST_TEST(slot->cached_pages() > 0u);
    BOOST_TEST(other.cached_pages() > 0u);
    sync.arrive_and_wait();  // main destroys the heap and builds another at the same address
    sync.arrive_and_wait();
    auto c = slot->alloc<GC>(2);  // must not come from the dead heap's cache
    BOOST_TEST(static_cast<bool>(c));
    BOOST_TEST(slot->span_at(c.base()).has_value());
    slot->free(c);
  });
  sync.arrive_and_wait();
  slot.reset();
  slot.emplace(std::size_t{1} << 30);
  BOOST_TEST(&*slot == first);  // the same address
  BOOST_TEST(slot->cached_pages() == 0u);
  sync.arrive_and_wait();
  user.join();
  BOOST_TEST(slot->stats().heap_inuse == 0u);
  require_clean(*slot);
  require_clean(other);
}

// The fence of the window handshake (mheap/detail/asymmetric_fence.hpp): on Linux a compiler barrier
// on the threads' side and one membarrier(2) call on the heap's, which every case above then ran
// on; with MHEAP_NO_MEMBARRIER, or where the kernel refuses the command, both sides seq_cst. This
// file's second target, thread_cache_symmetric_fence_test, defines it and runs every case that way.
namespace {
bool kernel_grants_membarrier() {
#if defined(__linux__) && !defined(MHEAP_NO_MEMBARRIER)
  const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  constexpr long needed = MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
  return supported >= 0 && (supported & needed) == needed &&
         ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_window_fence_is_the_one_this_build_and_kernel_allow) {
  auto heap = test::make_heap<H>(std::size_t{1} << 30);
  std::thread([&] { heap->free(heap->alloc<GC>(1)); }).join();  // a new thread's cache: the fence is chosen
  BOOST_TEST(detail::AsymmetricFence::asymmetric() == kernel_grants_membarrier());
  require_clean(*heap);
}

// The heap's side costs a system call only when another thread may be inside a window: a cut with
// only the caller's cache in the heap makes none; with another thread's cache there, one.
BOOST_AUTO_TEST_CASE(a_cut_calls_membarrier_only_when_another_thread_has_a_cache_there) {
  using Shared = Heap<OneArenaConfig>;  // one arena: both threads' caches in it
  auto heap = test::make_heap<Shared>(std::size_t{1} << 30);
  heap->free(heap->alloc<GC>(1));  // this thread's cache: the process has registered, if it can
  const std::uint64_t per_call = detail::AsymmetricFence::asymmetric() ? 1 : 0;
  std::uint64_t before = detail::AsymmetricFence::heavy_calls();
  (void)heap->stats();
  BOOST_TEST(detail::AsymmetricFence::heavy_calls() == before);
  std::barrier sync(2);
  std::thread other([&] {
    heap->free(heap->alloc<GC>(1));  // another thread's cache in the same heap
    sync.arrive_and_wait();          // listed
    sync.arrive_and_wait();          // the cut is done
  });
  sync.arrive_and_wait();
  before = detail::AsymmetricFence::heavy_calls();
  (void)heap->stats();
  BOOST_TEST(detail::AsymmetricFence::heavy_calls() == before + per_call);
  sync.arrive_and_wait();
  other.join();  // its cache goes back to the heap and leaves the list
  before = detail::AsymmetricFence::heavy_calls();
  (void)heap->stats();
  BOOST_TEST(detail::AsymmetricFence::heavy_calls() == before);
  require_clean(*heap);
}

// Which side pays is chosen per heap from how often it is cut (mheap/window_fence.hpp): a heap cut
// again after fewer than WindowFence::enter_below windows makes one more call (the cut that
// switches) and then none while its cuts stay that frequent. At least leave_at windows since the
// last cut switch it back: at that cut, or before it at a lock visit, which a thread on the
// symmetric fence makes once per FrontEndEpoch::windows_per_visit windows even when its cache
// serves it. Without the command (the symmetric target) no cut makes one.
BOOST_AUTO_TEST_CASE(a_heap_cut_often_stops_calling_membarrier_and_starts_again_when_cuts_grow_rare) {
  using Shared = Heap<OneArenaConfig>;
  auto heap = test::make_heap<Shared>(std::size_t{1} << 30);
  heap->free(heap->alloc<GC>(1));  // this thread's cache: the process has registered, if it can
  const std::uint64_t per_call = detail::AsymmetricFence::asymmetric() ? 1 : 0;
  std::atomic<std::uint64_t> pairs{0};
  std::barrier sync(2);
  std::thread other([&] {
    heap->free(heap->alloc<GC>(1));  // another thread's cache in the same heap
    for (;;) {
      sync.arrive_and_wait();  // told how many pairs
      const std::uint64_t n = pairs.load();
      if (n == ~std::uint64_t{0}) return;
      for (std::uint64_t i = 0; i < n; ++i) heap->free(heap->alloc<GC>(1));  // 2 windows each, cache hits
      sync.arrive_and_wait();  // done
    }
  });
  auto let_other_run = [&](std::uint64_t n) {
    pairs.store(n);
    sync.arrive_and_wait();
    if (n != ~std::uint64_t{0}) sync.arrive_and_wait();
  };
  auto calls_for = [&](int snapshots, bool mem_stats = false) {
    const std::uint64_t before = detail::AsymmetricFence::heavy_calls();
    for (int i = 0; i < snapshots; ++i) {
      if (mem_stats) {
        const MemStats m = heap->mem_stats();
        BOOST_TEST(m.HeapIdle + m.HeapInuse == m.HeapSys);
      } else {
        const Stats s = heap->stats();
        BOOST_TEST(s.heap_idle + s.heap_inuse == s.heap_sys);
      }
    }
    return detail::AsymmetricFence::heavy_calls() - before;
  };
  let_other_run(0);  // listed
  BOOST_TEST(calls_for(1, true) == per_call);  // a stop, and a fold inside it that needs no call
  BOOST_TEST(calls_for(10) == per_call);       // the cut that switches (few windows since the stop)
  BOOST_TEST(calls_for(10) == 0u);
  let_other_run(WindowFence::leave_at / 2 - 1);  // leave_at - 2 windows: no visit or cut sees leave_at
  BOOST_TEST(calls_for(2) == 0u);                 // still symmetric
  let_other_run(WindowFence::leave_at * 3 / 8);                                       // 3/4 leave_at windows,
  for (std::uint64_t i = 0; i < WindowFence::leave_at / 4; ++i) heap->free(heap->alloc<GC>(1));  // and 1/2 here
  BOOST_TEST(calls_for(1) == 0u);         // neither thread's visits saw leave_at of its own: this cut leaves
  BOOST_TEST(calls_for(1) == per_call);   // few windows since: symmetric from the next cut, but
  let_other_run(WindowFence::leave_at / 4);  // enter_below..leave_at windows on the asymmetric fence
  BOOST_TEST(calls_for(1) == per_call);   // the cut that would switch finds them: judged by enter_below, stays
  BOOST_TEST(calls_for(1) == per_call);
  BOOST_TEST(calls_for(10) == per_call);  // symmetric again
  let_other_run(WindowFence::leave_at);   // twice leave_at windows, all cache hits: left at a visit
  BOOST_TEST(calls_for(1) == per_call);       // asymmetric already: this cut calls (and counts many windows)
  BOOST_TEST(calls_for(10) == 2 * per_call);  // cut often again: the cut that finds few, the one that switches
  let_other_run(~std::uint64_t{0});
  other.join();
  require_clean(*heap);
}
