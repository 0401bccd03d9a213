// SPDX-License-Identifier: BSL-1.0
// mheap/free_set.hpp — where free spans wait: exact-size lists for short spans, a tree for long ones.
//
// Invariants (audit() checks each):
//   - a free span shorter than MaxListPages pages is on lists_[npages], nowhere else;
//   - a longer one is in large_, nowhere else, unless all its pages are released: then it is in
//     released_, nowhere else (only where spans record releases); both are ordered by (pages, address);
//   - bit n of nonempty_ is set exactly when lists_[n] is non-empty.
// take(n) is the allocation policy: the head of the smallest non-empty list ≥ n (found with the
// bitmap, not by walking lists; insert() keeps low addresses towards the heads), else the
// smallest large span with the lowest address on ties — true best fit in O(log n), which Go
// 1.9's treap only approximated (golang/go#31616), and O(1) for a length the tree's length index
// holds. A resident span goes before a released one of the same length, as on the lists.
// Released long spans have a tree of their own so that giving memory back, which looks for
// unreleased pages from the longest span down, never walks past them: with one tree, a heap
// holding many released long spans paid for every one of them in every pass (2026-12-06, a paced
// heap freeing 100,000 long spans among fences: 0.88 s with one tree, 0.09 s with two).
//   - first_of_[n % index_slots] is null or the lowest-addressed span of its length in large_.
// With Tree = NoTree there is no tree and no index: every free span is on the list of its length
// (the configuration guarantees no span reaches MaxListPages; mheap/config_check.hpp), and take()
// is the same true best fit in O(MaxListPages / word bits).
//
// The containers are built by prepare(), when the heap lays itself out, not by the constructor
// (mheap/detail/deferred_init.hpp says why): insert(), erase() and take() require it; the visitors
// see an empty set before it.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "detail/deferred_init.hpp"
#include "detail/absent.hpp"
#include "../policies/span_lists.hpp"

namespace mheap {

template <class SpanT, std::size_t MaxListPages, LargeSpanTreePolicy Tree>
class FreeSet {
  static_assert(MaxListPages >= 2, "max_list_pages must leave room for at least 1-page lists");

  using ListHook = detail::bi::member_hook<SpanT, decltype(SpanT::list_hook), &SpanT::list_hook>;
  using List = detail::bi::list<SpanT, ListHook, detail::bi::constant_time_size<false>>;

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
  static constexpr bool has_tree = !std::is_same_v<Tree, NoTree>;
  static constexpr bool splits_released = has_tree && SpanT::releases;  // released_ exists
  template <class T, bool = has_tree>
  struct TreeOf {  // the tree container, or nothing at all
    using HookOption = detail::bi::member_hook<T, decltype(T::tree_hook), &T::tree_hook>;
    using type = typename Tree::template container<T, HookOption, ByPagesThenAddress>;
  };
  template <class T>
  struct TreeOf<T, false> {
    using type = struct {};
  };
  using LargeTree = typename TreeOf<SpanT>::type;
  using Lists = std::array<List, MaxListPages>;

  // Machine words: a 32-bit target scans 32 lengths per word without 64-bit helpers.
  using Word = std::size_t;
  static constexpr std::size_t word_bits = sizeof(Word) * 8;
  static constexpr std::size_t bitmap_words = (MaxListPages + word_bits - 1) / word_bits;

 public:
  static constexpr std::size_t max_list_pages = MaxListPages;

  constexpr FreeSet() noexcept = default;
  FreeSet(const FreeSet&) = delete;
  FreeSet& operator=(const FreeSet&) = delete;

  // Builds the containers; once, before the first insert().
  void prepare() noexcept {
    lists_.construct();
    if constexpr (has_tree) large_.construct();
    if constexpr (splits_released) released_.construct();
    ready_ = true;
  }
  bool ready() const noexcept { return ready_; }

  // warm: resident, its pages ready to use. cold: just given back to the OS, so using it again
  // costs page faults; it goes to the back of its list, handed out last.
  enum class Recency { warm, cold };

  // Where a short span goes in its list; take() hands out heads.
  //   - cold: at the back. So spans given back to the OS form the tail of their list, behind
  //     every resident span of their length (a warm span never goes behind them, below).
  //   - warm, lower in memory than the head, or the list ends in released pages: at the front.
  //   - any other warm span: at the back.
  // Each list thus leans towards address order at O(1): requests fill the low end of the arena
  // first and leave its high end free to merge into long spans. Handing out the span freed last
  // instead (LIFO) measured heap_sys / peak heap_inuse 1.40 / 1.44 / 1.27 on the churn traces
  // against 1.27 / 1.27 / 1.22 this way (bench/RESULTS.md, Memory), for about 1 ns per alloc+free
  // at 100 and 1,000 live spans and nothing at 10,000 (the head's address is one more load). A full
  // sort per insert reached 1.41 / 1.28 / 1.20 at up to 1.7× the time per step, as lists grow with
  // the heap.
  // A span's released pages must not change while it is in the set: they choose its tree.
  void insert(SpanT& s, Recency recency = Recency::warm) noexcept {
    if constexpr (has_tree)
      if (s.npages >= MaxListPages) return long_insert(s);
    List& list = lists()[s.npages];
    if (recency == Recency::warm &&
        (list.empty() || s.base < list.front().base || list.back().released_pages() != 0))
      list.push_front(s);
    else
      list.push_back(s);
    set_bit(s.npages);
  }

  void erase(SpanT& s) noexcept {
    if constexpr (has_tree)
      if (s.npages >= MaxListPages) return long_erase(s);
    List& list = lists()[s.npages];
    list.erase(list.iterator_to(s));
    if (list.empty()) clear_bit(s.npages);
  }

  // Removes and returns the best-fitting free span of at least n pages, or null.
  SpanT* take(std::size_t n) noexcept {
    if (n < MaxListPages) {
      if (std::size_t i = first_nonempty_from(n); i < MaxListPages) {
        List& list = lists()[i];
        SpanT& s = list.front();
        list.pop_front();
        if (list.empty()) clear_bit(i);
        return &s;
      }
    }
    if constexpr (has_tree) return take_large(n);
    return nullptr;
  }

 private:
  // Best fit over both trees; a resident span wins a tie in length.
  SpanT* take_large(std::size_t n) noexcept requires has_tree {
    if (SpanT* f = first_of(n); f != nullptr && f->npages == n) {  // an exact fit, known: O(1)
      tree_erase(*f);
      return f;
    }
    auto it = large_.get().lower_bound(Fit{n}, FitCompare{});
    if constexpr (splits_released) {  // a resident exact fit cannot be beaten: no second search
      auto cold = it != large_.get().end() && it->npages == n ? released_.get().end()
                                                               : released_.get().lower_bound(Fit{n}, FitCompare{});
      if (cold != released_.get().end() && (it == large_.get().end() || cold->npages < it->npages)) {
        SpanT& s = *cold;
        released_.get().erase(cold);
        return &s;
      }
    }
    if (it == large_.get().end()) return nullptr;
    SpanT& s = *it;
    first_of(s.npages) = &s;  // the leftmost of its length: tree_erase() indexes its successor
    tree_erase(s);
    return &s;
  }

 public:

  // The longest free span's length (0: none): the tree's last span, or the highest bit of the
  // bitmap (bitmap_words words at most).
  std::size_t largest_pages() const noexcept {
    if (!ready_) return 0;
    if constexpr (has_tree) {
      std::size_t longest = large_.get().empty() ? 0 : large_.get().rbegin()->npages;
      if constexpr (splits_released)
        if (!released_.get().empty()) longest = std::max(longest, released_.get().rbegin()->npages);
      if (longest != 0) return longest;
    }
    for (std::size_t w = bitmap_words; w-- > 0;)
      if (nonempty_[w] != 0) return (w + 1) * word_bits - 1 - static_cast<std::size_t>(std::countl_zero(nonempty_[w]));
    return 0;
  }

  // ---- for scavenging ---------------------------------------------------------------------------
  // Visits free spans that hold unreleased pages, longest first: the tree from its end (longest,
  // then highest address; fully released long spans are not in it), then the lists from the
  // longest down, each from its back (released spans, then the highest addresses: the spans take()
  // hands out last, see insert()). The lists' released spans are still visited, for f to skip:
  // they sit among the ones released in part, which only a walk tells apart. Stops when f returns
  // true. f must not change the free set.
  template <class F>
  void visit_largest_first(F&& f) {
    if (!ready_) return;
    if constexpr (has_tree)
      for (auto it = large_.get().rbegin(); it != large_.get().rend(); ++it)
        if (f(*it)) return;
    for (std::size_t i = MaxListPages - 1; i >= 1; --i)
      if (bit_says_nonempty(i))
        for (auto it = lists()[i].rbegin(); it != lists()[i].rend(); ++it)
          if (f(*it)) return;
  }

  // ---- for audit() ------------------------------------------------------------------------------
  // Visits every free span once: f(span, list_index) where list_index is 0 for the tree.
  template <class F>
  void for_each(F&& f) const {
    if (!ready_) return;
    for (std::size_t i = 1; i < MaxListPages; ++i)
      for (const SpanT& s : lists()[i]) f(s, i);
    if constexpr (has_tree)
      for (const SpanT& s : large_.get()) f(s, std::size_t{0});
    if constexpr (splits_released)
      for (const SpanT& s : released_.get()) f(s, std::size_t{0});
  }
  // For audit(): the first long span in the wrong tree (released_ holds exactly the fully released
  // ones), or null.
  const SpanT* first_in_wrong_tree() const {
    if constexpr (has_tree) {
      if (!ready_) return nullptr;
      for (const SpanT& s : large_.get())
        if (s.fully_released()) return &s;
      if constexpr (splits_released)
        for (const SpanT& s : released_.get())
          if (!s.fully_released()) return &s;
    }
    return nullptr;
  }
  bool bit_says_nonempty(std::size_t i) const noexcept { return (nonempty_[i / word_bits] >> (i % word_bits)) & 1u; }
  bool list_empty(std::size_t i) const noexcept { return !ready_ || lists()[i].empty(); }
  // The length index, for audit(): f(slot, span) for every entry that is set.
  template <class F>
  void for_each_indexed(F&& f) const {
    if constexpr (has_tree)
      for (std::size_t i = 0; i < index_slots; ++i)
        if (first_of_[i] != nullptr) f(i, *first_of_[i]);
  }
  static constexpr std::size_t index_slot(std::size_t npages) noexcept { return npages % index_slots; }
  // True when s (a span in the tree) has no span of its length at a lower address.
  bool is_leftmost_of_its_length(const SpanT& s) const {
    if constexpr (has_tree) {
      auto it = large_.get().iterator_to(s);
      return it == large_.get().begin() || std::prev(it)->npages != s.npages;
    }
    return true;
  }
  // True when large_ visits its spans in strictly increasing (pages, address) order.
  bool large_is_ordered() const {
    if constexpr (has_tree) {
      if (!ready_) return true;
      if (!is_ordered(large_.get())) return false;
      if constexpr (splits_released) return is_ordered(released_.get());
    }
    return true;
  }

 private:
  template <class Container>
  static bool is_ordered(const Container& c) {
    const SpanT* prev = nullptr;
    for (const SpanT& s : c) {
      if (prev && !ByPagesThenAddress{}(*prev, s)) return false;
      prev = &s;
    }
    return true;
  }

  Lists& lists() noexcept { return lists_.get(); }
  const Lists& lists() const noexcept { return lists_.get(); }

  std::size_t first_nonempty_from(std::size_t n) const noexcept {
    std::size_t w = n / word_bits;
    Word bits = nonempty_[w] & (~Word{0} << (n % word_bits));
    while (bits == 0) {
      if (++w == bitmap_words) return MaxListPages;
      bits = nonempty_[w];
    }
    return w * word_bits + static_cast<std::size_t>(std::countr_zero(bits));
  }
  void set_bit(std::size_t i) noexcept { nonempty_[i / word_bits] |= Word{1} << (i % word_bits); }
  void clear_bit(std::size_t i) noexcept { nonempty_[i / word_bits] &= ~(Word{1} << (i % word_bits)); }

  // ---- the trees and the length index -----------------------------------------------------------
  void long_insert(SpanT& s) noexcept requires has_tree {
    if constexpr (splits_released)
      if (s.fully_released()) {
        link_in_order(released_.get(), s);
        return;
      }
    tree_insert(s);
  }
  void long_erase(SpanT& s) noexcept requires has_tree {
    if constexpr (splits_released)
      if (s.fully_released()) {
        released_.get().erase(released_.get().iterator_to(s));
        return;
      }
    tree_erase(s);
  }

  // Inserts s where the order puts it: one descent, then a link before its successor. (Not
  // insert(s): with Boost 1.74's treap, g++ 12 warns that insert_unique may read its commit data
  // uninitialised once it is instantiated for two trees; a false alarm, but every build shows it.)
  template <class Container>
  static void link_in_order(Container& tree, SpanT& s) noexcept {
    tree.insert_before(tree.lower_bound(s), s);
  }

  // first_of_[n % index_slots] is null or the lowest-addressed span of its length in large_: what
  // lower_bound would find for a request of exactly that length. A request for a length the index
  // holds is served in O(1), and a span freed below the indexed one goes back in front of it with a
  // hinted insert, also O(1) — the common case of a program reusing a few large sizes — instead of
  // two O(log n) descents. A span freed while its slot is empty (or holds another length) takes
  // the slot when nothing of its length lies lower, so a length allocated and freed again and again
  // stays indexed even when it is the only one of its length (bench large/100, a median span
  // allocated and freed among 100 free long spans: 72.3 → 59.7 ns per pair, full runs of
  // 2026-12-06 20:29 and 22:55). Everything else falls back to the tree's search. The index
  // covers resident spans only (large_); released ones are found by a search of released_.
  static constexpr std::size_t index_slots = 256;
  SpanT*& first_of(std::size_t npages) noexcept requires has_tree { return first_of_[npages % index_slots]; }

  void tree_insert(SpanT& s) noexcept requires has_tree {
    SpanT*& first = first_of(s.npages);
    const bool twin_indexed = first != nullptr && first->npages == s.npages;
    if (twin_indexed && s.base < first->base) {
      large_.get().insert_before(large_.get().iterator_to(*first), s);  // s belongs right before it: no search
      first = &s;
      return;
    }
    link_in_order(large_.get(), s);
    if (twin_indexed) return;
    // The slot is free, or holds another length: index s if it is the leftmost of its own, so the
    // next request for a length freed last (a span allocated and freed again and again) is O(1).
    if (is_leftmost_of_its_length(s)) first = &s;
  }
  void tree_erase(SpanT& s) noexcept requires has_tree {
    auto it = large_.get().iterator_to(s);
    SpanT*& first = first_of(s.npages);
    if (first == &s) {  // its successor, if of the same length, is the new lowest-addressed one
      auto next = std::next(it);
      first = next != large_.get().end() && next->npages == s.npages ? &*next : nullptr;
    }
    large_.get().erase(it);
  }

  detail::DeferredInit<Lists> lists_;         // lists_[n]: free spans of exactly n pages (n ≥ 1)
  std::array<Word, bitmap_words> nonempty_{};  // bit n set ⇔ lists_[n] is non-empty
  [[no_unique_address]] std::conditional_t<has_tree, detail::DeferredInit<LargeTree>, detail::Absent<0>>
      large_;  // free spans of ≥ MaxListPages pages that hold unreleased pages
  [[no_unique_address]] std::conditional_t<splits_released, detail::DeferredInit<LargeTree>, detail::Absent<2>>
      released_;  // free spans of ≥ MaxListPages pages, all released
  [[no_unique_address]] std::conditional_t<has_tree, std::array<SpanT*, index_slots>, detail::Absent<1>>
      first_of_{};       // the length index (see above)
  bool ready_ = false;  // prepare() has run
};

}  // namespace mheap
