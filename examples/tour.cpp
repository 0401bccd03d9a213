// SPDX-License-Identifier: BSL-1.0
// examples/tour.cpp — a tour of mheap: `./bazelw run //examples:tour`.
//
// Builds a heap with the default configuration (OS memory, spin lock, Go 1.9's accounting),
// hands out garbage-collected spans and stack spans, frees them, and prints Go's MemStats and the
// audit's verdict at each step.
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "mheap/mheap.hpp"

namespace {

void print_mem_stats(const char* when, const mheap::MemStats& m) {
  std::printf("\n%s\n", when);
  const struct {
    const char* name;
    std::uint64_t value;
  } rows[] = {{"Sys", m.Sys},           {"HeapSys", m.HeapSys},     {"HeapIdle", m.HeapIdle},
              {"HeapInuse", m.HeapInuse}, {"HeapReleased", m.HeapReleased}, {"StackInuse", m.StackInuse},
              {"StackSys", m.StackSys}, {"MSpanInuse", m.MSpanInuse}, {"MSpanSys", m.MSpanSys},
              {"OtherSys", m.OtherSys}};
  for (const auto& row : rows)
    std::printf("  %-13s %12" PRIu64 " bytes  %9.2f MiB\n", row.name, row.value, row.value / 1048576.0);
}

template <class H>
void print_audit(H& heap) {
  const mheap::AuditReport report = heap.audit();
  std::printf("  audit: %s\n", report ? "clean" : "FAILED");
  if (!report) std::printf("%.*s", static_cast<int>(report.what().size()), report.what().data());
}

}  // namespace

int main() {
  mheap::Heap<> heap;  // DefaultConfig: MmapSource, AdaptiveLock, thread caches, GCSpanPolicy + StackSpanPolicy
  std::printf("mheap tour: pages of %zu KiB, exact lists below %zu pages, largest span %zu pages\n",
              decltype(heap)::page_bytes / 1024, decltype(heap)::max_list_pages, heap.capacity_pages());
  print_mem_stats("before anything:", heap.mem_stats());

  // Garbage-collected spans: charged to heap_inuse, inside heap_sys.
  std::vector<mheap::SpanRef<mheap::GCSpanPolicy>> objects;
  for (std::size_t pages : {1, 1, 2, 8, 64, 200}) objects.push_back(heap.alloc<mheap::GCSpanPolicy>(pages));
  // Stack spans: charged to stacks_inuse and taken out of heap_sys while live (Go commit dc0f0ab).
  std::vector<mheap::SpanRef<mheap::StackSpanPolicy>> stacks;
  for (int i = 0; i < 4; ++i) stacks.push_back(heap.alloc<mheap::StackSpanPolicy>(4, /*zeroed=*/true));

  std::printf("\nallocated %zu GC spans and %zu stack spans; e.g. a %zu-page span at %p\n", objects.size(),
              stacks.size(), objects.back().npages(), objects.back().base());
  const mheap::SpanHeader* found = heap.lookup(static_cast<char*>(objects.back().base()) + 12345);
  std::printf("lookup of an interior address finds the span at %p (%zu pages)\n",
              found ? static_cast<void*>(found->base) : nullptr, found ? found->npages : 0);
  print_mem_stats("with the spans live:", heap.mem_stats());
  print_audit(heap);

  for (auto s : objects) heap.free(s);
  for (auto s : stacks) heap.free(s);
  // Short spans wait whole (parked) in this thread's span cache for the next request of their
  // kind and length; the rest merged with their free neighbours at once.
  print_mem_stats("after freeing everything:", heap.mem_stats());
  std::printf("  (%zu pages parked in span caches)\n", heap.cached_pages());
  print_audit(heap);

  // Give the idle memory back to the OS (Go's debug.FreeOSMemory) and print Go's scavenger line.
  const std::size_t released = heap.release_all();
  std::printf("\nrelease_all() gave %zu KiB back to the OS\n%s\n", released / 1024,
              mheap::scvg_line(1, heap.stats()).c_str());
  print_audit(heap);

  const mheap::Stats raw = heap.stats();
  std::printf("\nidentity heap_idle + heap_inuse == heap_sys: %" PRIu64 " + %" PRIu64 " == %" PRIu64 "\n",
              raw.heap_idle, raw.heap_inuse, raw.heap_sys);
  return heap.audit() ? 0 : 1;
}
