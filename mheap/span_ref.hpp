// SPDX-License-Identifier: BSL-1.0
// mheap/span_ref.hpp — what alloc() hands out: a typed, checkable reference to a live span.
//
// The kind is in the type, so freeing a span as another kind does not compile. The generation
// copied at allocation lets free() tell a live span from a stale reference in O(1): every alloc
// and free of a record bumps its generation (mheap/span.hpp).
//
// base(), npages() and bytes() read the span record: they describe the span while it is live.
// After free() the record may be merged into a neighbour or reused, so keep what you need first.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "span.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

template <class Config>
class Heap;

template <SpanKind Kind>
class SpanRef {
 public:
  using kind_type = Kind;

  SpanRef() noexcept = default;

  explicit operator bool() const noexcept { return span_ != nullptr; }
  void* base() const noexcept { return span_ ? span_->base : nullptr; }
  std::size_t npages() const noexcept { return span_ ? span_->npages : 0; }
  std::size_t bytes() const noexcept { return span_ ? span_->npages << span_->page_shift : 0; }
  const SpanHeader* header() const noexcept { return span_; }

  friend bool operator==(const SpanRef&, const SpanRef&) = default;

 private:
  template <class Config>
  friend class Heap;

  SpanRef(SpanHeader* span, std::uint64_t generation) noexcept : span_(span), generation_(generation) {}

  SpanHeader* span_ = nullptr;
  std::uint64_t generation_ = 0;
};

}  // namespace mheap
