// SPDX-License-Identifier: BSL-1.0
// examples/quick_start.cpp — the README's quick start, as a program the test suite builds and runs.
#include <cstdio>
#include <cstring>

#include "mheap/mheap.hpp"

// Your own counter for your own kind of manually managed memory.
struct MyStats : mheap::Stats {
  std::uint64_t workbuf_inuse = 0;  // bytes
};
using WorkbufSpanPolicy = mheap::ManualSpanPolicy<&MyStats::workbuf_inuse, "workbuf">;  // named in messages

struct MyConfig : mheap::DefaultConfig {
  using Lock = mheap::MutexLock;                   // or NullLock, SpinLock, AdaptiveLock, your own
  using PageSource = mheap::StaticArena<64 << 20>;  // or MmapSource, your own
  using Stats = MyStats;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, WorkbufSpanPolicy>;
};

static mheap::Heap<MyConfig> heap;  // a StaticArena heap lives in .bss

static void use(void* p, std::size_t bytes) { std::memset(p, 0x5A, bytes); }

int main() {
  auto span = heap.alloc<WorkbufSpanPolicy>(4, /*zeroed=*/true);  // 4 pages, empty ref on failure
  if (!span) return 1;
  use(span.base(), span.bytes());
  std::printf("workbuf_inuse while live: %llu bytes\n",
              static_cast<unsigned long long>(heap.stats().workbuf_inuse));
  heap.free(span);  // heap.free<mheap::GCSpanPolicy>(span) would not compile
  MyStats raw = heap.stats();               // Go's raw counters plus yours
  mheap::MemStats view = heap.mem_stats();  // Sys, HeapSys, HeapIdle, HeapInuse, ...
  std::printf("after free: workbuf_inuse %llu, HeapSys %llu, Sys %llu\n",
              static_cast<unsigned long long>(raw.workbuf_inuse), static_cast<unsigned long long>(view.HeapSys),
              static_cast<unsigned long long>(view.Sys));
  if (auto report = heap.audit(); !report) {
    std::printf("%.*s", static_cast<int>(report.what().size()), report.what().data());
    return 1;
  }
  return raw.workbuf_inuse == 0 ? 0 : 1;
}
