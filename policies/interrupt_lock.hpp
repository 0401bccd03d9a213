// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/interrupt_lock.hpp — a lock for a single-core Cortex-M: masks interrupts while held.
///
/// On a microcontroller the heap is shared not between threads but between the main loop and
/// interrupt handlers. Holding the heap with interrupts masked (PRIMASK) makes every heap call
/// atomic with respect to every handler, at the cost of the handlers' latency for as long as a call
/// runs (the worst-case paths are in docs/embedded.md). lock() saves PRIMASK before masking and
/// unlock() restores it, so the heap may be called with interrupts already masked (from a handler,
/// or inside the caller's own critical section) and leaves them as it found them.
///
/// Only for ARMv6-M/v7-M/v8-M (the M profile), where `cpsid i` and PRIMASK exist; elsewhere the
/// class is not declared. A multi-core part needs a real lock (SpinLock on an atomic flag) as well.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <cstdint>

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'

namespace mheap {

/// Masks interrupts while the heap is held (single-core Cortex-M); see the file's description.
class InterruptLock {
 public:
  /// Saves PRIMASK, then masks interrupts (`cpsid i`).
  void lock() noexcept {
    std::uint32_t primask;
    // The "memory" clobber keeps the compiler from moving heap accesses out of the masked region.
    asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    saved_primask_ = primask;
  }
  /// Restores PRIMASK as lock() found it: interrupts masked before stay masked.
  void unlock() noexcept { asm volatile("msr primask, %0" : : "r"(saved_primask_) : "memory"); }

 private:
  std::uint32_t saved_primask_ = 0;  // PRIMASK as lock() found it
};

}  // namespace mheap

#endif
