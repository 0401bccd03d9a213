// policies/lock.hpp — lock policies: what guards a heap's free set, page map and counters.
//
// The concept is only lock()/unlock(). The heap holds its lock [[no_unique_address]], so NullLock
// costs no bytes, and its empty inline functions cost no instructions: one code path serves locked
// and unlocked heaps. MutexLock exists only where the standard library has threads (a bare-metal
// libstdc++ has std::atomic_flag but no std::mutex).
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <type_traits>

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

// One polite pause in a spin-wait loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH_7A__))
  asm volatile("yield");
#endif
}

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
      while (locked_.test(std::memory_order_relaxed)) cpu_relax();
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

// A lock with state gets a cache line to itself inside the heap: waiters spin on it, and the
// counters beside it would otherwise move between cores with every update the owner makes (false
// sharing). An empty lock (NullLock) stays empty and costs nothing.
inline constexpr std::size_t cache_line_bytes = 64;
template <LockPolicy L>
struct alignas(cache_line_bytes) CacheLineLock : L {};
template <LockPolicy L>
using IsolatedLock = std::conditional_t<std::is_empty_v<L>, L, CacheLineLock<L>>;

// Holds a lock for a scope. (std::lock_guard would do, but <mutex> is not on every target.)
template <LockPolicy L>
class [[nodiscard]] LockGuard {
 public:
  explicit LockGuard(L& lock) : lock_(lock) { lock_.lock(); }
  ~LockGuard() { lock_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& lock_;
};

// Releases a held lock for a scope (the heap's system calls), and takes it again.
template <LockPolicy L>
class [[nodiscard]] UnlockGuard {
 public:
  explicit UnlockGuard(L& lock) : lock_(lock) { lock_.unlock(); }
  ~UnlockGuard() { lock_.lock(); }
  UnlockGuard(const UnlockGuard&) = delete;
  UnlockGuard& operator=(const UnlockGuard&) = delete;

 private:
  L& lock_;
};

}  // namespace mheap
