// SPDX-License-Identifier: BSL-1.0
// bench/mheap_peer.hpp — mheap under test: the adapter and the configurations the benchmarks use.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>

#include "bench/peers.hpp"
#include "bench/placement_bound.hpp"
#include "bench/trace.hpp"
#include "mheap/mheap.hpp"

namespace bench {

// Single thread: no lock, OS pages (MmapSource), 8 KiB pages (DefaultConfig's page_shift = 13).
struct NullLockConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::MmapSource;
};
struct SpinLockConfig : NullLockConfig {
  using Lock = mheap::SpinLock;
};
struct MutexLockConfig : NullLockConfig {
  using Lock = mheap::MutexLock;
};
struct AdaptiveLockConfig : NullLockConfig {
  using Lock = mheap::AdaptiveLock;
};
// One heap shared by every thread (one arena), with thread caches: what the arenas buy.
struct AdaptiveLockOneArenaConfig : AdaptiveLockConfig {
  static constexpr unsigned arenas = 1;
};
// The same lock without per-thread caches (and so one arena): what the front end buys (one span
// cache, under the lock).
struct AdaptiveLockOneCacheConfig : AdaptiveLockConfig {
  static constexpr bool thread_caches = false;
};
// The paced bound at 50 %, releasing at once (no decay): the release workload's row that returns
// memory during the frees. (NullLockConfig paces as DefaultConfig does: 100 %, a decay of 1 s.)
struct PacedConfig : NullLockConfig {
  static constexpr unsigned idle_retention_percent = 50;
  static constexpr std::uint32_t idle_retention_decay_ms = 0;
};
static_assert(mheap::Heap<NullLockConfig>::page_bytes == kPageBytes);

template <class Config, class Kind = mheap::GCSpanPolicy>
class MheapPeer {
 public:
  using heap_type = mheap::Heap<Config>;
  using handle = mheap::SpanRef<Kind>;

  MheapPeer() : heap_(reserve_bytes()) {}

  handle alloc(std::size_t pages) noexcept { return heap_.template alloc<Kind>(pages); }
  void free(handle h, std::size_t) noexcept { heap_.free(h); }
  static void* base(const handle& h) noexcept { return h.base(); }
  heap_type& heap() noexcept { return heap_; }

  // Returning memory (workload release/*): Go's debug.FreeOSMemory, then what the heap says.
  void release_to_os() noexcept { released_ = heap_.release_all(); }
  void release_report(benchmark::State& st) {
    const auto s = heap_.stats();
    const auto e = heap_.events();
    constexpr double mb = 1 << 20;
    st.counters["heap_released_mb"] = static_cast<double>(s.heap_released) / mb;
    st.counters["release_all_mb"] = static_cast<double>(released_) / mb;
    st.counters["heap_sys_mb"] = static_cast<double>(s.heap_sys) / mb;
    st.counters["heap_inuse_mb"] = static_cast<double>(s.heap_inuse) / mb;
    st.counters["release_calls"] = static_cast<double>(e.release_calls);
    st.SetLabel(mheap::scvg_line(1, s).c_str());
  }

  // Fragmentation on a churn trace: replays it untimed in a fresh heap, reading heap.stats()
  // after every step. heap_sys never shrinks for GC spans, so its last value is its peak.
  static void churn_report(benchmark::State& st, const ChurnTrace& t) {
    MheapPeer p;
    auto& heap = p.heap();
    std::uint64_t peak_inuse = 0, peak_sys = 0;
    auto note = [&] {
      const auto s = heap.stats();
      peak_inuse = std::max(peak_inuse, s.heap_inuse);
      peak_sys = std::max(peak_sys, s.heap_sys);
    };
    std::vector<handle> live(t.initial.size());
    for (std::size_t i = 0; i < live.size(); ++i) {
      live[i] = p.alloc(t.initial[i]);
      note();
    }
    for (const Step& s : t.steps) {
      p.free(live[s.slot], 0);
      live[s.slot] = p.alloc(s.pages);
      if (!live[s.slot]) die("alloc", s.pages);
      note();
    }
    const auto end = heap.stats();
    for (auto& h : live) p.free(h, 0);
    constexpr double mb = 1 << 20;
    st.counters["heap_sys_mb"] = static_cast<double>(peak_sys) / mb;
    st.counters["peak_inuse_mb"] = static_cast<double>(peak_inuse) / mb;
    st.counters["frag"] = static_cast<double>(peak_sys) / static_cast<double>(peak_inuse);
    // The same trace in the ideal-placement model, growing as this heap grows.
    const std::uint64_t ideal = best_fit_footprint_pages(t, Config::min_grow_bytes / kPageBytes,
                                                         Config::grow_granule_bytes / kPageBytes);
    st.counters["ideal_frag"] = static_cast<double>(ideal) / static_cast<double>(t.peak_live_pages);
    st.counters["mspan_sys_mb"] = static_cast<double>(end.mspan_sys) / mb;
    st.counters["other_sys_mb"] = static_cast<double>(end.other_sys) / mb;
  }

 private:
  heap_type heap_;
  std::size_t released_ = 0;
};

}  // namespace bench
