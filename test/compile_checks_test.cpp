// SPDX-License-Identifier: BSL-1.0
// What must not compile, checked with requires-expressions (the build never breaks on purpose):
// freeing a span as another kind, forging a SpanRef, policies that miss a member of their concept.
#define BOOST_TEST_MODULE compile_checks
#include <type_traits>

#include "test/test_support.hpp"

using namespace mheap;

namespace {

using H = Heap<test::ArenaConfig<>>;

template <class Kind, class Ref>
concept CanFreeAs = requires(H& heap, Ref ref) { heap.template free<Kind>(ref); };
template <class Ref>
concept CanFree = requires(H& heap, Ref ref) { heap.free(ref); };

// Freeing with the span's own kind compiles; with another kind it does not.
static_assert(CanFreeAs<GCSpanPolicy, SpanRef<GCSpanPolicy>>);
static_assert(CanFreeAs<StackSpanPolicy, SpanRef<StackSpanPolicy>>);
static_assert(!CanFreeAs<GCSpanPolicy, SpanRef<StackSpanPolicy>>, "freeing a stack span as GC must not compile");
static_assert(!CanFreeAs<StackSpanPolicy, SpanRef<GCSpanPolicy>>, "freeing a GC span as a stack must not compile");
static_assert(CanFree<SpanRef<GCSpanPolicy>>);
static_assert(!CanFree<void*>, "free takes a SpanRef, not an address (free_at<Kind> does)");
static_assert(!std::is_convertible_v<SpanRef<GCSpanPolicy>, SpanRef<StackSpanPolicy>>);

// Only the heap makes SpanRefs.
static_assert(!std::is_constructible_v<SpanRef<GCSpanPolicy>, SpanHeader*, std::uint64_t>);
static_assert(std::is_trivially_copyable_v<SpanRef<GCSpanPolicy>>);
static_assert(sizeof(SpanRef<GCSpanPolicy>) <= 16, "a SpanRef is a record pointer and a generation");

// Span kinds.
struct NoCounter {
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = true;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "NoCounter";
};
struct FreeState {
  static constexpr auto counter = &Stats::stacks_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = true;
  static constexpr SpanState state = SpanState::free;  // a live kind cannot be "free"
  static constexpr const char* name = "FreeState";
};
struct IntCounter {
  static constexpr int Stats::*counter = nullptr;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = true;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "IntCounter";
};
static_assert(SpanKind<GCSpanPolicy> && SpanKind<StackSpanPolicy> && SpanKind<PreSeedStackSpanPolicy>);
static_assert(!SpanKind<NoCounter>);
static_assert(!SpanKind<FreeState>);
static_assert(!SpanKind<IntCounter>);
static_assert(!SpanKind<int>);

// SpanKinds answers membership and indexes at compile time.
using Kinds = SpanKinds<GCSpanPolicy, StackSpanPolicy>;
static_assert(Kinds::contains<GCSpanPolicy> && !Kinds::contains<PreSeedStackSpanPolicy>);
static_assert(Kinds::index_of<GCSpanPolicy> == 0 && Kinds::index_of<StackSpanPolicy> == 1);

// Allocating a kind the heap does not list is a static_assert inside alloc (a hard error naming
// Config::SpanKinds), so it is checked here only as the membership it tests:
static_assert(!H::span_kinds::contains<PreSeedStackSpanPolicy>);

// Locks, page sources, containers, misuse handlers.
struct HalfLock {
  void lock() {}
};
static_assert(!LockPolicy<HalfLock>);
struct NoCommit {
  std::byte* base() { return nullptr; }
  std::size_t capacity() const { return 0; }
};
static_assert(!PageSourcePolicy<NoCommit>);
static_assert(PageSourcePolicy<StaticArena<4096>> && PageSourcePolicy<MmapSource>);
static_assert(ReleasingPageSourcePolicy<MmapSource>);
static_assert(ReleasingPageSourcePolicy<StaticArena<4096>>);
static_assert(!ReleasingPageSourcePolicy<NoCommit>);
static_assert(ListLinkPolicy<NormalLinks> && ListLinkPolicy<SafeLinks> && !ListLinkPolicy<int>);
static_assert(LargeSpanTreePolicy<RbTree> && LargeSpanTreePolicy<AvlTree> && LargeSpanTreePolicy<SplayTree> &&
              LargeSpanTreePolicy<ScapegoatTree> && LargeSpanTreePolicy<Treap>);
static_assert(MisuseHandler<AbortOnMisuse> && MisuseHandler<RecordMisuse> && !MisuseHandler<int>);

// Stats and the user view keep Go's names (a public contract).
static_assert(requires(Stats s) {
  s.heap_sys; s.heap_idle; s.heap_inuse; s.heap_released; s.stacks_inuse; s.mspan_inuse; s.mspan_sys; s.other_sys;
});
static_assert(requires(MemStats m) {
  m.Sys; m.HeapSys; m.HeapIdle; m.HeapInuse; m.HeapReleased; m.StackInuse; m.StackSys; m.MSpanInuse;
  m.MSpanSys; m.OtherSys;
});
static_assert(std::is_same_v<StackSpanPolicy, ManualSpanPolicy<&Stats::stacks_inuse>>);
static_assert(std::is_same_v<Heap<>, Heap<DefaultConfig>>);

}  // namespace

BOOST_AUTO_TEST_CASE(compile_time_checks_hold) {
  // Everything above is checked by the compiler; this case records that the file built.
  constexpr bool same_kind = CanFreeAs<GCSpanPolicy, SpanRef<GCSpanPolicy>>;
  constexpr bool other_kind = CanFreeAs<GCSpanPolicy, SpanRef<StackSpanPolicy>>;
  BOOST_TEST(same_kind);
  BOOST_TEST(!other_kind);
}

namespace {
// A kind whose counter is chosen at run time (Go 1.9's `stat *uint64`) still satisfies the concept.
struct RunTimeStack {
  static inline std::uint64_t Stats::*counter = &Stats::stacks_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = true;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "RunTimeStack";
};
static_assert(SpanKind<RunTimeStack> && !CounterBoundAtCompileTime<RunTimeStack>);
static_assert(CounterBoundAtCompileTime<StackSpanPolicy>);
struct RunTimeConfig : test::ArenaConfig<> {
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, RunTimeStack>;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_kind_bound_at_run_time_is_charged_like_its_constant_twin) {
  auto heap = test::make_heap<Heap<RunTimeConfig>>();
  auto s = heap->alloc<RunTimeStack>(3);
  BOOST_TEST(heap->stats().stacks_inuse == 3 * test::kPage);
  BOOST_TEST(heap->stats().heap_inuse == 0u);
  test::require_clean(*heap);
  heap->free(s);
  BOOST_TEST(heap->stats().stacks_inuse == 0u);
  test::require_clean(*heap);
}

namespace {
// Configurations the heap refuses (its static_asserts read these predicates).
static_assert(!detail::kinds_own_their_counters<Stats, SpanKinds<GCSpanPolicy, ManualSpanPolicy<&Stats::heap_inuse>>>(),
              "a manual kind outside heap_sys may not charge heap_inuse");
static_assert(!detail::kinds_own_their_counters<Stats, SpanKinds<GCSpanPolicy, ManualInHeapSpanPolicy<&Stats::heap_inuse>>>(),
              "nor may a manual kind inside heap_sys: MemStats would take it out of HeapInuse again");
static_assert(!detail::kinds_own_their_counters<Stats, SpanKinds<ManualSpanPolicy<&Stats::heap_sys>>>());
static_assert(detail::kinds_own_their_counters<Stats, SpanKinds<GCSpanPolicy, StackSpanPolicy>>());
static_assert(!detail::shared_counters_agree<Stats, SpanKinds<GCSpanPolicy, StackSpanPolicy, PreSeedStackSpanPolicy>>(),
              "kinds sharing a counter must agree on heap_sys");
static_assert(detail::shared_counters_agree<Stats, SpanKinds<GCSpanPolicy, StackSpanPolicy>>());
// The configuration check names the first broken rule, and a valid configuration breaks none.
static_assert(config_is_valid<test::ArenaConfig<>> && config_is_valid<DefaultConfig>);
static_assert(config_is_valid<RunTimeConfig>);
// Stale references stay stale for centuries of alloc/free cycles on one record.
static_assert(sizeof(SpanHeader::generation) == 8);
}  // namespace
