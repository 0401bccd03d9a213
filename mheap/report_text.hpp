// SPDX-License-Identifier: BSL-1.0
// mheap/report_text.hpp — the heap's figures as aligned text with units, for people.
//
//   write_mem_stats(os, heap.mem_stats())   one line per MemStats field: name, bytes, MiB
//   write_census(os, take_census(heap))     the arena, spans per kind, free spans by length
//   write_text_report(os, heap)             both, from one walk (one instant)
//
// Every line starts with two spaces, so a report can be nested under a heading of the caller's.
// The stream's formatting state (base, width, locale) is not used: numbers are formatted here
// (mheap/detail/stream_text.hpp). Not in mheap/mheap.hpp: it needs <ostream>, which a small
// target may not want.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "detail/stream_text.hpp"
#include "mem_stats.hpp"
#include "span_census.hpp"

namespace mheap {

/// One line per MemStats field, in Go's order and with Go's names (ManualSys and CacheIdle,
/// mheap's own, after the byte counts): `  HeapInuse          1695744 bytes       1.62 MiB`; then Mallocs and Frees
/// (spans) and TotalAlloc (bytes).
inline void write_mem_stats(std::ostream& os, const MemStats& m) {
  const struct {
    const char* name;
    std::uint64_t value;
  } rows[] = {{"Sys", m.Sys},
              {"HeapSys", m.HeapSys},
              {"HeapIdle", m.HeapIdle},
              {"HeapInuse", m.HeapInuse},
              {"HeapReleased", m.HeapReleased},
              {"StackInuse", m.StackInuse},
              {"StackSys", m.StackSys},
              {"MSpanInuse", m.MSpanInuse},
              {"MSpanSys", m.MSpanSys},
              {"OtherSys", m.OtherSys},
              {"ManualSys", m.ManualSys},
              {"CacheIdle", m.CacheIdle}};
  for (const auto& row : rows) {
    detail::put(os, "  ");
    detail::put_column(os, row.name, 13, false);
    detail::put(os, " ");
    detail::put_column(os, row.value, 12);
    detail::put(os, " bytes  ");
    detail::put_column(os, detail::Mebibytes(row.value).view(), 9, true);
    detail::put(os, " MiB\n");
  }
  // Go's cumulative counts, at span level (the garbage-collected heap's spans).
  detail::put(os, "  ");
  detail::put_column(os, "Mallocs", 13, false);
  detail::put(os, " ");
  detail::put_column(os, m.Mallocs, 12);
  detail::put(os, " spans\n  ");
  detail::put_column(os, "Frees", 13, false);
  detail::put(os, " ");
  detail::put_column(os, m.Frees, 12);
  detail::put(os, " spans\n  ");
  detail::put_column(os, "TotalAlloc", 13, false);
  detail::put(os, " ");
  detail::put_column(os, m.TotalAlloc, 12);
  detail::put(os, " bytes  ");
  detail::put_column(os, detail::Mebibytes(m.TotalAlloc).view(), 9, true);
  detail::put(os, " MiB\n");
}

/// The census as aligned text: the arena; per kind, live and cached spans and pages; free and
/// cached totals; the largest free span; free spans by length, backed and released apart. A kind
/// name's control characters are shown as '?', so each kind keeps to its line.
inline void write_census(std::ostream& os, const SpanCensus& c) {
  using detail::put, detail::put_all, detail::put_column, detail::Mebibytes;
  put_all(os, "  arena: ", c.grown_pages, " of ", c.capacity_pages, " pages grown (", c.page_bytes / 1024,
          " KiB pages), ", c.spans, " spans\n");

  std::size_t name_width = 4;  // "kind"
  for (const KindCensus& k : c.kinds) name_width = std::max(name_width, detail::shown_width(k.name ? k.name : "?"));
  put(os, "  ");
  put_column(os, "kind", name_width, false);
  put(os, "  live spans  live pages    live MiB  cached spans  cached pages\n");
  for (const KindCensus& k : c.kinds) {
    put(os, "  ");
    detail::put_name_column(os, k.name ? k.name : "?", name_width);
    put(os, "  ");
    put_column(os, k.live_spans, 10);
    put(os, "  ");
    put_column(os, k.live_pages, 10);
    put(os, "  ");
    put_column(os, Mebibytes(std::uint64_t{k.live_pages} * c.page_bytes).view(), 10, true);
    put(os, "  ");
    put_column(os, k.cached_spans, 12);
    put(os, "  ");
    put_column(os, k.cached_pages, 12);
    put(os, "\n");
  }

  put_all(os, "  free: ", c.free_spans, " spans, ", c.free_pages, " pages (",
          Mebibytes(std::uint64_t{c.free_pages} * c.page_bytes), " MiB), ", c.released_pages, " pages released");
  if (c.releasing_spans != 0)
    put_all(os, "; ", c.releasing_spans, " spans (", c.releasing_pages, " pages) being released");
  put_all(os, "; cached: ", c.cached_spans, " spans, ", c.cached_pages, " pages\n");
  if (c.largest_free.npages != 0)
    put_all(os, "  largest free span: ", c.largest_free.npages, " pages (",
            Mebibytes(std::uint64_t{c.largest_free.npages} * c.page_bytes), " MiB) at page ",
            c.largest_free.first_page, "\n");
  else
    put(os, "  largest free span: none\n");

  if (c.free_by_length.empty()) return;
  put(os, "  free spans by length:  pages  backed  released  released pages\n");
  for (const FreeSpanLength& l : c.free_by_length) {
    put(os, "                       ");
    put_column(os, l.npages, 6);
    put(os, "  ");
    put_column(os, l.backed_spans, 6);
    put(os, "  ");
    put_column(os, l.released_spans, 8);
    put(os, "  ");
    put_column(os, l.released_pages, 14);
    put(os, "\n");
  }
}

/// MemStats, then the census, both of one instant.
inline void write_text_report(std::ostream& os, const SpanCensus& c) {
  write_mem_stats(os, c.mem_stats);
  write_census(os, c);
}

/// The report of a heap: one walk (Heap::for_each_span, under its lock), then the text.
/// Cost: as take_census(), plus the text.
template <WalkableHeap H>
void write_text_report(std::ostream& os, const H& heap) {
  write_text_report(os, take_census(heap));
}

}  // namespace mheap
