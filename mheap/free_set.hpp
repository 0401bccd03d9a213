// mheap/free_set.hpp — where free spans wait: exact-size lists for short spans, a tree for long ones.
//
// Invariants (audit() checks each):
//   - a free span shorter than MaxListPages pages is on lists_[npages], nowhere else;
//   - a longer one is in large_, nowhere else; large_ is ordered by (pages, address);
//   - bit n of nonempty_ is set exactly when lists_[n] is non-empty.
// take(n) is the allocation policy: the head of the smallest non-empty list ≥ n (found with the
// bitmap, not by walking lists), else the smallest large span with the lowest address on ties —
// true best fit in O(log n), which Go 1.9's treap only approximated (golang/go#31616).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "policies/span_lists.hpp"

namespace mheap {

template <class SpanT, std::size_t MaxListPages, LargeSpanTreePolicy Tree>
class FreeSet {
  static_assert(MaxListPages >= 2, "max_list_pages must leave room for at least 1-page lists");

  using ListHook = bi::member_hook<SpanT, decltype(SpanT::list_hook), &SpanT::list_hook>;
  using List = bi::list<SpanT, ListHook, bi::constant_time_size<false>>;

  // Large spans order by length, then address; lengths and addresses together are unique.
  struct ByPagesThenAddress {
    bool operator()(const SpanT& a, const SpanT& b) const noexcept {
      return a.npages != b.npages ? a.npages < b.npages : a.base < b.base;
    }
  };
  struct Fit {  // a search key: "n pages, lowest address"
    std::size_t npages;
  };
  struct FitCompare {
    bool operator()(const SpanT& s, const Fit& k) const noexcept { return s.npages < k.npages; }
    bool operator()(const Fit& k, const SpanT& s) const noexcept { return k.npages < s.npages; }
  };
  using TreeHook = bi::member_hook<SpanT, decltype(SpanT::tree_hook), &SpanT::tree_hook>;
  using LargeTree = typename Tree::template container<SpanT, TreeHook, ByPagesThenAddress>;

  static constexpr std::size_t bitmap_words = (MaxListPages + 63) / 64;

 public:
  static constexpr std::size_t max_list_pages = MaxListPages;

  FreeSet() = default;
  FreeSet(const FreeSet&) = delete;
  FreeSet& operator=(const FreeSet&) = delete;

  // warm: at the front of its list, handed out next (the span freed last is the one most likely
  // still in the CPU cache). cold: at the back, handed out last (a span just given back to the
  // OS costs page faults to use again).
  enum class Recency { warm, cold };

  void insert(SpanT& s, Recency recency = Recency::warm) noexcept {
    if (s.npages < MaxListPages) {
      if (recency == Recency::warm)
        lists_[s.npages].push_front(s);
      else
        lists_[s.npages].push_back(s);
      set_bit(s.npages);
    } else {
      large_.insert(s);
    }
  }

  void erase(SpanT& s) noexcept {
    if (s.npages < MaxListPages) {
      List& list = lists_[s.npages];
      list.erase(list.iterator_to(s));
      if (list.empty()) clear_bit(s.npages);
    } else {
      large_.erase(large_.iterator_to(s));
    }
  }

  // Removes and returns the best-fitting free span of at least n pages, or null.
  SpanT* take(std::size_t n) noexcept {
    if (n < MaxListPages) {
      if (std::size_t i = first_nonempty_from(n); i < MaxListPages) {
        List& list = lists_[i];
        SpanT& s = list.front();
        list.pop_front();
        if (list.empty()) clear_bit(i);
        return &s;
      }
    }
    auto it = large_.lower_bound(Fit{n}, FitCompare{});
    if (it == large_.end()) return nullptr;
    SpanT& s = *it;
    large_.erase(it);
    return &s;
  }

  // ---- for scavenging ---------------------------------------------------------------------------
  // Visits free spans longest first: the tree from its end (longest, then highest address), then
  // the lists from the longest down, each from its back (freed longest ago: the span take()
  // would hand out last). Stops when f returns true. f must not change the free set.
  template <class F>
  void visit_largest_first(F&& f) {
    for (auto it = large_.rbegin(); it != large_.rend(); ++it)
      if (f(*it)) return;
    for (std::size_t i = MaxListPages - 1; i >= 1; --i)
      if (nonempty_bit(i))
        for (auto it = lists_[i].rbegin(); it != lists_[i].rend(); ++it)
          if (f(*it)) return;
  }

  // ---- for audit() ------------------------------------------------------------------------------
  // Visits every free span once: f(span, list_index) where list_index is 0 for the tree.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 1; i < MaxListPages; ++i)
      for (const SpanT& s : lists_[i]) f(s, i);
    for (const SpanT& s : large_) f(s, std::size_t{0});
  }
  bool bit_says_nonempty(std::size_t i) const noexcept { return nonempty_bit(i); }
  bool list_empty(std::size_t i) const noexcept { return lists_[i].empty(); }
  // True when large_ visits its spans in strictly increasing (pages, address) order.
  bool large_is_ordered() const {
    const SpanT* prev = nullptr;
    for (const SpanT& s : large_) {
      if (prev && !ByPagesThenAddress{}(*prev, s)) return false;
      prev = &s;
    }
    return true;
  }

 private:
  std::size_t first_nonempty_from(std::size_t n) const noexcept {
    std::size_t w = n / 64;
    std::uint64_t bits = nonempty_[w] & (~std::uint64_t{0} << (n % 64));
    while (bits == 0) {
      if (++w == bitmap_words) return MaxListPages;
      bits = nonempty_[w];
    }
    return w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
  }
  bool nonempty_bit(std::size_t i) const noexcept { return (nonempty_[i / 64] >> (i % 64)) & 1u; }
  void set_bit(std::size_t i) noexcept { nonempty_[i / 64] |= std::uint64_t{1} << (i % 64); }
  void clear_bit(std::size_t i) noexcept { nonempty_[i / 64] &= ~(std::uint64_t{1} << (i % 64)); }

  std::array<List, MaxListPages> lists_;            // lists_[n]: free spans of exactly n pages (n ≥ 1)
  std::array<std::uint64_t, bitmap_words> nonempty_{};  // bit n set ⇔ lists_[n] is non-empty
  LargeTree large_;                                  // free spans of ≥ MaxListPages pages
};

}  // namespace mheap
