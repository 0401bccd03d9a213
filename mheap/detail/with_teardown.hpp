// SPDX-License-Identifier: BSL-1.0
// mheap/detail/with_teardown.hpp — a destructor only where there is something to do.
//
// Core::has_teardown says whether the object must act before it goes (HeapCore: let go of the
// threads' caches, take back sanitizer marks); Core::tear_down() does it. Without it the class
// declares no destructor, so it stays trivially destructible when its members are: a
// `constinit static` heap on a StaticArena then registers nothing to run at exit. (A destructor
// constrained with `requires` would say the same in one class, but clang 14 ignores the
// constraint when it decides triviality.)
#pragma once
#include "require_cxx20.hpp"

#include <utility>

namespace mheap::detail {

// The constructor forwards to Core's. It is a template of its own rather than `using Core::Core`:
// a class whose only constructors are inherited has an implicit default constructor, and
// `WithTeardown()` would then zero the whole object before constructing it (value-initialisation),
// a StaticArena's buffer included.
template <class Core, bool = Core::has_teardown>
class WithTeardown : public Core {
 public:
  template <class... Args>
  constexpr explicit WithTeardown(Args&&... args) : Core(std::forward<Args>(args)...) {}
  ~WithTeardown() { this->tear_down(); }
  WithTeardown(const WithTeardown&) = delete;
  WithTeardown& operator=(const WithTeardown&) = delete;
};
template <class Core>
class WithTeardown<Core, false> : public Core {
 public:
  template <class... Args>
  constexpr explicit WithTeardown(Args&&... args) : Core(std::forward<Args>(args)...) {}
};

}  // namespace mheap::detail
