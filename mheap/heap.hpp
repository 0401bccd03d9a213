// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/heap.hpp — Heap<Config>, the page heap users name: hands out spans of whole pages and
/// takes them back.
///
/// A heap is one arena or several (Config::arenas, mheap/config.hpp):
///   one arena   (NullLock, embedded targets, configurations without thread caches): a HeapShard,
///               mheap/heap_shard.hpp, which documents the API, the flows and the costs;
///   several     (the default where threads have caches of their own): an ArenaSet,
///               mheap/arena_set.hpp: as many HeapShards, a thread allocating from its home arena
///               and freeing to the span's own, behind the same API.
/// A configuration of one arena compiles no arena code: Heap<Config> is the HeapShard itself.
#pragma once
#include "detail/require_cxx20.hpp"

#include <type_traits>
#include <utility>

#include "arena_set.hpp"
#include "config.hpp"
#include "config_check.hpp"
#include "heap_shard.hpp"

namespace mheap {

namespace detail {
template <class UserConfig>
inline constexpr bool several_arenas = [] {
  if constexpr (config_is_valid<UserConfig>)
    return arena_count<UserConfig> > 1;
  else
    return false;  // a broken configuration is reported once, by HeapShard
}();
// Only a heap of several arenas names ArenaSet (which exists only where there are threads).
template <class UserConfig, bool = several_arenas<UserConfig>>
struct HeapBase {
  using type = HeapShard<UserConfig>;
};
template <class UserConfig>
struct HeapBase<UserConfig, true> {
  using type = ArenaSet<UserConfig>;
};
}  // namespace detail

/// The page heap: hands out spans of whole pages, each held as one of the configuration's span kinds
/// (alloc<Kind>()), and takes them back (free()). UserConfig is DefaultConfig or a struct derived
/// from it (mheap/config.hpp); a broken one is reported in one compile error (mheap/config_check.hpp).
/// The API is HeapShard's (mheap/heap_shard.hpp); with several arenas, ArenaSet's (the same
/// functions, mheap/arena_set.hpp says what each does across arenas).
template <class UserConfig = DefaultConfig>
class Heap : public detail::HeapBase<UserConfig>::type {
  using Base = typename detail::HeapBase<UserConfig>::type;

 public:
  /// Arguments go to the page source (for an MmapSource, the reservation size; with several
  /// arenas, each arena's). A heap of one arena on a StaticArena can be constant-initialised
  /// (docs/embedded.md).
  template <class... SourceArgs>
  constexpr explicit Heap(SourceArgs&&... source_args) : Base(std::forward<SourceArgs>(source_args)...) {}
};

}  // namespace mheap
