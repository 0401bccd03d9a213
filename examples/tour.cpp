// SPDX-License-Identifier: BSL-1.0
// examples/tour.cpp — a tour of mheap: `./bazelw run //examples:tour`.
//
// Builds a heap with the default configuration (OS memory, spin lock, Go 1.9's accounting),
// hands out garbage-collected spans and stack spans, frees them, and prints Go's MemStats and the
// audit's verdict at each step. Then it fragments the heap and draws it: an SVG map of the arena
// and the same figures as JSON, written to $TMPDIR (else /tmp) as mheap-tour.svg and
// mheap-tour.json, or to the path given as the first argument (and its .json twin):
//   ./bazelw run //examples:tour -- /some/where/heap.svg
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "mheap/mheap.hpp"
#include "mheap/report.hpp"

namespace {

void print_mem_stats(const char* when, const mheap::MemStats& m) {
  std::cout << '\n' << when << '\n';
  mheap::write_mem_stats(std::cout, m);
  std::cout.flush();  // the rest of the tour prints with printf
}

template <class H>
void print_audit(H& heap) {
  const mheap::AuditReport report = heap.audit();
  std::printf("  audit: %s\n", report ? "clean" : "FAILED");
  if (!report) std::printf("%.*s", static_cast<int>(report.what().size()), report.what().data());
}

}  // namespace

int main(int argc, char** argv) {
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

  // A fragmenting trace: 400 spans of many lengths and both kinds; then every third one freed and
  // the span caches flushed, so free spans of all lengths lie between live ones (none of them can
  // serve a long request); 1 MiB of them given back to the OS, largest first; then a few more
  // freed, which wait whole in this thread's span cache.
  std::vector<mheap::SpanRef<mheap::GCSpanPolicy>> spans;
  std::vector<mheap::SpanRef<mheap::StackSpanPolicy>> stack_spans;
  std::mt19937 rng(2017);  // Go 1.9's year: the same picture every run
  for (int i = 0; i < 400; ++i) {
    if (i % 7 == 0)
      stack_spans.push_back(heap.alloc<mheap::StackSpanPolicy>(4));
    else
      spans.push_back(heap.alloc<mheap::GCSpanPolicy>(rng() % 16 == 0 ? 20 + rng() % 60 : 1 + rng() % 12));
  }
  for (std::size_t i = 0; i < spans.size(); i += 3) heap.free(spans[i]);
  for (std::size_t i = 0; i < stack_spans.size(); i += 2) heap.free(stack_spans[i]);
  heap.flush_cache();
  heap.scavenge(std::size_t{1} << 20);
  for (std::size_t i = 1; i < spans.size(); i += 9) heap.free(spans[i]);
  std::printf("\nafter a fragmenting trace:\n");
  std::fflush(stdout);
  mheap::write_text_report(std::cout, heap);
  std::cout.flush();
  print_audit(heap);

  // The picture, and the same figures for tools.
  std::filesystem::path svg_path;
  if (argc > 1) {
    svg_path = argv[1];
  } else {
    const char* tmp = std::getenv("TMPDIR");
    svg_path = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / "mheap-tour.svg";
  }
  svg_path = std::filesystem::absolute(svg_path);
  std::filesystem::path json_path = svg_path;
  json_path.replace_extension(".json");
  std::ofstream svg(svg_path), json(json_path);
  mheap::SvgMapOptions map_options;
  map_options.title = "mheap tour: the arena after a fragmenting trace";
  mheap::write_svg_map(svg, heap, map_options);
  mheap::write_json(json, heap);
  svg.close();
  json.close();
  if (!svg || !json) {
    std::printf("\ncould not write %s or %s\n", svg_path.c_str(), json_path.c_str());
    return 1;
  }
  std::printf("\nthe heap, drawn: %s\n  (open it in a browser; hover a span for its pages)\nas JSON: %s\n",
              svg_path.c_str(), json_path.c_str());
  for (auto s : spans)
    if (s.live()) heap.free(s);
  for (auto s : stack_spans)
    if (s.live()) heap.free(s);

  const mheap::Stats raw = heap.stats();
  std::printf("\nidentity heap_idle + heap_inuse == heap_sys: %" PRIu64 " + %" PRIu64 " == %" PRIu64 "\n",
              raw.heap_idle, raw.heap_inuse, raw.heap_sys);
  return heap.audit() ? 0 : 1;
}
