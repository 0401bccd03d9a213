// SPDX-License-Identifier: BSL-1.0
// mheap/memory_resource.hpp — a std::pmr::memory_resource whose memory is spans of a heap.
//
// Every allocation is one span of whole pages, allocated as Kind and charged like any other span
// of Kind (GCSpanPolicy: heap_inuse); every deallocation frees that span by address through the
// heap's checked path (Heap::free_at). So std::pmr containers, and the standard pool resources
// stacked on top, draw their memory from the heap and show up in its counters and its audit.
//
// A page heap hands out pages: a request of n bytes costs ceil(n / page) pages (a 0-byte request
// one page), and the resource suits large blocks and the upstream of a pool resource, not small
// objects directly. Alignment up to the page is free: spans start on a page boundary.
//
// Alignment above the page is handled, by over-allocating: the span is longer by (alignment − page)
// bytes and the block starts at the first aligned address inside it. The heap has no aligned
// allocation of its own, and refusing would break std::pmr code that is correct (a container of an
// over-aligned type); the price is address space, at most alignment − page bytes per block, which
// span_pages() states. deallocate() finds the span from the block's address.
//
// Deallocation checks what the span knows, O(1) each: an address that is not a block of this
// resource's kind is reported by the heap (outside_heap, not_span_base, double_free, wrong_kind);
// a size or alignment that maps to another page count, or to another start inside the span,
// is reported as Misuse::wrong_size by this resource. Either way nothing is freed and the audit
// stays clean. Sizes that round to the same page count cannot be told apart.
//
// Exhaustion (or a request no span can hold, or an alignment that is not a power of two) throws
// std::bad_alloc. Built without exceptions (__cpp_exceptions undefined), it prints one line naming
// the request and aborts, as libstdc++'s operator new does there: an allocate() that returns must
// return memory, and there is no handler to ask.
#pragma once
#include "detail/require_cxx20.hpp"

#if !__has_include(<memory_resource>)
#error "mheap/memory_resource.hpp needs std::pmr (<memory_resource>), which this standard library lacks (libc++ has it from version 16)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <optional>

#if !defined(__cpp_exceptions)
#include <cstdio>
#include <cstdlib>

#include "fixed_text.hpp"
#endif

#include "sanitizers.hpp"
#include "span_heap.hpp"
#include "span_ref.hpp"
#include "../policies/misuse.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

/// A std::pmr::memory_resource over a heap: each block is one span of Kind (see the top of
/// mheap/memory_resource.hpp for rounding, alignment, checks and failure). Holds a pointer to the
/// heap, which must outlive it; as thread-safe as the heap (Heap<> with its default lock is).
template <class HeapT, class Kind = GCSpanPolicy>
class MemoryResource final : public std::pmr::memory_resource {
  static_assert(SpanHeapFor<HeapT, Kind>,
                "MemoryResource<HeapT, Kind>: HeapT is not a heap of spans of Kind (mheap/span_heap.hpp: "
                "page_bytes, span_kinds, alloc<Kind>, free_at<Kind>, span_at, misuse_policy)");
  static_assert(!SpanHeapFor<HeapT, Kind> || SpanHeapServes<HeapT, Kind>,
                "MemoryResource<HeapT, Kind>: HeapT's Config::SpanKinds does not list Kind");

 public:
  /// The heap the blocks come from.
  using heap_type = HeapT;
  /// The span kind every block is allocated as (and charged to).
  using kind_type = Kind;
  /// The heap's page: the unit of every block, and the alignment that costs nothing.
  static constexpr std::size_t page_bytes = HeapT::page_bytes;

  /// A resource over heap, which must outlive it. Cost: none.
  explicit MemoryResource(HeapT& heap) noexcept : heap_(&heap) {}

  /// The heap the blocks come from.
  HeapT& heap() const noexcept { return *heap_; }

  /// Pages of the span that holds a block of `bytes` aligned to `alignment`: ceil(bytes / page),
  /// at least 1, plus (alignment − page) / page when alignment is above the page. 0 when no span
  /// can hold it: the byte count overflows, or alignment is not a power of two.
  static constexpr std::size_t span_pages(std::size_t bytes, std::size_t alignment) noexcept {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) return 0;
    const std::size_t slack = alignment > page_bytes ? alignment - page_bytes : 0;
    if (bytes > SIZE_MAX - slack - (page_bytes - 1)) return 0;
    const std::size_t pages = (bytes + slack + page_bytes - 1) / page_bytes;
    return pages == 0 ? 1 : pages;
  }

 private:
  // Cost: one heap alloc (Heap::alloc: O(1) from a span cache or an exact list).
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    const std::size_t pages = span_pages(bytes, alignment);
    if (pages == 0) out_of_memory(bytes, alignment);
    const SpanRef<Kind> span = heap_->template alloc<Kind>(pages);
    if (!span) out_of_memory(bytes, alignment);
    auto* const base = static_cast<std::byte*>(span.base());
    std::byte* const block = block_in(base, alignment);
    // ASan builds: the slack before the block and the rounding after it are nobody's (the heap
    // unpoisons a whole span when it hands it out, and poisons it again when it is freed).
    const std::size_t span_bytes = pages * page_bytes;
    detail::poison_free_memory<false>(base, static_cast<std::size_t>(block - base));
    detail::poison_free_memory<false>(block + bytes, span_bytes - static_cast<std::size_t>(block - base) - bytes);
    return block;
  }

  // Cost: Heap::span_at (the lock, one page-map read) and Heap::free_at (the lock again, O(1)
  // into a span cache or two neighbour merges).
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    const std::optional<SpanInfo> span = heap_->span_at(p);
    if (!span || span->kind != HeapT::span_kinds::template index_of<Kind>) {
      heap_->template free_at<Kind>(p);  // not a live span of Kind: the heap says why, frees nothing
      return;
    }
    auto* const base = static_cast<std::byte*>(span->base);
    if (p != block_in(base, alignment) || span->npages != span_pages(bytes, alignment)) {
      if (p != base)
        heap_->template free_at<Kind>(p);  // inside a span, not a block's start: not_span_base
      else
        report_adapter_misuse(*heap_, MisuseReport{Misuse::wrong_size, p, Kind::name});
      return;
    }
    heap_->template free_at<Kind>(base);
  }

  // Equal: another MemoryResource over the same heap and kind, which can free this one's blocks.
  // Without RTTI only the same object is recognised (false is always a safe answer).
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    if (this == &other) return true;
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
    const auto* same_type = dynamic_cast<const MemoryResource*>(&other);
    return same_type != nullptr && same_type->heap_ == heap_;
#else
    return false;
#endif
  }

  // Where a block of that alignment starts in a span based at base.
  static std::byte* block_in(std::byte* base, std::size_t alignment) noexcept {
    if (alignment <= page_bytes) return base;
    const auto b = reinterpret_cast<std::uintptr_t>(base);
    return base + (((b + alignment - 1) & ~(std::uintptr_t{alignment} - 1)) - b);
  }

  [[noreturn]] [[gnu::cold]] static void out_of_memory([[maybe_unused]] std::size_t bytes,
                                                       [[maybe_unused]] std::size_t alignment) {
#if defined(__cpp_exceptions)
    throw std::bad_alloc();
#else
    FixedText<192> line;
    line << "mheap: fatal: MemoryResource cannot allocate " << std::uint64_t{bytes} << " bytes aligned to "
         << std::uint64_t{alignment} << " (" << Kind::name
         << "): the heap is exhausted or no span can hold it, and exceptions are off\n";
    std::fputs(line.c_str(), stderr);
    std::abort();
#endif
  }

  HeapT* heap_;
};

}  // namespace mheap
