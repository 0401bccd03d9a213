// SPDX-License-Identifier: BSL-1.0
// bench/placement_bound.hpp — what ideal placement would need on a churn trace: a yardstick for
// the Memory table, not an allocator.
//
// Replays a churn trace (bench/trace.hpp) in a model that keeps nothing but free extents:
// address-ordered best fit (the shortest free extent that fits, the lowest address among equals),
// the request cut from the extent's low end, every free merged with both neighbours, and growth
// at the top by what the free extent already there lacks, at least min_grow pages in whole
// granules, as mheap grows (mheap/heap_growth.hpp). No span records, no span cache, no page map:
// the footprint it reports is placement's alone. Johnstone and Wilson's measurements ("The Memory
// Fragmentation Problem: Solved?", 1998) found address-ordered best and first fit the least
// fragmenting of the classical policies, so its footprint over the trace's peak live pages says
// how far a heap could get by placement on this trace. It is a yardstick, not a lower bound: an
// offline placement that knows the future could do better.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "bench/trace.hpp"

namespace bench {

class BestFitModel {
 public:
  BestFitModel(std::uint64_t min_grow_pages, std::uint64_t granule_pages)
      : min_grow_(min_grow_pages), granule_(granule_pages) {}

  std::uint64_t alloc(std::uint64_t n) {
    auto fit = by_length_.lower_bound({n, 0});
    if (fit == by_length_.end()) {
      grow(n);
      fit = by_length_.lower_bound({n, 0});
    }
    const auto [length, base] = *fit;
    erase(base, length);
    if (length > n) insert(base + n, length - n);
    return base;
  }
  void free(std::uint64_t base, std::uint64_t n) { insert(base, n); }
  std::uint64_t footprint_pages() const noexcept { return top_; }

 private:
  void grow(std::uint64_t n) {
    std::uint64_t tail = 0;
    if (!by_base_.empty()) {
      const auto last = std::prev(by_base_.end());
      if (last->first + last->second == top_) tail = last->second;
    }
    const std::uint64_t need = std::max(n - tail, min_grow_);
    const std::uint64_t ask = (need + granule_ - 1) / granule_ * granule_;
    insert(top_, ask);
    top_ += ask;
  }
  void insert(std::uint64_t base, std::uint64_t n) {  // merged with both neighbours
    auto after = by_base_.lower_bound(base);
    if (after != by_base_.end() && after->first == base + n) {
      n += after->second;
      by_length_.erase({after->second, after->first});
      after = by_base_.erase(after);
    }
    if (after != by_base_.begin()) {
      const auto before = std::prev(after);
      if (before->first + before->second == base) {
        base = before->first;
        n += before->second;
        by_length_.erase({before->second, before->first});
        by_base_.erase(before);
      }
    }
    by_base_.emplace(base, n);
    by_length_.emplace(n, base);
  }
  void erase(std::uint64_t base, std::uint64_t n) {
    by_base_.erase(base);
    by_length_.erase({n, base});
  }

  std::uint64_t min_grow_, granule_;
  std::uint64_t top_ = 0;                                     // pages grown so far
  std::map<std::uint64_t, std::uint64_t> by_base_;            // free extents: base → length
  std::set<std::pair<std::uint64_t, std::uint64_t>> by_length_;  // (length, base): best fit, lowest address
};

// Pages grown by the model after replaying t (the fill, then every step: free, then alloc).
inline std::uint64_t best_fit_footprint_pages(const ChurnTrace& t, std::uint64_t min_grow_pages,
                                              std::uint64_t granule_pages) {
  BestFitModel m(min_grow_pages, granule_pages);
  std::vector<std::uint64_t> base(t.initial.size());
  std::vector<std::uint32_t> pages = t.initial;
  for (std::size_t i = 0; i < base.size(); ++i) base[i] = m.alloc(pages[i]);
  for (const Step& s : t.steps) {
    m.free(base[s.slot], pages[s.slot]);
    base[s.slot] = m.alloc(pages[s.slot] = s.pages);
  }
  return m.footprint_pages();
}

}  // namespace bench
