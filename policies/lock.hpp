// policies/lock.hpp — lock policies: what guards a heap's free set, page map and counters.
//
// The concept is only lock()/unlock(). The heap holds its lock [[no_unique_address]], so NullLock
// costs no bytes, and its empty inline functions cost no instructions: one code path serves locked
// and unlocked heaps. MutexLock exists only where the standard library has threads (a bare-metal
// libstdc++ has std::atomic_flag but no std::mutex).
#pragma once

#include <atomic>
#include <concepts>

#include "mheap/detail/cpu_relax.hpp"

#if __has_include(<mutex>)
#include <mutex>
#endif

#if defined(_GLIBCXX_HAS_GTHREADS) || (defined(_LIBCPP_VERSION) && !defined(_LIBCPP_HAS_NO_THREADS)) || \
    defined(_MSC_VER)
#define MHEAP_HAS_THREADS 1
#else
#define MHEAP_HAS_THREADS 0
#endif

namespace mheap {

template <class L>
concept LockPolicy = std::default_initializable<L> && requires(L& l) {
  l.lock();
  l.unlock();
};

// For a heap used by one thread (or guarded by the caller). Every operation is a no-op.
struct NullLock {
  static constexpr bool single_threaded = true;  // a heap with this lock is single-threaded by declaration
  void lock() noexcept {}
  void unlock() noexcept {}
};

// True for a lock that declares it does not synchronize (static constexpr bool single_threaded = true):
// what must not be shared with another thread, such as BackgroundScavenger's.
template <class L>
inline constexpr bool is_single_threaded_lock = requires { requires L::single_threaded; };

// Test-and-test-and-set spin lock on one atomic flag: the heap's critical sections are short
// (no system call is made under it when the page source is warm), so spinning beats sleeping.
// Waiters spin on a plain load so the cache line stays shared until the owner releases it.
class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.test_and_set(std::memory_order_acquire)) {
      while (locked_.test(std::memory_order_relaxed)) detail::cpu_relax();
    }
  }
  void unlock() noexcept { locked_.clear(std::memory_order_release); }

 private:
  std::atomic_flag locked_;  // C++20: value-initialised clear
};

#if MHEAP_HAS_THREADS
// A sleeping lock for heaps shared by many threads under contention.
class MutexLock {
 public:
  void lock() { mutex_.lock(); }
  void unlock() noexcept { mutex_.unlock(); }

 private:
  std::mutex mutex_;
};
#endif

}  // namespace mheap
