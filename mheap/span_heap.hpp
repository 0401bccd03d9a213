// SPDX-License-Identifier: BSL-1.0
// mheap/span_heap.hpp — what a client adapter needs of a heap: spans of one kind, freed by address.
//
// MemoryResource (mheap/memory_resource.hpp) and FiberStackAllocator (mheap/fiber_stack.hpp) are
// written against this concept rather than against Heap<Config> itself, so a wrapper around a heap
// (one that logs, or counts, or checks more) plugs in as well, and a heap that cannot serve the
// kind is refused where the adapter is named, with a message that says why.
#pragma once
#include "detail/require_cxx20.hpp"

#include <concepts>
#include <cstddef>
#include <optional>

#include "span_ref.hpp"
#include "../policies/misuse.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

/// A heap that hands out spans of Kind and takes them back by address, as Heap<Config> does:
///   H::page_bytes                 the page, in bytes (a power of two; spans start on one);
///   H::span_kinds                 the kinds it serves (SpanKinds<...>);
///   heap.alloc<Kind>(n)           n whole pages as Kind, or an empty SpanRef;
///   heap.free_at<Kind>(p)         frees the live span of Kind based at p; any other p is reported
///                                 to the misuse policy and changes nothing;
///   heap.span_at(p)               a copy of the live span holding p, or nothing;
///   heap.misuse_policy()          where an adapter reports a misuse only it can see (Misuse::wrong_size),
///                                 unless the heap has heap.report_misuse(r) (report_adapter_misuse).
/// Whether H serves Kind is a separate question (SpanHeapServes), so the two can fail apart.
template <class H, class Kind>
concept SpanHeapFor = SpanKind<Kind> && requires(H& heap, std::size_t n, const void* p, const MisuseReport& r) {
  requires std::convertible_to<decltype(H::page_bytes), std::size_t>;
  requires is_span_kinds<typename H::span_kinds>;
  { heap.template alloc<Kind>(n) } -> std::same_as<SpanRef<Kind>>;
  heap.template free_at<Kind>(p);
  { heap.span_at(p) } -> std::same_as<std::optional<SpanInfo>>;
  heap.misuse_policy().report(r);
};

/// Reports r, a misuse only an adapter can see, to heap's policy: through heap.report_misuse(r)
/// where the heap has it (Heap<Config>: counted, and never at the same time as another report, as
/// threads may be using the heap), else straight to heap.misuse_policy() (a heap of the caller's
/// own, which then answers for its policy's thread safety itself).
template <class H>
void report_adapter_misuse(H& heap, const MisuseReport& r) {
  if constexpr (requires { heap.report_misuse(r); })
    heap.report_misuse(r);
  else
    heap.misuse_policy().report(r);
}

/// Whether heap type H lists Kind among the kinds it serves (its Config::SpanKinds).
template <class H, class Kind>
concept SpanHeapServes = SpanHeapFor<H, Kind> && H::span_kinds::template contains<Kind>;

}  // namespace mheap
