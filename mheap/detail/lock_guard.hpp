// SPDX-License-Identifier: BSL-1.0
// mheap/detail/lock_guard.hpp — how the heap holds its lock: for a scope, dropped for a scope, and
// on a cache line of its own. Not policies: they work with any lock policy (policies/lock.hpp).
#pragma once

#include <cstddef>
#include <type_traits>

namespace mheap::detail {

// A lock with state gets a cache line to itself inside the heap: waiters spin on it, and the
// counters beside it would otherwise move between cores with every update the owner makes (false
// sharing). An empty lock (NullLock) stays empty and costs nothing.
inline constexpr std::size_t cache_line_bytes = 64;
template <class L>
struct alignas(cache_line_bytes) CacheLineLock : L {};
template <class L>
using IsolatedLock = std::conditional_t<std::is_empty_v<L>, L, CacheLineLock<L>>;

// Holds a lock for a scope. (std::lock_guard would do, but <mutex> is not on every target.)
template <class L>
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
template <class L>
class [[nodiscard]] UnlockGuard {
 public:
  explicit UnlockGuard(L& lock) : lock_(lock) { lock_.unlock(); }
  ~UnlockGuard() { lock_.lock(); }
  UnlockGuard(const UnlockGuard&) = delete;
  UnlockGuard& operator=(const UnlockGuard&) = delete;

 private:
  L& lock_;
};

}  // namespace mheap::detail
