// SPDX-License-Identifier: BSL-1.0
// mheap/detail/intrusive.hpp — the short name for Boost.Intrusive inside mheap (its hooks and
// containers hold every free span). Not part of the public surface.
#pragma once

namespace boost::intrusive {}

namespace mheap::detail {
namespace bi = boost::intrusive;
}  // namespace mheap::detail
