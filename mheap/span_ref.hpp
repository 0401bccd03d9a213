// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/span_ref.hpp — what alloc() hands out: a typed, checkable reference to a live span.
///
/// The kind is in the type, so freeing a span as another kind does not compile. The generation
/// copied at allocation lets free() tell a live span from a stale reference in O(1): every alloc
/// and free of a record bumps its generation (mheap/span.hpp).
///
/// base(), npages() and bytes() describe the span while it is live and nothing after it is freed
/// (the record may be merged into a neighbour or reused by then).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "span.hpp"
#include "span_view.hpp"  // SpanView: what Heap::for_each_span() hands out, as SpanInfo is span_at()'s
#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS
#include "../policies/span_kind.hpp"

namespace mheap {

template <class Config>
class HeapShard;

/// A live span as Heap::span_at() saw it, by value: safe to keep after the heap's lock is dropped.
struct SpanInfo {
  void* base;              ///< first byte
  std::size_t npages;      ///< length in pages
  std::size_t bytes;       ///< length in bytes
  std::uint8_t kind;       ///< index into the heap's SpanKinds
  const char* kind_name;   ///< that kind's name
};

/// What Heap::alloc<Kind>() returns: a reference to a span of that kind, checked on free.
/// Copyable; an empty ref (alloc failed) converts to false.
template <SpanKind Kind>
class SpanRef {
 public:
  using kind_type = Kind;  ///< the kind the span was allocated as; free() takes only this kind

  SpanRef() noexcept = default;  ///< An empty ref: false, describes nothing.

  /// Whether the ref was handed out (an empty ref is false). It stays true after free().
  explicit operator bool() const noexcept { return span_ != nullptr; }
  /// Whether the span is still live: freed (through this ref, a copy, or free_at) it is not, and
  /// the ref then describes nothing: base() null, npages() and bytes() 0, so a stale copy can never
  /// point at memory the heap has handed to someone else. Freeing it again is still reported as a
  /// double free. Cost: one load of the record's generation.
  bool live() const noexcept { return span_ != nullptr && generation_of(*span_) == generation_; }
  void* base() const noexcept { return live() ? span_->base : nullptr; }  ///< First byte; null unless live().
  std::size_t npages() const noexcept { return live() ? span_->npages : 0; }  ///< Length in pages; 0 unless live().
  /// Length in bytes; 0 unless live().
  std::size_t bytes() const noexcept { return live() ? span_->npages << span_->page_shift : 0; }
  /// The span record itself, whatever it describes now (tests and debugging; lookup() compares with it).
  const SpanHeader* header() const noexcept { return span_; }

  /// Same record and same generation: the same allocation.
  friend bool operator==(const SpanRef&, const SpanRef&) = default;

 private:
  template <class Config>
  friend class HeapShard;

  SpanRef(SpanHeader* span, Generation generation) noexcept : span_(span), generation_(generation) {}

  // Another thread may free or reuse the record meanwhile (a heap with thread caches): an atomic
  // load there, a plain one where the library has no threads (bare metal: nothing to race with).
  static Generation generation_of(const SpanHeader& h) noexcept {
#if MHEAP_HAS_THREADS
    return __atomic_load_n(&h.generation, __ATOMIC_ACQUIRE);
#else
    return h.generation;
#endif
  }

  SpanHeader* span_ = nullptr;
  Generation generation_ = 0;
};

}  // namespace mheap
