// SPDX-License-Identifier: BSL-1.0
// mheap/svg_map.hpp — a picture of the arena: one SVG with every span as a run of pages.
//
//   write_svg_map(os, heap)                  one walk (one instant), then the picture
//   write_svg_map(os, census, spans)         the same from a walk in hand
//
// The arena is drawn as rows of a fixed number of pages (SvgMapOptions::pages_per_row), page 0
// at the top left, so a page's place says its address. A span is one rectangle per row it covers,
// coloured by what it is doing: live (a colour per kind), cached (parked in a span cache), free,
// free and partly released (striped), released, being released. The largest free span is
// outlined and labelled; beside the map stand a legend, the MemStats of the same instant and the
// census's totals. Each span is a <g class="span"> with a <title> (a tooltip in browsers) and
// data-* attributes, and each of its rectangles a <rect class="run" data-first-page="…"
// data-pages="…">, so tools can read the map back: the runs tile the grown arena exactly.
// Text from kind names is escaped for XML. Not in mheap/mheap.hpp: it needs <ostream>.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "detail/stream_text.hpp"
#include "mem_stats.hpp"
#include "span_census.hpp"
#include "span_view.hpp"

namespace mheap {

/// How write_svg_map() lays out the arena.
struct SvgMapOptions {
  std::size_t pages_per_row = 64;  ///< pages in one row of the map (≥ 1)
  std::size_t page_width = 10;     ///< width of one page, in SVG user units (pixels)
  std::size_t row_height = 14;     ///< height of one row
  const char* title = "mheap arena";  ///< the heading (escaped)
};

/// Writes text escaped for XML character data and attribute values: & < > " ' as entities.
inline void write_xml_text(std::ostream& os, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': detail::put(os, "&amp;"); break;
      case '<': detail::put(os, "&lt;"); break;
      case '>': detail::put(os, "&gt;"); break;
      case '"': detail::put(os, "&quot;"); break;
      case '\'': detail::put(os, "&apos;"); break;
      default:
        // XML 1.0 allows no control character but tab, newline and carriage return, not even
        // as a reference: the others are shown as '?'.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          os.put('?');
        else
          os.put(c);
    }
  }
}

namespace detail {

// Fill colours. Live spans take their kind's colour from a palette (cycled for more than eight
// kinds); the idle states have colours of their own, none of them in the palette.
inline constexpr const char* svg_kind_colours[] = {"#4e79a7", "#f28e2b", "#b07aa1", "#e15759",
                                                   "#76b7b2", "#9c755f", "#1f3a5f", "#d37295"};
inline constexpr const char* svg_cached_colour = "#edc948";
inline constexpr const char* svg_free_colour = "#8cd17d";
inline constexpr const char* svg_released_colour = "#d9d9d9";
inline constexpr const char* svg_partly_released_fill = "url(#partly-released)";  // stripes of both
inline constexpr const char* svg_releasing_colour = "#bab0ac";

inline const char* svg_kind_colour(std::size_t kind) {
  return svg_kind_colours[kind % (sizeof svg_kind_colours / sizeof svg_kind_colours[0])];
}

inline const char* svg_fill(const SpanView& v) {
  switch (v.use) {
    case SpanUse::live: return svg_kind_colour(v.kind);
    case SpanUse::cached: return svg_cached_colour;
    case SpanUse::releasing: return svg_releasing_colour;
    case SpanUse::free: break;
  }
  if (v.released_pages == 0) return svg_free_colour;
  return v.released_pages == v.npages ? svg_released_colour : svg_partly_released_fill;
}

// Calls f(first_page, pages, row) for each row segment of the pages [first, first + n).
template <class F>
void for_each_row_run(std::size_t first, std::size_t n, std::size_t per_row, F&& f) {
  while (n != 0) {
    const std::size_t row = first / per_row;
    const std::size_t here = std::min(n, per_row - first % per_row);
    f(first, here, row);
    first += here;
    n -= here;
  }
}

}  // namespace detail

/// The SVG map of a walk: `spans` as Heap::for_each_span() gave them (address order) and the census
/// of the same walk. Cost: O(spans + rows + kinds + free lengths).
inline void write_svg_map(std::ostream& os, const SpanCensus& census, std::span<const SpanView> spans,
                          const SvgMapOptions& options = {}) {
  using detail::put, detail::put_all, detail::Mebibytes;
  const std::size_t per_row = std::max<std::size_t>(options.pages_per_row, 1);
  const std::size_t pw = std::max<std::size_t>(options.page_width, 1);
  const std::size_t rh = std::max<std::size_t>(options.row_height, 4);
  const std::size_t rows = (census.grown_pages + per_row - 1) / per_row;
  constexpr std::size_t margin = 12, label_width = 64, top = 48, line = 16, panel_width = 330;
  const std::size_t map_x = margin + label_width, map_width = per_row * pw;
  const std::size_t panel_x = map_x + map_width + 2 * margin;

  // The panel: legend (kinds, then the idle states, then the outline), MemStats, census totals.
  const std::size_t legend_lines = census.kinds.size() + 6;
  const MemStats& m = census.mem_stats;
  const struct {
    const char* name;
    std::uint64_t value;
  } stats[] = {{"Sys", m.Sys},           {"HeapSys", m.HeapSys},     {"HeapIdle", m.HeapIdle},
               {"HeapInuse", m.HeapInuse}, {"HeapReleased", m.HeapReleased}, {"StackInuse", m.StackInuse},
               {"StackSys", m.StackSys}, {"MSpanInuse", m.MSpanInuse}, {"MSpanSys", m.MSpanSys},
               {"OtherSys", m.OtherSys}, {"ManualSys", m.ManualSys}};
  constexpr std::size_t stat_lines = sizeof stats / sizeof stats[0];
  const std::size_t panel_lines = 1 + legend_lines + 1 + 1 + stat_lines + 1 + 4;
  const std::size_t width = panel_x + panel_width + margin;
  const std::size_t height = std::max(top + rows * rh, top + panel_lines * line) + margin;

  put_all(os, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"", width, "\" height=\"", height,
          "\" viewBox=\"0 0 ", width, " ", height, "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
  put_all(os, "<defs><pattern id=\"partly-released\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
              "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"", detail::svg_free_colour,
          "\"/><rect width=\"3\" height=\"6\" fill=\"", detail::svg_released_colour, "\"/></pattern></defs>\n");
  put_all(os, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<text x=\"", margin, "\" y=\"", margin + 16,
          "\" font-size=\"16\" font-weight=\"bold\">");
  write_xml_text(os, options.title ? options.title : "");
  put_all(os, "</text>\n<text x=\"", margin, "\" y=\"", margin + 32, "\">", census.grown_pages, " of ",
          census.capacity_pages, " pages grown, ", census.page_bytes / 1024, " KiB each; ", per_row,
          " pages a row</text>\n");

  // Row labels: the first page of each row.
  put(os, "<g class=\"row-labels\" font-size=\"10\" text-anchor=\"end\" fill=\"#555555\">\n");
  for (std::size_t r = 0; r < rows; ++r)
    put_all(os, "<text x=\"", map_x - 4, "\" y=\"", top + r * rh + rh - 3, "\">", r * per_row, "</text>\n");
  put(os, "</g>\n");

  // The spans, in address order.
  put(os, "<g class=\"map\" stroke=\"#ffffff\" stroke-width=\"0.5\">\n");
  for (const SpanView& v : spans) {
    put_all(os, "<g class=\"span\" data-use=\"", describe(v.use), "\" data-first-page=\"", v.first_page,
            "\" data-pages=\"", v.npages, "\" data-released-pages=\"", v.released_pages, "\"");
    if (v.held()) {
      put(os, " data-kind=\"");
      write_xml_text(os, v.kind_name ? v.kind_name : "?");
      put(os, "\"");
    }
    put_all(os, "><title>pages ", v.first_page, "-", v.end_page() - 1, " (", v.npages, " pages, ",
            Mebibytes(v.bytes), " MiB): ", describe(v.use));
    if (v.held()) {
      put(os, " ");
      write_xml_text(os, v.kind_name ? v.kind_name : "?");
    }
    if (v.released_pages != 0) put_all(os, ", ", v.released_pages, " pages released");
    put(os, "</title>\n");
    const char* fill = detail::svg_fill(v);
    detail::for_each_row_run(v.first_page, v.npages, per_row, [&](std::size_t first, std::size_t n, std::size_t row) {
      put_all(os, "<rect class=\"run\" data-first-page=\"", first, "\" data-pages=\"", n, "\" x=\"",
              map_x + (first % per_row) * pw, "\" y=\"", top + row * rh, "\" width=\"", n * pw, "\" height=\"", rh,
              "\" fill=\"", fill, "\"/>\n");
    });
    put(os, "</g>\n");
  }
  put(os, "</g>\n");

  // The largest free span: outlined, and labelled at its first row.
  if (census.largest_free.npages != 0) {
    put(os, "<g class=\"largest-free\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\">\n");
    detail::for_each_row_run(census.largest_free.first_page, census.largest_free.npages, per_row,
                             [&](std::size_t first, std::size_t n, std::size_t row) {
                               put_all(os, "<rect x=\"", map_x + (first % per_row) * pw, "\" y=\"", top + row * rh,
                                       "\" width=\"", n * pw, "\" height=\"", rh, "\"/>\n");
                             });
    const std::size_t first = census.largest_free.first_page;
    put_all(os, "</g>\n<text class=\"largest-free-label\" x=\"", map_x + (first % per_row) * pw + 3, "\" y=\"",
            top + (first / per_row) * rh + rh - 3,
            "\" font-size=\"10\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">largest free span: ",
            census.largest_free.npages, " pages (", Mebibytes(std::uint64_t{census.largest_free.npages} * census.page_bytes),
            " MiB)</text>\n");
  }

  // The panel.
  std::size_t y = top + 12;
  auto heading = [&](const char* text) {
    put_all(os, "<text x=\"", panel_x, "\" y=\"", y, "\" font-weight=\"bold\">", text, "</text>\n");
    y += line;
  };
  auto swatch = [&](const char* fill, const char* stroke) {
    put_all(os, "<rect x=\"", panel_x, "\" y=\"", y - 10, "\" width=\"12\" height=\"12\" fill=\"", fill, "\" stroke=\"",
            stroke, "\"/><text x=\"", panel_x + 18, "\" y=\"", y, "\">");
  };
  put(os, "<g class=\"legend\">\n");
  heading("Legend");
  for (std::size_t k = 0; k < census.kinds.size(); ++k) {
    swatch(detail::svg_kind_colour(k), "#ffffff");
    put(os, "live ");
    write_xml_text(os, census.kinds[k].name ? census.kinds[k].name : "?");
    put(os, "</text>\n");
    y += line;
  }
  const struct {
    const char* fill;
    const char* stroke;
    const char* text;
  } states[] = {{detail::svg_cached_colour, "#ffffff", "cached: parked whole in a span cache"},
                {detail::svg_free_colour, "#ffffff", "free"},
                {detail::svg_partly_released_fill, "#ffffff", "free, partly released"},
                {detail::svg_released_colour, "#ffffff", "free, released to the OS"},
                {detail::svg_releasing_colour, "#ffffff", "free, being released now"},
                {"none", "#000000", "largest free span (outlined)"}};
  for (const auto& s : states) {
    swatch(s.fill, s.stroke);
    put_all(os, s.text, "</text>\n");
    y += line;
  }
  put(os, "</g>\n<g class=\"mem-stats\">\n");
  y += line;
  heading("MemStats (bytes)");
  for (const auto& s : stats) {
    put_all(os, "<text x=\"", panel_x, "\" y=\"", y, "\">", s.name, "</text><text x=\"", panel_x + 200, "\" y=\"", y,
            "\" text-anchor=\"end\" data-field=\"", s.name, "\">", s.value, "</text><text x=\"", panel_x + 210,
            "\" y=\"", y, "\" fill=\"#555555\">", Mebibytes(s.value), " MiB</text>\n");
    y += line;
  }
  put(os, "</g>\n<g class=\"census\">\n");
  y += line;
  put_all(os, "<text x=\"", panel_x, "\" y=\"", y, "\">", census.spans, " spans: ", census.live_spans(), " live, ",
          census.cached_spans, " cached, ", census.free_spans, " free</text>\n");
  y += line;
  put_all(os, "<text x=\"", panel_x, "\" y=\"", y, "\">", census.free_pages, " free pages, ", census.released_pages,
          " released; ", census.cached_pages, " cached</text>\n");
  y += line;
  put_all(os, "<text x=\"", panel_x, "\" y=\"", y, "\">largest free span: ", census.largest_free.npages, " pages</text>\n");
  put(os, "</g>\n</svg>\n");
}

/// The SVG map of a heap: one walk (Heap::for_each_span, under its lock) that both counts the
/// spans and keeps them, then the picture. Cost: O(spans) under the lock, O(spans) memory.
template <WalkableHeap H>
void write_svg_map(std::ostream& os, const H& heap, const SvgMapOptions& options = {}) {
  SpanCensusTaker taker = SpanCensusTaker::for_heap(heap);
  std::vector<SpanView> spans;
  const MemStats at_walk = heap.for_each_span([&](const SpanView& v) {
    taker.count(v);
    spans.push_back(v);
  });
  write_svg_map(os, std::move(taker).finish(at_walk), spans, options);
}

}  // namespace mheap
