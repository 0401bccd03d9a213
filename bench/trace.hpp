// SPDX-License-Identifier: BSL-1.0
// bench/trace.hpp — deterministic, pre-generated traces shared by every allocator's binary.
//
// Every binary (mheap and each peer) includes this header and builds the same traces from the same
// fixed seeds, so all allocators replay exactly the same steps. Nothing here depends on the
// allocator, the clock or the platform's rand().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace bench {

inline constexpr std::size_t kPageBytes = 8192;  // the heap page every allocator is asked for
inline constexpr std::size_t kTouchStride = 4096;  // "touched" variants write one byte per 4 KiB

// Fixed seeds: changing one changes every allocator's trace alike.
inline constexpr std::uint64_t kChurnSeed = 0x6d686561702d3031ull;   // "mheap-01"
inline constexpr std::uint64_t kLargeSeed = 0x6c617267652d3031ull;   // "large-01"
inline constexpr std::uint64_t kThreadSeed = 0x7468726561642d31ull;  // "thread-1"
inline constexpr std::uint64_t kReleaseSeed = 0x72656c656173652dull; // "release-"

[[noreturn]] inline void die(const char* what, std::size_t pages) {
  std::fprintf(stderr, "bench: %s failed (%zu pages)\n", what, pages);
  std::abort();
}

// splitmix64: tiny, fast, and the same on every compiler.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (the modulo bias is irrelevant at these ranges and identical for everyone).
  std::uint32_t between(std::uint32_t lo, std::uint32_t hi) noexcept {
    return lo + static_cast<std::uint32_t>(next() % (hi - lo + 1));
  }

 private:
  std::uint64_t state_;
};

// The churn size mix, in pages: 60% 1–2, 25% 3–8, 10% 9–64, 4% 65–256, 1% 257–1024.
inline std::uint32_t churn_size(Rng& rng) noexcept {
  const std::uint32_t band = static_cast<std::uint32_t>(rng.next() % 100);
  if (band < 60) return rng.between(1, 2);
  if (band < 85) return rng.between(3, 8);
  if (band < 95) return rng.between(9, 64);
  if (band < 99) return rng.between(65, 256);
  return rng.between(257, 1024);
}

struct Step {
  std::uint32_t slot;   // the live slot freed, then refilled
  std::uint32_t pages;  // size of the new span in that slot
};

// A churn trace: `slots` initial sizes, then `warmup` untimed steps, then `steps` timed steps.
struct ChurnTrace {
  std::vector<std::uint32_t> initial;  // initial[i]: pages of slot i after the fill
  std::vector<Step> steps;             // warm-up steps first, then the timed ones
  std::size_t warmup = 0;
  std::uint64_t peak_live_pages = 0;   // the largest sum of live pages at any point of the trace
};

inline ChurnTrace make_churn_trace(std::size_t slots, std::size_t warmup, std::size_t steps,
                                   std::uint64_t seed = kChurnSeed) {
  Rng rng(seed ^ (slots * 0x100000001b3ull));
  ChurnTrace t;
  t.warmup = warmup;
  t.initial.resize(slots);
  std::uint64_t live = 0;
  for (auto& pages : t.initial) live += (pages = churn_size(rng));
  std::vector<std::uint32_t> cur = t.initial;
  t.peak_live_pages = live;
  t.steps.resize(warmup + steps);
  for (auto& s : t.steps) {
    s.slot = static_cast<std::uint32_t>(rng.next() % slots);
    s.pages = churn_size(rng);
    // The free comes before the alloc, so the live peak is reached right after the alloc.
    live = live - cur[s.slot] + s.pages;
    cur[s.slot] = s.pages;
    t.peak_live_pages = std::max(t.peak_live_pages, live);
  }
  return t;
}

// Large-span search: `count` free spans of at least 128 pages (the heap's tree threshold) held
// apart by one-page fences. Sizes are 128 + a shuffle of 0..255 (all distinct for count ≤ 256; a
// distinct size per span for 100,000 spans would need Σ(128..100127) pages ≈ 40 TB).
struct LargeSetup {
  std::vector<std::uint32_t> sizes;  // sizes[i]: pages of the i-th large span, in address order
  std::uint32_t request = 0;         // the median size: the timed alloc+free asks for this
};

inline LargeSetup make_large_setup(std::size_t count) {
  Rng rng(kLargeSeed);
  std::vector<std::uint32_t> perm(256);
  for (std::uint32_t i = 0; i < 256; ++i) perm[i] = i;
  LargeSetup s;
  s.sizes.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 256 == 0)  // a fresh shuffle per block of 256
      for (std::size_t j = 255; j > 0; --j) std::swap(perm[j], perm[rng.next() % (j + 1)]);
    s.sizes[i] = 128 + perm[i % 256];
  }
  std::vector<std::uint32_t> sorted = s.sizes;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  s.request = sorted[sorted.size() / 2];
  return s;
}

// Returning memory: a peak of spans drawn from the churn size mix until `total_pages` (the last
// span is cut to fit exactly), then a scattered choice of them freed: the spans in a shuffled
// order until at least `free_fraction` of the pages are free. The regrow asks for the freed spans
// again, same sizes, in their original (ascending index) order.
struct ReleaseTrace {
  std::vector<std::uint32_t> sizes;       // sizes[i]: pages of span i, allocated in index order
  std::vector<std::uint32_t> free_order;  // indices of the spans freed, in the order they are freed
  std::vector<std::uint32_t> regrow;      // the same indices, ascending
  std::uint64_t total_pages = 0;
  std::uint64_t freed_pages = 0;
};

inline ReleaseTrace make_release_trace(std::uint64_t total_pages, double free_fraction = 0.9) {
  Rng rng(kReleaseSeed);
  ReleaseTrace t;
  while (t.total_pages < total_pages) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(churn_size(rng), total_pages - t.total_pages));
    t.sizes.push_back(n);
    t.total_pages += n;
  }
  std::vector<std::uint32_t> order(t.sizes.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  for (std::size_t j = order.size() - 1; j > 0; --j) std::swap(order[j], order[rng.next() % (j + 1)]);
  const auto goal = static_cast<std::uint64_t>(free_fraction * static_cast<double>(total_pages));
  for (std::uint32_t i : order) {
    if (t.freed_pages >= goal) break;
    t.free_order.push_back(i);
    t.freed_pages += t.sizes[i];
  }
  t.regrow = t.free_order;
  std::sort(t.regrow.begin(), t.regrow.end());
  return t;
}

}  // namespace bench
