// SPDX-License-Identifier: BSL-1.0
// mheap/detail/asymmetric_fence.hpp — a store-then-load order whose cost is paid by the side that
// runs rarely.
//
// A thread opening its cache window (mheap/consistent_stats.hpp) stores its odd seq and then loads
// the epoch; the heap, cutting or stopping the threads, stores the epoch and then loads every
// thread's seq. That is Dekker's pattern: each side needs its store ordered before its load, or
// both can miss the other (store buffering), which on x86-64 costs a locked instruction on every
// alloc and every free of the default heap (bench threads/adaptivelock/1 measured 47 ns per
// alloc+free pair with it, 40 without, 2026-12-07: about 3.5 ns per window). The thread's side runs
// on every operation, the heap's on a fold or a stop.
//
// On Linux, membarrier(2)'s private expedited command makes every running thread of the process
// execute a full memory barrier before it returns (a thread that is not running passes one when it
// is switched in). So the frequent side is a compiler barrier, and the rare side, after its own
// store, one system call: either a thread's store came before the barrier it was made to execute,
// and the heap's loads after the call see it, or its load comes after that barrier, and sees the
// heap's store. That call is not cheap (8.3 us with another thread of the process running, 88 ns
// alone, measured here 2026-12-07), so each heap chooses which fence its windows use, and switches
// when it is cut often (mheap/window_fence.hpp, which says how a switch stays ordered).
//
// The process registers for the command once, before the first window exists (enable()). Without it
// both sides are always seq_cst stores: where the kernel lacks the command or refuses it (old
// kernels, some sandboxes, Valgrind), off Linux, and where the program defines MHEAP_NO_MEMBARRIER
// (for a seccomp filter that kills on unlisted system calls, and for the tests of this path).
// Define it for the whole program: it decides whether the process registers, and enable() is one
// inline function (every heap reads one flag, so the order holds however it was decided).
#pragma once
#include "require_cxx20.hpp"

#include <atomic>
#include <cstdint>

#include "internal_check.hpp"

#if defined(__linux__) && __has_include(<linux/membarrier.h>)
#define MHEAP_DETAIL_HAS_MEMBARRIER 1
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mheap::detail {

class AsymmetricFence {
 public:
  /// Registers the process for membarrier's private expedited command, once (later calls return
  /// at once). Called before the first window is made; until then, and if it fails, the fence is
  /// symmetric.
  static void enable() noexcept {
    static const bool registered = register_process();
    (void)registered;
  }
  /// Whether the process is registered for the command, so that a heap may choose the light
  /// frequent side (mheap/window_fence.hpp chooses, per heap). One flag for the whole program: the
  /// macro only keeps enable() from registering, so translation units built with and without
  /// MHEAP_NO_MEMBARRIER still agree.
  static bool asymmetric() noexcept { return on_.load(std::memory_order_relaxed); }
  /// The frequent side: word = v, ordered before the seq_cst loads that follow it. light: the heap
  /// that reads word calls heavy() after its own store (a compiler barrier here is enough);
  /// otherwise a seq_cst store.
  template <class T>
  [[gnu::always_inline]] static void store_before_loads(std::atomic<T>& word, T v, bool light) noexcept {
    if (light) {
      word.store(v, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the heavy side orders it in the CPU
    } else {
      word.store(v, std::memory_order_seq_cst);
    }
  }
  /// The rare side, after its store (seq_cst) and before its loads: every
  /// store a thread made before its own side's loads is visible after this returns.
  static void heavy() noexcept {
#if defined(MHEAP_DETAIL_HAS_MEMBARRIER)
    if (asymmetric()) {
      if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        internal_check_failed("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after the process registered for it");
      heavy_calls_.fetch_add(1, std::memory_order_relaxed);
    }
#endif
  }
  /// System calls heavy() has made (tests: that a heap calls it when, and only when, it must).
  static std::uint64_t heavy_calls() noexcept { return heavy_calls_.load(std::memory_order_relaxed); }

 private:
  static bool register_process() noexcept {
#if defined(MHEAP_DETAIL_HAS_MEMBARRIER) && !defined(MHEAP_NO_MEMBARRIER)
    const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    constexpr long needed = MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
    if (supported < 0 || (supported & needed) != needed) return false;
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return false;
    // Published to the heaps by the lock under which the first window's cache is registered.
    on_.store(true, std::memory_order_relaxed);
    return true;
#else
    return false;
#endif
  }
  static inline std::atomic<bool> on_{false};
  static inline std::atomic<std::uint64_t> heavy_calls_{0};
};

}  // namespace mheap::detail
