// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/clock.hpp — where the heap reads the time, for scavenge_idle() (Go 1.9's rule: release
/// spans idle longer than a limit). A policy so that tests drive time by hand.
///
/// The free path never reads the clock: it stamps a span with the scavenger's tick number (one load),
/// and scavenge_idle() turns ticks into times. See Heap::scavenge_idle().
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>

namespace mheap {

/// What a heap's Config::Clock must be: default-constructible, with now() in nanoseconds that
/// never decrease. Read only by scavenge_idle(), never on the alloc or free path.
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
