// SPDX-License-Identifier: BSL-1.0
// mheap/svg_map.hpp: the map is well-formed XML (xmllint --noout, Debian libxml2-utils), its
// span rectangles read back cover exactly the grown arena, page by page, with nothing twice, at
// the places the layout promises; every span is there with its use and kind; the largest free
// span is labelled, the legend names every kind, the MemStats printed are the walk's.
#define BOOST_TEST_MODULE svg_map
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "mheap/report.hpp"
#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

using GC = GCSpanPolicy;
using Stack = StackSpanPolicy;

// A manual kind whose name XML must escape.
struct OddStats : Stats {
  std::uint64_t odd_inuse = 0;
};
using OddKind = ManualSpanPolicy<&OddStats::odd_inuse, "<odd> & \"quoted\" 'kind'">;

// OS memory (so spans can be released), no lock, the heap's own span cache.
struct Config : DefaultConfig {
  using Lock = NullLock;
  using MisusePolicy = RecordMisuse;
  using Stats = OddStats;
  using SpanKinds = mheap::SpanKinds<GC, Stack, OddKind>;
  static constexpr bool internal_checks = true;
};
using TestHeap = Heap<Config>;
constexpr std::size_t kReserve = std::size_t{1} << 30;

// Live spans of every kind, parked ones, free ones backed, released and partly released.
std::unique_ptr<TestHeap> fragmented_heap() {
  auto heap = test::make_heap<TestHeap>(kReserve);
  std::vector<SpanRef<GC>> gc;
  for (std::size_t i = 0; i < 90; ++i) gc.push_back(heap->alloc<GC>(1 + i % 11));
  auto stack = heap->alloc<Stack>(4);
  auto odd = heap->alloc<OddKind>(5);
  auto big = heap->alloc<GC>(70);
  auto fence = heap->alloc<GC>(1);
  BOOST_REQUIRE(stack && odd && big && fence);
  for (std::size_t i = 0; i < gc.size(); i += 2) heap->free(gc[i]);
  heap->free(big);
  heap->flush_cache();
  heap->scavenge(75 * kPage);  // the largest free spans first: some whole, one in part
  heap->free(gc[1]);           // parked
  require_clean(*heap);
  return heap;
}

// xmllint from PATH (Bazel's test PATH is /bin:/usr/bin:/usr/local/bin), or nothing.
std::optional<std::string> find_xmllint() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/xmllint";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// Writes the SVG to a file and runs `xmllint --noout` on it; returns xmllint's exit status
// and what it said.
std::pair<int, std::string> xmllint(const std::string& svg, const std::string& name) {
  const std::optional<std::string> tool = find_xmllint();
  BOOST_TEST_REQUIRE(tool.has_value(), "xmllint not found on PATH: install libxml2-utils (./bazelw installs it)");
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp ? tmp : "/tmp";
  const std::string file = dir + "/" + name + ".svg", out = dir + "/" + name + ".xmllint";
  std::ofstream(file) << svg;
  const std::string command = *tool + " --noout '" + file + "' > '" + out + "' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream said(out);
  std::stringstream text;
  text << said.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

std::string svg_of(const TestHeap& heap, const SvgMapOptions& options = {}) {
  std::ostringstream os;
  write_svg_map(os, heap, options);
  return os.str();
}

// The value of attribute `name` in the start tag `tag`, or nothing.
std::optional<std::string> attribute(const std::string& tag, const std::string& name) {
  const std::regex re("\\s" + name + "=\"([^\"]*)\"");
  std::smatch m;
  if (!std::regex_search(tag, m, re)) return std::nullopt;
  return m[1].str();
}
std::size_t number(const std::string& tag, const std::string& name) {
  const std::optional<std::string> value = attribute(tag, name);
  BOOST_TEST_REQUIRE(value.has_value(), "no " << name << " in " << tag);
  return static_cast<std::size_t>(std::stoull(*value));
}

// Every start tag of `element` whose class is `cls`, in document order.
std::vector<std::string> tags(const std::string& svg, const std::string& element, const std::string& cls) {
  std::vector<std::string> found;
  const std::regex re("<" + element + "\\s[^>]*>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    if (attribute(tag, "class") == cls) found.push_back(tag);
  }
  return found;
}

// The runs cover [0, grown) exactly, in order, each inside one row, each where the layout puts
// its pages: x from the page's column, y from its row, width from its length.
void check_runs_tile_the_arena(const std::string& svg, std::size_t grown, const SvgMapOptions& o) {
  const std::vector<std::string> runs = tags(svg, "rect", "run");
  if (grown == 0) {
    BOOST_TEST(runs.empty());
    return;
  }
  BOOST_TEST_REQUIRE(!runs.empty());
  std::map<std::size_t, std::string> by_first;  // sorted by first page: overlaps and gaps show
  for (const std::string& r : runs) {
    const bool fresh = by_first.emplace(number(r, "data-first-page"), r).second;
    BOOST_TEST(fresh, "two runs start at one page: " << r);
  }
  const std::size_t x0 = number(by_first.begin()->second, "x"), y0 = number(by_first.begin()->second, "y");
  std::size_t next = 0, total = 0;
  for (const auto& [first, r] : by_first) {
    const std::size_t pages = number(r, "data-pages");
    BOOST_TEST_REQUIRE(first == next, "a run starts at page " << first << ", the one before ended at " << next);
    BOOST_TEST(pages >= 1u);
    BOOST_TEST(first % o.pages_per_row + pages <= o.pages_per_row);  // within its row
    BOOST_TEST(number(r, "x") == x0 + (first % o.pages_per_row) * o.page_width);
    BOOST_TEST(number(r, "y") == y0 + (first / o.pages_per_row) * o.row_height);
    BOOST_TEST(number(r, "width") == pages * o.page_width);
    BOOST_TEST(number(r, "height") == o.row_height);
    next = first + pages;
    total += pages;
  }
  BOOST_TEST(total == grown);
  BOOST_TEST(next == grown);
}

std::size_t grown_pages(const MemStats& m) { return (m.Sys - m.MSpanSys - m.OtherSys) / kPage; }

}  // namespace

BOOST_AUTO_TEST_CASE(the_map_of_a_fragmented_heap_is_well_formed_and_tiles_the_arena) {
  auto heap = fragmented_heap();
  const SvgMapOptions options;
  const std::string svg = svg_of(*heap, options);
  const auto [status, said] = xmllint(svg, "fragmented");
  BOOST_TEST(status == 0, "xmllint: " << said);
  const SpanCensus c = take_census(*heap);
  BOOST_TEST_REQUIRE(grown_pages(c.mem_stats) == c.grown_pages);
  check_runs_tile_the_arena(svg, c.grown_pages, options);

  // One group per span, in address order, saying what the walk says.
  std::vector<SpanView> spans;
  heap->for_each_span([&](const SpanView& v) { spans.push_back(v); });
  const std::vector<std::string> groups = tags(svg, "g", "span");
  BOOST_TEST_REQUIRE(groups.size() == spans.size());
  std::map<std::string, std::size_t> uses;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    BOOST_TEST(number(groups[i], "data-first-page") == spans[i].first_page);
    BOOST_TEST(number(groups[i], "data-pages") == spans[i].npages);
    BOOST_TEST(number(groups[i], "data-released-pages") == spans[i].released_pages);
    BOOST_TEST(attribute(groups[i], "data-use").value_or("") == describe(spans[i].use));
    ++uses[describe(spans[i].use)];
  }
  // The picture has something of everything it can show.
  BOOST_TEST(uses["live"] > 0u);
  BOOST_TEST(uses["cached"] > 0u);
  BOOST_TEST(uses["free"] > 0u);
  BOOST_TEST(svg.find("fill=\"#d9d9d9\"/>\n</g>") != std::string::npos);        // a released span
  BOOST_TEST(svg.find("fill=\"url(#partly-released)\"/>") != std::string::npos);  // a partly released one
  BOOST_TEST(c.released_pages > 0u);

  // The largest free span is outlined and labelled; the legend names every kind, escaped.
  BOOST_TEST_REQUIRE(c.largest_free.npages > 0u);
  BOOST_TEST(svg.find(">largest free span: " + std::to_string(c.largest_free.npages) + " pages (") != std::string::npos);
  BOOST_TEST(svg.find("live GCSpanPolicy</text>") != std::string::npos);
  BOOST_TEST(svg.find("live StackSpanPolicy</text>") != std::string::npos);
  BOOST_TEST(svg.find("live &lt;odd&gt; &amp; &quot;quoted&quot; &apos;kind&apos;</text>") != std::string::npos);
  BOOST_TEST(svg.find("data-kind=\"&lt;odd&gt; &amp; &quot;quoted&quot; &apos;kind&apos;\"") != std::string::npos);

  // The MemStats printed are the walk's.
  const MemStats& m = c.mem_stats;
  const struct {
    const char* name;
    std::uint64_t value;
  } fields[] = {{"Sys", m.Sys},           {"HeapSys", m.HeapSys},     {"HeapIdle", m.HeapIdle},
                {"HeapInuse", m.HeapInuse}, {"HeapReleased", m.HeapReleased}, {"StackInuse", m.StackInuse},
                {"StackSys", m.StackSys}, {"MSpanInuse", m.MSpanInuse}, {"MSpanSys", m.MSpanSys},
                {"OtherSys", m.OtherSys}, {"ManualSys", m.ManualSys}};
  for (const auto& f : fields)
    BOOST_TEST(svg.find("data-field=\"" + std::string(f.name) + "\">" + std::to_string(f.value) + "</text>") !=
                   std::string::npos,
               f.name);
}

BOOST_AUTO_TEST_CASE(spans_longer_than_a_row_are_split_into_one_run_per_row) {
  auto heap = fragmented_heap();
  SvgMapOptions options;
  options.pages_per_row = 7;  // odd, and shorter than many spans
  options.page_width = 3;
  options.row_height = 5;
  const std::string svg = svg_of(*heap, options);
  const auto [status, said] = xmllint(svg, "narrow");
  BOOST_TEST(status == 0, "xmllint: " << said);
  check_runs_tile_the_arena(svg, take_census(*heap).grown_pages, options);
  BOOST_TEST(tags(svg, "rect", "run").size() > tags(svg, "g", "span").size());
}

BOOST_AUTO_TEST_CASE(the_map_of_a_heap_that_never_grew_is_well_formed_and_empty) {
  auto heap = test::make_heap<TestHeap>(kReserve);
  SvgMapOptions options;
  options.title = "an <empty> heap & nothing else";
  const std::string svg = svg_of(*heap, options);
  const auto [status, said] = xmllint(svg, "empty");
  BOOST_TEST(status == 0, "xmllint: " << said);
  check_runs_tile_the_arena(svg, 0, options);
  BOOST_TEST(svg.find("an &lt;empty&gt; heap &amp; nothing else") != std::string::npos);
  BOOST_TEST(svg.find("largest free span:") != std::string::npos);  // the panel's line, saying 0
  BOOST_TEST(svg.find("class=\"largest-free\"") == std::string::npos);
}

// A control of the control: xmllint does fail on a map that is not well-formed, so the checks
// above mean something.
BOOST_AUTO_TEST_CASE(xmllint_rejects_a_broken_map) {
  auto heap = fragmented_heap();
  std::string svg = svg_of(*heap);
  svg.erase(svg.rfind("</g>"), 4);
  BOOST_TEST(xmllint(svg, "broken").first != 0);
}
