// SPDX-License-Identifier: BSL-1.0
// Lock policies: each one guards a heap; threads sharing one heap under SpinLock, MutexLock and AdaptiveLock leave
// it clean, with every page back in the free set.
#define BOOST_TEST_MODULE locks
#include <atomic>
#include <random>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/mpl/list.hpp>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::require_clean;

namespace {

// A user-written lock: counts how often any heap takes and releases it.
struct CountingLock {
  void lock() { ++locks; }
  void unlock() { ++unlocks; }
  static inline unsigned long locks = 0, unlocks = 0;
};

static_assert(LockPolicy<NullLock> && LockPolicy<SpinLock> && LockPolicy<MutexLock> && LockPolicy<AdaptiveLock> &&
              LockPolicy<CountingLock>);
static_assert(std::is_same_v<DefaultConfig::Lock, AdaptiveLock>, "hosted targets default to the adaptive lock");
static_assert(!LockPolicy<int>);
static_assert(std::is_empty_v<NullLock>, "NullLock must cost no bytes in the heap");
// A stateful lock gets a cache line to itself inside the heap; an empty one stays empty.
static_assert(alignof(detail::IsolatedLock<SpinLock>) == detail::cache_line_bytes &&
              sizeof(detail::IsolatedLock<SpinLock>) == detail::cache_line_bytes);
static_assert(std::is_same_v<detail::IsolatedLock<NullLock>, NullLock>);

template <class L>
struct LockConfig : DefaultConfig {
  using Lock = L;
  using MisusePolicy = RecordMisuse;
};
// The heap's one span cache, under its lock: every public operation locks.
template <class L>
struct OneCacheConfig : LockConfig<L> {
  static constexpr bool thread_caches = false;
};

}  // namespace

using Locks = boost::mpl::list<NullLock, SpinLock, MutexLock, AdaptiveLock, CountingLock>;

BOOST_AUTO_TEST_CASE_TEMPLATE(each_lock_policy_guards_a_heap, L, Locks) {
  auto heap = test::make_heap<Heap<LockConfig<L>>>(std::size_t{1} << 30);
  auto a = heap->template alloc<GCSpanPolicy>(3);
  auto b = heap->template alloc<StackSpanPolicy>(2);
  BOOST_TEST((a && b));
  heap->free(a);
  heap->free(b);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(every_public_operation_takes_the_lock_once) {
  auto heap = test::make_heap<Heap<OneCacheConfig<CountingLock>>>(std::size_t{1} << 30);
  auto once = [&](auto op) {
    const unsigned long locks = CountingLock::locks, unlocks = CountingLock::unlocks;
    op();
    BOOST_TEST(CountingLock::locks == locks + 1);
    BOOST_TEST(CountingLock::unlocks == unlocks + 1);
  };
  SpanRef<GCSpanPolicy> a;
  once([&] { a = heap->alloc<GCSpanPolicy>(2, true); });
  once([&] { (void)heap->lookup(a.base()); });
  once([&] { (void)heap->span_at(a.base()); });
  once([&] { (void)heap->stats(); });
  once([&] { (void)heap->mem_stats(); });
  once([&] { (void)heap->events(); });
  once([&] { (void)heap->audit(); });
  once([&] { heap->free(a); });
  once([&] { heap->free(a); });  // a reported double free unlocks too
  auto b = heap->alloc<GCSpanPolicy>(1);
  once([&] { heap->free_at<GCSpanPolicy>(b.base()); });
}

// With thread caches, a thread's alloc and free of a span its cache can hold take no lock once
// the cache has been filled: that is what lets threads scale.
BOOST_AUTO_TEST_CASE(a_thread_cache_hit_takes_no_lock) {
  auto heap = test::make_heap<Heap<LockConfig<CountingLock>>>(std::size_t{1} << 30);
  // Registers this thread's cache; two spans of 2 pages end up parked in it.
  auto warm_a = heap->alloc<GCSpanPolicy>(2);
  auto warm_b = heap->alloc<GCSpanPolicy>(2);
  heap->free(warm_a);
  heap->free(warm_b);
  const unsigned long locks = CountingLock::locks;
  for (int i = 0; i < 1000; ++i) {
    auto a = heap->alloc<GCSpanPolicy>(2);
    auto b = heap->alloc<GCSpanPolicy>(2);
    BOOST_REQUIRE((a && b && a != b));
    heap->free(a);
    heap->free(b);
  }
  BOOST_TEST(CountingLock::locks == locks);
  BOOST_TEST(heap->stats().heap_inuse == 0u);  // the deltas fold into the snapshot
  require_clean(*heap);
}

template <class L>
void hammer(unsigned threads, unsigned ops_per_thread) {
  auto heap = test::make_heap<Heap<LockConfig<L>>>(std::size_t{4} << 30);
  std::atomic<bool> go{false};
  std::atomic<unsigned> bad{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      std::vector<SpanRef<GCSpanPolicy>> gc;
      std::vector<SpanRef<StackSpanPolicy>> stacks;
      while (!go.load()) std::this_thread::yield();
      for (unsigned i = 0; i < ops_per_thread; ++i) {
        const std::size_t pages = 1 + rng() % (rng() % 8 == 0 ? 300 : 8);
        switch (rng() % 4) {
          case 0:
            if (auto s = heap->template alloc<GCSpanPolicy>(pages)) {
              *static_cast<unsigned*>(s.base()) = t;  // owned by this thread alone
              gc.push_back(s);
            }
            break;
          case 1:
            if (auto s = heap->template alloc<StackSpanPolicy>(pages)) stacks.push_back(s);
            break;
          case 2:
            if (!gc.empty()) {
              const std::size_t k = rng() % gc.size();
              if (*static_cast<unsigned*>(gc[k].base()) != t) ++bad;  // someone else got our span
              if (heap->lookup(gc[k].base()) != gc[k].header()) ++bad;
              heap->free(gc[k]);
              gc[k] = gc.back();
              gc.pop_back();
            }
            break;
          case 3:
            if (!stacks.empty()) {
              heap->free(stacks.back());
              stacks.pop_back();
            }
            break;
        }
      }
      for (auto s : gc) heap->free(s);
      for (auto s : stacks) heap->free(s);
    });
  }
  go = true;
  for (auto& th : pool) th.join();
  BOOST_TEST(bad.load() == 0u);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(s.stacks_inuse == 0u);
  BOOST_TEST(s.heap_idle == s.heap_sys);  // no page leaked
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

BOOST_AUTO_TEST_CASE(threads_share_a_spin_locked_heap) { hammer<SpinLock>(4, 50000); }
BOOST_AUTO_TEST_CASE(threads_share_a_mutex_locked_heap) { hammer<MutexLock>(4, 50000); }
// More threads than cores: waiters sleep in the kernel and every one is woken in the end.
BOOST_AUTO_TEST_CASE(threads_share_an_adaptive_locked_heap) { hammer<AdaptiveLock>(8, 30000); }

// The lock itself: mutual exclusion under 8 threads with a critical section long enough that
// waiters reach the sleeping path, and no lost wake-up (the test would hang).
BOOST_AUTO_TEST_CASE(adaptive_lock_excludes_and_wakes_every_sleeper) {
  AdaptiveLock lock;
  long counter = 0;
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        lock.lock();
        if (inside.fetch_add(1) != 0) overlapped = true;
        ++counter;
        if (i % 64 == 0) std::this_thread::yield();  // hold it across a reschedule now and then
        inside.fetch_sub(1);
        lock.unlock();
      }
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(!overlapped.load());
  BOOST_TEST(counter == 8 * 20000);
}
