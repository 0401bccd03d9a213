// SPDX-License-Identifier: BSL-1.0
// User-written span kinds and stats: a derived stats type with its own manual counters, a kind that
// shares a counter with another, a manual kind with the pre-seed accounting; Sys counts each once.
#define BOOST_TEST_MODULE custom_kinds
#include <string>
#include <string_view>

#include "test/test_support.hpp"

using namespace mheap;
using mheap::test::kPage;
using mheap::test::require_clean;

namespace {

struct GcStats : Stats {
  std::uint64_t workbuf_inuse = 0;  // bytes in GC work buffers
  std::uint64_t gcbits_inuse = 0;   // bytes of mark bits, kept inside heap_sys (pre-seed style)
};

using WorkbufSpanPolicy = ManualSpanPolicy<&GcStats::workbuf_inuse, "WorkbufSpanPolicy">;
using GcBitsSpanPolicy = ManualInHeapSpanPolicy<&GcStats::gcbits_inuse>;

// A hand-written kind charging the same counter as WorkbufSpanPolicy.
struct ScratchSpanPolicy {
  static constexpr auto counter = &GcStats::workbuf_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "ScratchSpanPolicy";
};

struct GcConfig : test::ArenaConfig<> {
  using Stats = GcStats;
  using SpanKinds =
      mheap::SpanKinds<GCSpanPolicy, StackSpanPolicy, WorkbufSpanPolicy, ScratchSpanPolicy, GcBitsSpanPolicy>;
};
using GcHeap = Heap<GcConfig>;

static_assert(SpanKind<ScratchSpanPolicy>);
static_assert(SpanKindFor<WorkbufSpanPolicy, GcStats>);
static_assert(!SpanKindFor<WorkbufSpanPolicy, Stats>, "a derived counter is not a member of the base stats");

}  // namespace

BOOST_AUTO_TEST_CASE(custom_counters_are_charged_and_counted_once_in_sys) {
  auto heap = test::make_heap<GcHeap>();
  auto gc = heap->alloc<GCSpanPolicy>(10);
  auto stack = heap->alloc<StackSpanPolicy>(2);
  auto wb = heap->alloc<WorkbufSpanPolicy>(3);
  auto scratch = heap->alloc<ScratchSpanPolicy>(4);
  auto bits = heap->alloc<GcBitsSpanPolicy>(5);
  BOOST_REQUIRE(gc && stack && wb && scratch && bits);
  require_clean(*heap);

  const GcStats s = heap->stats();
  BOOST_TEST(s.workbuf_inuse == 7 * kPage);  // both kinds that share the counter
  BOOST_TEST(s.gcbits_inuse == 5 * kPage);
  BOOST_TEST(s.stacks_inuse == 2 * kPage);
  BOOST_TEST(s.heap_inuse == 15 * kPage);  // GC spans and the in-heap manual kind
  const std::uint64_t obtained = 128 * kPage;
  BOOST_TEST(s.heap_sys + s.stacks_inuse + s.workbuf_inuse == obtained);

  const MemStats m = heap->mem_stats();
  BOOST_TEST(m.HeapInuse == 10 * kPage);         // the in-heap manual kind is taken out of the view
  BOOST_TEST(m.HeapSys == s.heap_sys - 5 * kPage);
  BOOST_TEST(m.ManualSys == 12 * kPage);         // workbufs once, plus mark bits
  BOOST_TEST(m.StackSys == 2 * kPage);
  BOOST_TEST(m.Sys == obtained + s.mspan_sys + s.other_sys);
  BOOST_TEST(m.Sys == m.HeapSys + m.StackSys + m.MSpanSys + m.OtherSys + m.ManualSys);

  heap->free(scratch);
  BOOST_TEST(heap->stats().workbuf_inuse == 3 * kPage);
  heap->free(wb);
  heap->free(bits);
  heap->free(stack);
  heap->free(gc);
  const GcStats end = heap->stats();
  BOOST_TEST(end.workbuf_inuse == 0u);
  BOOST_TEST(end.gcbits_inuse == 0u);
  BOOST_TEST(end.heap_sys == obtained);
  BOOST_TEST(end.heap_idle == obtained);
  require_clean(*heap);
}

// Messages tell manual kinds apart: a named kind by its name, the stack kinds mheap ships by theirs
// (issue 12: every manual kind used to read "ManualSpanPolicy").
BOOST_AUTO_TEST_CASE(misuse_reports_and_the_audit_name_each_manual_kind) {
  static_assert(std::string_view(WorkbufSpanPolicy::name) == "WorkbufSpanPolicy");
  static_assert(std::string_view(StackSpanPolicy::name) == "StackSpanPolicy");
  static_assert(std::string_view(PreSeedStackSpanPolicy::name) == "PreSeedStackSpanPolicy");
  static_assert(std::string_view(GcBitsSpanPolicy::name) == "ManualInHeapSpanPolicy");  // unnamed
  static_assert(std::is_same_v<StackSpanPolicy, ManualSpanPolicy<&Stats::stacks_inuse>>);  // the same type as before

  struct Config : GcConfig {
    using MisusePolicy = RecordMisuse;
  };
  auto heap = test::make_heap<Heap<Config>>();
  auto w = heap->alloc<WorkbufSpanPolicy>(2);
  auto st = heap->alloc<StackSpanPolicy>(1);
  heap->free(w);
  heap->free(w);
  BOOST_TEST(std::string(heap->misuse_policy().last.kind_name) == "WorkbufSpanPolicy");
  heap->free_at<WorkbufSpanPolicy>(st.base());  // a stack span freed as a workbuf
  BOOST_TEST((heap->misuse_policy().last.what == Misuse::wrong_kind));
  BOOST_TEST(std::string(heap->misuse_policy().last.kind_name) == "WorkbufSpanPolicy");
  heap->free(st);
  heap->free(st);
  BOOST_TEST(std::string(heap->misuse_policy().last.kind_name) == "StackSpanPolicy");
  require_clean(*heap);
}
