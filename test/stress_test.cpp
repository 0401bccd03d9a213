// SPDX-License-Identifier: BSL-1.0
// Concurrent stress: 2, 4 and 8 threads × ≥ 100k mixed operations each on one heap, under SpinLock
// and under MutexLock. Each thread allocates every kind (zeroed or not), marks its spans and checks
// the marks when it frees them (through the SpanRef or free_at), looks its spans up, looks up
// addresses it does not own, double-frees stale refs and free_at's interior addresses (both must be
// reported), while the main thread audits the shared heap until they finish. At the end: every page
// back (heap_idle == heap_sys), every counter zero, the audit clean, every misuse counted.
// Run it under --config=tsan as well (tag `concurrent`).
//
//   MHEAP_STRESS_OPS=<n>  operations per thread (default 100000)
#define BOOST_TEST_MODULE stress
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/mpl/list.hpp>

#include "test/test_support.hpp"

using namespace mheap;

namespace {

template <class L>
struct StressConfig : DefaultConfig {
  using Lock = L;
  using MisusePolicy = RecordMisuse;  static constexpr bool internal_checks = true;
};

unsigned long ops_per_thread() {
  const char* s = std::getenv("MHEAP_STRESS_OPS");
  return s != nullptr && *s != '\0' ? std::strtoul(s, nullptr, 10) : 100000;
}

// The first failure any thread saw (Boost.Test's macros are not for worker threads).
struct Failures {
  void add(const std::string& what) {
    std::lock_guard<std::mutex> guard(mutex);
    if (count++ == 0) first = what;
  }
  std::mutex mutex;
  unsigned long count = 0;
  std::string first;
};

template <class H>
struct Worker {
  using GC = GCSpanPolicy;
  using Stack = StackSpanPolicy;
  static constexpr std::size_t page = H::page_bytes;

  struct Mine {
    void* base;
    std::size_t npages;
    std::uint64_t tag;
    SpanRef<GC> gc;        // exactly one of gc / stack is set
    SpanRef<Stack> stack;
  };

  H& heap;
  unsigned id;
  unsigned long ops;
  Failures& failures;
  std::atomic<unsigned long>& misuses;
  std::vector<Mine> live;
  std::vector<Mine> stale;
  unsigned long done = 0;

  void fail(const std::string& what) { failures.add("thread " + std::to_string(id) + ": " + what); }

  static void mark(void* base, std::size_t npages, std::uint64_t tag) {
    auto* p = static_cast<unsigned char*>(base);
    std::memcpy(p, &tag, 8);
    std::memcpy(p + npages * page - 8, &tag, 8);
  }
  static bool marked(const void* base, std::size_t npages, std::uint64_t tag) {
    auto* p = static_cast<const unsigned char*>(base);
    return std::memcmp(p, &tag, 8) == 0 && std::memcmp(p + npages * page - 8, &tag, 8) == 0;
  }

  void free_one(std::size_t k, bool via_ref) {
    Mine m = live[k];
    live[k] = live.back();
    live.pop_back();
    if (!marked(m.base, m.npages, m.tag)) fail("another thread wrote into our span");
    if (heap.lookup(m.base) != (m.gc ? m.gc.header() : m.stack.header())) fail("lookup misses our span");
    if (m.gc) {
      if (via_ref) heap.free(m.gc);
      else heap.template free_at<GC>(m.base);
    } else {
      if (via_ref) heap.free(m.stack);
      else heap.template free_at<Stack>(m.base);
    }
    if (stale.size() < 16) stale.push_back(m);
    else stale[m.tag % 16] = m;
  }

  void run() {
    std::mt19937_64 rng(0x5eed0000u + id);
    std::uint64_t next_tag = std::uint64_t{id} << 40;
    for (unsigned long i = 0; i < ops; ++i, ++done) {
      const unsigned roll = rng() % 100;
      if (roll < 60) {  // alloc or free, drifting towards 32 live spans
        if (rng() % 64 >= live.size()) {
          const std::size_t npages = 1 + rng() % (rng() % 16 == 0 ? 256 : 8);
          const bool zeroed = rng() % 8 == 0;
          Mine m{nullptr, npages, ++next_tag, {}, {}};
          if (rng() % 2 == 0) {
            m.gc = heap.template alloc<GC>(npages, zeroed);
            m.base = m.gc.base();
          } else {
            m.stack = heap.template alloc<Stack>(npages, zeroed);
            m.base = m.stack.base();
          }
          if (m.base == nullptr) {
            fail("alloc refused on a 8 GiB reservation");
            continue;
          }
          if (zeroed && !marked(m.base, npages, 0)) fail("zeroed span is not zero");
          mark(m.base, npages, m.tag);
          live.push_back(m);
        } else {
          free_one(rng() % live.size(), rng() % 2 == 0);
        }
      } else if (roll < 80) {  // look up an interior byte of one of ours
        if (live.empty()) continue;
        const Mine& m = live[rng() % live.size()];
        const SpanHeader* want = m.gc ? m.gc.header() : m.stack.header();
        if (heap.lookup(static_cast<const char*>(m.base) + rng() % (m.npages * page)) != want)
          fail("lookup of an interior byte misses our span");
      } else if (roll < 88) {  // look up an address near ours: it may be anyone's; only compare
        if (live.empty()) continue;
        const Mine& m = live[rng() % live.size()];
        (void)heap.lookup(static_cast<const char*>(m.base) + m.npages * page + rng() % (64 * page));
      } else if (roll < 92) {  // double free through a stale ref
        if (stale.empty()) continue;
        const Mine& m = stale[rng() % stale.size()];
        if (m.gc) heap.free(m.gc);
        else heap.free(m.stack);
        ++misuses;
      } else if (roll < 95) {  // free_at of an interior address of ours
        if (live.empty()) continue;
        const Mine& m = live[rng() % live.size()];
        const void* p = static_cast<const char*>(m.base) + 1 + rng() % (m.npages * page - 1);
        if (m.gc) heap.template free_at<GC>(p);
        else heap.template free_at<Stack>(p);
        ++misuses;
        if (!marked(m.base, m.npages, m.tag)) fail("misuse changed our span");
      } else {  // read the counters
        const Stats s = heap.stats();
        if (s.heap_idle + s.heap_inuse != s.heap_sys) fail("heap_idle + heap_inuse != heap_sys in a snapshot");
      }
    }
    while (!live.empty()) free_one(live.size() - 1, live.size() % 2 == 0);
  }
};

template <class L>
void stress(unsigned threads) {
  using H = Heap<StressConfig<L>>;
  auto heap = test::make_heap<H>(std::size_t{8} << 30);
  const unsigned long ops = ops_per_thread();
  Failures failures;
  std::atomic<unsigned long> misuses{0};
  std::atomic<unsigned> running{threads};
  std::atomic<bool> go{false};
  std::vector<Worker<H>> workers;
  workers.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) workers.push_back(Worker<H>{*heap, t, ops, failures, misuses, {}, {}, 0});

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      workers[t].run();
      --running;
    });
  go = true;
  // Audit the shared heap while the workers run: each census sees one consistent moment.
  unsigned long audits = 0;
  while (running.load() > 0) {
    const AuditReport report = heap->audit();
    ++audits;
    if (!report) failures.add("concurrent audit: " + std::string(report.what()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  unsigned long total = 0;
  for (const auto& w : workers) total += w.done;
  std::printf("stress %u threads: %lu operations (%lu each) in %.2f s, %lu concurrent audits, %lu misuses\n",
              threads, total, ops, secs, audits, misuses.load());
  std::fflush(stdout);

  BOOST_TEST(failures.count == 0u, failures.count << " failures, first: " << failures.first);
  BOOST_TEST(total == ops * threads);
  const Stats s = heap->stats();
  BOOST_TEST(s.heap_inuse == 0u);
  BOOST_TEST(s.stacks_inuse == 0u);
  BOOST_TEST(s.heap_idle == s.heap_sys);  // no page leaked
  BOOST_TEST(heap->misuse_policy().count == misuses.load());
  BOOST_TEST(heap->events().misuses == misuses.load());
  test::require_clean(*heap);
  // Every page merged back: the whole arena is one span again.
  auto whole = heap->template alloc<GCSpanPolicy>(s.heap_sys / test::kPage);
  BOOST_TEST(static_cast<bool>(whole));
  heap->free(whole);
  test::require_clean(*heap);
}

}  // namespace

using Locks = boost::mpl::list<SpinLock, MutexLock, AdaptiveLock>;

BOOST_AUTO_TEST_CASE_TEMPLATE(two_threads, L, Locks) { stress<L>(2); }
BOOST_AUTO_TEST_CASE_TEMPLATE(four_threads, L, Locks) { stress<L>(4); }
BOOST_AUTO_TEST_CASE_TEMPLATE(eight_threads, L, Locks) { stress<L>(8); }
