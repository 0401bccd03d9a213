// SPDX-License-Identifier: BSL-1.0
// mheap/detail/futex_word.hpp — sleep until a 32-bit word changes, and wake one sleeper: the
// kernel half of AdaptiveLock (policies/lock.hpp). Vocabulary: includes nothing of mheap.
//
// On Linux these are the futex system calls themselves. Elsewhere, and on a Linux whose headers
// do not name SYS_futex (32-bit ABIs with only 64-bit time calls, such as riscv32), they are
// std::atomic::wait/notify_one, which is what those calls are for. On Linux they are not used
// because libstdc++ 12's wait spins and yields before it sleeps and sends every notify through a
// table of waiters shared by all atomics. Measured on the thread scaling benchmark (2 cores,
// 2026-12-06, total ns per op with 4 / 8 threads, medians of 10 alternated runs): AdaptiveLock
// with no spin 127 / 134 over std::atomic::wait, 77 / 65 over the futex.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__linux__) && __has_include(<linux/futex.h>) && __has_include(<sys/syscall.h>)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mheap::detail {

#if defined(SYS_futex) && defined(FUTEX_WAIT_PRIVATE) && defined(FUTEX_WAKE_PRIVATE)
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  alignof(std::atomic<std::uint32_t>) == alignof(std::uint32_t),
              "the futex calls need std::atomic<std::uint32_t> laid out as the word itself");

// Sleeps while word == expected (returns at once if it is not; may return spuriously, or on a
// signal: the caller looks at the word again either way).
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
// Wakes one thread sleeping in futex_wait on word, if any.
inline void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}
#else
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  word.wait(expected, std::memory_order_relaxed);
}
inline void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept { word.notify_one(); }
#endif

}  // namespace mheap::detail
