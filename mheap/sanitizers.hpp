// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/sanitizers.hpp — tell AddressSanitizer and Valgrind which span memory is free.
///
/// A free or released span's memory is poisoned, and unpoisoned when the span is handed out, so a
/// use after free of a span is reported by the tool at the faulting access. ASan builds do it always
/// (the hooks are empty otherwise). Valgrind's client requests cost a dozen instructions each even
/// when the program runs natively, so a heap makes them only when its configuration asks
/// (Config::valgrind_annotations) and <valgrind/memcheck.h> exists. Nothing here changes the
/// layout of any type. Everything it declares is in mheap::detail: no public name.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define MHEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MHEAP_ASAN 1
#endif
#endif

#if defined(MHEAP_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MHEAP_VALGRIND 1
#endif

namespace mheap::detail {

// Whether the hooks below do anything in this build: the heap then takes its marks back when it
// is destroyed, and otherwise has nothing to do at that point.
template <bool Valgrind>
inline constexpr bool marks_memory =
#if defined(MHEAP_ASAN)
    true;
#elif defined(MHEAP_VALGRIND)
    Valgrind;
#else
    false;
#endif

// Free span memory: any access is a bug.
template <bool Valgrind>
inline void poison_free_memory(void* p, std::size_t bytes) noexcept {
#if defined(MHEAP_ASAN)
  ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
#if defined(MHEAP_VALGRIND)
  if constexpr (Valgrind) (void)VALGRIND_MAKE_MEM_NOACCESS(p, bytes);
#endif
  (void)p, (void)bytes;
}

// Memory being handed out (or touched by the heap itself). Valgrind: its content is defined when
// known to be zero, undefined otherwise (what was left there is not the new owner's data).
template <bool Valgrind>
inline void unpoison_memory(void* p, std::size_t bytes, [[maybe_unused]] bool known_zero) noexcept {
#if defined(MHEAP_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
#if defined(MHEAP_VALGRIND)
  if constexpr (Valgrind) {
    if (known_zero)
      (void)VALGRIND_MAKE_MEM_DEFINED(p, bytes);
    else
      (void)VALGRIND_MAKE_MEM_UNDEFINED(p, bytes);
  }
#endif
  (void)p, (void)bytes;
}

}  // namespace mheap::detail
