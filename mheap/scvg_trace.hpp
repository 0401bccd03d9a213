// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/scvg_trace.hpp — the scavenger's trace line in Go's format (GODEBUG=gctrace=1):
///
///     scvg<N>: inuse: X, idle: Y, sys: Z, released: W, consumed: V (MB)
///
/// with consumed = sys − released, every figure in MiB rounded down, as the seed commit prints it.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstdint>

#include "fixed_text.hpp"
#include "stats.hpp"

namespace mheap {

/// The trace line for scavenger tick n from the counters s (no newline; no allocation).
inline FixedText<192> scvg_line(std::uint64_t n, const Stats& s) {
  FixedText<192> line;
  line << "scvg" << n << ": inuse: " << (s.heap_inuse >> 20) << ", idle: " << (s.heap_idle >> 20)
       << ", sys: " << (s.heap_sys >> 20) << ", released: " << (s.heap_released >> 20)
       << ", consumed: " << ((s.heap_sys - s.heap_released) >> 20) << " (MB)";
  return line;
}

}  // namespace mheap
