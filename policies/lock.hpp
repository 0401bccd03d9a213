// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/lock.hpp — lock policies: what guards a heap's free set, page map and counters.
///
/// The concept is only lock()/unlock(). The heap holds its lock [[no_unique_address]], so NullLock
/// costs no bytes, and its empty inline functions cost no instructions: one code path serves locked
/// and unlocked heaps. MutexLock exists only where the standard library has threads (a bare-metal
/// libstdc++ has std::atomic_flag but no std::mutex).
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <atomic>
#include <concepts>
#include <cstdint>

#include "../mheap/detail/cpu_relax.hpp"

#if __has_include(<mutex>)
#include <mutex>
#endif

#if defined(_GLIBCXX_HAS_GTHREADS) || (defined(_LIBCPP_VERSION) && !defined(_LIBCPP_HAS_NO_THREADS)) || \
    defined(_MSC_VER)
/// 1 where the standard library has threads (std::mutex, std::thread, thread_local caches),
/// 0 elsewhere (bare metal). Chooses the default lock, whether AdaptiveLock, MutexLock and
/// BackgroundScavenger exist, and the default of Config::thread_caches.
#define MHEAP_HAS_THREADS 1
#else
#define MHEAP_HAS_THREADS 0
#endif

#if MHEAP_HAS_THREADS
#include "../mheap/detail/futex_word.hpp"
#endif

namespace mheap {

/// What a heap's Config::Lock must be: default-constructible, with lock() and unlock().
/// The heap calls them in pairs from one thread, never recursively; it may drop and retake the
/// lock inside one public call (around releases to the page source).
template <class L>
concept LockPolicy = std::default_initializable<L> && requires(L& l) {
  l.lock();
  l.unlock();
};

/// For a heap used by one thread (or guarded by the caller). Every operation is a no-op.
struct NullLock {
  static constexpr bool single_threaded = true;  ///< a heap with this lock is single-threaded by declaration
  void lock() noexcept {}                        ///< Does nothing.
  void unlock() noexcept {}                      ///< Does nothing.
};

/// True for a lock that declares it does not synchronize (static constexpr bool single_threaded = true):
/// what must not be shared with another thread, such as BackgroundScavenger's.
template <class L>
inline constexpr bool is_single_threaded_lock = requires { requires L::single_threaded; };

/// Test-and-test-and-set spin lock on one atomic flag: the heap's critical sections are short
/// (no system call is made under it when the page source is warm), so spinning beats sleeping.
/// Waiters spin on a plain load so the cache line stays shared until the owner releases it.
class SpinLock {
 public:
  /// Spins until the flag was clear, then holds it (acquire).
  void lock() noexcept {
    while (locked_.test_and_set(std::memory_order_acquire)) {
      while (locked_.test(std::memory_order_relaxed)) detail::cpu_relax();
    }
  }
  /// Clears the flag (release).
  void unlock() noexcept { locked_.clear(std::memory_order_release); }

 private:
  std::atomic_flag locked_;  // C++20: value-initialised clear
};

#if MHEAP_HAS_THREADS
/// Spins briefly, then sleeps in the kernel: the default for heaps shared between threads. A short
/// spin wins when the holder runs on another core and leaves within a few hundred cycles (the
/// heap's critical sections are that short); once threads outnumber cores the holder may have been
/// preempted, and spinning on would only burn the time slice it needs to run again, which is why
/// SpinLock collapses under oversubscription. The state word follows the classic futex mutex:
/// 0 free, 1 held, 2 held and someone may sleep on it; the sleep is the futex itself on Linux,
/// std::atomic::wait elsewhere (mheap/detail/futex_word.hpp says why).
class AdaptiveLock {
 public:
  /// Polite pauses before sleeping (under a microsecond on current x86). Short on purpose: on
  /// the thread scaling benchmark (2 cores, 2026-12-06, total ns per op with 2 / 4 / 8 threads,
  /// medians of 12 alternated runs) 0, 4 and 16 pauses measured alike within the runs' spread
  /// (119 / 73 / 73, 120 / 67 / 73, 123 / 76 / 82) and 64 fell behind once threads outnumber
  /// cores (111 / 116 / 101), as spinners take the cores the holder needs. 16 keeps the brief
  /// spin that catches a holder about to leave on another core.
  static constexpr int spins = 16;

  /// Takes a free lock with one compare-and-swap; otherwise spins, then sleeps until woken.
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    lock_contended();
  }
  /// Frees the lock, and wakes one sleeper if one may be waiting.
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) detail::futex_wake_one(state_);
  }

 private:
  void lock_contended() noexcept {
    for (int i = 0; i < spins; ++i) {
      detail::cpu_relax();
      std::uint32_t expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
    // Mark it contended before sleeping, so the unlock that frees it wakes someone. A thread
    // that gets the lock this way holds it as "2": its unlock may wake a sleeper for nothing,
    // never leave one asleep.
    while (state_.exchange(2, std::memory_order_acquire) != 0) detail::futex_wait(state_, 2);
  }

  std::atomic<std::uint32_t> state_{0};
};

/// A sleeping lock for heaps shared by many threads under contention.
class MutexLock {
 public:
  void lock() { mutex_.lock(); }               ///< std::mutex::lock().
  void unlock() noexcept { mutex_.unlock(); }  ///< std::mutex::unlock().

 private:
  std::mutex mutex_;
};
#endif

}  // namespace mheap
