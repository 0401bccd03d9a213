// SPDX-License-Identifier: BSL-1.0
// mheap/detail/cpu_relax.hpp — one polite pause in a spin-wait loop (SpinLock, an allocation
// waiting for spans being released). Vocabulary: includes nothing of mheap.
#pragma once

namespace mheap::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH_7A__))
  asm volatile("yield");
#endif
}

}  // namespace mheap::detail
