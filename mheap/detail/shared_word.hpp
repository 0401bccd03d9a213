// SPDX-License-Identifier: BSL-1.0
// mheap/detail/shared_word.hpp — the one word of a span record that threads touch without the heap lock.
//
// A span's generation (mheap/span.hpp) is read and claimed by free() before any lock is taken, so
// in a heap with per-thread caches two threads may race on it: an exact double free must win
// exactly once. There every access goes through std::atomic_ref (a relaxed load or store is a plain
// move on x86-64 and Armv7-M; only the claim is a locked compare-and-swap). A single-threaded heap
// (Shared = false) uses plain accesses: no atomics at all, as its lock promises.
#pragma once
#include "require_cxx20.hpp"

#include <atomic>
#include <cstdint>

namespace mheap::detail {

// std::atomic_ref where the library has it; libc++ 14 does not, so there the compiler's own
// atomic builtins (GCC and Clang), which are what atomic_ref is made of.
template <bool Shared>
struct SharedWord {
  template <class T>
  static T load(const T& w) noexcept {
    if constexpr (!Shared) {
      return w;
    } else {
#if defined(__cpp_lib_atomic_ref)
      return std::atomic_ref<T>(const_cast<T&>(w)).load(std::memory_order_acquire);
#else
      return __atomic_load_n(&w, __ATOMIC_ACQUIRE);
#endif
    }
  }
  template <class T>
  static void store(T& w, T v) noexcept {
    if constexpr (!Shared) {
      w = v;
    } else {
#if defined(__cpp_lib_atomic_ref)
      std::atomic_ref<T>(w).store(v, std::memory_order_release);
#else
      __atomic_store_n(&w, v, __ATOMIC_RELEASE);
#endif
    }
  }
  // w: expected → expected + 1, if w still holds expected. Exactly one of several racing claims of
  // the same value succeeds.
  template <class T>
  static bool claim(T& w, T expected) noexcept {
    if constexpr (!Shared) {
      if (w != expected) return false;
      w = expected + 1;
      return true;
    } else {
#if defined(__cpp_lib_atomic_ref)
      return std::atomic_ref<T>(w).compare_exchange_strong(expected, expected + 1, std::memory_order_acq_rel,
                                                                       std::memory_order_acquire);
#else
      return __atomic_compare_exchange_n(&w, &expected, expected + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
#endif
    }
  }
};

}  // namespace mheap::detail
