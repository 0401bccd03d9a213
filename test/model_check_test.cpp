// SPDX-License-Identifier: BSL-1.0
// Long model-checked random runs: ≥ 1,000,000 operations per configuration, the heap and the
// reference model (test/model.hpp) side by side, every operation checked (test/model_driver.hpp):
// span placement and size, every counter, misuse reports, lookups; the full audit periodically and
// at the end. Operations: allocs of every kind, 1..2048 pages (skewed) and absurd sizes, zeroed
// allocs, frees through SpanRef and free_at<Kind>(base), lookups inside live spans and anywhere
// else, double frees through stale refs, free_at of interior, free, outside and wrong-kind addresses,
// and (where the heap has scavenge()) giving free pages back every 4096 operations.
//
//   MHEAP_SEED=<n>       replay a seed (printed on failure; `random` picks one from the clock)
//   MHEAP_MODEL_OPS=<n>  operations per configuration (default 1000000; 300000 under AddressSanitizer,
//                        which CI runs after the plain build has run the million)
//   MHEAP_AUDIT_EVERY=<n> operations between full audits (default 10)
#define BOOST_TEST_MODULE model_check
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "test/model.hpp"
#include "test/test_support.hpp"
#include "test/model_driver.hpp"

using namespace mheap;

namespace {

// ---- configurations ----------------------------------------------------------------------------
// (a) OS memory, spin lock (the default configuration), misuse recorded.
struct MmapSpin : DefaultConfig {
  using MisusePolicy = RecordMisuse;  static constexpr bool internal_checks = true;
};

// (b) A static arena without a lock. 128 MiB: a long tail of 2048-page spans fills it now and then,
// so refused allocs (checked to be legitimate) are exercised too.
using ArenaNull = test::ArenaConfig<std::size_t{128} << 20>;

// (c) User kinds: a derived stats type with counters of its own, a manual kind on one, a pre-seed
// manual kind on another, and two hand-written kinds that map only their first and last page.
struct CheckStats : Stats {
  std::uint64_t workbuf_inuse = 0;
  std::uint64_t gcbits_inuse = 0;
  std::uint64_t scratch_inuse = 0;
  friend bool operator==(const CheckStats&, const CheckStats&) = default;
};
using WorkbufSpanPolicy = ManualSpanPolicy<&CheckStats::workbuf_inuse>;
using GcBitsSpanPolicy = ManualInHeapSpanPolicy<&CheckStats::gcbits_inuse>;
struct ScratchSpanPolicy {  // manual, outside heap_sys, own counter, ends-only map
  static constexpr auto counter = &CheckStats::scratch_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "ScratchSpanPolicy";
};
struct LargeObjectSpanPolicy {  // garbage-collected, charges heap_inuse only, ends-only map
  static constexpr auto counter = &Stats::heap_inuse;
  static constexpr bool counts_toward_heap_sys = true;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::in_use;
  static constexpr const char* name = "LargeObjectSpanPolicy";
};
struct CustomKinds : test::ArenaConfig<std::size_t{128} << 20> {
  using Stats = CheckStats;
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, StackSpanPolicy, WorkbufSpanPolicy, GcBitsSpanPolicy,
                                     ScratchSpanPolicy, LargeObjectSpanPolicy>;
  using Lock = MutexLock;
  using LargeSpanTree = Treap;
};

// (d) docs/embedded.md's small configuration, grown up: no tree (every free span on the list of its
// length), no span cache, and the heap constant-initialised (`constinit`, lays itself out on its
// first allocation, commits without clearing what .bss already zeroed). 8 KiB pages, 32 MiB.
struct NoTreeConstinit : test::ArenaConfig<std::size_t{32} << 20> {
  // docs/embedded.md's small configuration on the host: an arena without release() as well, so
  // records without an IdleRecord and a heap without ticks or a retention bound are checked here.
  using PageSource = StaticArena<std::size_t{32} << 20, 4096, ArenaRelease::none>;
  using LargeSpanTree = NoTree;
  static constexpr std::size_t page_shift = 13;
  static constexpr std::size_t max_list_pages = (std::size_t{32} << 20 >> 13) + 1;
  static constexpr std::size_t span_cache_pages = 0;
};
constinit Heap<NoTreeConstinit> constinit_heap;

// ---- knobs ---------------------------------------------------------------------------------------
std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  if (std::strcmp(s, "random") == 0)
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return std::strtoull(s, nullptr, 10);
}
const std::uint64_t kSeed = env_number("MHEAP_SEED", 20261127);
const std::uint64_t kOps = env_number("MHEAP_MODEL_OPS", test::kAsan ? 300000 : 1000000);
const std::uint64_t kAuditEvery = std::max<std::uint64_t>(1, env_number("MHEAP_AUDIT_EVERY", 10));

// ---- the run ---------------------------------------------------------------------------------------
template <class Config>
void run(const char* name, std::size_t slots, Heap<Config>* given = nullptr) {
  using H = Heap<Config>;
  using Driver = check::Driver<Config, test::Model<H>>;
  std::unique_ptr<H> made = given ? nullptr : test::make_heap<H>();
  H* heap = given ? given : made.get();
  Driver d(*heap);
  std::mt19937_64 rng(kSeed);
  const auto t0 = std::chrono::steady_clock::now();
  std::printf("model_check %s: seed %llu, %llu operations, audit every %llu\n", name,
              static_cast<unsigned long long>(kSeed), static_cast<unsigned long long>(kOps),
              static_cast<unsigned long long>(kAuditEvery));
  std::fflush(stdout);

  std::uint64_t op = 0;
  auto require = [&](const std::string& err) {
    BOOST_REQUIRE_MESSAGE(err.empty(), name << ": seed " << kSeed << " (MHEAP_SEED=" << kSeed << " replays), op "
                                             << op << ": " << err);
  };
  require(d.start());

  const std::size_t cap = heap->capacity_pages();
  const std::size_t absurd[] = {0, std::numeric_limits<std::size_t>::max(),
                                (std::numeric_limits<std::size_t>::max() >> H::page_shift) + 1, cap + 1, cap};
  for (op = 0; op < kOps; ++op) {
    const unsigned roll = rng() % 1000;
    if (roll < 700) {  // alloc or free, drifting towards half the slots live
      if (rng() % slots >= d.live_count())
        require(d.alloc(rng(), test::skewed_pages(rng, 2048), rng() % 8 == 0));
      else
        require(d.free(rng(), rng() % 2 == 0));
    } else if (roll < 800) {
      require(d.lookup_in_live(rng(), rng()));
    } else if (roll < 870) {
      require(d.lookup(d.address(rng())));
    } else if (roll < 900) {
      require(d.double_free(rng()));
    } else if (roll < 950) {
      require(d.free_live_wrongly(rng(), rng()));
    } else if (roll < 985) {
      require(d.free_at(rng(), d.address(rng())));
    } else {
      require(d.alloc(rng(), absurd[rng() % std::size(absurd)], rng() % 2 == 0));
    }
    if (op % 4096 == 4095)  // give free pages back: a random budget, sometimes everything
      require(d.scavenge(rng() % 4 == 0 ? std::numeric_limits<std::size_t>::max() : rng() % (std::size_t{32} << 20)));
    require(d.check_counters());
    if (op % kAuditEvery == 0) require(d.audit());
  }
  require(d.free_all());

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const check::OpCounts& c = d.counts();
  const auto s = heap->stats();
  std::printf("model_check %s: %llu operations in %.1f s: %llu allocs, %llu refused, %llu frees by ref, %llu by "
              "free_at, %llu lookups, %llu misuses reported, %llu scavenges, %llu audits; arena grew to %llu MiB\n",
              name, static_cast<unsigned long long>(op), secs, static_cast<unsigned long long>(c.allocs),
              static_cast<unsigned long long>(c.failed_allocs), static_cast<unsigned long long>(c.frees_by_ref),
              static_cast<unsigned long long>(c.frees_at), static_cast<unsigned long long>(c.lookups),
              static_cast<unsigned long long>(c.misuses), static_cast<unsigned long long>(c.scavenges),
              static_cast<unsigned long long>(c.audits),
              static_cast<unsigned long long>(Driver::obtained(s) >> 20));
  std::fflush(stdout);
  BOOST_TEST(op >= kOps);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mmap_source_spin_lock) { run<MmapSpin>("MmapSource+SpinLock", 512); }
BOOST_AUTO_TEST_CASE(static_arena_null_lock) { run<ArenaNull>("StaticArena+NullLock", 512); }
BOOST_AUTO_TEST_CASE(custom_kinds) { run<CustomKinds>("custom kinds", 512); }
BOOST_AUTO_TEST_CASE(no_tree_constinit) { run<NoTreeConstinit>("NoTree, constinit", 512, &constinit_heap); }
