// SPDX-License-Identifier: BSL-1.0
// mheap/detail/require_cxx20.hpp — an older -std stops with one error that names the cause.
//
// mheap is written in C++20 throughout (concepts, requires-clauses, defaulted comparisons). Built
// as C++17, the first error would be about a defaulted operator== deep inside a header, followed
// by a thousand more, none of them saying why. Every public header includes this one before
// anything else, so the first error a user sees says what to change.
#pragma once

// C++17 or older. Compilers in a pre-C++20 draft mode (201709L, say) are let through: some of them
// build mheap, and those that do not fail on the feature they lack.
#if (defined(_MSVC_LANG) ? _MSVC_LANG : __cplusplus) <= 201703L
#error "mheap needs C++20: compile with -std=c++20 or later"
// Stop here: the rest of mheap cannot parse, and its errors would only bury the one above. A
// missing include is a fatal error for every compiler, and its name is all that it prints.
#include "mheap needs C++20 (see the error above)"
#endif
