// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/background_scavenger.hpp — Go's sysmon behaviour on request: a thread that calls
/// heap.scavenge_idle(min_idle) every period, and optionally prints Go's scvg trace line.
///
/// The heap never starts a thread by itself; this object does, between start() and stop() (or its
/// destructor). Only where the standard library has threads.
#pragma once
#include "detail/require_cxx20.hpp"

#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS

#if MHEAP_HAS_THREADS
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>

#include "scvg_trace.hpp"

namespace mheap {

/// A thread that releases HeapT's long-idle spans every period (see the file's description). The
/// heap's lock must synchronize (not NullLock): the thread calls the heap beside its users.
template <class HeapT>
class BackgroundScavenger {
  static_assert(!is_single_threaded_lock<typename HeapT::lock_type>,
                "BackgroundScavenger: the heap's Config::Lock is single-threaded (NullLock), so a scavenger "
                "thread would race the heap's users; give the heap AdaptiveLock (the default), SpinLock or MutexLock");

 public:
  /// When to run and what to release; the defaults are Go 1.9's.
  struct Settings {
    std::chrono::nanoseconds period{std::chrono::seconds(150)};     ///< Go 1.9: every 2.5 minutes
    std::chrono::nanoseconds min_idle{std::chrono::minutes(5)};     ///< Go 1.9: spans idle 5 minutes
    bool trace = false;  ///< print "scvgN: ..." to stderr after each tick that released memory
  };

  /// A scavenger for heap, not yet running; heap must outlive it.
  explicit BackgroundScavenger(HeapT& heap) noexcept : heap_(heap) {}
  /// Stops the thread first (stop()).
  ~BackgroundScavenger() { stop(); }
  BackgroundScavenger(const BackgroundScavenger&) = delete;
  BackgroundScavenger& operator=(const BackgroundScavenger&) = delete;

  /// Starts the thread (a no-op when running).
  void start(Settings settings) {
    std::lock_guard guard(mutex_);
    if (thread_.joinable()) return;
    settings_ = settings;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
  /// Starts the thread with the default Settings (a no-op when running).
  void start() { start(Settings{}); }

  /// Stops and joins the thread (a no-op when not running). Returns after the current tick.
  void stop() {
    std::thread running;
    {
      std::lock_guard guard(mutex_);
      if (!thread_.joinable()) return;
      stopping_ = true;
      running = std::move(thread_);  // one caller joins, however many call stop()
    }
    wake_.notify_all();
    running.join();
  }

  /// Ticks run so far (calls of scavenge_idle() made by the thread).
  std::uint64_t ticks() const noexcept {
    std::lock_guard guard(mutex_);
    return ticks_;
  }

 private:
  void run() {
    std::unique_lock guard(mutex_);
    while (!wake_.wait_for(guard, settings_.period, [this] { return stopping_; })) {
      const Settings s = settings_;
      guard.unlock();
      const std::size_t released = heap_.scavenge_idle(static_cast<std::uint64_t>(s.min_idle.count()));
      guard.lock();
      ++ticks_;
      if (s.trace && released > 0) {
        std::fprintf(stderr, "scvg%llu: %llu MB released\n%s\n", static_cast<unsigned long long>(ticks_),
                     static_cast<unsigned long long>(released >> 20), scvg_line(ticks_, heap_.stats()).c_str());
      }
    }
  }

  HeapT& heap_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  Settings settings_;
  bool stopping_ = false;
  std::uint64_t ticks_ = 0;
};

}  // namespace mheap
#endif
