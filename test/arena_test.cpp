// SPDX-License-Identifier: BSL-1.0
// A heap of several arenas (mheap/arena_set.hpp), the default where threads have caches: each
// thread allocates from an arena of its own, a span goes back to its own arena whoever frees it,
// misuse is reported once to the one policy, the clock and the retention bound reach every arena,
// an exhausted arena borrows from the others, and a thread's home passes to the next thread when it
// exits. Run under TSan too (tag concurrent).
#define BOOST_TEST_MODULE arena
#include <algorithm>
#include <atomic>
#include <barrier>
#include <deque>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <thread>
#include <vector>

#include <boost/mpl/list.hpp>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {
using GC = GCSpanPolicy;
struct ArenaConfig : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
};
using H = Heap<ArenaConfig>;
static_assert(arena_count<ArenaConfig> == default_arenas && default_arenas > 1);
static_assert(arena_count<DefaultConfig> == default_arenas);  // what Heap<> is
// One arena, no arena code: a single-threaded lock, or no thread caches.
struct NullLockConfig : DefaultConfig {
  using Lock = NullLock;
};
struct NoThreadCachesConfig : DefaultConfig {
  static constexpr bool thread_caches = false;
};
static_assert(arena_count<NullLockConfig> == 1 && std::is_base_of_v<HeapShard<NullLockConfig>, Heap<NullLockConfig>>);
static_assert(arena_count<NoThreadCachesConfig> == 1);
// One arena with thread caches: every thread calls it home, none is a guest.
struct OneArenaConfig : ArenaConfig {
  static constexpr unsigned arenas = 1;
};
using OneArenaHeap = Heap<OneArenaConfig>;
static_assert(arena_count<OneArenaConfig> == 1 && has_thread_caches<OneArenaConfig>);

// The arena each live span of the heap is in, by base.
template <class Heap>
std::size_t arena_of(const Heap& heap, const void* base) {
  std::size_t arena = ~std::size_t{0};
  heap.for_each_span([&](const SpanView& v) {
    if (v.base == base) arena = v.arena;
  });
  return arena;
}
// The arenas that hold any span.
template <class Heap>
std::set<std::size_t> arenas_in_use(const Heap& heap) {
  std::set<std::size_t> arenas;
  heap.for_each_span([&](const SpanView& v) { arenas.insert(v.arena); });
  return arenas;
}
// Sums of the walk, to hold the summed counters to.
struct Walked {
  std::uint64_t live = 0, idle = 0;
};
template <class Heap>
Walked walked(const Heap& heap) {
  Walked w;
  heap.for_each_span([&](const SpanView& v) { (v.use == SpanUse::live ? w.live : w.idle) += v.bytes; });
  return w;
}
}  // namespace

// Three threads alive at once get three arenas; the heap's counters are their sums.
BOOST_AUTO_TEST_CASE(each_thread_allocates_from_an_arena_of_its_own) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto mine = heap->alloc<GC>(3);
  std::barrier sync(3);
  std::vector<SpanRef<GC>> theirs(2);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      theirs[t] = heap->alloc<GC>(5 + t);
      sync.arrive_and_wait();  // both alive at once: neither inherits the other's home
      sync.arrive_and_wait();
    });
  sync.arrive_and_wait();
  const std::size_t a0 = arena_of(*heap, mine.base()), a1 = arena_of(*heap, theirs[0].base()),
                    a2 = arena_of(*heap, theirs[1].base());
  BOOST_TEST(a0 == 0u);  // the first thread to use the heap has the first arena
  BOOST_TEST((a1 != a0 && a2 != a0 && a1 != a2));
  BOOST_TEST(arenas_in_use(*heap).size() == 3u);
  const Stats s = heap->stats();
  const Walked w = walked(*heap);
  BOOST_TEST(s.heap_inuse == (3 + 5 + 6) * kPage);
  BOOST_TEST(s.heap_inuse == w.live);
  BOOST_TEST(s.heap_idle == w.idle);
  BOOST_TEST(s.heap_idle + s.heap_inuse == s.heap_sys);
  BOOST_TEST(heap->kind_totals()[0].allocs == 3u);
  BOOST_TEST(heap->mem_stats().HeapInuse == s.heap_inuse);
  require_clean(*heap);
  sync.arrive_and_wait();
  for (auto& t : threads) t.join();
  for (auto r : theirs) heap->free(r);  // from the main thread: back to their own arenas
  heap->free(mine);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->kind_totals()[0].frees == 3u);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

// Spans freed by a thread of another arena, short and long, go back whole to their own arena:
// its idle memory, not the freeing thread's.
BOOST_AUTO_TEST_CASE(spans_freed_from_another_arena_go_back_to_their_own) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto anchor = heap->alloc<GC>(1);  // the main thread takes arena 0
  std::vector<SpanRef<GC>> spans;
  std::thread([&] {
    for (std::size_t i = 0; i < 64; ++i) spans.push_back(heap->alloc<GC>(i % 8 == 0 ? 200 : 1 + i % 5));
  }).join();
  const std::size_t theirs = arena_of(*heap, spans[0].base());
  BOOST_TEST(theirs != 0u);
  std::vector<void*> bases;
  for (auto r : spans) bases.push_back(r.base());
  for (auto r : spans) heap->free(r);  // the main thread: its cache is arena 0's, the spans are not
  heap->flush_cache();
  std::uint64_t idle_there = 0, idle_here = 0;
  heap->for_each_span([&](const SpanView& v) {
    if (v.idle()) (v.arena == theirs ? idle_there : idle_here) += v.bytes;
  });
  std::uint64_t freed = 0;
  for (std::size_t i = 0; i < 64; ++i) freed += (i % 8 == 0 ? 200 : 1 + i % 5) * kPage;
  BOOST_TEST(idle_there >= freed);
  BOOST_TEST(heap->lookup(bases[0]) == nullptr);
  BOOST_TEST(heap->stats().heap_inuse == kPage);
  heap->free(anchor);
  require_clean(*heap);
}

// A thread freeing spans of another arena (a pipeline's consumer) is a guest there: its frees
// wait in its outbox, then go as one batch onto the arena's returned stack, without the arena's
// lock; the next of the arena's own threads to lock it for its cache takes the stack onto its
// stacks where they have room (the rest into the free set); the guest itself drains it into the
// free set once it holds more than a cache's pages, and so does a flush. Every step keeps the parked pages, the
// counters and the audit exact.
BOOST_AUTO_TEST_CASE(a_thread_freeing_another_arenas_spans_hands_them_back_in_batches) {
  constexpr std::size_t outbox = ThreadCache<int, int, 1, 2>::outbox_capacity;  // spans per outbox
  constexpr std::size_t bound = ArenaConfig::span_cache_pages;  // the returned stack's, in pages
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto anchor = heap->alloc<GC>(1);  // the main thread takes arena 0
  std::vector<SpanRef<GC>> spans;
  std::vector<std::size_t> pages;
  std::thread([&] {
    for (std::size_t i = 0; i < 24 * (outbox + 1); ++i) {
      pages.push_back(i == 5 * (outbox + 1) + 3 ? 200 : 1 + i % 4);  // one too long for an outbox: a batch
      spans.push_back(heap->alloc<GC>(pages.back()));
    }
  }).join();
  const std::size_t theirs = arena_of(*heap, spans[0].base());
  BOOST_TEST(theirs == 1u);
  std::uint64_t inuse = heap->stats().heap_inuse;
  std::size_t boxed_pages = 0, stacked_pages = 0, drains = 0;  // the model
  std::vector<std::size_t> box, stack;  // lengths; the stack's in the order a drain meets them
  for (std::size_t i = 0; i < spans.size(); ++i) {
    heap->free(spans[i]);
    const std::size_t n = pages[i];
    if (n < H::max_list_pages && box.size() < outbox) {
      box.push_back(n);
      boxed_pages += n;
    } else {  // the outbox, last in first, then this span, above what the stack held
      std::vector<std::size_t> batch(box.rbegin(), box.rend());
      batch.push_back(n);
      stack.insert(stack.begin(), batch.begin(), batch.end());
      stacked_pages += boxed_pages + n;
      box.clear();
      boxed_pages = 0;
      if (stacked_pages > bound) {
        stacked_pages = 0;  // the guest drained the stack itself
        stack.clear();
        ++drains;
      }
    }
    inuse -= n * kPage;
    BOOST_TEST_REQUIRE(heap->cached_pages() == boxed_pages + stacked_pages, "after free " << i);
    const Stats s = heap->stats();
    BOOST_TEST(s.heap_inuse == inuse);
    BOOST_TEST(s.heap_idle + s.heap_inuse == s.heap_sys);
    require_clean(*heap);
  }
  BOOST_TEST(drains >= 1u);       // the test reached the guest's own drain...
  BOOST_TEST(stacked_pages > 0u);  // ...and leaves spans on the stack
  // A thread allocating in that arena (the one nobody calls home now) takes the stack onto its
  // stacks as a span cache parks a free (a length's bound, the cache's, short spans only), the
  // rest into the free set, and allocates from them. (Read inside that thread: its exit flushes.)
  std::size_t adopted_pages = 0;
  std::map<std::size_t, std::uint32_t> per_length;
  for (std::size_t n : stack) {
    if (n < H::max_list_pages && per_length[n] < ArenaConfig::span_cache_per_length && adopted_pages + n <= bound) {
      ++per_length[n];
      adopted_pages += n;
    }
  }
  BOOST_TEST_REQUIRE(per_length[1] > 0u);
  const std::uint64_t sys_before = heap->stats().heap_sys;
  SpanRef<GC> theirs_again;
  std::size_t parked_after_its_alloc = 0;
  std::thread([&] {
    theirs_again = heap->alloc<GC>(1);
    parked_after_its_alloc = heap->cached_pages();
  }).join();
  BOOST_TEST(arena_of(*heap, theirs_again.base()) == theirs);
  BOOST_TEST(heap->stats().heap_sys == sys_before);
  // The main thread's outbox is its own; of the adopted spans, one is live again.
  BOOST_TEST(parked_after_its_alloc == boxed_pages + adopted_pages - 1);
  require_clean(*heap);
  // A flush drains both; the next batch goes onto the stack again, and a flush drains it too.
  heap->flush_cache();
  BOOST_TEST(heap->cached_pages() == 0u);
  std::vector<SpanRef<GC>> more;
  std::thread([&] {
    for (std::size_t i = 0; i < outbox + 1; ++i) more.push_back(heap->alloc<GC>(2));
  }).join();
  for (auto r : more) heap->free(r);
  BOOST_TEST(heap->cached_pages() == 2 * (outbox + 1));  // all of them on the stack
  require_clean(*heap);
  heap->flush_cache();
  BOOST_TEST(heap->cached_pages() == 0u);
  // More spans of one length than a stack keeps: the allocating thread adopts up to the length's
  // bound, the rest go to the free set (and the thread's exit flushes what it adopted).
  constexpr std::uint32_t per_length_bound = ArenaConfig::span_cache_per_length;
  more.clear();
  std::thread([&] {
    for (std::size_t i = 0; i < per_length_bound + 2; ++i) more.push_back(heap->alloc<GC>(2));
  }).join();
  for (auto r : more) heap->free(r);
  static_assert((per_length_bound + 2) % (outbox + 1) == 0, "whole batches: the outbox ends empty");
  BOOST_TEST_REQUIRE(heap->cached_pages() == 2 * (per_length_bound + 2));  // all on the stack
  std::size_t parked_while_adopted = 0;
  std::thread([&] {
    heap->free(heap->alloc<GC>(2));  // adopts, allocates one, parks it again
    parked_while_adopted = heap->cached_pages();
  }).join();
  BOOST_TEST(parked_while_adopted == 2 * per_length_bound);
  BOOST_TEST(heap->cached_pages() == 0u);  // the thread's exit flushed what it adopted
  require_clean(*heap);
  // A thread whose stacks are nearly full adopts up to the cache's pages, no further.
  constexpr std::size_t held = 3 * 120, batch = outbox + 1, each = 10;
  static_assert(held + batch * each > bound && held < bound);
  std::vector<SpanRef<GC>> handed;
  std::binary_semaphore parked{0}, freed{0};
  std::size_t parked_at_bound = 0;
  std::thread owner([&] {  // the arena's home thread
    for (std::size_t i = 0; i < batch; ++i) handed.push_back(heap->alloc<GC>(each));
    std::vector<SpanRef<GC>> big;
    for (int i = 0; i < 3; ++i) big.push_back(heap->alloc<GC>(held / 3));
    for (auto r : big) heap->free(r);  // parked on its own stacks
    parked.release();
    freed.acquire();
    const auto one = heap->alloc<GC>(1);  // no 1-page span parked: locks, adopts, refills
    parked_at_bound = heap->cached_pages();
    heap->free(one);
  });
  parked.acquire();
  BOOST_TEST_REQUIRE(heap->cached_pages() == held);
  for (auto r : handed) heap->free(r);  // the main thread is a guest there: one batch
  BOOST_TEST_REQUIRE(heap->cached_pages() == held + batch * each);
  freed.release();
  owner.join();
  BOOST_TEST(parked_at_bound == held + (bound - held) / each * each);
  BOOST_TEST(heap->cached_pages() == 0u);
  require_clean(*heap);
  heap->flush_cache();
  BOOST_TEST(heap->cached_pages() == 0u);
  heap->free(theirs_again);
  heap->free(anchor);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->kind_totals()[0].frees == heap->kind_totals()[0].allocs);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

// A guest that takes the arena's lock (here: every free does, once a retention bound is set) puts
// what is on the returned stack into the free set, never on its own stacks: it does not allocate
// there, so spans parked with it would wait for a stop.
BOOST_AUTO_TEST_CASE(a_guest_that_locks_the_arena_keeps_nothing_parked_there) {
  constexpr std::size_t batch = ThreadCache<int, int, 1, 2>::outbox_capacity + 1;
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto anchor = heap->alloc<GC>(1);  // the main thread takes arena 0
  std::vector<SpanRef<GC>> spans;
  std::thread([&] {
    for (std::size_t i = 0; i < batch + 1; ++i) spans.push_back(heap->alloc<GC>(2));
  }).join();
  BOOST_TEST_REQUIRE(arena_of(*heap, spans[0].base()) != 0u);
  for (std::size_t i = 0; i < batch; ++i) heap->free(spans[i]);  // one batch onto the returned stack
  BOOST_TEST_REQUIRE(heap->cached_pages() == 2 * batch);
  heap->set_idle_retention(std::size_t{1} << 40);  // far above: nothing released, nothing flushed
  BOOST_TEST_REQUIRE(heap->cached_pages() == 2 * batch);
  heap->free(spans[batch]);  // under the lock: the guest's visit drains the stack
  BOOST_TEST(heap->cached_pages() == 0u);
  BOOST_TEST(heap->stats().heap_inuse == kPage);
  require_clean(*heap);
  heap->free(anchor);
  require_clean(*heap);
}

// A home thread's short spans that neither its stack nor its outbox has room for go with the
// outbox onto its arena's returned stack, one batch, without the lock (a pipeline through one
// arena would take it once per span); its next lock for its cache takes them back onto its stacks
// where they fit, the rest into the free set. Nothing grows, nothing is lost.
BOOST_AUTO_TEST_CASE(a_home_thread_hands_back_what_its_cache_has_no_room_for_in_batches) {
  constexpr std::size_t outbox = ThreadCache<int, int, 1, 2>::outbox_capacity;
  constexpr std::size_t per_length = OneArenaConfig::span_cache_per_length, batches = 3;
  static_assert(2 * (per_length + batches * (outbox + 1)) <= OneArenaConfig::span_cache_pages,
                "within the returned stack's bound: no drain past it");
  auto heap = test::make_heap<OneArenaHeap>(std::size_t{1} << 30);
  std::vector<SpanRef<GC>> spans;
  for (std::size_t i = 0; i < per_length + batches * (outbox + 1); ++i) spans.push_back(heap->alloc<GC>(2));
  const std::uint64_t sys = heap->stats().heap_sys;
  const std::size_t parked_before = heap->cached_pages();  // what the refills left over, if anything
  for (std::size_t i = 0; i < spans.size(); ++i) {
    heap->free(spans[i]);
    // All of it stays parked: on the stack (the first per_length), in the outbox, or on the
    // returned stack in whole batches.
    BOOST_TEST_REQUIRE(heap->cached_pages() == parked_before + 2 * (i + 1));
    if (i % (outbox + 1) == 0) require_clean(*heap);
  }
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  // per_length pops from the stack; the next allocation locks: the visit takes per_length of the
  // returned spans back onto the stack and sends the rest to the free set.
  spans.clear();
  for (std::size_t i = 0; i < per_length + 1; ++i) spans.push_back(heap->alloc<GC>(2));
  BOOST_TEST(heap->cached_pages() == 2 * (per_length - 1));
  BOOST_TEST(heap->stats().heap_sys == sys);
  require_clean(*heap);
  for (auto r : spans) heap->free(r);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

// Spans a guest handed back are the arena's to reuse before it grows: a long request drains the
// returned stack before it looks in the free set, and is served from it without a flush (the
// allocating thread's own parked span stays where it is).
BOOST_AUTO_TEST_CASE(an_arena_reuses_the_spans_handed_back_before_it_grows) {
  constexpr std::size_t outbox = ThreadCache<int, int, 1, 2>::outbox_capacity;
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto anchor = heap->alloc<GC>(1);  // the main thread takes arena 0
  std::vector<SpanRef<GC>> spans;
  std::binary_semaphore handed_back{0}, allocated{0};
  std::uint64_t sys_before = 0, sys_after = 0;
  std::size_t parked_after = 0;
  SpanRef<GC> long_one;
  std::thread owner([&] {  // arena 1's only thread
    for (std::size_t i = 0; i < 2 * (outbox + 1); ++i) spans.push_back(heap->alloc<GC>(8));
    heap->free(heap->alloc<GC>(2));  // parked on its own stack
    allocated.release();
    handed_back.acquire();
    sys_before = heap->stats().heap_sys;
    long_one = heap->alloc<GC>(200);  // more than the free set holds: the stack's 272 pages serve it
    sys_after = heap->stats().heap_sys;
    parked_after = heap->cached_pages();  // its own 2 pages: no flush took them
  });
  allocated.acquire();
  for (auto r : spans) heap->free(r);  // two whole batches: all on the stack, nothing in the outbox
  BOOST_TEST(heap->cached_pages() == 2 * (outbox + 1) * 8 + 2);
  handed_back.release();
  owner.join();
  BOOST_TEST(static_cast<bool>(long_one));
  BOOST_TEST(sys_after == sys_before);
  BOOST_TEST(parked_after == 2u);
  BOOST_TEST(arena_of(*heap, long_one.base()) == 1u);
  require_clean(*heap);
  heap->free(long_one);
  heap->free(anchor);
  require_clean(*heap);
}

// A pipeline: one thread allocates, another frees every span it is handed, while a third reads
// the counters; every snapshot satisfies the identities, nothing is lost, the audit is clean.
// In the default heap the consumer is a guest in the producer's arena; in a heap of one arena
// both call it home.
using PipelineHeaps = boost::mpl::list<H, OneArenaHeap>;
BOOST_AUTO_TEST_CASE_TEMPLATE(a_pipeline_of_two_threads_keeps_the_counters_exact, PipelineHeap, PipelineHeaps) {
  auto heap = test::make_heap<PipelineHeap>(std::size_t{1} << 32);
  constexpr std::size_t total = 20000;
  std::mutex m;
  std::deque<SpanRef<GC>> queue;
  std::atomic<bool> done{false}, refused{false};
  std::thread producer([&] {
    for (std::size_t i = 0; i < total; ++i) {
      auto r = heap->template alloc<GC>(1 + i % 4);
      if (!r) refused = true;  // checked on the main thread: Boost.Test is not thread-safe
      std::lock_guard g(m);
      queue.push_back(r);
    }
  });
  std::thread consumer([&] {
    for (std::size_t freed = 0; freed < total;) {
      SpanRef<GC> r;
      {
        std::lock_guard g(m);
        if (queue.empty()) continue;
        r = queue.front();
        queue.pop_front();
      }
      heap->free(r);
      ++freed;
    }
    done = true;
  });
  // The reader takes snapshots, and stops the front end (parked pages, mem_stats, the audit) while
  // the consumer pushes batches.
  std::size_t snapshots = 0;
  while (!done) {
    const Stats s = heap->stats();
    BOOST_TEST_REQUIRE(s.heap_idle + s.heap_inuse == s.heap_sys);
    BOOST_TEST_REQUIRE(s.heap_inuse <= total * 4 * kPage);  // a credit run past its charge wraps
    const auto totals = heap->kind_totals()[0];
    BOOST_TEST_REQUIRE(totals.frees <= totals.allocs);
    switch (snapshots++ % 3) {
      case 0: BOOST_TEST_REQUIRE(heap->cached_pages() <= total * 4); break;
      case 1: BOOST_TEST_REQUIRE(heap->mem_stats().HeapInuse <= total * 4 * kPage); break;
      default: require_clean(*heap);
    }
  }
  producer.join();
  consumer.join();
  BOOST_TEST(!refused);
  BOOST_TEST(snapshots > 0u);
  BOOST_TEST(heap->cached_pages() == 0u);  // both exited: their caches, outbox and stack drained
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->kind_totals()[0].allocs == total);
  BOOST_TEST(heap->kind_totals()[0].frees == total);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
  heap->flush_cache();
  BOOST_TEST(heap->cached_pages() == 0u);
  require_clean(*heap);
}

// Two threads, in arenas other than the span's, race to free it: one frees it, the other's free
// is reported, once, to the heap's one policy; nothing else changes.
BOOST_AUTO_TEST_CASE(a_double_free_raced_across_arenas_frees_once_and_reports_once) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  std::vector<SpanRef<GC>> spans;
  std::thread([&] {
    for (int i = 0; i < 200; ++i) spans.push_back(heap->alloc<GC>(1 + i % 3));
  }).join();
  std::barrier sync(2);
  auto racer = [&] {
    for (auto r : spans) {
      sync.arrive_and_wait();
      heap->free(r);
    }
  };
  std::thread a(racer), b(racer);
  a.join();
  b.join();
  BOOST_TEST(heap->misuse_policy().count == spans.size());
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::double_free));
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  BOOST_TEST(heap->events().misuses == spans.size());
  require_clean(*heap);
}

// Refs and addresses from elsewhere are misuse, reported; lookups answer for every arena.
BOOST_AUTO_TEST_CASE(foreign_refs_and_addresses_are_reported_and_lookups_find_every_arena) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto other = test::make_heap<H>(std::size_t{1} << 30);
  auto here = heap->alloc<GC>(2);
  SpanRef<GC> there_ref;
  std::thread([&] { there_ref = heap->alloc<GC>(4); }).join();
  BOOST_TEST(arena_of(*heap, there_ref.base()) != arena_of(*heap, here.base()));
  // lookup and span_at from the main thread find the other arena's span, interior pages too.
  BOOST_TEST(heap->lookup(static_cast<std::byte*>(there_ref.base()) + 3 * kPage) == there_ref.header());
  BOOST_TEST(heap->span_at(there_ref.base())->npages == 4u);
  int local = 0;
  BOOST_TEST(heap->lookup(&local) == nullptr);
  // A ref of another heap, and an address no arena holds.
  auto foreign = other->alloc<GC>(1);
  heap->free(foreign);
  BOOST_TEST(heap->misuse_policy().count == 1u);
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::foreign_span));
  heap->free_at<GC>(&local);
  BOOST_TEST(heap->misuse_policy().count == 2u);
  // free_at of the other arena's span, by its base, from this thread.
  heap->free_at<GC>(there_ref.base());
  BOOST_TEST(!there_ref.live());
  heap->free(here);
  other->free(foreign);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
  require_clean(*other);
}

// A thread that exits hands its home on: the next thread takes the arena nobody calls home, the
// one it left, rather than making another.
BOOST_AUTO_TEST_CASE(a_thread_that_exits_leaves_its_arena_to_the_next) {
  auto heap = test::make_heap<H>(std::size_t{1} << 32);
  auto mine = heap->alloc<GC>(1);
  std::vector<SpanRef<GC>> spans;
  for (int t = 0; t < 5; ++t)
    std::thread([&] { spans.push_back(heap->alloc<GC>(2)); }).join();
  std::set<std::size_t> arenas;
  for (auto r : spans) arenas.insert(arena_of(*heap, r.base()));
  BOOST_TEST(arenas.size() == 1u);
  BOOST_TEST(*arenas.begin() == 1u);
  BOOST_TEST(arenas_in_use(*heap).size() == 2u);
  for (auto r : spans) heap->free(r);
  heap->free(mine);
  require_clean(*heap);
}

// A home arena that cannot give a span (its reservation is full) borrows from the other arenas;
// the heap is exhausted only when every arena made is.
BOOST_AUTO_TEST_CASE(an_exhausted_arena_borrows_from_the_others) {
  auto heap = test::make_heap<H>(std::size_t{64} << 20);  // each arena: 64 MiB of address space
  const std::size_t span_pages = heap->capacity_pages() / 4;
  std::vector<SpanRef<GC>> spans{heap->alloc<GC>(span_pages)};  // the main thread's home: arena 0
  SpanRef<GC> keep;
  std::thread([&] { keep = heap->alloc<GC>(1); }).join();  // makes arena 1
  while (auto r = heap->alloc<GC>(span_pages)) spans.push_back(r);
  std::set<std::size_t> arenas;
  for (auto r : spans) arenas.insert(arena_of(*heap, r.base()));
  BOOST_TEST(arenas.size() == 2u);  // the main thread's arena 0, then arena 1
  BOOST_TEST(spans.size() > 4u);    // more than one arena can hold
  require_clean(*heap);
  for (auto r : spans) heap->free(r);
  heap->free(keep);
  BOOST_TEST(heap->misuse_policy().count == 0u);
  require_clean(*heap);
}

// The clock is one, whatever arena reads it: time moved through clock() ages the idle spans of
// an arena the caller never touched, and scavenge_idle releases them.
struct ManualClockConfig : ArenaConfig {
  using Clock = ManualClock;
};
BOOST_AUTO_TEST_CASE(the_clock_and_the_retention_bound_reach_every_arena) {
  auto heap = test::make_heap<Heap<ManualClockConfig>>(std::size_t{1} << 32);
  static_assert(arena_count<ManualClockConfig> > 1);
  auto mine = heap->alloc<GC>(1);
  std::thread([&] {
    std::vector<SpanRef<GC>> spans;
    for (int i = 0; i < 16; ++i) spans.push_back(heap->alloc<GC>(256));
    for (auto r : spans) heap->free(r);
  }).join();
  BOOST_TEST(heap->scavenge_idle(1'000'000'000) == 0u);  // not idle long enough: no time has passed
  heap->clock().advance(2'000'000'000);
  BOOST_TEST(heap->scavenge_idle(1'000'000'000) >= 16 * 256 * kPage);
  heap->free(mine);
  require_clean(*heap);

  // A bound set before an arena is made holds in it too.
  auto bounded = test::make_heap<H>(std::size_t{1} << 32);
  auto anchor = bounded->alloc<GC>(1);
  bounded->set_idle_retention(0);
  std::thread([&] {
    std::vector<SpanRef<GC>> spans;
    for (int i = 0; i < 16; ++i) spans.push_back(bounded->alloc<GC>(256));
    for (auto r : spans) bounded->free(r);
  }).join();
  BOOST_TEST(arenas_in_use(*bounded).size() == 2u);
  const Stats s = bounded->stats();
  BOOST_TEST(s.heap_idle - s.heap_released <= bounded->cached_pages() * kPage);
  bounded->free(anchor);
  require_clean(*bounded);
}

// The paced bound holds per arena, with the floor shared out: two arenas made, each tolerates half
// of it, so that together they keep what one heap would. (Released at once: no decay.)
struct PacedAtOnceConfig : ArenaConfig {
  static constexpr std::uint32_t idle_retention_decay_ms = 0;
};
BOOST_AUTO_TEST_CASE(arenas_share_the_paced_bounds_floor) {
  auto heap = test::make_heap<Heap<PacedAtOnceConfig>>(std::size_t{1} << 32);
  constexpr std::size_t floor = PacedAtOnceConfig::idle_retention_floor_bytes;
  constexpr std::size_t span_pages = 256;  // 2 MiB: long, past every span cache
  std::vector<SpanRef<GC>> spans;
  for (std::size_t bytes = 0; bytes < floor * 3 / 4; bytes += span_pages * kPage) spans.push_back(heap->alloc<GC>(span_pages));
  SpanRef<GC> other;
  std::thread([&] { other = heap->alloc<GC>(1); }).join();  // a second arena: half the floor each
  BOOST_TEST(heap->events().release_calls == 0u);
  for (auto r : spans) heap->free(r);  // 48 MiB idle in arena 0, past its half of the floor
  std::uint64_t unreleased_in_first = 0;
  heap->for_each_span([&](const SpanView& v) {
    if (v.arena == 0 && v.idle()) unreleased_in_first += v.bytes - v.released_pages * kPage;
  });
  BOOST_TEST(heap->events().release_calls > 0u);
  BOOST_TEST(unreleased_in_first <= floor / 2 + floor / 2 / 8);
  heap->free(other);
  require_clean(*heap);
}

// A replica source that reserves nothing (an address-space limit): the arena is made, holds
// nothing, and is never picked again; the thread calls the first arena home.
namespace {
class NoReplicaSource : public MmapSource {
 public:
  using MmapSource::MmapSource;
  NoReplicaSource(replica_of_t, const NoReplicaSource&) noexcept : MmapSource(0) {}
};
struct NoReplicaConfig : ArenaConfig {
  using PageSource = NoReplicaSource;
};
}  // namespace
BOOST_AUTO_TEST_CASE(an_arena_whose_source_reserves_nothing_is_passed_over) {
  static_assert(arena_count<NoReplicaConfig> > 1);
  auto heap = test::make_heap<Heap<NoReplicaConfig>>(std::size_t{1} << 30);
  auto mine = heap->alloc<GC>(1);
  std::vector<SpanRef<GC>> theirs;
  for (int t = 0; t < 3; ++t)
    std::thread([&] { theirs.push_back(heap->alloc<GC>(2)); }).join();
  for (auto r : theirs) BOOST_TEST(static_cast<bool>(r));
  BOOST_TEST(arenas_in_use(*heap).size() == 1u);  // every span in the first arena
  require_clean(*heap);
  for (auto r : theirs) heap->free(r);
  heap->free(mine);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  require_clean(*heap);
}
