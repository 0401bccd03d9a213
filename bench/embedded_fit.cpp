// SPDX-License-Identifier: BSL-1.0
// bench/embedded_fit.cpp — how well each free-span structure packs a small fixed arena: the
// best-fit tree (RbTree, the default), Go 1.9's Treap, and NoTree (a list per length; docs/embedded.md).
//
// Untimed and deterministic: seeded traces replayed on a `StaticArena<64 KiB>` with 256-byte pages
// (the Cortex-M configuration of tools/size_table.sh), no span cache so placement alone decides.
// Each step frees a random slot and allocates a new span there. Reported per structure and trace:
//   refused    allocations the arena could not serve (fragmentation, or simply full);
//   sys/peak   heap_sys over the peak of heap_inuse (1.00: the arena never grew past the live peak);
//   largest    the longest span that still fitted at the end, probed by bisection (pages).
// Prints a Markdown table; bench/run.sh puts it into bench/RESULTS.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "mheap/mheap.hpp"

namespace {

template <class Tree, std::size_t ListPages>
struct SmallArena : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<std::size_t{64} << 10, 256, mheap::ArenaRelease::none>;
  using LargeSpanTree = Tree;
  static constexpr std::size_t page_shift = 8;
  static constexpr std::size_t max_list_pages = ListPages;
  static constexpr std::size_t span_cache_pages = 0;
};

struct Trace {
  const char* name;
  unsigned slots;   // live spans at most
  unsigned long_1_in;  // one allocation in this many is long
  unsigned short_max, long_max;  // pages
};
// Firmware-like: many short buffers, now and then a long one; from comfortable to nearly full
// (the arena keeps about 200 of its 256 pages for spans; the column says how many exactly).
constexpr Trace traces[] = {
    {"16 slots, 1–6 pages, 1 in 8 up to 40", 16, 8, 6, 40},
    {"24 slots, 1–6 pages, 1 in 8 up to 40", 24, 8, 6, 40},
    {"32 slots, 1–4 pages, 1 in 16 up to 64", 32, 16, 4, 64},
};
constexpr int steps = 200000;

struct Result {
  unsigned long refused = 0;
  double sys_over_peak = 0;
  std::size_t largest = 0;
  std::size_t pages = 0;  // the arena's pages for spans (the rest: page map and span records)
};

template <class Config>
Result replay(const Trace& t) {
  using Heap = mheap::Heap<Config>;
  using GC = mheap::GCSpanPolicy;
  auto heap = std::make_unique<Heap>();
  std::vector<mheap::SpanRef<GC>> live(t.slots);
  std::uint32_t rng = 20261129;
  auto next = [&rng] {  // xorshift32: the same trace for every structure
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  Result r;
  std::uint64_t peak_inuse = 0;
  for (int step = 0; step < steps; ++step) {
    auto& slot = live[next() % t.slots];
    if (slot) heap->free(slot);
    const std::size_t n = 1 + next() % (next() % t.long_1_in == 0 ? t.long_max : t.short_max);
    slot = heap->template alloc<GC>(n);
    if (!slot) ++r.refused;
    const auto s = heap->stats();
    if (s.heap_inuse > peak_inuse) peak_inuse = s.heap_inuse;
  }
  r.sys_over_peak = static_cast<double>(heap->stats().heap_sys) / static_cast<double>(peak_inuse);
  std::size_t lo = 0, hi = heap->capacity_pages();  // lo fits (or is 0), hi + 1 does not
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    if (auto probe = heap->template alloc<GC>(mid)) {
      heap->free(probe);
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  r.largest = lo;
  r.pages = heap->capacity_pages();
  for (auto& s : live) heap->free(s);
  if (!heap->audit()) std::fprintf(stderr, "embedded_fit: audit failed\n");
  return r;
}

template <class Config>
void row(const char* structure, const Trace& t) {
  const Result r = replay<Config>(t);
  std::printf("| %s | %s | %zu | %lu | %.2f | %zu |\n", t.name, structure, r.pages, r.refused, r.sys_over_peak,
              r.largest);
}

}  // namespace

int main() {
  std::printf(
      "Seeded traces on a `StaticArena<64 KiB>` of 256-byte pages, no span cache; each step frees a random\n"
      "slot and allocates there. *refused*: allocations the arena could not serve; *sys/peak*: heap_sys over\n"
      "peak heap_inuse; *largest at end*: the longest span that still fitted afterwards (pages); *pages*: the\n"
      "arena's pages left for spans (host records: their size differs with the structure's hook).\n\n");
  std::printf("| trace (%d steps) | free spans in | pages | refused | sys/peak | largest at end |\n"
              "|---|---|---|---|---|---|\n",
              steps);
  for (const Trace& t : traces) {
    row<SmallArena<mheap::RbTree, 16>>("RbTree, lists below 16 pages (default)", t);
    row<SmallArena<mheap::Treap, 16>>("Treap, lists below 16 pages", t);
    row<SmallArena<mheap::NoTree, 257>>("NoTree, a list per length", t);
  }
}
