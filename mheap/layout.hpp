// SPDX-License-Identifier: BSL-1.0
// mheap/layout.hpp — where the page map, the arena and the span records sit in a reservation.
//
// A pure computation from (base address, capacity, guard granule) to regions, fixed when a heap is
// built and testable without one (test/span_layout_test.cpp):
//
//     [ page map | guard | arena: spans, grows upward → | guard | span records, in chunks ]
//
// One range keeps spans contiguous (coalescing never meets metadata) and the page map a flat array
// indexed by page number. The guards keep a one-byte overflow off the last span, or underflow off
// the first, away from the heap's own metadata: each is at least one whole granule of the page
// source (the unit it protects and commits in, rounded up to the heap's page) that no commit ever
// touches, even one the source rounds outward to its granule. A source that can protect memory
// makes them fault (policies/page_source.hpp, ProtectingPageSourcePolicy); elsewhere AddressSanitizer
// poisons them. guard == 0 lays the regions out back to back.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

namespace mheap {

// What a layout depends on besides the reservation: all fixed by the heap's configuration.
struct LayoutShape {
  std::size_t page_shift;        // log2 of the heap's page
  std::size_t map_entry_bytes;   // bytes per page-map entry
  std::size_t record_bytes;      // bytes per span record
  std::size_t pool_chunk_pages;  // the span pool commits records in chunks of this many pages
  std::size_t reserved_records = 0;  // room for this many records (Config::reserved_span_records; 0: the worst case)
};

struct Layout {
  std::uintptr_t map = 0;          // first page-map entry (page aligned)
  std::uintptr_t arena = 0;        // page 0 of the arena (page aligned)
  std::size_t arena_pages = 0;     // pages the arena may grow to; 0: nothing fits
  std::uintptr_t pool = 0;         // first span record
  std::size_t pool_bytes = 0;      // bytes the record region may grow to
  std::size_t guard_bytes = 0;     // size of each guard: [arena - guard, arena), [pool - guard, pool)

  constexpr bool usable() const noexcept { return arena_pages != 0; }
  // The same regions for a reservation `delta` bytes further up (a layout computed at compile time
  // for an aligned stand-in base, moved to the real one).
  constexpr Layout moved_up(std::uintptr_t delta) const noexcept {
    Layout l = *this;
    if (l.usable()) {
      l.map += delta;
      l.arena += delta;
      l.pool += delta;
    }
    return l;
  }
};

namespace layout {

constexpr std::uintptr_t align_up(std::uintptr_t v, std::size_t a) noexcept { return (v + a - 1) / a * a; }
constexpr std::size_t pages_for(std::size_t bytes, std::size_t page_shift) noexcept {
  return (bytes >> page_shift) + ((bytes & ((std::size_t{1} << page_shift) - 1)) != 0);
}

// Bytes of page map that cover `pages` arena pages, in whole heap pages.
constexpr std::size_t map_bytes(const LayoutShape& s, std::size_t pages) noexcept {
  return pages_for(pages * s.map_entry_bytes, s.page_shift) << s.page_shift;
}

// Records for the worst case, every arena page its own span, plus the two a growth holds for a
// moment, unless the configuration reserves fewer: sized for the worst case, the record region
// never runs out before the arena's pages do. Whole chunks, then the last one only as
// long as its records need, in whole pages (a chunk's tail shorter than a record is lost; the
// pool commits what is left of the region as its last chunk).
constexpr std::size_t pool_bytes(const LayoutShape& s, std::size_t pages) noexcept {
  const std::size_t worst = pages + 2;
  const std::size_t records = s.reserved_records != 0 && s.reserved_records < worst ? s.reserved_records : worst;
  const std::size_t chunk_bytes = s.pool_chunk_pages << s.page_shift;
  const std::size_t per_chunk = chunk_bytes / s.record_bytes;
  const std::size_t rest = records % per_chunk;
  return records / per_chunk * chunk_bytes + (pages_for(rest * s.record_bytes, s.page_shift) << s.page_shift);
}

// The layout for `arena_pages` pages, starting at the page-aligned address `start`; its end in end.
constexpr Layout place(const LayoutShape& s, std::uintptr_t start, std::size_t arena_pages, std::size_t guard,
                       std::uintptr_t& end) noexcept {
  const std::size_t page = std::size_t{1} << s.page_shift;
  const std::size_t align = guard > page ? guard : page;
  Layout l;
  l.map = start;
  l.arena = guard == 0 ? start + map_bytes(s, arena_pages) : align_up(start + map_bytes(s, arena_pages), align) + guard;
  l.arena_pages = arena_pages;
  const std::uintptr_t arena_end = l.arena + (std::uintptr_t{arena_pages} << s.page_shift);
  l.pool = guard == 0 ? arena_end : align_up(arena_end, align) + guard;
  l.pool_bytes = pool_bytes(s, arena_pages);
  l.guard_bytes = guard;
  end = l.pool + l.pool_bytes;
  return l;
}

}  // namespace layout

// The largest arena that fits in [base, base + capacity) with its page map, guards and records.
// guard_granule: 0 for no guards, else the page source's protection granule (a power of two); each
// guard is that granule rounded up to the heap's page. Returns a layout with arena_pages == 0 when
// not even one page fits.
constexpr Layout lay_out(const LayoutShape& s, std::uintptr_t base, std::size_t capacity,
                         std::size_t guard_granule) noexcept {
  const std::size_t page = std::size_t{1} << s.page_shift;
  const std::size_t guard = guard_granule == 0 ? 0 : (guard_granule > page ? guard_granule : page);
  if (base == 0) return {};
  const std::uintptr_t start = layout::align_up(base, page);
  if (start < base || capacity < start - base) return {};
  const std::uintptr_t limit = base + capacity;  // reservations never wrap the address space
  // fits(n) is monotone in n: binary search for the largest n that fits.
  auto fits = [&](std::size_t n) {
    std::uintptr_t end = 0;
    layout::place(s, start, n, guard, end);
    return end <= limit && end >= start;
  };
  std::size_t lo = 0, hi = (capacity - (start - base)) >> s.page_shift;  // lo fits, hi + 1 does not
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    if (fits(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  if (lo == 0) return {};
  std::uintptr_t end = 0;
  return layout::place(s, start, lo, guard, end);
}

}  // namespace mheap
