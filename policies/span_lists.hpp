// policies/span_lists.hpp — how free spans are linked: the list hooks' link mode and the kind of
// ordered tree that holds the large free spans. Both are Boost.Intrusive containers; these policies
// only name which flavour, so a heap can trade checks for speed without touching its code.
#pragma once

#include <boost/intrusive/avl_set.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/options.hpp>
#include <boost/intrusive/set.hpp>
#include <boost/intrusive/sg_set.hpp>
#include <boost/intrusive/splay_set.hpp>
#include <boost/intrusive/treap_set.hpp>

#include <cstdint>

namespace mheap {

namespace bi = boost::intrusive;

// ---- link mode of every hook in a span record -------------------------------------------------
// normal_link: no checks, fastest. safe_link: hooks are nulled when unlinked and Boost asserts
// (BOOST_ASSERT) that a hook is unlinked before it is linked again: a debug build catches a span
// put in two containers. Both modes have the same hook layout.
template <bi::link_mode_type Mode>
struct LinkMode {
  static constexpr bi::link_mode_type mode = Mode;
};
using NormalLinks = LinkMode<bi::normal_link>;
using SafeLinks = LinkMode<bi::safe_link>;

template <class P>
concept ListLinkPolicy = requires {
  { P::mode } -> std::convertible_to<bi::link_mode_type>;
  requires P::mode == bi::normal_link || P::mode == bi::safe_link;
};

// ---- the tree of large free spans -------------------------------------------------------------
// Each policy names a member hook (given the link mode) and a set container (given the record,
// the hook option and the ordering). The heap orders by (pages, address): lower_bound({n, 0}) is
// the best fit with the lowest address on ties, in O(log n) for the balanced trees.
struct RbTree {
  template <bi::link_mode_type Mode>
  using hook = bi::set_member_hook<bi::link_mode<Mode>, bi::optimize_size<true>>;
  template <class T, class HookOption, class Compare>
  using container = bi::set<T, HookOption, bi::compare<Compare>, bi::constant_time_size<false>>;
};

struct AvlTree {
  template <bi::link_mode_type Mode>
  using hook = bi::avl_set_member_hook<bi::link_mode<Mode>, bi::optimize_size<true>>;
  template <class T, class HookOption, class Compare>
  using container = bi::avl_set<T, HookOption, bi::compare<Compare>, bi::constant_time_size<false>>;
};

// Amortised O(log n); recently used sizes move to the root.
struct SplayTree {
  template <bi::link_mode_type Mode>
  using hook = bi::bs_set_member_hook<bi::link_mode<Mode>>;
  template <class T, class HookOption, class Compare>
  using container = bi::splay_set<T, HookOption, bi::compare<Compare>, bi::constant_time_size<false>>;
};

// Scapegoat tree: no per-node balance data, rebuilds subtrees when they grow lopsided.
struct ScapegoatTree {
  template <bi::link_mode_type Mode>
  using hook = bi::bs_set_member_hook<bi::link_mode<Mode>>;
  template <class T, class HookOption, class Compare>
  using container = bi::sg_set<T, HookOption, bi::compare<Compare>>;
};

// Go 1.9's choice. Priorities come from a hash of the span's address, so the shape is
// deterministic for a given trace.
struct Treap {
  template <bi::link_mode_type Mode>
  using hook = bi::bs_set_member_hook<bi::link_mode<Mode>>;

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
  using container = bi::treap_set<T, HookOption, bi::compare<Compare>, bi::priority<AddressPriority>,
                                  bi::constant_time_size<false>>;
};

template <class P>
concept LargeSpanTreePolicy = requires {
  typename P::template hook<bi::normal_link>;
  typename P::template hook<bi::safe_link>;
};

}  // namespace mheap
