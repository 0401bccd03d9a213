// SPDX-License-Identifier: BSL-1.0
// test/model.hpp — a plain, obviously correct description of a heap, run beside the real one.
//
// The model knows which spans are live (base, pages, kind) and nothing else; from that alone it
// predicts every kind's counter, heap_inuse, and that no two live spans overlap. The driver checks
// the heap against it after every operation and runs the full audit every `audit_every` operations.
// Free of Boost.Test, so that the libFuzzer target uses it too.
#pragma once

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mheap/mheap.hpp"

namespace mheap::test {

template <class H>
class Model {
 public:
  using kinds = typename H::span_kinds;
  using stats_type = typename H::stats_type;
  static constexpr std::uint64_t page = H::page_bytes;

  struct Live {
    std::size_t npages;
    std::size_t kind;
  };

  // Records a span the heap handed out; false (with a reason) if it overlaps a live one.
  bool on_alloc(const void* base, std::size_t npages, std::size_t kind, std::string& why) {
    const auto b = reinterpret_cast<std::uintptr_t>(base);
    if (b % page != 0) return why = "span base not page aligned", false;
    auto next = live_.lower_bound(b);
    if (next != live_.end() && next->first < b + npages * page) return why = "overlaps the next live span", false;
    if (next != live_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second.npages * page > b) return why = "overlaps the previous live span", false;
    }
    live_.emplace(b, Live{npages, kind});
    bytes_[kind] += npages * page;
    return true;
  }
  void on_free(const void* base) {
    auto it = live_.find(reinterpret_cast<std::uintptr_t>(base));
    bytes_[it->second.kind] -= it->second.npages * page;
    live_.erase(it);
  }

  // Compares the heap's counters with what the live spans imply. Empty string when they agree.
  std::string compare(const stats_type& s) const {
    std::string why;
    std::uint64_t inuse = 0;
    kinds::for_each([&]<class K, std::size_t I>() {
      if constexpr (K::counts_toward_heap_sys) inuse += bytes_[I];
    });
    // Each distinct counter once, against the live bytes of every kind that charges it (the library's
    // own walk, mheap/accounting.hpp: the model checks the counters, not the walk).
    for_each_distinct_counter<stats_type, kinds>([&]<class K, std::size_t>() {
      std::uint64_t expected = 0;
      for_each_kind_sharing_counter<stats_type, kinds, K>([&]<class J, std::size_t JI>() { expected += bytes_[JI]; });
      if (s.*(K::counter) != expected) why += std::string(K::name) + " counter disagrees; ";
    });
    if (s.heap_inuse != inuse) why += "heap_inuse disagrees; ";
    if (s.heap_idle + s.heap_inuse != s.heap_sys) why += "heap_idle + heap_inuse != heap_sys; ";
    if (obtained_bytes<stats_type, kinds>(s) % page != 0) why += "obtained bytes not whole pages; ";
    if (s.heap_released > s.heap_idle) why += "heap_released > heap_idle; ";
    return why;
  }

  const std::map<std::uintptr_t, Live>& live() const { return live_; }

 private:
  std::map<std::uintptr_t, Live> live_;
  std::uint64_t bytes_[kinds::size] = {};
};

// Sizes 1..max_pages, mostly small with a long tail (like a real program's spans).
inline std::size_t skewed_pages(std::mt19937_64& rng, std::size_t max_pages) {
  const unsigned roll = rng() % 100;
  std::size_t hi = roll < 60 ? 2 : roll < 85 ? 8 : roll < 95 ? 64 : roll < 99 ? 256 : max_pages;
  if (hi > max_pages) hi = max_pages;
  return 1 + rng() % hi;
}

}  // namespace mheap::test
