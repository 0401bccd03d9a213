// SPDX-License-Identifier: BSL-1.0
// mheap/detail/absent.hpp — what a part configured away leaves behind.
//
// A member of type Absent<N>, declared [[no_unique_address]], takes no byte: the configuration
// picks it with std::conditional_t instead of the part, and no macro changes a class's layout.
// N tells two absent members of one class apart (two empty members of the same type must not
// share an address, so they would take a byte each).
#pragma once
#include "require_cxx20.hpp"

namespace mheap::detail {

template <int N>
struct Absent {};

}  // namespace mheap::detail
