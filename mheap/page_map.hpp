// SPDX-License-Identifier: BSL-1.0
// mheap/page_map.hpp — address → span in O(1): a flat array with one entry per arena page.
//
// Invariants (audit() checks them):
//   - every page of a live span whose kind maps interior pages holds that span;
//   - the first and last page of every span, live or free, hold that span: that is all
//     coalescing reads;
//   - other entries (interior pages of free spans, of kinds that do not map interior pages) may
//     be stale: they point at a record (records are never unmapped) that may describe another
//     span, or none. lookup() validates state and range before it answers. A merge points the
//     page where an absorbed span began at the merged span, so free_at() of a base just freed
//     and merged can say "in free memory" instead of "not a base" (heap.hpp, claim_at_locked).
// The array sits at the front of the page source's reservation and is committed only as far as the
// arena has grown; those committed bytes that cover the grown arena are charged to other_sys.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>

namespace mheap {

template <class SpanT>
class PageMap {
 public:
  static constexpr std::size_t entry_bytes = sizeof(SpanT*);

  void place(void* entries) noexcept { entries_ = static_cast<SpanT**>(entries); }

  SpanT* operator[](std::size_t page) const noexcept { return entries_[page]; }
  void set(std::size_t page, SpanT* s) noexcept { entries_[page] = s; }
  void set_ends(std::size_t first, std::size_t npages, SpanT* s) noexcept {
    entries_[first] = s;
    entries_[first + npages - 1] = s;
  }
  // Unrolled by four so the compiler stores pairs of entries per instruction: a GC span pays this
  // loop on every allocation.
  void set_all(std::size_t first, std::size_t npages, SpanT* s) noexcept {
    SpanT** p = entries_ + first;
    SpanT** const end = p + npages;
    for (; end - p >= 4; p += 4) {
      p[0] = s;
      p[1] = s;
      p[2] = s;
      p[3] = s;
    }
    for (; p != end; ++p) *p = s;
  }
  std::byte* bytes() const noexcept { return reinterpret_cast<std::byte*>(entries_); }

 private:
  SpanT** entries_ = nullptr;
};

}  // namespace mheap
