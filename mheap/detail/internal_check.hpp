// SPDX-License-Identifier: BSL-1.0
// mheap/detail/internal_check.hpp — the heap's O(1) checks of its own preconditions.
//
// Behind Config::internal_checks: on in the test and debug configurations, off by default. When
// off, the condition is never evaluated (it is passed as a lambda), so a check costs no
// instruction and no byte. When on, a failed check prints what broke and aborts: it is a bug in
// mheap, not a misuse by its caller (misuse goes to the configuration's MisusePolicy).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace mheap::detail {

[[noreturn]] [[gnu::cold]] inline void internal_check_failed(const char* what) noexcept {
  std::fputs("mheap: internal check failed: ", stderr);
  std::fputs(what, stderr);
  std::fputs("\n", stderr);
  std::abort();
}

template <bool On, class Condition>
inline void internal_check(Condition&& holds, const char* what) noexcept {
  if constexpr (On) {
    if (!holds()) [[unlikely]]
      internal_check_failed(what);
  } else {
    (void)holds, (void)what;
  }
}

}  // namespace mheap::detail
