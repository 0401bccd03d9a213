// SPDX-License-Identifier: BSL-1.0
// policies/span_lists.hpp — how free spans are linked: the list hooks' link mode and the kind of
// ordered tree that holds the large free spans. Both are Boost.Intrusive containers; these policies
// only name which flavour, so a heap can trade checks for speed without touching its code.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <boost/intrusive/avl_set.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/options.hpp>
#include <boost/intrusive/set.hpp>
#include <boost/intrusive/sg_set.hpp>
#include <boost/intrusive/splay_set.hpp>
#include <boost/intrusive/treap_set.hpp>

#include <cstddef>
#include <cstdint>
#include <concepts>
#include <functional>

#include "../mheap/detail/intrusive.hpp"

namespace mheap {

// ---- link mode of every hook in a span record -------------------------------------------------
// normal_link: no checks, fastest. safe_link: hooks are nulled when unlinked and Boost asserts
// (BOOST_ASSERT) that a hook is unlinked before it is linked again: a debug build catches a span
// put in two containers. Both modes have the same hook layout.
template <detail::bi::link_mode_type Mode>
struct LinkMode {
  static constexpr detail::bi::link_mode_type mode = Mode;
};
using NormalLinks = LinkMode<detail::bi::normal_link>;
using SafeLinks = LinkMode<detail::bi::safe_link>;

template <class P>
concept HookLinkPolicy = requires {
  { P::mode } -> std::convertible_to<detail::bi::link_mode_type>;
  requires P::mode == detail::bi::normal_link || P::mode == detail::bi::safe_link;
};
template <class P>
concept ListLinkPolicy = HookLinkPolicy<P>;  // the name before HookLinks (kept for existing code)

// ---- the tree of large free spans -------------------------------------------------------------
// Each policy names a member hook (given the link mode) and a set container (given the record,
// the hook option and the ordering). The heap orders by (pages, address): lower_bound({n, 0}) is
// the best fit with the lowest address on ties, in O(log n) for the balanced trees.
struct RbTree {
  template <detail::bi::link_mode_type Mode>
  using hook = detail::bi::set_member_hook<detail::bi::link_mode<Mode>, detail::bi::optimize_size<true>>;
  template <class T, class HookOption, class Compare>
  using container = detail::bi::set<T, HookOption, detail::bi::compare<Compare>, detail::bi::constant_time_size<false>>;
};

struct AvlTree {
  template <detail::bi::link_mode_type Mode>
  using hook = detail::bi::avl_set_member_hook<detail::bi::link_mode<Mode>, detail::bi::optimize_size<true>>;
  template <class T, class HookOption, class Compare>
  using container = detail::bi::avl_set<T, HookOption, detail::bi::compare<Compare>, detail::bi::constant_time_size<false>>;
};

// Amortised O(log n); recently used sizes move to the root.
struct SplayTree {
  template <detail::bi::link_mode_type Mode>
  using hook = detail::bi::bs_set_member_hook<detail::bi::link_mode<Mode>>;
  template <class T, class HookOption, class Compare>
  using container = detail::bi::splay_set<T, HookOption, detail::bi::compare<Compare>, detail::bi::constant_time_size<false>>;
};

// Scapegoat tree: no per-node balance data, rebuilds subtrees when they grow lopsided.
struct ScapegoatTree {
  template <detail::bi::link_mode_type Mode>
  using hook = detail::bi::bs_set_member_hook<detail::bi::link_mode<Mode>>;
  template <class T, class HookOption, class Compare>
  using container = detail::bi::sg_set<T, HookOption, detail::bi::compare<Compare>>;
};

// Go 1.9's choice. Priorities come from a hash of the span's address, so the shape is
// deterministic for a given trace.
struct Treap {
  template <detail::bi::link_mode_type Mode>
  using hook = detail::bi::bs_set_member_hook<detail::bi::link_mode<Mode>>;

  struct AddressPriority {
    template <class T>
    bool operator()(const T& a, const T& b) const noexcept {
      return mix(a.base) < mix(b.base);
    }
    template <class P>
    static std::uint64_t mix(P* p) noexcept {  // splitmix64 finaliser
      auto x = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
      return x ^ (x >> 31);
    }
  };
  template <class T, class HookOption, class Compare>
  using container = detail::bi::treap_set<T, HookOption, detail::bi::compare<Compare>, detail::bi::priority<AddressPriority>,
                                  detail::bi::constant_time_size<false>>;
};

// No tree at all: every free span waits on the list of its exact length. For a small fixed arena,
// whose every span fits under max_list_pages (the configuration checks it against the page
// source's compile-time capacity), allocation stays a true best fit — the head of the smallest
// non-empty list of at least n pages, found in the lists' bitmap — in O(max_list_pages / word
// bits), and a free is O(1). What it saves: the tree's code (1.7 KB with its length index on
// a Cortex-M4), the 256-slot length index and the tree hook in every span record. What it costs:
// one list head (two pointers) per length up to max_list_pages. docs/embedded.md compares it with
// the trees.
struct NoTree {
  template <detail::bi::link_mode_type>
  struct hook {  // nothing in the record
    static constexpr bool is_linked() noexcept { return false; }
  };
};

namespace detail {
// A stand-in record for checking a tree policy: what the heap's span record offers a tree.
template <class P>
struct TreeProbe {
  typename P::template hook<detail::bi::normal_link> tree_hook;
  std::size_t npages;
  friend bool operator<(const TreeProbe&, const TreeProbe&) noexcept { return false; }
};
}  // namespace detail

// A tree policy names a member hook template (given the link mode) and a container template
// (given the record, the hook option and the ordering); or it is NoTree.
template <class P>
concept LargeSpanTreePolicy = std::same_as<P, NoTree> || requires {
  typename P::template hook<detail::bi::normal_link>;
  typename P::template hook<detail::bi::safe_link>;
  typename P::template container<
      detail::TreeProbe<P>,
      detail::bi::member_hook<detail::TreeProbe<P>, decltype(detail::TreeProbe<P>::tree_hook), &detail::TreeProbe<P>::tree_hook>,
      std::less<detail::TreeProbe<P>>>;
};

}  // namespace mheap
