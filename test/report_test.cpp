// SPDX-License-Identifier: BSL-1.0
// The printers of mheap/report_text.hpp and mheap/report_json.hpp: the JSON parsed back by a real
// parser (JSON for Modern C++) field by field against mem_stats() and the census, with exactly
// the documented field names; names that need escaping round-trip; neither printer depends on
// the stream's formatting state; the text report reads back to the same figures.
#define BOOST_TEST_MODULE report
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <locale>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "mheap/report.hpp"
#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;
using Stack = StackSpanPolicy;

// A manual kind whose name needs every kind of escaping JSON has: a quote, a backslash, the
// control characters with short escapes and one without, and a non-ASCII letter (UTF-8).
struct OddStats : Stats {
  std::uint64_t odd_inuse = 0;
};
constexpr const char kOddName[] = "odd \"kind\" \\ with\ttab\nnewline\x01 and \xc3\xa9";
using OddKind = ManualSpanPolicy<&OddStats::odd_inuse, "odd \"kind\" \\ with\ttab\nnewline\x01 and \xc3\xa9">;

struct Config : test::ArenaConfig<> {
  using Stats = OddStats;
  using SpanKinds = mheap::SpanKinds<GC, Stack, OddKind>;
};
using TestHeap = Heap<Config>;

// Live spans of each kind, parked ones, free ones of several lengths: something in every field.
struct Fragmented {
  std::unique_ptr<TestHeap> heap = test::make_heap<TestHeap>();
  std::vector<SpanRef<GC>> gc;
  std::vector<SpanRef<Stack>> stacks;
  SpanRef<OddKind> odd;
  Fragmented() {
    for (std::size_t i = 0; i < 40; ++i) gc.push_back(heap->alloc<GC>(1 + i % 7));
    for (std::size_t i = 0; i < 6; ++i) stacks.push_back(heap->alloc<Stack>(4));
    odd = heap->alloc<OddKind>(3);
    for (std::size_t i = 0; i < gc.size(); i += 3) heap->free(gc[i]);
    heap->free(stacks[0]);
    heap->flush_cache();  // free spans of several lengths
    heap->free(gc[1]);    // and parked ones
    heap->free(stacks[1]);
    require_clean(*heap);
  }
};

std::string json_of(const TestHeap& heap) {
  std::ostringstream os;
  write_json(os, heap);
  return os.str();
}

// Every field the header documents, and no other.
const std::set<std::string> kTopFields = {
    "Sys",          "HeapSys",        "HeapIdle",       "HeapInuse",   "HeapReleased", "StackInuse",
    "StackSys",     "MSpanInuse",     "MSpanSys",       "OtherSys",    "ManualSys",    "Mallocs",
    "Frees",        "TotalAlloc",     "CacheIdle", "PageSize",
    "ArenaPages",   "ArenaCapacityPages", "Spans",      "Kinds",       "FreeSpans",    "FreePages",
    "ReleasedPages", "ReleasingSpans", "ReleasingPages", "CachedSpans", "CachedPages",  "LargestFree",
    "FreeByLength"};

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

// The parsed object says exactly what the census says, field by field.
void check_json_matches(const nlohmann::json& j, const SpanCensus& c) {
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST((keys_of(j) == kTopFields));
  const MemStats& m = c.mem_stats;
  const struct {
    const char* name;
    std::uint64_t value;
  } fields[] = {{"Sys", m.Sys},
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
                {"Mallocs", m.Mallocs},
                {"Frees", m.Frees},
                {"TotalAlloc", m.TotalAlloc},
                {"CacheIdle", m.CacheIdle},
                {"PageSize", c.page_bytes},
                {"ArenaPages", c.grown_pages},
                {"ArenaCapacityPages", c.capacity_pages},
                {"Spans", c.spans},
                {"FreeSpans", c.free_spans},
                {"FreePages", c.free_pages},
                {"ReleasedPages", c.released_pages},
                {"ReleasingSpans", c.releasing_spans},
                {"ReleasingPages", c.releasing_pages},
                {"CachedSpans", c.cached_spans},
                {"CachedPages", c.cached_pages}};
  for (const auto& f : fields) {
    BOOST_TEST_CONTEXT(f.name) {
      BOOST_TEST(j.at(f.name).is_number_unsigned());
      BOOST_TEST(j.at(f.name).get<std::uint64_t>() == f.value);
    }
  }
  BOOST_TEST_REQUIRE(j.at("Kinds").is_array());
  BOOST_TEST_REQUIRE(j.at("Kinds").size() == c.kinds.size());
  for (std::size_t i = 0; i < c.kinds.size(); ++i) {
    const nlohmann::json& k = j.at("Kinds")[i];
    BOOST_TEST((keys_of(k) == std::set<std::string>{"Name", "LiveSpans", "LivePages", "CachedSpans", "CachedPages"}));
    BOOST_TEST(k.at("Name").get<std::string>() == c.kinds[i].name);
    BOOST_TEST(k.at("LiveSpans").get<std::uint64_t>() == c.kinds[i].live_spans);
    BOOST_TEST(k.at("LivePages").get<std::uint64_t>() == c.kinds[i].live_pages);
    BOOST_TEST(k.at("CachedSpans").get<std::uint64_t>() == c.kinds[i].cached_spans);
    BOOST_TEST(k.at("CachedPages").get<std::uint64_t>() == c.kinds[i].cached_pages);
  }
  const nlohmann::json& largest = j.at("LargestFree");
  BOOST_TEST((keys_of(largest) == std::set<std::string>{"FirstPage", "Pages"}));
  BOOST_TEST(largest.at("FirstPage").get<std::uint64_t>() == c.largest_free.first_page);
  BOOST_TEST(largest.at("Pages").get<std::uint64_t>() == c.largest_free.npages);
  BOOST_TEST_REQUIRE(j.at("FreeByLength").is_array());
  BOOST_TEST_REQUIRE(j.at("FreeByLength").size() == c.free_by_length.size());
  for (std::size_t i = 0; i < c.free_by_length.size(); ++i) {
    const nlohmann::json& l = j.at("FreeByLength")[i];
    BOOST_TEST((keys_of(l) == std::set<std::string>{"Pages", "Backed", "Released", "ReleasedPages"}));
    BOOST_TEST(l.at("Pages").get<std::uint64_t>() == c.free_by_length[i].npages);
    BOOST_TEST(l.at("Backed").get<std::uint64_t>() == c.free_by_length[i].backed_spans);
    BOOST_TEST(l.at("Released").get<std::uint64_t>() == c.free_by_length[i].released_spans);
    BOOST_TEST(l.at("ReleasedPages").get<std::uint64_t>() == c.free_by_length[i].released_pages);
  }
}

// A locale that groups digits in threes with commas, as many do: `os << 1234567` would write
// "1,234,567", which is not JSON.
struct Grouping : std::numpunct<char> {
  char do_thousands_sep() const override { return ','; }
  std::string do_grouping() const override { return "\3"; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(json_of_a_fragmented_heap_parses_back_to_its_mem_stats_and_census) {
  Fragmented f;
  const nlohmann::json j = nlohmann::json::parse(json_of(*f.heap));  // throws on anything but JSON
  const SpanCensus c = take_census(*f.heap);
  check_json_matches(j, c);
  // The heap did not move between the two walks: the JSON says what mem_stats() says.
  const MemStats m = f.heap->mem_stats();
  BOOST_TEST(j.at("HeapInuse").get<std::uint64_t>() == m.HeapInuse);
  BOOST_TEST(j.at("StackInuse").get<std::uint64_t>() == m.StackInuse);
  BOOST_TEST(j.at("ManualSys").get<std::uint64_t>() == m.ManualSys);
  BOOST_TEST(j.at("ManualSys").get<std::uint64_t>() == 3 * kPage);  // the odd kind's span
  BOOST_TEST(j.at("Sys").get<std::uint64_t>() == m.Sys);
  // Something in the fields that could hide a mix-up: cached and free spans, several lengths.
  BOOST_TEST(c.cached_spans > 0u);
  BOOST_TEST(c.free_by_length.size() > 1u);
  BOOST_TEST(j.at("Kinds")[2].at("Name").get<std::string>() == kOddName);  // escaped, and back
}

BOOST_AUTO_TEST_CASE(json_of_a_heap_that_never_grew_has_empty_lists) {
  auto heap = test::make_heap<TestHeap>();
  const nlohmann::json j = nlohmann::json::parse(json_of(*heap));
  check_json_matches(j, take_census(*heap));
  BOOST_TEST(j.at("ArenaPages").get<std::uint64_t>() == 0u);
  BOOST_TEST(j.at("FreeByLength").empty());
  BOOST_TEST(j.at("LargestFree").at("Pages").get<std::uint64_t>() == 0u);
}

BOOST_AUTO_TEST_CASE(json_strings_escape_every_control_character_quote_and_backslash) {
  std::string all;
  for (int c = 1; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  all += "\"\\/ plain \xe2\x82\xac";  // and a euro sign, three bytes of UTF-8, as it is
  std::ostringstream os;
  write_json_string(os, all.c_str());
  BOOST_TEST(nlohmann::json::parse(os.str()).get<std::string>() == all);
  std::ostringstream null_text;
  write_json_string(null_text, nullptr);
  BOOST_TEST(nlohmann::json::parse(null_text.str()).is_null());
}

BOOST_AUTO_TEST_CASE(printers_ignore_the_streams_base_width_and_digit_grouping) {
  Fragmented f;
  const SpanCensus c = take_census(*f.heap);
  std::ostringstream plain_json, plain_text;
  write_json(plain_json, c);
  write_text_report(plain_text, c);

  std::ostringstream odd_json, odd_text;
  for (std::ostringstream* os : {&odd_json, &odd_text}) {
    os->imbue(std::locale(std::locale::classic(), new Grouping));
    *os << std::hex << std::showbase << std::setfill('*') << std::setw(30);
  }
  write_json(odd_json, c);
  write_text_report(odd_text, c);
  BOOST_TEST(odd_json.str() == plain_json.str());
  BOOST_TEST(odd_text.str() == plain_text.str());
  check_json_matches(nlohmann::json::parse(odd_json.str()), c);
}

BOOST_AUTO_TEST_CASE(the_text_report_reads_back_to_the_same_figures) {
  Fragmented f;
  const SpanCensus c = take_census(*f.heap);
  std::ostringstream os;
  write_text_report(os, c);
  const std::string text = os.str();
  // MemStats: "  <Name> <bytes> bytes <MiB> MiB", one line each, in Go's order.
  std::istringstream in(text);
  const MemStats& m = c.mem_stats;
  const struct {
    const char* name;
    std::uint64_t value;
  } rows[] = {{"Sys", m.Sys},           {"HeapSys", m.HeapSys},     {"HeapIdle", m.HeapIdle},
              {"HeapInuse", m.HeapInuse}, {"HeapReleased", m.HeapReleased}, {"StackInuse", m.StackInuse},
              {"StackSys", m.StackSys}, {"MSpanInuse", m.MSpanInuse}, {"MSpanSys", m.MSpanSys},
              {"OtherSys", m.OtherSys}, {"ManualSys", m.ManualSys}, {"CacheIdle", m.CacheIdle}};
  for (const auto& row : rows) {
    std::string line;
    BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(in, line)));
    std::istringstream fields(line);
    std::string name, bytes_word, mib_word;
    std::uint64_t bytes = 0;
    double mib = 0;
    fields >> name >> bytes >> bytes_word >> mib >> mib_word;
    BOOST_TEST(name == row.name);
    BOOST_TEST(bytes == row.value);
    BOOST_TEST(bytes_word == "bytes");
    BOOST_TEST(std::abs(mib - static_cast<double>(row.value) / 1048576.0) <= 0.0051);  // two decimals
    BOOST_TEST(mib_word == "MiB");
    BOOST_TEST(line.find(" bytes ") == 28u);  // aligned: "  ", 13 for the name, " ", 12 for the number
  }
  // Go's cumulative counts, at span level.
  std::string line;
  for (const auto& [name, value, unit] : {std::tuple{"Mallocs", m.Mallocs, "spans"}, std::tuple{"Frees", m.Frees, "spans"},
                                          std::tuple{"TotalAlloc", m.TotalAlloc, "bytes"}}) {
    BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(in, line)));
    std::istringstream fields(line);
    std::string shown_name, shown_unit;
    std::uint64_t shown = 0;
    fields >> shown_name >> shown >> shown_unit;
    BOOST_TEST(shown_name == name);
    BOOST_TEST(shown == value);
    BOOST_TEST(shown_unit == unit);
  }
  BOOST_TEST(m.Mallocs > 0u);  // the trace allocated: the counts are not all zero by accident
  // The census: one row per kind, with its live and cached figures.
  std::getline(in, line);  // arena
  BOOST_TEST(line.find(std::to_string(c.grown_pages) + " of " + std::to_string(c.capacity_pages)) != std::string::npos);
  std::getline(in, line);  // the kinds' heading
  for (const KindCensus& k : c.kinds) {
    BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(in, line)));
    std::string shown = k.name;  // control characters shown as '?'
    for (char& ch : shown)
      if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
    BOOST_TEST_REQUIRE(line.rfind("  " + shown, 0) == 0u);
    std::istringstream fields(line.substr(2 + shown.size()));
    std::uint64_t live_spans = 0, live_pages = 0, cached_spans = 0, cached_pages = 0;
    double live_mib = 0;
    fields >> live_spans >> live_pages >> live_mib >> cached_spans >> cached_pages;
    BOOST_TEST(live_spans == k.live_spans);
    BOOST_TEST(live_pages == k.live_pages);
    BOOST_TEST(cached_spans == k.cached_spans);
    BOOST_TEST(cached_pages == k.cached_pages);
  }
  BOOST_TEST(text.find("largest free span: " + std::to_string(c.largest_free.npages) + " pages") != std::string::npos);
  BOOST_TEST(text.find("free spans by length:") != std::string::npos);
}
