// SPDX-License-Identifier: BSL-1.0
// mheap/arena.hpp — the arena: pages the heap has grown, and the page map that covers them.
//
// Pages [0, pages()) are grown and tiled by spans (the heap keeps that); the arena may grow to
// capacity_pages(). Growing commits, through the page source, first the page map that will cover
// the new pages, then the pages themselves. Commits outlive a failed growth (they are kept,
// uncounted, for the next one), so the page source sees each byte committed at most once.
// Guarded by the heap lock.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "layout.hpp"
#include "page_map.hpp"

namespace mheap {

template <class SpanT, std::size_t PageShift>
class Arena {
 public:
  static constexpr std::size_t page_bytes = std::size_t{1} << PageShift;

  void place(const Layout& l) noexcept {
    map_.place(reinterpret_cast<void*>(l.map));
    base_ = reinterpret_cast<std::byte*>(l.arena);
    capacity_pages_ = l.arena_pages;
  }

  std::size_t pages() const noexcept { return pages_; }
  std::size_t capacity_pages() const noexcept { return capacity_pages_; }
  std::byte* base() const noexcept { return base_; }

  // The page holding p; wraps to a huge value below the arena, so one comparison with pages()
  // rejects addresses on both sides.
  std::size_t page_of(const void* p) const noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(base_)) >> PageShift;
  }
  std::byte* page_addr(std::size_t page) const noexcept { return base_ + (page << PageShift); }

  PageMap<SpanT>& map() noexcept { return map_; }
  const PageMap<SpanT>& map() const noexcept { return map_; }

  // Bytes of page map covering `pages` arena pages, in whole heap pages (other_sys when grown).
  static constexpr std::size_t map_bytes_for(std::size_t pages) noexcept {
    return layout::pages_for(pages * PageMap<SpanT>::entry_bytes, PageShift) << PageShift;
  }
  std::size_t map_bytes() const noexcept { return map_bytes_for(pages_); }

  // Commits what pages [pages(), new_end) need: their page map, then themselves. False when the
  // source refuses; what it committed before refusing stays committed for the next try.
  template <class Source>
  bool commit_to(std::size_t new_end, Source& source) noexcept {
    const std::size_t map_need = map_bytes_for(new_end);
    if (map_need > map_committed_bytes_) {
      if (!source.commit(map_.bytes() + map_committed_bytes_, map_need - map_committed_bytes_)) return false;
      map_committed_bytes_ = map_need;
    }
    if (new_end > committed_pages_) {
      if (!source.commit(page_addr(committed_pages_), (new_end - committed_pages_) << PageShift)) return false;
      committed_pages_ = new_end;
    }
    return true;
  }
  // The pages up to new_end (committed) now belong to spans.
  void extend_to(std::size_t new_end) noexcept { pages_ = new_end; }

 private:
  PageMap<SpanT> map_;                  // entry p: the span holding arena page p (page_map.hpp)
  std::byte* base_ = nullptr;           // page 0
  std::size_t pages_ = 0;               // pages grown; [0, pages_) is tiled by spans
  std::size_t capacity_pages_ = 0;      // pages the arena may grow to
  std::size_t committed_pages_ = 0;     // ≥ pages_: commits outlive a failed growth
  std::size_t map_committed_bytes_ = 0;
};

}  // namespace mheap
