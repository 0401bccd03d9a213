// SPDX-License-Identifier: BSL-1.0
// mheap/report.hpp — every way to print a heap, in one include.
//
//   take_census(heap), SpanCensus     mheap/span_census.hpp   what the spans add up to
//   write_text_report(os, heap)       mheap/report_text.hpp   aligned text with units
//   write_json(os, heap)              mheap/report_json.hpp   one JSON object, Go's field names
//   write_svg_map(os, heap)           mheap/svg_map.hpp       a picture of the arena
//
// All of them walk the heap once with Heap::for_each_span() (under its lock) and write to a
// std::ostream, which is why they are not in mheap/mheap.hpp: a small target need not have one.
#pragma once
#include "detail/require_cxx20.hpp"

#include "report_json.hpp"
#include "report_text.hpp"
#include "span_census.hpp"
#include "svg_map.hpp"
