// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/span_kind.hpp — span kinds: what an allocation of a kind charges, decided at compile time.
///
/// A span kind binds (1) the counter an allocation of that kind charges and (2) whether its bytes
/// count toward heap_sys. Go 1.9 passed the counter at run time as a `stat *uint64`; Go 1.16 chose
/// counters from a run-time enum. Here the binding is a type, so the alloc/free path carries no
/// pointer and no branch for it.
///
/// The accounting every kind follows (docs/go-accounting.md, after Go commit dc0f0ab):
///
///     kind inside heap_sys  (GCSpanPolicy, ManualInHeapSpanPolicy): alloc n → heap_idle −n,
///         heap_inuse +n, and its own counter +n when that counter is not heap_inuse itself.
///     kind outside heap_sys (ManualSpanPolicy):                     alloc n → heap_idle −n,
///         heap_sys −n, its own counter +n.
///     free reverses the alloc exactly.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../mheap/span_state.hpp"
#include "../mheap/stats.hpp"

namespace mheap {

namespace detail {
template <class T>
struct is_counter_member : std::false_type {};
template <class C>
struct is_counter_member<std::uint64_t C::*> : std::true_type {
  using owner = C;
};
}  // namespace detail

/// A span kind is a class with these static members:
///
///     counter                 pointer to the std::uint64_t member of the stats type it charges;
///     counts_toward_heap_sys  whether its live bytes stay inside heap_sys (and heap_inuse);
///     maps_interior_pages     whether every page of a live span is entered in the page map
///                             (false: only the first and last page, enough for coalescing);
///     state                   SpanState::in_use or SpanState::manual;
///     name                    for messages.
///
/// docs/write-your-own.md builds one step by step.
template <class K>
concept SpanKind = requires {
  requires detail::is_counter_member<std::remove_cv_t<decltype(K::counter)>>::value;
  { K::counts_toward_heap_sys } -> std::convertible_to<bool>;
  { K::maps_interior_pages } -> std::convertible_to<bool>;
  { K::state } -> std::convertible_to<SpanState>;
  { K::name } -> std::convertible_to<const char*>;
  requires K::state == SpanState::in_use || K::state == SpanState::manual;
};

/// A kind whose counter is a member of StatsT (or of one of its bases).
template <class K, class StatsT>
concept SpanKindFor = SpanKind<K> && requires(StatsT& stats) {
  { stats.*(K::counter) } -> std::same_as<std::uint64_t&>;
};

/// A kind binds its counter at compile time when `counter` is a constant (every kind mheap ships).
/// A kind may instead hold its counter in a mutable static, chosen at run time as Go 1.9 passed
/// `stat *uint64` (the benchmark uses one to show what compile-time binding saves). Such a kind
/// must not name heap_inuse itself: only a constant can be checked for that.
template <class K>
concept CounterBoundAtCompileTime = SpanKind<K> && requires {
  typename std::bool_constant<(K::counter == K::counter)>;
};

/// The garbage-collected heap: charges heap_inuse, counts toward heap_sys. Every page is mapped so
/// that an interior pointer finds its span, as a collector needs.
struct GCSpanPolicy {
  static constexpr auto counter = &Stats::heap_inuse;    ///< charges heap_inuse
  static constexpr bool counts_toward_heap_sys = true;   ///< live bytes stay inside heap_sys
  static constexpr bool maps_interior_pages = true;      ///< every page of a live span is mapped
  static constexpr SpanState state = SpanState::in_use;  ///< Go's mSpanInUse
  static constexpr const char* name = "GCSpanPolicy";    ///< for messages
};

namespace detail {
// What every manually managed kind shares; the two accountings differ only in InHeapSys.
template <auto Counter, bool InHeapSys>
  requires is_counter_member<decltype(Counter)>::value
struct ManualKind {
  static constexpr auto counter = Counter;
  static constexpr bool counts_toward_heap_sys = InHeapSys;
  static constexpr bool maps_interior_pages = true;  // every page is mapped, as in Go 1.9
  static constexpr SpanState state = SpanState::manual;
};
}  // namespace detail

/// A kind's name for messages, given as a string literal template argument:
/// ManualSpanPolicy<&MyStats::workbuf_inuse, "workbuf">.
template <std::size_t N>
struct KindName {
  char text[N];  ///< the literal, its terminating NUL included
  /// Copies the literal (implicit, so a literal converts).
  constexpr KindName(const char (&s)[N]) noexcept {  // NOLINT: implicit, so a literal converts
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};
/// Deduces N from the literal.
template <std::size_t N>
KindName(const char (&)[N]) -> KindName<N>;

namespace detail {
// The name of a manual kind: its own when given; else, for the counters mheap ships, the kind
// that counter belongs to; else the template's name (two unnamed kinds of one template then read
// alike: give yours a name).
template <auto Counter, bool InHeapSys, KindName Given>
constexpr const char* manual_kind_name() noexcept {
  if constexpr (Given.text[0] != '\0') {
    return Given.text;
  } else {
    if constexpr (std::is_same_v<decltype(Counter), std::uint64_t Stats::*>)
      if (Counter == &Stats::stacks_inuse) return InHeapSys ? "PreSeedStackSpanPolicy" : "StackSpanPolicy";
    return InHeapSys ? "ManualInHeapSpanPolicy" : "ManualSpanPolicy";
  }
}
}  // namespace detail

/// Manually managed memory (Go's allocManual after the seed): charges *Counter, and is outside
/// heap_sys while live (heap_sys −n on alloc, +n on free). Name: what misuse reports and the audit
/// call it. Its other members (state manual, every page mapped) come from a shared base.
template <auto Counter, KindName Name = "">
struct ManualSpanPolicy : detail::ManualKind<Counter, false> {
  /// Name, or for an unnamed kind of mheap's own counters the kind's alias, else "ManualSpanPolicy".
  static constexpr const char* name = detail::manual_kind_name<Counter, false, Name>();
};

/// Manually managed memory with the accounting from *before* the seed: the span stays inside
/// heap_sys and charges heap_inuse as well as *Counter. The user view subtracts *Counter from
/// HeapSys and HeapInuse, as Go 1.8's readmemstats_m did for stacks.
template <auto Counter, KindName Name = "">
struct ManualInHeapSpanPolicy : detail::ManualKind<Counter, true> {
  /// Name, or for an unnamed kind of mheap's own counters the kind's alias, else "ManualInHeapSpanPolicy".
  static constexpr const char* name = detail::manual_kind_name<Counter, true, Name>();
};

/// Goroutine-stack-like spans, with the seed's accounting.
using StackSpanPolicy = ManualSpanPolicy<&Stats::stacks_inuse>;
/// The same spans with Go 1.8's accounting, kept to show the seed's diff in tests.
using PreSeedStackSpanPolicy = ManualInHeapSpanPolicy<&Stats::stacks_inuse>;

/// The list of kinds a heap serves. Knowing them all at compile time lets the heap reject a kind
/// it does not serve (static_assert), lets Sys count each manual counter once, and lets audit()
/// take a census per kind. A span record stores its kind as an index into this list.
template <SpanKind... Ks>
struct SpanKinds {
  static constexpr std::size_t size = sizeof...(Ks);  ///< how many kinds (1 to 255)
  static_assert(size >= 1, "SpanKinds must list at least one kind");
  static_assert(size <= 255, "SpanKinds: a span records its kind in one byte");

  /// Whether K is listed.
  template <class K>
  static constexpr bool contains = (std::is_same_v<K, Ks> || ...);

  /// K's position in the list, as span records store it (0 when K is not listed: check contains).
  template <class K>
  static constexpr std::uint8_t index_of = [] {
    std::uint8_t i = 0, found = 0;
    ((std::is_same_v<K, Ks> ? (found = i, ++i) : ++i), ...);
    return found;
  }();

  /// Calls f.template operator()<K, index>() for every kind, in order.
  template <class F>
  static constexpr void for_each(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f.template operator()<Ks, I>(), ...);
    }(std::make_index_sequence<size>{});
  }

 private:
  template <class K, class... Rest>
  static constexpr bool listed_once = (0 + ... + std::is_same_v<K, Rest>) == 1;
  static_assert((listed_once<Ks, Ks...> && ...), "SpanKinds lists a kind twice");
};

/// Whether T is an instance of SpanKinds (what Config::SpanKinds must be).
template <class T>
inline constexpr bool is_span_kinds = false;
/// \cond
template <class... Ks>
inline constexpr bool is_span_kinds<SpanKinds<Ks...>> = true;
/// \endcond

}  // namespace mheap
