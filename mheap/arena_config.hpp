// SPDX-License-Identifier: BSL-1.0
// mheap/arena_config.hpp — the configuration each arena of a heap of several is built with
// (mheap/arena_set.hpp): the user's, with one arena, and the policies every arena shares.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstdint>
#include <type_traits>

#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS
#include "../policies/misuse.hpp"

#if MHEAP_HAS_THREADS
#include <mutex>

namespace mheap {
namespace detail {

// The misuse policy is held once, by the heap of arenas, and every arena reports to it through a
// pointer: reports come from arenas under different locks, and the heap's mutex keeps them one at
// a time, as one heap lock did (a policy may keep state, or write something shared). A clock with
// state (ManualClock) is held once too and read through a pointer, unsynchronized, as clock() is;
// a stateless one (SteadyClock) each arena holds itself.
template <class P>
struct SharedMisuse {
  P* to = nullptr;
  std::mutex* serial = nullptr;
  void report(const MisuseReport& r) {
    std::lock_guard g(*serial);
    to->report(r);
  }
};
template <class C>
struct SharedClock {
  C* to = nullptr;
  std::uint64_t now() const noexcept { return to->now(); }
};

// The configuration of each arena: the user's, with one arena and the shared policies.
template <class UserConfig>
struct ArenaConfig : UserConfig {
  using MisusePolicy = SharedMisuse<typename UserConfig::MisusePolicy>;
  using Clock = std::conditional_t<std::is_empty_v<typename UserConfig::Clock>, typename UserConfig::Clock,
                                   SharedClock<typename UserConfig::Clock>>;
  static constexpr unsigned arenas = 1;
};

}  // namespace detail

}  // namespace mheap

#endif  // MHEAP_HAS_THREADS
