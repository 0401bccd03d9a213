// SPDX-License-Identifier: BSL-1.0
// bench/workloads.hpp — the workloads, written once against a tiny allocator interface and
// instantiated in every allocator's own binary (bench/bench_<peer>.cpp).
//
// An allocator adapter A provides:
//   using handle = ...;                    what alloc returns (void* for malloc-style peers)
//   handle alloc(std::size_t pages);       pages · 8 KiB, 8 KiB aligned
//   void free(handle h, std::size_t pages);
//   static void* base(const handle& h);    first byte, null when the allocation failed
// and is default-constructible (one fresh instance per benchmark run).
//
// One "op" is one alloc+free pair everywhere: hot pair (alloc then free the same span), churn
// (free a slot, then refill it), large-span search (alloc then free the median size).
// Timing: each run is a fixed number of batches of kBatch ops (fixed iteration counts, so every
// allocator replays exactly the same trace steps); every batch is timed with steady_clock.
//   ns_per_op = Σ batch time / ops;   p99_ns = 99th percentile of the per-batch mean ns/op.
// The driver (bench/run.py) runs one process per (allocator, workload, repetition), so
// maxrss_mb (getrusage ru_maxrss) is that workload's peak RSS.
// Returning memory (release/*) is not an op loop: one peak → free 90 % → release → regrow cycle
// per process, reporting RSS after each phase and the phases' times (see release_cycle).
#pragma once

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/trace.hpp"

namespace bench {

inline constexpr std::size_t kBatch = 256;

// Iteration budgets (ops per run); --quick divides them.
struct Scale {
  std::size_t hot_ops = 1'000'000;        // spans of 1 and 8 pages
  std::size_t hot_big_ops = 200'000;      // 127, 128, 1024 pages (slow in some peers)
  std::size_t churn_ops = 300'000;
  std::size_t churn_touched_ops = 30'000;
  std::size_t large_ops = 100'000;
  // Workload 4: all threads together, split evenly. A fixed total keeps every thread count at about
  // the same run time; it also makes 8 threads' share (50,000 ops, a few ms for a fast heap) only a
  // few scheduler time slices long, so oversubscribed threads overlap less than long-lived ones would.
  std::size_t thread_total_ops = 400'000;
  std::size_t pipeline_spans = 400'000;  // workload 7: spans handed from one thread to another
  std::size_t release_mib = 1024;     // peak of the returning-memory workload
};
inline Scale g_scale;

inline double maxrss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

inline void touch(void* p, std::size_t pages) {
  auto* b = static_cast<volatile char*>(p);
  for (std::size_t off = 0; off < pages * kPageBytes; off += kTouchStride) b[off] = 1;
}

using Clock = std::chrono::steady_clock;
inline double ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

// Turns per-batch times into the counters every workload reports.
inline void report_batches(benchmark::State& st, std::vector<double>& batch_ns, std::size_t ops_per_batch) {
  double total = 0;
  for (double b : batch_ns) total += b;
  std::sort(batch_ns.begin(), batch_ns.end());
  const std::size_t n = batch_ns.size();
  const double p99 = n ? batch_ns[std::min(n - 1, static_cast<std::size_t>(0.99 * static_cast<double>(n)))] : 0;
  const double per_op = n ? total / static_cast<double>(n * ops_per_batch) : 0;
  st.counters["ns_per_op"] = per_op;
  st.counters["p99_ns"] = p99 / static_cast<double>(ops_per_batch);
  st.counters["maxrss_mb"] = maxrss_mb();
}

// ---- 1. hot pair ----------------------------------------------------------------------------------
template <class A>
void hot_pair(benchmark::State& st, std::size_t pages) {
  A a;
  for (int i = 0; i < 64; ++i) {  // warm: the first call may grow the heap
    auto h = a.alloc(pages);
    if (!A::base(h)) die("alloc", pages);
    a.free(h, pages);
  }
  std::vector<double> batch_ns;
  batch_ns.reserve(g_scale.hot_ops / kBatch + 1);
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kBatch; ++i) {
      auto h = a.alloc(pages);
      void* p = A::base(h);
      if (p == nullptr) [[unlikely]] die("alloc", pages);
      benchmark::DoNotOptimize(p);
      a.free(h, pages);
    }
    batch_ns.push_back(ns_between(t0, Clock::now()));
  }
  report_batches(st, batch_ns, kBatch);
}

// ---- 2/5. random churn ------------------------------------------------------------------------------
inline const ChurnTrace& churn_trace(std::size_t slots, std::size_t ops) {
  static std::map<std::pair<std::size_t, std::size_t>, ChurnTrace> cache;
  auto key = std::make_pair(slots, ops);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make_churn_trace(slots, 2 * slots, ops)).first;
  return it->second;
}

template <class A, bool Touch>
struct Slots {
  std::vector<typename A::handle> h;
  std::vector<std::uint32_t> pages;

  void fill(A& a, const std::vector<std::uint32_t>& initial) {
    h.resize(initial.size());
    pages = initial;
    for (std::size_t i = 0; i < initial.size(); ++i) h[i] = alloc_one(a, initial[i]);
  }
  static typename A::handle alloc_one(A& a, std::uint32_t n) {
    auto x = a.alloc(n);
    void* p = A::base(x);
    if (p == nullptr) [[unlikely]] die("alloc", n);
    if constexpr (Touch) touch(p, n);
    return x;
  }
  void replay(A& a, const Step* s, std::size_t n) {
    for (const Step* end = s + n; s != end; ++s) {
      a.free(h[s->slot], pages[s->slot]);
      h[s->slot] = alloc_one(a, s->pages);
      pages[s->slot] = s->pages;
    }
  }
  void clear(A& a) {
    for (std::size_t i = 0; i < h.size(); ++i) a.free(h[i], pages[i]);
    h.clear();
  }
};

// Adapters may add counters of their own after a churn run (mheap: fragmentation).
template <class A>
concept HasChurnReport = requires(benchmark::State& st, const ChurnTrace& t) { A::churn_report(st, t); };

template <class A, bool Touch>
void churn(benchmark::State& st, std::size_t slots, std::size_t ops) {
  const ChurnTrace& t = churn_trace(slots, ops);
  std::vector<double> batch_ns;
  batch_ns.reserve(ops / kBatch + 1);
  {
    A a;
    Slots<A, Touch> live;
    live.fill(a, t.initial);
    live.replay(a, t.steps.data(), t.warmup);  // untimed warm-up: 2 × slots steps
    std::size_t pos = t.warmup;
    for (auto _ : st) {
      const auto t0 = Clock::now();
      live.replay(a, t.steps.data() + pos, kBatch);
      batch_ns.push_back(ns_between(t0, Clock::now()));
      pos += kBatch;
    }
    report_batches(st, batch_ns, kBatch);
    live.clear(a);
  }
  st.counters["peak_live_mb"] = static_cast<double>(t.peak_live_pages * kPageBytes) / (1 << 20);
  if constexpr (HasChurnReport<A> && !Touch) A::churn_report(st, t);
}

// ---- 3. large-span search ------------------------------------------------------------------------
template <class A>
void large_search(benchmark::State& st, std::size_t count) {
  const LargeSetup setup = make_large_setup(count);
  A a;
  std::vector<typename A::handle> spans(count), fences(count);
  for (std::size_t i = 0; i < count; ++i) {
    spans[i] = a.alloc(setup.sizes[i]);
    fences[i] = a.alloc(1);
    if (!A::base(spans[i]) || !A::base(fences[i])) die("large setup alloc", setup.sizes[i]);
  }
  for (std::size_t i = 0; i < count; ++i) a.free(spans[i], setup.sizes[i]);
  const std::size_t n = setup.request;
  std::vector<double> batch_ns;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kBatch; ++i) {
      auto h = a.alloc(n);
      void* p = A::base(h);
      if (p == nullptr) [[unlikely]] die("alloc", n);
      benchmark::DoNotOptimize(p);
      a.free(h, n);
    }
    batch_ns.push_back(ns_between(t0, Clock::now()));
  }
  report_batches(st, batch_ns, kBatch);
  st.counters["request_pages"] = static_cast<double>(n);
  for (std::size_t i = 0; i < count; ++i) a.free(fences[i], 1);
}

// ---- 4. N threads --------------------------------------------------------------------------------
// Each thread t churns its own kThreadSlots slots with its own trace (seed kThreadSeed + t) on
// *as[t]: the same allocator for every thread (a shared heap) or one each (a heap per thread).
// The timed part starts when every thread has filled and warmed its slots; wall = first start to
// last stop. Reported, as the two figures the thread-scaling targets are stated in:
//   ns_per_op        wall / ops of one thread: per-thread latency (perfect scaling keeps it flat
//                    while threads ≤ cores)
//   total_ns_per_op  wall / (threads × ops): the inverse of total throughput (perfect scaling
//                    halves it from 1 to 2 threads on 2 cores, then keeps it flat when
//                    oversubscribed)
// plus the fastest and slowest thread's own start-to-stop time per op, which shows how unfairly a
// lock hands itself out.
inline constexpr std::size_t kThreadCounts[] = {1, 2, 4, 8};
inline constexpr std::size_t kThreadSlots = 1000;

template <class A>
void n_threads(benchmark::State& st, const std::vector<A*>& as, std::size_t ops) {
  const std::size_t n = as.size();
  std::vector<ChurnTrace> traces;
  traces.reserve(n);
  for (std::size_t t = 0; t < n; ++t)
    traces.push_back(make_churn_trace(kThreadSlots, 2 * kThreadSlots, ops, kThreadSeed + t));
  for (auto _ : st) {
    std::atomic<std::size_t> ready{0};
    std::vector<Clock::time_point> start(n), stop(n);
    auto body = [&](std::size_t t) {
      A& a = *as[t];
      Slots<A, false> live;
      live.fill(a, traces[t].initial);
      live.replay(a, traces[t].steps.data(), traces[t].warmup);
      ready.fetch_add(1);
      // Yield rather than spin: with more threads than cores, a spinning early arrival would
      // hold a core that a late one needs to finish its (untimed) warm-up.
      while (ready.load() < n) std::this_thread::yield();
      start[t] = Clock::now();
      live.replay(a, traces[t].steps.data() + traces[t].warmup, ops);
      stop[t] = Clock::now();
      live.clear(a);
    };
    std::vector<std::thread> others;
    for (std::size_t t = 1; t < n; ++t) others.emplace_back(body, t);
    body(0);
    for (auto& th : others) th.join();
    const double wall = ns_between(*std::min_element(start.begin(), start.end()), *std::max_element(stop.begin(), stop.end()));
    double fastest = wall, slowest = 0;
    for (std::size_t t = 0; t < n; ++t) {
      const double own = ns_between(start[t], stop[t]);
      fastest = std::min(fastest, own);
      slowest = std::max(slowest, own);
    }
    const double per_thread_ops = static_cast<double>(ops);
    st.SetIterationTime(wall * 1e-9);
    st.counters["nthreads"] = static_cast<double>(n);
    st.counters["ops_per_thread"] = per_thread_ops;
    st.counters["ns_per_op"] = wall / per_thread_ops;
    st.counters["total_ns_per_op"] = wall / (static_cast<double>(n) * per_thread_ops);
    st.counters["fastest_thread_ns_per_op"] = fastest / per_thread_ops;
    st.counters["slowest_thread_ns_per_op"] = slowest / per_thread_ops;
    st.counters["maxrss_mb"] = maxrss_mb();
  }
}

// ---- 6. returning memory: peak → free 90 % → release → regrow ---------------------------------
// An adapter that can give free memory back to the OS has `void release_to_os()` (mheap:
// release_all(); glibc: malloc_trim(0); ...). One that also has `release_report(st)` adds its own
// counters after the release (mheap: heap_released and the scvg line as the label).
template <class A>
concept CanRelease = requires(A& a) { a.release_to_os(); };
template <class A>
concept HasReleaseReport = requires(A& a, benchmark::State& st) { a.release_report(st); };

// Resident set size now, MiB (/proc/self/statm, field 2, in OS pages).
inline double rss_now_mb() {
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  unsigned long size = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * page / (1 << 20);
}

inline double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct ReleaseOptions {
  bool call = true;    // call the adapter's release_to_os() (if it has one), timed
  int idle_ms = 0;     // then sleep this long (no allocator call) before reading RSS
  int idle_first_ms = 0;  // sleep this long after the free, before the release call
  int go_on_pairs = 0;    // then this many alloc+free pairs of 160 pages: the program goes on calling
  void (*setup)() = nullptr;  // run before the peak (e.g. jemalloc: a short decay)
};

inline const ReleaseTrace& release_trace() {
  static const ReleaseTrace t = make_release_trace((std::uint64_t{g_scale.release_mib} << 20) / kPageBytes);
  return t;
}

// One cycle per process (run.py runs one process per repetition, so RSS starts clean). Times are
// wall clock (steady_clock) and this thread's CPU time; RSS is read after each phase.
template <class A>
void release_cycle(benchmark::State& st, ReleaseOptions opt) {
  const ReleaseTrace& t = release_trace();
  if (opt.setup) opt.setup();
  constexpr double mib = 1 << 20;
  for (auto _ : st) {
    A a;
    std::vector<typename A::handle> h(t.sizes.size());
    auto alloc_touch = [&](std::uint32_t i) {
      h[i] = a.alloc(t.sizes[i]);
      void* p = A::base(h[i]);
      if (p == nullptr) [[unlikely]] die("alloc", t.sizes[i]);
      touch(p, t.sizes[i]);
    };
    const double rss_base = rss_now_mb();
    auto w0 = Clock::now();
    for (std::uint32_t i = 0; i < t.sizes.size(); ++i) alloc_touch(i);
    const double peak_ms = ns_between(w0, Clock::now()) * 1e-6;
    const double rss_peak = rss_now_mb();

    w0 = Clock::now();
    for (std::uint32_t i : t.free_order) a.free(h[i], t.sizes[i]);
    const double free_ms = ns_between(w0, Clock::now()) * 1e-6;
    const double rss_free = rss_now_mb();

    double release_ms = 0, release_cpu_ms = 0;
    bool called = false;
    if (opt.idle_first_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.idle_first_ms));
    for (int i = 0; i < opt.go_on_pairs; ++i) {
      typename A::handle g = a.alloc(160);
      if (A::base(g) == nullptr) [[unlikely]] die("alloc", 160);
      a.free(g, 160);
    }
    if constexpr (CanRelease<A>) {
      if (opt.call) {
        const double c0 = thread_cpu_ns();
        w0 = Clock::now();
        a.release_to_os();
        release_ms = ns_between(w0, Clock::now()) * 1e-6;
        release_cpu_ms = (thread_cpu_ns() - c0) * 1e-6;
        called = true;
      }
    }
    if (opt.idle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.idle_ms));
    const double rss_release = rss_now_mb();
    if constexpr (HasReleaseReport<A>) a.release_report(st);

    const double c0 = thread_cpu_ns();
    w0 = Clock::now();
    for (std::uint32_t i : t.regrow) alloc_touch(i);
    const double regrow_ms = ns_between(w0, Clock::now()) * 1e-6;
    const double regrow_cpu_ms = (thread_cpu_ns() - c0) * 1e-6;
    const double rss_regrow = rss_now_mb();
    for (std::uint32_t i = 0; i < t.sizes.size(); ++i) a.free(h[i], t.sizes[i]);

    st.counters["peak_mb"] = static_cast<double>(t.total_pages * kPageBytes) / mib;
    st.counters["freed_mb"] = static_cast<double>(t.freed_pages * kPageBytes) / mib;
    st.counters["spans"] = static_cast<double>(t.sizes.size());
    st.counters["spans_freed"] = static_cast<double>(t.free_order.size());
    st.counters["rss_base_mb"] = rss_base;
    st.counters["rss_peak_mb"] = rss_peak;
    st.counters["rss_free_mb"] = rss_free;
    st.counters["rss_release_mb"] = rss_release;
    st.counters["rss_regrow_mb"] = rss_regrow;
    st.counters["peak_ms"] = peak_ms;
    st.counters["free_ms"] = free_ms;
    st.counters["release_call"] = called ? 1 : 0;
    st.counters["release_ms"] = release_ms;
    st.counters["release_cpu_ms"] = release_cpu_ms;
    st.counters["idle_ms"] = opt.idle_ms + opt.idle_first_ms;
    st.counters["regrow_ms"] = regrow_ms;
    st.counters["regrow_cpu_ms"] = regrow_cpu_ms;
  }
}

template <class A>
void register_release(const std::string& name, ReleaseOptions opt = {}) {
  benchmark::RegisterBenchmark(name.c_str(), [opt](benchmark::State& st) { release_cycle<A>(st, opt); })
      ->Iterations(1);
}

// ---- 7. a pipeline: one thread allocates, another frees ---------------------------------------
// The producer allocates `spans` spans of the churn size mix (bench/trace.hpp churn_size, seed
// kPipelineSeed) and hands each to the consumer over a bounded single-producer single-consumer
// queue (Boost.Lockfree, kPipelineDepth spans); the consumer frees them. Nothing is touched, so
// what it measures is the allocator's cost of a span crossing threads: the producer never frees,
// the consumer never allocates. Reported: wall time from the producer's first alloc to the
// consumer's last free (not its exit), per span (ns_per_op), and the same with nothing but the queue
// (queue_ns_per_op: a first run with the allocator calls left out, the floor of this workload).
inline constexpr std::size_t kPipelineDepth = 1024;
inline constexpr std::uint64_t kPipelineSeed = 0x9e3779b97f4a7c15ull;

inline void spin_pause() noexcept {  // a polite busy-wait step (the peers' binaries have no mheap)
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

template <class A>
double pipeline_run(A* a, const std::vector<std::uint32_t>& sizes) {
  using handle = typename A::handle;
  boost::lockfree::spsc_queue<std::pair<handle, std::uint32_t>, boost::lockfree::capacity<kPipelineDepth>> queue;
  const std::size_t n = sizes.size();
  std::atomic<bool> go{false};
  Clock::time_point last_free;
  std::thread consumer([&] {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::size_t freed = 0; freed < n;) {
      std::pair<handle, std::uint32_t> h;
      if (!queue.pop(h)) {
        spin_pause();
        continue;
      }
      if (a != nullptr) a->free(h.first, h.second);
      ++freed;
    }
    last_free = Clock::now();  // before the thread's exit, which hands its caches back
  });
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::size_t i = 0; i < n; ++i) {
    handle h{};
    if (a != nullptr) {
      h = a->alloc(sizes[i]);
      if (A::base(h) == nullptr) [[unlikely]] die("pipeline alloc", sizes[i]);
    }
    while (!queue.push({h, sizes[i]})) spin_pause();
  }
  consumer.join();
  return ns_between(t0, last_free) / static_cast<double>(n);
}

template <class A>
void pipeline(benchmark::State& st, std::size_t spans) {
  std::vector<std::uint32_t> sizes(spans);
  Rng rng(kPipelineSeed);
  for (auto& n : sizes) n = churn_size(rng);
  for (auto _ : st) {
    const double queue_ns = pipeline_run<A>(nullptr, sizes);
    A a;
    const double ns = pipeline_run(&a, sizes);
    st.SetIterationTime(ns * static_cast<double>(spans) * 1e-9);
    st.counters["ns_per_op"] = ns;
    st.counters["queue_ns_per_op"] = queue_ns;
    st.counters["spans"] = static_cast<double>(spans);
  }
}

// Workload 7, pipeline/<name> (AShared must be thread-safe).
template <class AShared>
void register_pipeline(const std::string& name) {
  benchmark::RegisterBenchmark(("pipeline/" + name).c_str(),
                               [](benchmark::State& st) { pipeline<AShared>(st, g_scale.pipeline_spans); })
      ->Iterations(1)
      ->UseManualTime();
}

// ---- registration ------------------------------------------------------------------------------
inline constexpr std::size_t kHotSizes[] = {1, 8, 127, 128, 1024};
inline constexpr std::size_t kChurnSlots[] = {100, 1000, 10000};
inline constexpr std::size_t kLargeCounts[] = {10, 100, 1000, 10000, 100000};

inline std::int64_t batches(std::size_t ops) { return static_cast<std::int64_t>(std::max<std::size_t>(1, ops / kBatch)); }

// Workloads 1, 2, 3, 5, 6 for a single-threaded adapter A.
template <class A>
void register_single_thread() {
  for (std::size_t n : kHotSizes)
    benchmark::RegisterBenchmark(("hot/" + std::to_string(n)).c_str(),
                                 [n](benchmark::State& st) { hot_pair<A>(st, n); })
        ->Iterations(batches(n <= 8 ? g_scale.hot_ops : g_scale.hot_big_ops));
  for (std::size_t s : kChurnSlots) {
    const std::size_t ops = batches(g_scale.churn_ops) * kBatch;
    benchmark::RegisterBenchmark(("churn/" + std::to_string(s) + "/untouched").c_str(),
                                 [s, ops](benchmark::State& st) { churn<A, false>(st, s, ops); })
        ->Iterations(batches(ops));
    const std::size_t tops = batches(g_scale.churn_touched_ops) * kBatch;
    benchmark::RegisterBenchmark(("churn/" + std::to_string(s) + "/touched").c_str(),
                                 [s, tops](benchmark::State& st) { churn<A, true>(st, s, tops); })
        ->Iterations(batches(tops));
  }
  for (std::size_t k : kLargeCounts)
    benchmark::RegisterBenchmark(("large/" + std::to_string(k)).c_str(),
                                 [k](benchmark::State& st) { large_search<A>(st, k); })
        ->Iterations(batches(g_scale.large_ops));
  register_release<A>("release/explicit");  // the adapter's own release call, if it has one
}

// Workload 4's ops per thread for n threads: a fixed total split evenly, so every thread count
// costs about the same run time (and 2 threads get the budget the old two-thread row had).
inline std::size_t thread_ops(std::size_t n) { return std::max<std::size_t>(1, g_scale.thread_total_ops / n); }

// Workload 4, threads/<name>/<n> for every n in kThreadCounts, one allocator shared by all threads
// (AShared must be thread-safe).
template <class AShared>
void register_threads_shared(const std::string& name) {
  for (std::size_t n : kThreadCounts) {
    const std::size_t ops = thread_ops(n);
    benchmark::RegisterBenchmark(("threads/" + name + "/" + std::to_string(n)).c_str(),
                                 [n, ops](benchmark::State& st) {
                                   AShared a;
                                   n_threads(st, std::vector<AShared*>(n, &a), ops);
                                 })
        ->Iterations(1)
        ->UseManualTime();
  }
}

// Workload 4 with one allocator instance per thread (made here, on the main thread; a thread
// start orders their construction before their use).
template <class A>
void register_threads_private(const std::string& name) {
  for (std::size_t n : kThreadCounts) {
    const std::size_t ops = thread_ops(n);
    benchmark::RegisterBenchmark(("threads/" + name + "/" + std::to_string(n)).c_str(),
                                 [n, ops](benchmark::State& st) {
                                   std::vector<std::unique_ptr<A>> own;
                                   std::vector<A*> as;
                                   for (std::size_t t = 0; t < n; ++t) as.push_back(own.emplace_back(std::make_unique<A>()).get());
                                   n_threads(st, as, ops);
                                 })
        ->Iterations(1)
        ->UseManualTime();
  }
}

// main() of every benchmark binary: `--quick` (ours) shrinks the budgets; the rest goes to
// Google Benchmark (--benchmark_filter, --benchmark_out, ...).
inline int bench_main(int argc, char** argv, void (*register_all)()) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_scale.hot_ops /= 10;
      g_scale.hot_big_ops /= 10;
      g_scale.churn_ops /= 10;
      g_scale.churn_touched_ops /= 5;
      g_scale.large_ops /= 10;
      // Only a quarter off: with a tenth, each of 8 threads would run ~5,000 ops, well inside one
      // scheduler time slice, and the oversubscribed threads would simply run one after another.
      g_scale.thread_total_ops /= 4;
      g_scale.pipeline_spans /= 10;
      g_scale.release_mib /= 4;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  register_all();
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace bench
