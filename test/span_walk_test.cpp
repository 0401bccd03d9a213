// SPDX-License-Identifier: BSL-1.0
// Heap::for_each_span() and take_census(): every span of the grown arena visited once, in address
// order, tiling it; each classified as the counters see it (live per kind, cached, free with its
// released pages, releasing); the census adding up to the MemStats of the same instant.
#define BOOST_TEST_MODULE span_walk
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mheap/span_census.hpp"
#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;
using Stack = StackSpanPolicy;

// OS memory, no lock, exact growth (every page of the arena belongs to a span the test made), so a
// test knows every span; releases work (MmapSource).
struct ExactConfig : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  using HookLinks = SafeLinks;
  static constexpr bool internal_checks = true;
  static constexpr std::size_t min_grow_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t grow_granule_bytes = std::size_t{1} << page_shift;
  static constexpr std::size_t span_cache_pages = 0;  // every free merges at once
};
// The same with the heap's one span cache.
struct CachingConfig : ExactConfig {
  static constexpr std::size_t span_cache_pages = 64;
};
constexpr std::size_t kReserve = std::size_t{1} << 30;

struct Walk {
  std::vector<SpanView> spans;
  MemStats at;  // the MemStats for_each_span() returned
};

template <class H>
Walk walk(const H& heap) {
  Walk w;
  w.at = heap.for_each_span([&](const SpanView& v) { w.spans.push_back(v); });
  return w;
}

// The view of the span starting at base, or null.
const SpanView* view_at(const Walk& w, const void* base) {
  for (const SpanView& v : w.spans)
    if (v.base == base) return &v;
  return nullptr;
}

// What holds for every walk of a sound heap of the default kinds: the spans tile the grown arena
// (as many bytes as the heap obtained for spans), each is described consistently, and they add up
// to the counters of the same instant.
// A heap of several arenas (mheap/arena_set.hpp) walks them one after the other, their pages
// numbered as if laid end to end: the spans still tile, and within an arena the addresses follow.
template <class H>
void check_walk(const H& heap, const Walk& w) {
  std::size_t next = 0, arena = w.spans.empty() ? 0 : w.spans.front().arena, arena_first_page = 0;
  const std::byte* arena_base = w.spans.empty() ? nullptr : w.spans.front().base;
  std::uint64_t idle = 0, released = 0, gc_live = 0, stack_live = 0;
  for (const SpanView& v : w.spans) {
    if (v.arena != arena) {  // the next arena
      arena = v.arena;
      arena_base = v.base;
      arena_first_page = v.first_page;
    }
    BOOST_TEST_REQUIRE(v.first_page == next, "a span starts at page " << v.first_page << ", not " << next);
    BOOST_TEST_REQUIRE(v.npages >= 1u);
    BOOST_TEST(v.bytes == v.npages * H::page_bytes);
    BOOST_TEST(v.base == arena_base + (v.first_page - arena_first_page) * H::page_bytes);
    BOOST_TEST(v.released_pages <= v.npages);
    if (v.held()) {
      BOOST_TEST(v.released_pages == 0u);
      BOOST_TEST_REQUIRE(v.kind < H::span_kinds::size);
      const char* expected = v.kind == H::span_kinds::template index_of<GC> ? GC::name : Stack::name;
      BOOST_TEST(std::string(v.kind_name) == expected);
    } else {
      BOOST_TEST(v.kind_name == nullptr);
    }
    // span_at() agrees: it finds exactly the live spans.
    const std::optional<SpanInfo> info = heap.span_at(v.base);
    BOOST_TEST(info.has_value() == (v.use == SpanUse::live));
    if (info && v.use == SpanUse::live) {
      BOOST_TEST(info->npages == v.npages);
      BOOST_TEST(info->kind == v.kind);
    }
    if (v.idle()) idle += v.bytes;
    released += v.released_pages * H::page_bytes;
    if (v.use == SpanUse::live) (v.kind == H::span_kinds::template index_of<GC> ? gc_live : stack_live) += v.bytes;
    next = v.end_page();
  }
  BOOST_TEST(next * H::page_bytes == w.at.Sys - w.at.MSpanSys - w.at.OtherSys);  // the grown arenas, whole
  BOOST_TEST(idle == w.at.HeapIdle);
  BOOST_TEST(released == w.at.HeapReleased);
  BOOST_TEST(gc_live == w.at.HeapInuse);
  BOOST_TEST(stack_live == w.at.StackInuse);
}

// What holds for every census of a sound heap of the default kinds.
template <class H>
void check_census(const SpanCensus& c) {
  const MemStats& m = c.mem_stats;
  BOOST_TEST(c.page_bytes == H::page_bytes);
  BOOST_TEST_REQUIRE(c.kinds.size() == 2u);
  BOOST_TEST(std::string(c.kinds[0].name) == GC::name);
  BOOST_TEST(std::string(c.kinds[1].name) == Stack::name);
  std::size_t spans = 0, pages = 0, released = 0, last_length = 0;
  for (const FreeSpanLength& l : c.free_by_length) {
    BOOST_TEST(l.npages > last_length);  // ascending, each length once
    BOOST_TEST(l.spans() >= 1u);         // only lengths that have a free span
    BOOST_TEST(l.released_pages <= l.released_spans * l.npages);
    BOOST_TEST(l.released_pages >= l.released_spans);  // a released span has a released page
    last_length = l.npages;
    spans += l.spans();
    pages += l.spans() * l.npages;
    released += l.released_pages;
  }
  BOOST_TEST(spans == c.free_spans);
  BOOST_TEST(pages == c.free_pages);
  BOOST_TEST(released == c.released_pages);
  BOOST_TEST(c.largest_free.npages == last_length);
  BOOST_TEST(c.kinds[0].cached_pages + c.kinds[1].cached_pages == c.cached_pages);
  BOOST_TEST(c.kinds[0].cached_spans + c.kinds[1].cached_spans == c.cached_spans);
  BOOST_TEST(c.spans == c.live_spans() + c.cached_spans + c.free_spans);
  BOOST_TEST(c.grown_pages == c.live_pages() + c.cached_pages + c.free_pages);
  BOOST_TEST(c.grown_pages * c.page_bytes == m.Sys - m.MSpanSys - m.OtherSys);
  BOOST_TEST((c.free_pages + c.cached_pages) * c.page_bytes == m.HeapIdle);
  BOOST_TEST(c.released_pages * c.page_bytes == m.HeapReleased);
  BOOST_TEST(c.kinds[0].live_pages * c.page_bytes == m.HeapInuse);
  BOOST_TEST(c.kinds[1].live_pages * c.page_bytes == m.StackInuse);
  BOOST_TEST(c.releasing_pages <= c.free_pages);
}

template <class H>
void check_all(const H& heap) {
  const Walk w = walk(heap);
  check_walk(heap, w);
  const SpanCensus c = take_census(heap);
  check_census<H>(c);
  BOOST_TEST(c.spans == w.spans.size());  // nothing moved between the two walks
  BOOST_TEST(c.mem_stats == heap.mem_stats());
  require_clean(heap);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_heap_that_never_grew_has_no_span) {
  auto heap = test::make_heap<Heap<ExactConfig>>(kReserve);
  const Walk w = walk(*heap);
  BOOST_TEST(w.spans.empty());
  BOOST_TEST(w.at == heap->mem_stats());
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.spans == 0u);
  BOOST_TEST(c.grown_pages == 0u);
  BOOST_TEST(c.capacity_pages == heap->capacity_pages());
  BOOST_TEST(c.free_by_length.empty());
  BOOST_TEST(c.largest_free.npages == 0u);
  check_census<Heap<ExactConfig>>(c);
}

BOOST_AUTO_TEST_CASE(live_spans_of_each_kind_and_free_spans_tile_the_arena_in_address_order) {
  auto heap = test::make_heap<Heap<ExactConfig>>(kReserve);
  auto a = heap->alloc<GC>(1);
  auto b = heap->alloc<Stack>(4);
  auto c = heap->alloc<GC>(200);  // longer than the exact lists
  auto d = heap->alloc<GC>(3);
  auto e = heap->alloc<Stack>(2);
  BOOST_REQUIRE(a && b && c && d && e);
  check_all(*heap);
  {
    // Exact growth: these five spans are the arena, in the order they were handed out.
    const Walk w = walk(*heap);
    BOOST_TEST_REQUIRE(w.spans.size() == 5u);
    const void* bases[] = {a.base(), b.base(), c.base(), d.base(), e.base()};
    const std::size_t lengths[] = {1, 4, 200, 3, 2};
    const char* kinds[] = {GC::name, Stack::name, GC::name, GC::name, Stack::name};
    for (std::size_t i = 0; i < 5; ++i) {
      BOOST_TEST(w.spans[i].base == bases[i]);
      BOOST_TEST(w.spans[i].npages == lengths[i]);
      BOOST_TEST((w.spans[i].use == SpanUse::live));
      BOOST_TEST(std::string(w.spans[i].kind_name) == kinds[i]);
    }
  }
  // Freed between live neighbours: free spans of their own; freed next to each other: merged.
  heap->free(b);
  heap->free(d);
  heap->free(e);
  check_all(*heap);
  const Walk w = walk(*heap);
  BOOST_TEST_REQUIRE(w.spans.size() == 4u);
  BOOST_TEST((w.spans[1].use == SpanUse::free));
  BOOST_TEST(w.spans[1].npages == 4u);
  BOOST_TEST((w.spans[3].use == SpanUse::free));
  BOOST_TEST(w.spans[3].npages == 5u);  // d and e, merged
  BOOST_TEST(w.spans[3].base == w.spans[2].base + 200 * kPage);
  const SpanCensus census = take_census(*heap);
  BOOST_TEST(census.kinds[0].live_spans == 2u);
  BOOST_TEST(census.kinds[0].live_pages == 201u);
  BOOST_TEST(census.kinds[1].live_spans == 0u);
  BOOST_TEST_REQUIRE(census.free_by_length.size() == 2u);
  BOOST_TEST(census.free_by_length[0].npages == 4u);
  BOOST_TEST(census.free_by_length[0].backed_spans == 1u);
  BOOST_TEST(census.free_by_length[1].npages == 5u);
  BOOST_TEST(census.largest_free.npages == 5u);
  BOOST_TEST(census.largest_free.first_page == w.spans[3].first_page);
  heap->free(a);
  heap->free(c);
  check_all(*heap);
  BOOST_TEST(walk(*heap).spans.size() == 1u);  // one free span: the whole arena
}

BOOST_AUTO_TEST_CASE(parked_spans_are_cached_as_their_kind_until_the_cache_is_flushed) {
  auto heap = test::make_heap<Heap<CachingConfig>>(kReserve);
  auto fence0 = heap->alloc<GC>(1);
  auto gc = heap->alloc<GC>(2);
  auto fence1 = heap->alloc<GC>(1);
  auto stack = heap->alloc<Stack>(3);
  auto fence2 = heap->alloc<GC>(1);
  auto big = heap->alloc<GC>(150);  // too long to park: merged at once
  BOOST_REQUIRE(fence0 && gc && fence1 && stack && fence2 && big);
  heap->free(gc);
  heap->free(stack);
  heap->free(big);
  check_all(*heap);
  const Walk w = walk(*heap);
  const SpanView* g = view_at(w, w.spans[1].base);
  BOOST_TEST_REQUIRE(g != nullptr);
  BOOST_TEST((g->use == SpanUse::cached));
  BOOST_TEST(std::string(g->kind_name) == GC::name);
  BOOST_TEST((w.spans[3].use == SpanUse::cached));
  BOOST_TEST(std::string(w.spans[3].kind_name) == Stack::name);
  BOOST_TEST((w.spans[5].use == SpanUse::free));
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.cached_spans == 2u);
  BOOST_TEST(c.cached_pages == 5u);
  BOOST_TEST(c.cached_pages == heap->cached_pages());
  BOOST_TEST(c.kinds[0].cached_pages == 2u);
  BOOST_TEST(c.kinds[1].cached_pages == 3u);
  BOOST_TEST(c.free_spans == 1u);

  heap->flush_cache();
  check_all(*heap);
  const SpanCensus after = take_census(*heap);
  BOOST_TEST(after.cached_pages == 0u);
  BOOST_TEST(after.free_spans == 3u);
}

BOOST_AUTO_TEST_CASE(released_and_partly_released_free_spans_are_counted_apart_from_backed_ones) {
  auto heap = test::make_heap<Heap<ExactConfig>>(kReserve);
  auto a = heap->alloc<GC>(10);
  auto fence1 = heap->alloc<GC>(1);
  auto b = heap->alloc<GC>(6);
  auto fence2 = heap->alloc<GC>(1);
  auto c = heap->alloc<GC>(4);
  auto fence3 = heap->alloc<GC>(1);
  BOOST_REQUIRE(a && fence1 && b && fence2 && c && fence3);
  heap->free(a);
  heap->free(b);
  heap->free(c);
  // Largest first: all of a; then 2 pages of b (a span with nothing released gives its highest
  // pages to use up the rest of the budget); c stays backed.
  BOOST_TEST_REQUIRE(heap->scavenge(12 * kPage) == 12 * kPage);
  check_all(*heap);
  const Walk w = walk(*heap);
  BOOST_TEST_REQUIRE(w.spans.size() == 6u);
  BOOST_TEST(w.spans[0].released_pages == 10u);
  BOOST_TEST(w.spans[2].released_pages == 2u);
  BOOST_TEST(w.spans[4].released_pages == 0u);
  const SpanCensus census = take_census(*heap);
  BOOST_TEST_REQUIRE(census.free_by_length.size() == 3u);
  const FreeSpanLength& four = census.free_by_length[0];
  const FreeSpanLength& six = census.free_by_length[1];
  const FreeSpanLength& ten = census.free_by_length[2];
  BOOST_TEST((four.npages == 4u && four.backed_spans == 1u && four.released_spans == 0u && four.released_pages == 0u));
  BOOST_TEST((six.npages == 6u && six.backed_spans == 0u && six.released_spans == 1u && six.released_pages == 2u));
  BOOST_TEST((ten.npages == 10u && ten.backed_spans == 0u && ten.released_spans == 1u && ten.released_pages == 10u));
  BOOST_TEST(census.released_pages == 12u);

  // Allocating from a released span makes it backed again, whole.
  auto again = heap->alloc<GC>(10);
  BOOST_REQUIRE(again);
  check_all(*heap);
  BOOST_TEST(take_census(*heap).released_pages == 2u);
}

BOOST_AUTO_TEST_CASE(the_largest_free_span_is_the_lowest_addressed_of_the_longest) {
  auto heap = test::make_heap<Heap<ExactConfig>>(kReserve);
  std::vector<SpanRef<GC>> free_later, fences;
  for (std::size_t pages : {3, 5, 2, 5, 4}) {
    free_later.push_back(heap->alloc<GC>(pages));
    fences.push_back(heap->alloc<GC>(1));
  }
  const std::byte* first_five = static_cast<std::byte*>(free_later[1].base());
  for (auto s : free_later) heap->free(s);
  check_all(*heap);
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.largest_free.npages == 5u);
  BOOST_TEST(c.largest_free.first_page == 4u);  // 3 pages, a fence, then the first 5-page span
  const Walk w = walk(*heap);
  const SpanView* largest = view_at(w, first_five);
  BOOST_TEST_REQUIRE(largest != nullptr);
  BOOST_TEST(largest->first_page == c.largest_free.first_page);
  BOOST_TEST_REQUIRE(c.free_by_length.size() == 4u);
  BOOST_TEST(c.free_by_length[3].backed_spans == 2u);  // both 5-page spans
}

namespace {
// Holds its release() calls until the test opens the gate: a span being released stays in state
// scavenging, outside the free set, with the heap lock dropped, for as long as the test looks.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool entered = false;
  bool open = false;
};
struct GatedSource : MmapSource {
  explicit GatedSource(Gate* gate) : MmapSource(kReserve), gate_(gate) {}
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    {
      std::unique_lock lock(gate_->m);
      gate_->entered = true;
      gate_->cv.notify_all();
      gate_->cv.wait(lock, [&] { return gate_->open; });
    }
    return MmapSource::release(p, n);
  }
  Gate* gate_;
};
struct GatedConfig : ExactConfig {
  using Lock = MutexLock;  // release() runs with it dropped: the walk can take it meanwhile
  using PageSource = GatedSource;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_span_being_released_outside_the_lock_is_walked_as_releasing) {
  Gate gate;
  auto heap = test::make_heap<Heap<GatedConfig>>(&gate);
  auto a = heap->alloc<GC>(8);
  auto fence = heap->alloc<GC>(1);
  BOOST_REQUIRE(a && fence);
  heap->free(a);
  std::thread releaser([&] { heap->release_all(); });
  {
    std::unique_lock lock(gate.m);
    gate.cv.wait(lock, [&] { return gate.entered; });
  }
  const Walk during = walk(*heap);
  BOOST_TEST_REQUIRE(during.spans.size() == 2u);
  BOOST_TEST((during.spans[0].use == SpanUse::releasing));
  BOOST_TEST(during.spans[0].released_pages == 0u);  // counted when the release is settled
  check_walk(*heap, during);
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.releasing_spans == 1u);
  BOOST_TEST(c.releasing_pages == 8u);
  BOOST_TEST(c.free_spans == 1u);  // a releasing span is free, and in the histogram
  check_census<Heap<GatedConfig>>(c);
  {
    std::lock_guard lock(gate.m);
    gate.open = true;
  }
  gate.cv.notify_all();
  releaser.join();
  const Walk after = walk(*heap);
  BOOST_TEST((after.spans[0].use == SpanUse::free));
  BOOST_TEST(after.spans[0].released_pages == 8u);
  check_all(*heap);
}

BOOST_AUTO_TEST_CASE(spans_parked_in_other_threads_caches_are_cached) {
  // The default configuration: a cache per thread, used without the lock.
  auto heap = test::make_heap<Heap<test::MmapConfig>>(kReserve);
  std::mutex m;
  std::condition_variable cv;
  bool parked = false, done = false;
  std::thread other([&] {
    auto x = heap->alloc<GC>(2);
    auto y = heap->alloc<Stack>(3);
    heap->free(x);
    heap->free(y);
    std::unique_lock lock(m);
    parked = true;
    cv.notify_all();
    cv.wait(lock, [&] { return done; });
  });  // its cache goes back to the heap when it exits
  auto mine = heap->alloc<GC>(1);
  heap->free(mine);
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return parked; });
  }
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.cached_pages == 6u);
  BOOST_TEST(c.cached_pages == heap->cached_pages());
  BOOST_TEST(c.kinds[0].cached_spans == 2u);
  BOOST_TEST(c.kinds[1].cached_spans == 1u);
  check_census<Heap<test::MmapConfig>>(c);
  const Walk w = walk(*heap);
  check_walk(*heap, w);
  // The default gives each thread an arena of its own (mheap/arena_set.hpp): the walk crosses two.
  BOOST_TEST(std::any_of(w.spans.begin(), w.spans.end(), [&](const SpanView& v) { return v.arena != w.spans.front().arena; }));
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  other.join();
  const SpanCensus after = take_census(*heap);
  BOOST_TEST(after.cached_pages == 1u);  // this thread's span only
  check_all(*heap);
}

BOOST_AUTO_TEST_CASE(a_random_trace_tiles_the_arena_and_adds_up_after_every_step) {
  auto heap = test::make_heap<Heap<CachingConfig>>(kReserve);
  std::mt19937_64 rng(13);
  std::vector<SpanRef<GC>> gc;
  std::vector<SpanRef<Stack>> stacks;
  for (int step = 0; step < 600; ++step) {
    const unsigned what = static_cast<unsigned>(rng() % 10);
    const std::size_t pages = rng() % 8 == 0 ? 100 + rng() % 200 : 1 + rng() % 12;
    if (what < 4) {
      gc.push_back(heap->alloc<GC>(pages));
    } else if (what < 6) {
      stacks.push_back(heap->alloc<Stack>(pages));
    } else if (what < 8 && !gc.empty()) {
      const std::size_t i = rng() % gc.size();
      heap->free(gc[i]);
      gc.erase(gc.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (what < 9 && !stacks.empty()) {
      const std::size_t i = rng() % stacks.size();
      heap->free(stacks[i]);
      stacks.erase(stacks.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      heap->scavenge((rng() % 40) * kPage);
    }
    check_all(*heap);
  }
  const SpanCensus c = take_census(*heap);
  BOOST_TEST(c.kinds[0].live_spans == gc.size());
  BOOST_TEST(c.kinds[1].live_spans == stacks.size());
}
