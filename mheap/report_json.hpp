// SPDX-License-Identifier: BSL-1.0
// mheap/report_json.hpp — the heap's figures as one JSON object, for tools.
//
//   write_json(os, heap)               one walk (one instant), then the object
//   write_json(os, take_census(heap))  the same from a census in hand
//
// Field names are stable. Where Go's runtime.MemStats has the figure, the name is Go's: "Sys",
// "HeapSys", "HeapIdle", "HeapInuse", "HeapReleased", "StackInuse", "StackSys", "MSpanInuse",
// "MSpanSys", "OtherSys" (bytes); "ManualSys" is mheap's own (manual kinds other than stacks);
// "Mallocs", "Frees" (spans) and "TotalAlloc" (bytes) are Go's, counted at span level;
// "CacheIdle" is mheap's own (free spans parked whole in span caches, part of HeapIdle).
// The census follows in the same style, counts of spans and pages:
//   "PageSize", "ArenaPages", "ArenaCapacityPages", "Spans",
//   "Kinds": [{"Name", "LiveSpans", "LivePages", "CachedSpans", "CachedPages"}] by kind index,
//   "FreeSpans", "FreePages", "ReleasedPages", "ReleasingSpans", "ReleasingPages",
//   "CachedSpans", "CachedPages",
//   "LargestFree": {"FirstPage", "Pages"} (Pages 0: no free span),
//   "FreeByLength": [{"Pages", "Backed", "Released", "ReleasedPages"}] ascending by Pages
//   (Go's BySize, at span level: free spans of each length, backed and released counted apart).
// Numbers are unsigned integers; nothing is a float. Written by hand (mheap depends on no JSON
// library); strings are escaped as RFC 8259 asks: quote, backslash and control characters.
// Kind names are copied byte for byte otherwise, so they must be UTF-8, as source literals are.
// Not in mheap/mheap.hpp: it needs <ostream>.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "detail/stream_text.hpp"
#include "mem_stats.hpp"
#include "span_census.hpp"

namespace mheap {

/// Writes text as a JSON string, quotes included: `"`, `\` and the control characters U+0000 to
/// U+001F escaped (the short forms `\b` `\f` `\n` `\r` `\t` where JSON has them, `\u00XX`
/// otherwise); every other byte as it is. A null text is written as JSON's null.
inline void write_json_string(std::ostream& os, const char* text) {
  using detail::put;
  if (text == nullptr) {
    put(os, "null");
    return;
  }
  os.put('"');
  for (const char* p = text; *p != '\0'; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    switch (c) {
      case '"': put(os, "\\\""); break;
      case '\\': put(os, "\\\\"); break;
      case '\b': put(os, "\\b"); break;
      case '\f': put(os, "\\f"); break;
      case '\n': put(os, "\\n"); break;
      case '\r': put(os, "\\r"); break;
      case '\t': put(os, "\\t"); break;
      default:
        if (c < 0x20) {
          constexpr char hex[] = "0123456789abcdef";
          detail::put_all(os, "\\u00", hex[c >> 4], hex[c & 0xf]);
        } else {
          os.put(static_cast<char>(c));
        }
    }
  }
  os.put('"');
}

namespace detail {

// Members of one JSON object, written in order with the commas between them; the object closes
// when this goes out of scope. `indent` is the members' indentation; the braces are two less.
class JsonObject {
 public:
  JsonObject(std::ostream& os, std::string_view indent) : os_(os), indent_(indent) { os_.put('{'); }
  ~JsonObject() {
    if (!first_) put_all(os_, "\n", indent_.substr(0, indent_.size() >= 2 ? indent_.size() - 2 : 0));
    os_.put('}');
  }
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;

  // Starts a member: writes its key; the caller writes the value.
  std::ostream& key(const char* name) {
    put_all(os_, first_ ? "\n" : ",\n", indent_);
    first_ = false;
    write_json_string(os_, name);
    put(os_, ": ");
    return os_;
  }
  void number(const char* name, std::uint64_t value) { put_uint(key(name), value); }

 private:
  std::ostream& os_;
  std::string_view indent_;
  bool first_ = true;
};

}  // namespace detail

/// The census and the MemStats of its instant as one JSON object (the fields are listed at the
/// top of this header), followed by a newline.
inline void write_json(std::ostream& os, const SpanCensus& c) {
  using detail::put, detail::put_all;
  {
    detail::JsonObject o(os, "  ");
    const MemStats& m = c.mem_stats;
    o.number("Sys", m.Sys);
    o.number("HeapSys", m.HeapSys);
    o.number("HeapIdle", m.HeapIdle);
    o.number("HeapInuse", m.HeapInuse);
    o.number("HeapReleased", m.HeapReleased);
    o.number("StackInuse", m.StackInuse);
    o.number("StackSys", m.StackSys);
    o.number("MSpanInuse", m.MSpanInuse);
    o.number("MSpanSys", m.MSpanSys);
    o.number("OtherSys", m.OtherSys);
    o.number("ManualSys", m.ManualSys);
    o.number("Mallocs", m.Mallocs);
    o.number("Frees", m.Frees);
    o.number("TotalAlloc", m.TotalAlloc);
    o.number("CacheIdle", m.CacheIdle);
    o.number("PageSize", c.page_bytes);
    o.number("ArenaPages", c.grown_pages);
    o.number("ArenaCapacityPages", c.capacity_pages);
    o.number("Spans", c.spans);
    put(o.key("Kinds"), "[");
    for (std::size_t i = 0; i < c.kinds.size(); ++i) {
      const KindCensus& k = c.kinds[i];
      put(os, i == 0 ? "\n    " : ",\n    ");
      detail::JsonObject kind(os, "      ");
      write_json_string(kind.key("Name"), k.name);
      kind.number("LiveSpans", k.live_spans);
      kind.number("LivePages", k.live_pages);
      kind.number("CachedSpans", k.cached_spans);
      kind.number("CachedPages", k.cached_pages);
    }
    put(os, c.kinds.empty() ? "]" : "\n  ]");
    o.number("FreeSpans", c.free_spans);
    o.number("FreePages", c.free_pages);
    o.number("ReleasedPages", c.released_pages);
    o.number("ReleasingSpans", c.releasing_spans);
    o.number("ReleasingPages", c.releasing_pages);
    o.number("CachedSpans", c.cached_spans);
    o.number("CachedPages", c.cached_pages);
    {
      o.key("LargestFree");
      detail::JsonObject largest(os, "    ");
      largest.number("FirstPage", c.largest_free.first_page);
      largest.number("Pages", c.largest_free.npages);
    }
    put(o.key("FreeByLength"), "[");
    for (std::size_t i = 0; i < c.free_by_length.size(); ++i) {
      const FreeSpanLength& l = c.free_by_length[i];
      // One line per length: the histogram can be long.
      put_all(os, i == 0 ? "\n    " : ",\n    ", "{\"Pages\": ", l.npages, ", \"Backed\": ", l.backed_spans,
              ", \"Released\": ", l.released_spans, ", \"ReleasedPages\": ", l.released_pages, "}");
    }
    put(os, c.free_by_length.empty() ? "]" : "\n  ]");
  }
  put(os, "\n");
}

/// The JSON object of a heap: one walk (Heap::for_each_span, under its lock), then the text.
/// Cost: as take_census(), plus the text.
template <WalkableHeap H>
void write_json(std::ostream& os, const H& heap) {
  write_json(os, take_census(heap));
}

}  // namespace mheap
