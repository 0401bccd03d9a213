// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/span.hpp — the span record: one run of whole pages, free or live.
///
/// Records come from the span pool (mheap/span_pool.hpp), never from malloc, and are never given
/// back to the page source while the heap lives: a stale pointer to a record always points at a
/// record, which is what lets lookup() and free() validate what they are handed in O(1).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "detail/absent.hpp"
#include "detail/intrusive.hpp"
#include "span_state.hpp"
#include "../policies/span_lists.hpp"

namespace mheap {

/// The part of a record that does not depend on the heap's configuration. SpanRef and lookup()
/// see only this. Read-only for users; the heap changes it under its lock, except the generation,
/// which a thread with a span cache of its own also moves without it (mheap/span_state.hpp).
/// Words and bytes only: 16 bytes on a Cortex-M, 32 on a 64-bit host.
struct SpanHeader {
  std::byte* base = nullptr;  ///< first byte of the span (aligned to the heap's page)
  std::size_t npages = 0;     ///< length in pages, ≥ 1 while the record describes a span
  Generation generation = 0;  ///< +1 on every alloc and free of this record, so it is odd exactly
                              ///< while a caller owns the span; +2 when a free span's base moves
                              ///< down by a merge and on retire. A SpanRef taken before the last
                              ///< transition never matches again (mheap/span_state.hpp says for
                              ///< how long on a 32-bit target)
  SpanState state = SpanState::unused;  ///< where the span is in its life (mheap/span_state.hpp)
  std::uint8_t kind = 0;                ///< index into the heap's SpanKinds; meaningful while held by a kind
  bool needzero : 1 = false;            ///< some byte may be non-zero (fresh memory is zero)
  bool interior_mapped : 1 = false;     ///< every page of the span maps to it (not only its ends)
  std::uint8_t page_shift = 0;          ///< the heap's page size, log2 (for SpanRef::bytes())

  /// Owned by a caller. A plain read: for a single-threaded heap, or one no other thread is using.
  bool is_live() const noexcept { return is_owned(generation); }
};

/// What the record of a free span keeps about its idle pages in a heap that can give pages back to
/// its source (ReleasingPageSourcePolicy). A heap that cannot keeps neither field, nor stamps frees.
struct IdleRecord {
  std::size_t npreleased = 0;  ///< pages of a free span given back to the page source
  std::uint64_t tick = 0;      ///< scavenger tick in which the span went to the free set (IdleTicks)
};

/// The full record. Exactly one of the hooks is linked while the span is free: the list hook when
/// npages < max_list_pages (always, with NoTree), the tree hook otherwise. Neither is linked while
/// a kind holds the span (live or parked). The fields the alloc/free fast path touches come first.
/// With NoTree and no release, 32 bytes on a 32-bit target: the header, three words, the mark.
template <ListLinkPolicy Links, LargeSpanTreePolicy Tree, bool Releases>
struct Span : SpanHeader {
  Span* next = nullptr;  ///< link on a span cache's stack or a returned stack (parked), or the pool's list (unused)
  detail::bi::list_member_hook<detail::bi::link_mode<Links::mode>> list_hook;  ///< link on a free list of one length
  [[no_unique_address]] typename Tree::template hook<Links::mode> tree_hook;  ///< empty with NoTree
  mutable std::uint32_t audit_mark = 0;  ///< audit(): last census that found this span in the free set
  [[no_unique_address]] std::conditional_t<Releases, IdleRecord, detail::Absent<0>> idle;  ///< none without release

  static constexpr bool releases = Releases;  ///< whether the record keeps an IdleRecord
  /// Pages of this free span given back to the source (none where the heap never gives any).
  std::size_t released_pages() const noexcept {
    if constexpr (Releases) return idle.npreleased; else return 0;
  }
  /// Whether every page of this free span is given back (where the heap gives none: never).
  bool fully_released() const noexcept {
    if constexpr (Releases) return idle.npreleased == npages; else return false;
  }
};

}  // namespace mheap
