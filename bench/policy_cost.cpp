// SPDX-License-Identifier: BSL-1.0
// bench/policy_cost.cpp — what compile-time counter binding saves: the same alloc/free path built
// with a kind whose counter is a constant (mheap::StackSpanPolicy) and with a kind whose counter is
// chosen at run time (RunTimeStack, Go 1.9's `stat *uint64`). Counted by callgrind, which is
// deterministic: bench/run.py runs
//   valgrind --tool=callgrind --toggle-collect=measure_<mode> bazel-bin/bench/policy_cost <mode> N
// once per mode and reads "Collected" (instructions executed inside measure_<mode> only).
//
// Modes (each is N alloc+free pairs of 1..8 pages, the same sequence):
//   stack_ct    StackSpanPolicy                        (outside heap_sys, counter bound at compile time)
//   stack_rt    RunTimeStack                           (same accounting, counter bound at run time)
//   gc_ct       GCSpanPolicy                           (inside heap_sys, charges heap_inuse only)
//   inheap_ct   ManualInHeapSpanPolicy<&inheap_inuse>  (inside heap_sys + own counter, compile time)
//   inheap_rt   RunTimeInHeap                          (the same, counter bound at run time)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mheap/mheap.hpp"

namespace {

struct BenchStats : mheap::Stats {
  std::uint64_t inheap_inuse = 0;
};

struct RunTimeStack {
  static inline std::uint64_t mheap::Stats::*counter = &mheap::Stats::stacks_inuse;  // run-time binding
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = true;
  static constexpr mheap::SpanState state = mheap::SpanState::manual;
  static constexpr const char* name = "RunTimeStack";
};
using InHeapCT = mheap::ManualInHeapSpanPolicy<&BenchStats::inheap_inuse>;
struct RunTimeInHeap {
  static inline std::uint64_t BenchStats::*counter = &BenchStats::inheap_inuse;  // run-time binding
  static constexpr bool counts_toward_heap_sys = true;
  static constexpr bool maps_interior_pages = true;
  static constexpr mheap::SpanState state = mheap::SpanState::manual;
  static constexpr const char* name = "RunTimeInHeap";
};

struct Config : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::MmapSource;
  using Stats = BenchStats;
  using SpanKinds = mheap::SpanKinds<mheap::GCSpanPolicy, mheap::StackSpanPolicy, RunTimeStack, InHeapCT, RunTimeInHeap>;
};
using Heap = mheap::Heap<Config>;

template <class Kind>
__attribute__((noinline)) void run_pairs(Heap& heap, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t pages = 1 + (i & 7);
    auto s = heap.alloc<Kind>(pages);
    if (!s) std::abort();
    asm volatile("" : : "r"(s.base()) : "memory");
    heap.free(s);
  }
}

}  // namespace

// What callgrind counts (--toggle-collect=measure_<mode>).
extern "C" __attribute__((noinline)) void measure_stack_ct(Heap& h, std::size_t n) { run_pairs<mheap::StackSpanPolicy>(h, n); }
extern "C" __attribute__((noinline)) void measure_stack_rt(Heap& h, std::size_t n) { run_pairs<RunTimeStack>(h, n); }
extern "C" __attribute__((noinline)) void measure_gc_ct(Heap& h, std::size_t n) { run_pairs<mheap::GCSpanPolicy>(h, n); }
extern "C" __attribute__((noinline)) void measure_inheap_ct(Heap& h, std::size_t n) { run_pairs<InHeapCT>(h, n); }
extern "C" __attribute__((noinline)) void measure_inheap_rt(Heap& h, std::size_t n) { run_pairs<RunTimeInHeap>(h, n); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s stack_ct|stack_rt|gc_ct|inheap_ct|inheap_rt [pairs]\n", argv[0]);
    return 2;
  }
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  static Heap heap(std::size_t{1} << 30);
  struct Mode {
    const char* name;
    void (*warm)(Heap&, std::size_t);
    void (*measure)(Heap&, std::size_t);
  };
  const Mode modes[] = {
      {"stack_ct", run_pairs<mheap::StackSpanPolicy>, measure_stack_ct},
      {"stack_rt", run_pairs<RunTimeStack>, measure_stack_rt},
      {"gc_ct", run_pairs<mheap::GCSpanPolicy>, measure_gc_ct},
      {"inheap_ct", run_pairs<InHeapCT>, measure_inheap_ct},
      {"inheap_rt", run_pairs<RunTimeInHeap>, measure_inheap_rt},
  };
  for (const Mode& m : modes) {
    if (std::strcmp(argv[1], m.name) != 0) continue;
    m.warm(heap, 64);  // grows the heap and the record pool outside the measured call
    m.measure(heap, n);
    if (auto report = heap.audit(); !report) {
      std::fprintf(stderr, "audit failed: %s\n", report.what().data());
      return 1;
    }
    std::printf("%s: %zu pairs done\n", m.name, n);
    return 0;
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
