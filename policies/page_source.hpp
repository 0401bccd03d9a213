// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/page_source.hpp — the seam between a heap and the memory it carves into spans.
///
/// A page source reserves one contiguous range of address space up front and commits parts of it
/// on demand. The heap lays that range out as
///
///     [ page map | guard | arena: spans grow upward → | guard | span records, in chunks ]
///
/// (mheap/layout.hpp), so spans are always contiguous with their neighbours (coalescing never meets a hole left by
/// metadata), and the page map is a flat array indexed by page number: address → span in O(1),
/// as Go 1.9's h.spans was over its single arena.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <concepts>
#include <type_traits>
#include <cstddef>

namespace mheap {

/// Required of every page source:
///
///     base()      start of the reserved range (null when the reservation failed);
///     capacity()  bytes reserved; the heap never asks beyond base() + capacity();
///     commit(p,n) makes [p, p+n) readable, writable and zero; the heap commits each byte at most
///                 once and only inside the reservation. false = refused (out of memory, a test's
///                 injected fault): the heap then reports an empty allocation and changes nothing.
template <class S>
concept PageSourcePolicy = requires(S& source, std::byte* p, std::size_t n) {
  { source.base() } -> std::same_as<std::byte*>;
  { source.capacity() } -> std::same_as<std::size_t>;
  { source.commit(p, n) } -> std::same_as<bool>;
};

/// Optional: the source's own page, in bytes (a power of two): release() and protect() act on whole
/// granules, and commit() may round outward to them (MmapSource: the OS page). A source without
/// granule() works to the byte.
template <class S>
concept GranularPageSource = requires(const S& source) {
  { source.granule() } -> std::same_as<std::size_t>;
};

/// The tag of a page source's replica constructor: `S(replica_of, s)`.
struct replica_of_t {
  explicit replica_of_t() = default;
};
inline constexpr replica_of_t replica_of{};  ///< see ReplicablePageSource

/// Optional: a page source a heap can open one more of for each of its arenas (Config::arenas,
/// mheap/arena_set.hpp). `S(replica_of, s)` makes a source like s (the same size, the same
/// settings) with memory of its own; MmapSource: a reservation of the size s obtained.
template <class S>
concept ReplicablePageSource = PageSourcePolicy<S> && std::is_constructible_v<S, replica_of_t, const S&>;

/// Optional: a source that can give committed pages back (scavenging). The heap asks only for whole
/// granules (it rounds its request inward first), and release(p, n) returns the bytes given back:
/// n, or anything else for "refused", and then the heap counts nothing as released. Afterwards the
/// released bytes read as zero and may be used again without another commit. The heap calls
/// release() with its lock dropped, so release() must be safe to run concurrently with commit() and
/// with itself on other ranges (MmapSource and StaticArena keep no state that changes).
template <class S>
concept ReleasingPageSourcePolicy = PageSourcePolicy<S> && requires(S& source, std::byte* p, std::size_t n) {
  { source.release(p, n) } -> std::same_as<std::size_t>;
};

/// Optional: a source whose capacity and base alignment are fixed at compile time (StaticArena):
/// base() is a multiple of S::alignment. A heap without a tree for long spans (NoTree,
/// policies/span_lists.hpp) needs one, since it bounds the longest free span; and a heap on one
/// computes its layout at compile time (mheap/layout.hpp).
template <class S>
concept FixedCapacityPageSource = PageSourcePolicy<S> && requires {
  { S::fixed_capacity } -> std::convertible_to<std::size_t>;
  { S::alignment } -> std::convertible_to<std::size_t>;
};

/// Optional: a source that can make reserved memory fault on access. protect(p, n), on whole
/// granules the heap never commits, returns whether it worked. The heap protects the guards
/// between its page map, arena and span records (mheap/layout.hpp) once, when it is built.
template <class S>
concept ProtectingPageSourcePolicy = PageSourcePolicy<S> && GranularPageSource<S> &&
                                     requires(S& source, std::byte* p, std::size_t n) {
  { source.protect(p, n) } -> std::same_as<bool>;
};

/// Optional: a source that can put a guard inside a live span and take it away again, as
/// FiberStackAllocator does below each stack (mheap/fiber_stack.hpp). protect(p, n) then applies
/// to committed memory the caller holds, and unprotect(p, n) undoes it: the whole granules inside
/// [p, p+n) become readable and writable again, their contents kept, and it returns whether it
/// worked. Both are called without the heap lock, on ranges no one else touches, so they must be
/// safe to run concurrently with every other call of the source (MmapSource: one mprotect each,
/// no state). StaticArena has neither: its memory is an array, with no way to fault.
template <class S>
concept GuardingPageSourcePolicy = ProtectingPageSourcePolicy<S> && requires(S& source, std::byte* p, std::size_t n) {
  { source.unprotect(p, n) } -> std::same_as<bool>;
};

/// The unit the heap rounds releases and guards to: source.granule(), or 1 for a source without one.
template <class S>
std::size_t granule_of(const S& source) noexcept {
  if constexpr (GranularPageSource<S>)
    return source.granule();
  else
    return 1;
}

/// The default page source on a target without an OS (no <sys/mman.h>). A heap refuses it at
/// compile time: name StaticArena<Bytes> or your own source in the configuration.
struct NoPageSource {
  std::byte* base() noexcept { return nullptr; }                   ///< Nothing reserved.
  std::size_t capacity() const noexcept { return 0; }              ///< Nothing reserved.
  bool commit(std::byte*, std::size_t) noexcept { return false; }  ///< Always refused.
};

}  // namespace mheap
