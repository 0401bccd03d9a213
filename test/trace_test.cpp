// SPDX-License-Identifier: BSL-1.0
// Seeded random traces (≥ 100k operations per configuration, every kind, sizes 1..2048 pages) run
// beside the model: every counter identity after every operation, the full audit every few hundred.
// The seed is printed on failure; MHEAP_TRACE_SEED=<n> replays one.
#define BOOST_TEST_MODULE trace
#include <cstdlib>
#include <random>
#include <vector>

#include <boost/mpl/list.hpp>

#include "test/model.hpp"
#include "test/test_support.hpp"

using namespace mheap;

namespace {

struct GcStats : Stats {
  std::uint64_t workbuf_inuse = 0;
  std::uint64_t gcbits_inuse = 0;
};
struct EndsOnly {  // a manual kind that maps only its first and last page
  static constexpr auto counter = &GcStats::workbuf_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "EndsOnly";
};

// The default: OS memory, spin lock, red-black tree, unchecked hooks.
struct MmapSpin : DefaultConfig {
  static constexpr bool internal_checks = true;
  using MisusePolicy = RecordMisuse;
};
// Embedded: a static arena, no lock, AVL tree, checked hooks.
struct ArenaNull : test::ArenaConfig<std::size_t{256} << 20> {
  using LargeSpanTree = AvlTree;
};
// User kinds and stats, Go 1.9's treap, a mutex.
struct CustomTreap : DefaultConfig {
  using Stats = GcStats;
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, StackSpanPolicy, ManualSpanPolicy<&GcStats::workbuf_inuse>,
                                     EndsOnly, ManualInHeapSpanPolicy<&GcStats::gcbits_inuse>>;
  using LargeSpanTree = Treap;
  using HookLinks = SafeLinks;
  using Lock = MutexLock;
  using MisusePolicy = RecordMisuse;
};
// Other constants: 4 KiB pages, 64 exact lists, scapegoat tree, small growth.
struct SmallPages : test::ArenaConfig<std::size_t{128} << 20> {
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, StackSpanPolicy>;
  using LargeSpanTree = ScapegoatTree;
  static constexpr std::size_t page_shift = 12;
  static constexpr std::size_t max_list_pages = 64;
  static constexpr std::size_t min_grow_bytes = std::size_t{256} << 10;
  static constexpr std::size_t grow_granule_bytes = std::size_t{16} << 10;
};

std::uint64_t seed_for(std::uint64_t fallback) {
  if (const char* s = std::getenv("MHEAP_TRACE_SEED")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

template <class Config>
void run_trace(std::uint64_t seed, std::size_t ops, std::size_t slots, std::size_t audit_every) {
  using H = Heap<Config>;
  using kinds = typename H::span_kinds;
  auto heap = test::make_heap<H>();
  test::Model<H> model;
  std::mt19937_64 rng(seed);
  BOOST_TEST_MESSAGE("trace seed " << seed);

  // One slot: a live span of any kind, kept as its base (freed through free_at) or as a typed ref.
  struct Slot {
    void* base = nullptr;
    std::size_t kind = 0;
  };
  std::vector<Slot> live(slots);
  std::string why;

  for (std::size_t op = 0; op < ops; ++op) {
    Slot& slot = live[rng() % slots];
    if (rng() % 512 == 0) {
      // Now and then give memory back: a random budget, or everything.
      const std::size_t budget = rng() % 4 == 0 ? std::size_t(-1) : rng() % (std::size_t{64} << 20);
      const auto before = heap->stats().heap_released;
      const std::size_t got = heap->scavenge(budget);
      BOOST_REQUIRE_MESSAGE(got <= budget && heap->stats().heap_released == before + got,
                            "seed " << seed << " op " << op << ": scavenge accounting");
    } else if (slot.base != nullptr) {
      kinds::for_each([&]<class K, std::size_t I>() {
        if (I == slot.kind) heap->template free_at<K>(slot.base);
      });
      model.on_free(slot.base);
      slot.base = nullptr;
    } else {
      const std::size_t pages = test::skewed_pages(rng, 2048);
      const std::size_t kind = rng() % kinds::size;
      const bool zeroed = rng() % 16 == 0;
      const auto before = heap->stats();
      kinds::for_each([&]<class K, std::size_t I>() {
        if (I != kind) return;
        auto s = heap->template alloc<K>(pages, zeroed);
        if (!s) {  // only a full arena may refuse, and then nothing moved
          BOOST_REQUIRE_MESSAGE(heap->stats() == before, "seed " << seed << " op " << op << ": failed alloc moved counters");
          return;
        }
        BOOST_REQUIRE_MESSAGE(s.npages() == pages, "seed " << seed << " op " << op);
        BOOST_REQUIRE_MESSAGE(model.on_alloc(s.base(), pages, kind, why), "seed " << seed << " op " << op << ": " << why);
        if (zeroed) {
          auto* p = static_cast<const unsigned char*>(s.base());
          BOOST_REQUIRE_MESSAGE(p[0] == 0 && p[pages * H::page_bytes - 1] == 0, "seed " << seed << ": zeroed span is not");
        }
        static_cast<unsigned char*>(s.base())[0] = 0xEE;  // dirty it
        slot = {s.base(), kind};
      });
    }
    const std::string disagree = model.compare(heap->stats());
    BOOST_REQUIRE_MESSAGE(disagree.empty(), "seed " << seed << " op " << op << ": " << disagree);
    BOOST_REQUIRE_MESSAGE(heap->misuse_policy().count == 0u, "seed " << seed << " op " << op << ": misuse reported");
    if (op % audit_every == 0) {
      const AuditReport report = heap->audit();
      BOOST_REQUIRE_MESSAGE(static_cast<bool>(report), "seed " << seed << " op " << op << ": " << report.what());
      // Probe the page map: the first page of every live span finds it.
      for (const auto& [base, span] : model.live()) {
        const SpanHeader* h = heap->lookup(reinterpret_cast<void*>(base));
        BOOST_REQUIRE_MESSAGE(h && h->npages == span.npages && h->kind == span.kind, "seed " << seed << ": lookup");
      }
    }
  }
  for (Slot& slot : live)
    if (slot.base != nullptr)
      kinds::for_each([&]<class K, std::size_t I>() {
        if (I == slot.kind) heap->template free_at<K>(slot.base);
      });
  const auto end = heap->stats();
  BOOST_TEST(end.heap_inuse == 0u);
  BOOST_TEST(end.heap_idle == end.heap_sys);
  test::require_clean(*heap);
}

}  // namespace

using Configs = boost::mpl::list<MmapSpin, ArenaNull, CustomTreap, SmallPages>;

BOOST_AUTO_TEST_CASE_TEMPLATE(random_trace_agrees_with_the_model, Config, Configs) {
  run_trace<Config>(seed_for(20261126), 100000, 256, 211);
}
