// SPDX-License-Identifier: BSL-1.0
// examples/embedded_image.cpp — a heap for a bare-metal image: 1 MiB in .bss, no lock (one core,
// no preemption inside the heap), no OS, no malloc, no exceptions, no RTTI. Builds for the host
// (test/embedded_test) and for arm-none-eabi with picolibc (test/baremetal_build_test.sh).
#include "examples/embedded_image.hpp"

#include "mheap/mheap.hpp"

namespace embedded {
namespace {

// The firmware's own counters, beside Go's.
struct FirmwareStats : mheap::Stats {
  std::uint64_t dma_inuse = 0;  // bytes of live DMA buffers
};
using DmaSpanPolicy = mheap::ManualSpanPolicy<&FirmwareStats::dma_inuse>;

struct ImageConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<std::size_t{1} << 20>;
  using Stats = FirmwareStats;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, DmaSpanPolicy>;
  static constexpr std::size_t page_shift = 10;  // 1 KiB pages suit a small part
  static constexpr std::size_t max_list_pages = 32;
  static constexpr std::size_t min_grow_bytes = 16 << 10;
  static constexpr std::size_t grow_granule_bytes = 4 << 10;
  static constexpr std::size_t span_pool_chunk_bytes = 2 << 10;
};

mheap::Heap<ImageConfig> heap;  // static storage: the arena is part of .bss

}  // namespace

int run_workload() {
  int failed = 0;
  mheap::SpanRef<mheap::StackSpanPolicy> stacks[8];
  mheap::SpanRef<DmaSpanPolicy> dma[4];
  for (int round = 0; round < 50; ++round) {
    for (auto& s : stacks) {
      if (s) heap.free(s);
      s = heap.alloc<mheap::StackSpanPolicy>(2 + static_cast<std::size_t>(round % 3));
      failed += !s;
    }
    for (auto& d : dma) {
      if (d) heap.free(d);
      d = heap.alloc<DmaSpanPolicy>(4, true);
      failed += !d;
    }
    auto scratch = heap.alloc<mheap::GCSpanPolicy>(16);
    failed += !scratch || heap.lookup(scratch.base()) != scratch.header();
    heap.free(scratch);
    failed += !heap.audit();
  }
  for (auto& s : stacks) heap.free(s);
  for (auto& d : dma) heap.free(d);
  const mheap::MemStats m = heap.mem_stats();
  failed += m.HeapInuse != 0 || m.StackInuse != 0 || m.ManualSys != 0 || m.HeapIdle != m.HeapSys;
  failed += !heap.audit();
  return failed;
}

}  // namespace embedded
