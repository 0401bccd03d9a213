// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/clock.hpp — where the heap reads the time: for scavenge_idle() (Go 1.9's rule: release
/// spans idle longer than a limit) and for the paced bound's decay (Config::idle_retention_decay_ms).
/// A policy so that tests drive time by hand.
///
/// A free stamps a span with the scavenger's tick number (one load), and scavenge_idle() turns
/// ticks into times. The paced bound reads the clock on a free only when idle memory is above it:
/// the first such free and then once in 32 (mheap/paced_retention.hpp).
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>

namespace mheap {

/// What a heap's Config::Clock must be: default-constructible, with now() in nanoseconds that
/// never decrease. Read by scavenge_idle() and by frees past the paced bound (see above), never on
/// the alloc path.
template <class C>
concept ClockPolicy = std::default_initializable<C> && requires(C& clock) {
  { clock.now() } -> std::convertible_to<std::uint64_t>;  // nanoseconds, never decreasing
};

/// std::chrono::steady_clock, in nanoseconds: the default clock.
struct SteadyClock {
  /// Nanoseconds since the steady clock's epoch.
  std::uint64_t now() const noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
  }
};

/// Time that moves only when told: for tests and simulations.
struct ManualClock {
  std::uint64_t now() const noexcept { return nanoseconds; }      ///< The time set so far.
  void advance(std::uint64_t ns) noexcept { nanoseconds += ns; }  ///< Moves the time ns forward.
  std::uint64_t nanoseconds = 0;                                  ///< The time now() returns.
};

}  // namespace mheap
