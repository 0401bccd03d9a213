// SPDX-License-Identifier: BSL-1.0
// mheap/fiber_stack.hpp — Boost.Context fiber stacks as the heap's stack spans: goroutine stacks in C++.
//
// FiberStackAllocator<HeapT> meets Boost.Context's StackAllocator concept (allocate() returning a
// boost::context::stack_context, deallocate(stack_context&) noexcept), so
//
//     boost::context::fiber f{std::allocator_arg, FiberStackAllocator(heap, 64 << 10), fn};
//
// runs fn on a stack that is a span of StackSpanPolicy: charged to stacks_inuse (MemStats::
// StackInuse and StackSys) and outside heap_sys while the fiber lives, exactly the accounting Go
// 1.9 gives goroutine stacks (docs/go-accounting.md), and back in the heap, heap_sys again, after.
//
// Layout of one stack span, low addresses first (stacks grow down on every target Boost.Context
// supports with fcontext):
//
//     [ lead | guard | stack ........................................ ] ← sp (the span's end)
//
// The guard is one heap page or one granule of the page source, whichever is larger, starting on
// the first granule boundary in the span (lead is empty unless the granule is coarser than the
// page). It is made PROT_NONE through the page source's GuardingPageSourcePolicy capability
// (policies/page_source.hpp; MmapSource has it), so a stack overflow faults at once instead of
// writing over the span below, and is made accessible again before the span goes back to the heap.
// The guard is part of the span, so it is counted in stacks_inuse: it is memory the stack holds.
//
// A page source without the capability (StaticArena: an array cannot fault) gets no guard: the
// constructor's guard_page argument defaults to false there, and asking for one explicitly is
// refused with std::invalid_argument, since a guard that silently is not there protects nothing.
// Such stacks overflow into the span below unnoticed; size them generously.
//
// stack_context::size is the usable stack above the guard (at least the bytes asked for);
// deallocate() checks it, and the span's page count and kind, before anything is freed (O(1), what
// the span knows), and reports a context this allocator did not hand out to the heap's misuse
// policy: Misuse::wrong_size from here, or the heap's own report (not_span_base, double_free, ...).
//
// Failure: allocate() throws std::bad_alloc when the heap is exhausted or the guard cannot be set
// (the span is freed first); built without exceptions, it and the constructor's refusals print one
// line and abort. An error making the guard accessible again in deallocate() (noexcept) prints one
// line and aborts: a span handed back with a page that still faults would break its next owner.
#pragma once
#include "detail/require_cxx20.hpp"

#include <boost/context/stack_context.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#if defined(__cpp_exceptions)
#include <stdexcept>
#endif
#if defined(BOOST_USE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

#include "fixed_text.hpp"
#include "span_heap.hpp"
#include "span_ref.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

/// Boost.Context's StackAllocator concept (Boost documents it in prose, without a type): a
/// copyable allocator whose allocate() returns a stack_context and whose deallocate() takes it back
/// without throwing. Boost copies the allocator into each fiber's control record.
template <class A>
concept BoostStackAllocator = std::copy_constructible<A> && requires(A& a, boost::context::stack_context& sctx) {
  { a.allocate() } -> std::same_as<boost::context::stack_context>;
  { a.deallocate(sctx) } noexcept;
};

/// A heap whose page source FiberStackAllocator can reach to set guards (Heap<Config>::page_source()).
template <class H>
concept HeapWithPageSource = requires(H& heap) {
  typename H::source_type;
  { heap.page_source() } -> std::same_as<typename H::source_type&>;
};

/// Fiber stacks for Boost.Context as StackSpanPolicy spans of a heap, with a guard page below each
/// where the page source can protect pages (see the top of mheap/fiber_stack.hpp). Holds a pointer
/// to the heap, which must outlive every stack; copies share the heap and the geometry.
template <class HeapT>
class FiberStackAllocator {
  static_assert(SpanHeapFor<HeapT, StackSpanPolicy> && HeapWithPageSource<HeapT>,
                "FiberStackAllocator<HeapT>: HeapT is not a heap of spans with a page source (mheap/span_heap.hpp: "
                "page_bytes, span_kinds, alloc<StackSpanPolicy>, free_at<StackSpanPolicy>, span_at, misuse_policy; "
                "and page_source())");
  static_assert(!SpanHeapFor<HeapT, StackSpanPolicy> || SpanHeapServes<HeapT, StackSpanPolicy>,
                "FiberStackAllocator<HeapT>: HeapT's Config::SpanKinds does not list StackSpanPolicy");

 public:
  /// The heap the stacks come from.
  using heap_type = HeapT;
  /// The heap's page source, which sets and clears the guards.
  using source_type = typename HeapT::source_type;
  /// The heap's page: stack spans are whole pages.
  static constexpr std::size_t page_bytes = HeapT::page_bytes;
  /// Whether the page source can put a guard below each stack (MmapSource: yes; StaticArena: no).
  static constexpr bool can_guard = GuardingPageSourcePolicy<source_type>;

  /// Stacks of at least stack_bytes usable bytes from heap, which must outlive every stack.
  /// guard_page: a PROT_NONE guard below each stack; the default is the source's capability.
  /// Refused (std::invalid_argument; without exceptions, a line on stderr and abort): stack_bytes
  /// == 0, and guard_page on a source that cannot protect pages. A stack_bytes no span can hold is
  /// accepted, and every allocate() then throws std::bad_alloc. Cost: O(1), nothing allocated.
  FiberStackAllocator(HeapT& heap, std::size_t stack_bytes, bool guard_page = can_guard)
      : heap_(&heap), guard_(guard_page) {
    if (stack_bytes == 0) refuse("FiberStackAllocator: a stack of 0 bytes");
    if (guard_page && !can_guard)
      refuse("FiberStackAllocator: guard_page on a page source that cannot protect pages (no "
             "GuardingPageSourcePolicy, e.g. StaticArena); pass guard_page = false");
    if constexpr (can_guard) {
      if (guard_) {
        const std::size_t granule = granule_of(heap.page_source());
        guard_bytes_ = granule > page_bytes ? granule : page_bytes;
        lead_bytes_ = granule > page_bytes ? granule - page_bytes : 0;  // the worst misalignment of a span's base
      }
    }
    const std::size_t overhead = guard_bytes_ + lead_bytes_;
    if (stack_bytes <= SIZE_MAX - overhead - (page_bytes - 1))
      span_pages_ = (stack_bytes + overhead + page_bytes - 1) / page_bytes;  // else 0: allocate() fails
  }

  /// A new stack: a StackSpanPolicy span of span_pages() pages, its guard set. sp is the span's end
  /// (page-aligned), size the usable bytes above the guard (at least the stack_bytes asked for).
  /// Throws std::bad_alloc when the heap is exhausted or the guard cannot be set (nothing stays
  /// allocated). Cost: one heap alloc; with a guard, one mprotect.
  boost::context::stack_context allocate() {
    if (span_pages_ == 0) out_of_memory();
    const SpanRef<StackSpanPolicy> span = heap_->template alloc<StackSpanPolicy>(span_pages_);
    if (!span) out_of_memory();
    auto* const base = static_cast<std::byte*>(span.base());
    if constexpr (can_guard) {
      if (guard_ && !heap_->page_source().protect(guard_in(base), guard_bytes_)) {
        heap_->template free_at<StackSpanPolicy>(base);  // e.g. the kernel's limit on mappings
        out_of_memory();
      }
    }
    boost::context::stack_context sctx;
    sctx.sp = base + span_pages_ * page_bytes;
    sctx.size = usable_bytes(base);
#if defined(BOOST_USE_VALGRIND)
    sctx.valgrind_stack_id = VALGRIND_STACK_REGISTER(sctx.sp, static_cast<std::byte*>(sctx.sp) - sctx.size);
#endif
    return sctx;
  }

  /// Takes back a stack this allocator (or a copy) handed out: clears the guard, frees the span.
  /// A null sp is a no-op. A context that does not describe such a stack is reported to the heap's
  /// misuse policy and nothing is freed. Cost: Heap::span_at and Heap::free_at (O(1) each, the
  /// lock twice); with a guard, one mprotect.
  void deallocate(boost::context::stack_context& sctx) noexcept {
    if (sctx.sp == nullptr) return;
#if defined(BOOST_USE_VALGRIND)
    VALGRIND_STACK_DEREGISTER(sctx.valgrind_stack_id);
#endif
    const std::size_t span_bytes = span_pages_ * page_bytes;
    // Integer arithmetic: a foreign sp may lie below span_bytes.
    auto* const base = reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(sctx.sp) - span_bytes);
    const std::optional<SpanInfo> span = heap_->span_at(base);
    if (!span || span->base != base || span->kind != HeapT::span_kinds::template index_of<StackSpanPolicy>) {
      heap_->template free_at<StackSpanPolicy>(base);  // not a live stack based there: the heap says why, frees nothing
      return;
    }
    if (span->npages != span_pages_ || sctx.size != usable_bytes(base)) {
      report_adapter_misuse(*heap_, MisuseReport{Misuse::wrong_size, base, StackSpanPolicy::name});
      return;
    }
    if constexpr (can_guard) {
      if (guard_ && !heap_->page_source().unprotect(guard_in(base), guard_bytes_))
        die("FiberStackAllocator: cannot make a stack's guard page accessible again; its span cannot go back to the heap");
    }
    heap_->template free_at<StackSpanPolicy>(base);
    sctx = {};
  }

  /// The heap the stacks come from.
  HeapT& heap() const noexcept { return *heap_; }
  /// Pages of each stack span, lead and guard included (what stacks_inuse grows by per stack);
  /// 0 when the requested size is more than any span can hold.
  std::size_t span_pages() const noexcept { return span_pages_; }
  /// Bytes of the guard below each stack; 0 without one.
  std::size_t guard_bytes() const noexcept { return guard_bytes_; }
  /// Whether each stack has a guard page.
  bool guarded() const noexcept { return guard_; }

 private:
  // The guard's first byte: the first granule boundary at or above the span's base.
  std::byte* guard_in(std::byte* base) const noexcept {
    if (lead_bytes_ == 0) return base;
    const auto b = reinterpret_cast<std::uintptr_t>(base);
    const std::uintptr_t granule = guard_bytes_;
    return base + (((b + granule - 1) & ~(granule - 1)) - b);
  }
  // The stack proper: from the guard's end (or the span's base) to the span's end.
  std::size_t usable_bytes(std::byte* base) const noexcept {
    const std::byte* const low = guard_ ? guard_in(base) + guard_bytes_ : base;
    return static_cast<std::size_t>(base + span_pages_ * page_bytes - low);
  }

  [[noreturn]] [[gnu::cold]] static void out_of_memory() {
#if defined(__cpp_exceptions)
    throw std::bad_alloc();
#else
    die("FiberStackAllocator: cannot allocate a stack: the heap is exhausted, or the guard page cannot be set");
#endif
  }
  [[noreturn]] [[gnu::cold]] static void refuse(const char* what) {
#if defined(__cpp_exceptions)
    throw std::invalid_argument(what);
#else
    die(what);
#endif
  }
  [[noreturn]] [[gnu::cold]] static void die(const char* what) noexcept {
    FixedText<256> line;
    line << "mheap: fatal: " << what << "\n";
    std::fputs(line.c_str(), stderr);
    std::abort();
  }

  HeapT* heap_;
  bool guard_;
  std::size_t guard_bytes_ = 0;  // one granule or one page, whichever is larger; 0: no guard
  std::size_t lead_bytes_ = 0;   // room left below the guard for a base off the granule
  std::size_t span_pages_ = 0;
};

}  // namespace mheap
