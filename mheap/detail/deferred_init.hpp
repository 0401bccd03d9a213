// SPDX-License-Identifier: BSL-1.0
// mheap/detail/deferred_init.hpp — storage for an object constructed at run time, inside a heap that
// may be constant-initialised.
//
// Why: a heap on a StaticArena can be declared `constinit static` (docs/embedded.md), which needs
// every member to have a constant initialiser. Boost.Intrusive 1.74's containers have none: their
// constructors link the header node to itself at run time (list_impl's calls init_header), and
// they are not constexpr. So the free set keeps its containers here: zero bytes in the constant
// image (.bss, nothing to copy at start-up), constructed in place when the heap lays itself out,
// before anything links a span into them.
//
// Invariants: get() only after construct(); construct() at most once. The containers' destructors
// are never run, which keeps the holder (and so a heap on a static arena) trivially destructible:
// there is nothing to run at exit. That is sound for the heap's containers: with normal_link hooks
// a Boost.Intrusive container's destructor does nothing; with safe_link it would only unlink the
// records, which live in the heap's own reservation and end with it.
#pragma once
#include "require_cxx20.hpp"

#include <cstddef>
#include <new>

namespace mheap::detail {

template <class T>
class DeferredInit {
 public:
  constexpr DeferredInit() noexcept = default;
  DeferredInit(const DeferredInit&) = delete;
  DeferredInit& operator=(const DeferredInit&) = delete;

  void construct() noexcept { ::new (static_cast<void*>(bytes_)) T(); }
  T& get() noexcept { return *std::launder(reinterpret_cast<T*>(bytes_)); }
  const T& get() const noexcept { return *std::launder(reinterpret_cast<const T*>(bytes_)); }

 private:
  alignas(T) std::byte bytes_[sizeof(T)]{};
};

}  // namespace mheap::detail
