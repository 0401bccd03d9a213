// SPDX-License-Identifier: BSL-1.0
// bench/path_cost.cpp — the instructions each path of the heap executes, in its worst case where
// one is stated (docs/embedded.md). Counted by callgrind, deterministic: bench/run.py runs
//   valgrind --tool=callgrind --toggle-collect=measure_<mode> bazel-bin/bench/path_cost <mode> N
// once per mode and reads "Collected": instructions inside measure_<mode> only, over N operations.
// Every mode builds its state untimed first, then measures N identical operations on it.
//
// Modes (NullLock heaps; "cache" = the heap's one span cache, DefaultConfig's 512 pages):
//   cache_pair   alloc + free of 1 page, served by the span cache
//   list_pair    alloc + free of 3 pages from the exact list, no cache: take, no split, no merge
//   split_pair   alloc + free of 3 pages cut from a 100-page free span: split, then both merges
//   tree_pair    alloc + free of 300 pages among 1,000 long free spans of distinct lengths (the tree)
//   bitmap_scan  NoTree with 4,097 lists: alloc + free of 1 page when only the longest list holds a
//                span (the bitmap scan's worst case: every word looked at), plus split and merge
//   flush_grow   one alloc that misses: the cache, full of short spans (165 of them), is flushed
//                (each merged into the free set), then the arena grows; a fresh heap per operation
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "mheap/mheap.hpp"

namespace {

using GC = mheap::GCSpanPolicy;

struct CacheConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::MmapSource;
};
struct NoCacheConfig : CacheConfig {
  static constexpr std::size_t span_cache_pages = 0;
};
struct ListsConfig : mheap::DefaultConfig {  // NoTree: 32 MiB of 8 KiB pages, a list per length
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<std::size_t{32} << 20>;
  using LargeSpanTree = mheap::NoTree;
  static constexpr std::size_t max_list_pages = (std::size_t{32} << 20 >> 13) + 1;
  static constexpr std::size_t span_cache_pages = 0;
};

template <class H>
__attribute__((noinline)) void pairs(H& heap, std::size_t pages, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto s = heap.template alloc<GC>(pages);
    if (!s) std::abort();
    asm volatile("" : : "r"(s.base()) : "memory");
    heap.free(s);
  }
}

template <class H>
std::unique_ptr<H> heap_of(std::size_t reserve = std::size_t{4} << 30) {
  if constexpr (!mheap::FixedCapacityPageSource<typename H::source_type>)
    return std::make_unique<H>(reserve);
  else
    return std::make_unique<H>();
}

// Keeps spans live until the end of the run.
std::vector<mheap::SpanRef<GC>> kept;

}  // namespace

// What callgrind counts (--toggle-collect=measure_<mode>).
extern "C" __attribute__((noinline)) void measure_cache_pair(mheap::Heap<CacheConfig>& h, std::size_t n) { pairs(h, 1, n); }
extern "C" __attribute__((noinline)) void measure_list_pair(mheap::Heap<NoCacheConfig>& h, std::size_t n) { pairs(h, 3, n); }
extern "C" __attribute__((noinline)) void measure_split_pair(mheap::Heap<NoCacheConfig>& h, std::size_t n) { pairs(h, 3, n); }
extern "C" __attribute__((noinline)) void measure_tree_pair(mheap::Heap<NoCacheConfig>& h, std::size_t n) { pairs(h, 300, n); }
extern "C" __attribute__((noinline)) void measure_bitmap_scan(mheap::Heap<ListsConfig>& h, std::size_t n) { pairs(h, 1, n); }
extern "C" __attribute__((noinline)) void measure_flush_grow(mheap::Heap<CacheConfig>** heaps, std::size_t n, std::size_t pages) {
  for (std::size_t i = 0; i < n; ++i)
    if (!heaps[i]->alloc<GC>(pages)) std::abort();
}

namespace {

int cache_pair(std::size_t n) {
  auto h = heap_of<mheap::Heap<CacheConfig>>();
  pairs(*h, 1, 64);  // grown, the span parked
  measure_cache_pair(*h, n);
  return h->audit() ? 0 : 1;
}

// [ A(3) free ][ B(1) live ] ... : A goes back to its list without merging.
int list_pair(std::size_t n) {
  auto h = heap_of<mheap::Heap<NoCacheConfig>>();
  auto a = h->alloc<GC>(3);
  kept.push_back(h->alloc<GC>(1));
  h->free(a);
  measure_list_pair(*h, n);
  return h->audit() ? 0 : 1;
}

// [ live(1) ][ free(100) ][ live(1) ] ...: alloc(3) splits the 100, free(3) merges with the 97.
int split_pair(std::size_t n) {
  auto h = heap_of<mheap::Heap<NoCacheConfig>>();
  kept.push_back(h->alloc<GC>(1));
  auto a = h->alloc<GC>(100);
  kept.push_back(h->alloc<GC>(1));
  h->free(a);
  measure_split_pair(*h, n);
  return h->audit() ? 0 : 1;
}

// 1,000 free spans of 200..1199 pages, each walled in by a live page; alloc(300) takes the best fit.
int tree_pair(std::size_t n) {
  auto h = heap_of<mheap::Heap<NoCacheConfig>>(std::size_t{16} << 30);
  std::vector<mheap::SpanRef<GC>> holes;
  for (std::size_t i = 0; i < 1000; ++i) {
    holes.push_back(h->alloc<GC>(200 + (i * 7919) % 1000));
    kept.push_back(h->alloc<GC>(1));
  }
  for (auto& s : holes) h->free(s);
  measure_tree_pair(*h, n);
  return h->audit() ? 0 : 1;
}

// Everything live except one span at the very end, as long as the arena allows: alloc(1) finds its
// list in the last word of the bitmap.
int bitmap_scan(std::size_t n) {
  auto h = heap_of<mheap::Heap<ListsConfig>>();
  auto all = h->alloc<GC>(h->capacity_pages());
  if (!all) return 1;
  const std::size_t total = all.npages();
  h->free(all);
  kept.push_back(h->alloc<GC>(1));  // then one long free span of total - 1 pages, on the last list
  if (h->audit() && total < 4000) return 1;  // the scan must cross (nearly) every word
  measure_bitmap_scan(*h, n);
  return h->audit() ? 0 : 1;
}

// A full cache of short spans (32 each of 1..5 pages and 5 of 6: 510 of its 512 pages), then a
// request no free span fits.
int flush_grow(std::size_t n) {
  std::vector<std::unique_ptr<mheap::Heap<CacheConfig>>> heaps;
  std::vector<mheap::Heap<CacheConfig>*> raw;
  constexpr std::size_t request = 1024;  // pages: more than the first growth left free
  for (std::size_t i = 0; i < n; ++i) {
    auto h = heap_of<mheap::Heap<CacheConfig>>(std::size_t{256} << 20);
    std::vector<mheap::SpanRef<GC>> spans;
    for (std::size_t len = 1; len <= 6; ++len)
      for (int k = 0; k < 32; ++k) {
        spans.push_back(h->alloc<GC>(len));
        kept.push_back(h->alloc<GC>(1));  // walls: the parked spans do not merge with each other
      }
    for (auto& s : spans) h->free(s);
    if (h->cached_pages() < 500) return 1;  // 165 spans parked (510 pages); the cache is full
    raw.push_back(h.get());
    heaps.push_back(std::move(h));
  }
  measure_flush_grow(raw.data(), n, request);
  for (auto& h : heaps)
    if (!h->audit()) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s cache_pair|list_pair|split_pair|tree_pair|bitmap_scan|flush_grow [ops]\n", argv[0]);
    return 2;
  }
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000;
  struct Mode {
    const char* name;
    int (*run)(std::size_t);
  };
  const Mode modes[] = {{"cache_pair", cache_pair}, {"list_pair", list_pair},     {"split_pair", split_pair},
                        {"tree_pair", tree_pair},   {"bitmap_scan", bitmap_scan}, {"flush_grow", flush_grow}};
  for (const Mode& m : modes) {
    if (std::strcmp(argv[1], m.name) != 0) continue;
    const int rc = m.run(n);
    if (rc != 0) std::fprintf(stderr, "%s: set-up or audit failed\n", m.name);
    else std::printf("%s: %zu operations done\n", m.name, n);
    return rc;
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
