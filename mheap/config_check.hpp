// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/config_check.hpp — a heap's configuration, checked once, with one error per mistake.
///
/// Every rule a configuration must keep is one entry in an ordered list: first that each member is
/// there, then that each policy satisfies its concept, then the rules between members. Only the
/// first broken rule fails its static_assert, and the message names the Config member at fault.
/// The heap then builds with FallbackConfig instead of the broken one (checked_config_t), so no
/// other line of the library instantiates with the bad type and the compiler has nothing else to
/// say: g++ and clang print exactly one error (test/compile_fail_test.sh holds them to it).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "accounting.hpp"
#include "config.hpp"
#include "span.hpp"
#include "../policies/clock.hpp"
#include "../policies/lock.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"
#include "../policies/span_kind.hpp"
#include "../policies/span_lists.hpp"
#include "../policies/static_arena.hpp"

namespace mheap {

/// A configuration with every member a heap reads (the types and constants of DefaultConfig).
template <class C>
concept HeapConfig = requires {
  typename C::Lock;
  typename C::PageSource;
  typename C::Stats;
  typename C::SpanKinds;
  typename C::HookLinks;
  typename C::LargeSpanTree;
  typename C::MisusePolicy;
  typename C::Clock;
  C::page_shift;
  C::max_list_pages;
  C::min_grow_bytes;
  C::grow_granule_bytes;
  C::span_pool_chunk_bytes;
  C::reserved_span_records;
  C::span_cache_pages;
  C::span_cache_per_length;
  C::thread_caches;
  C::valgrind_annotations;
  C::idle_retention_bytes;
  C::idle_retention_percent;
  C::idle_retention_floor_bytes;
  C::idle_retention_decay_ms;
  C::arenas;
  C::guard_pages;
  C::internal_checks;
};

namespace detail {

// What a heap builds with while its own configuration is rejected: valid on every target, so the
// one static_assert that names the mistake is the only error.
struct FallbackConfig : DefaultConfig {
  using Lock = NullLock;
  using PageSource = StaticArena<4096>;
};

// Each rule, in the order they are reported. A rule that needs members an earlier rule found
// missing or broken holds vacuously: only the earliest broken rule speaks.
enum ConfigRule : int {
  list_links_renamed = 1, no_lock, no_page_source, no_stats, no_span_kinds, no_hook_links, no_large_span_tree, no_misuse_policy,
  no_clock, no_page_shift, no_max_list_pages, no_min_grow_bytes, no_grow_granule_bytes, no_span_pool_chunk_bytes,
  no_reserved_span_records, no_span_cache_pages, no_span_cache_per_length, no_thread_caches, no_valgrind_annotations,
  no_idle_retention_bytes, no_idle_retention_percent, no_idle_retention_floor_bytes, no_idle_retention_decay_ms, no_arenas, no_guard_pages, no_internal_checks,
  bad_lock, bad_page_source, no_os_page_source, bad_stats, bad_span_kinds, kinds_not_in_stats,
  kinds_charge_heap_counters, shared_counter_split, bad_hook_links, bad_large_span_tree, bad_misuse_policy,
  bad_clock, bad_page_shift, bad_max_list_pages, grow_below_a_page, grow_too_large, pool_chunk_below_a_page,
  record_beyond_chunk, too_few_span_records, thread_caches_without_threads, no_tree_needs_fixed_capacity, no_tree_lists_too_short,
  retention_without_release, decay_too_long, arenas_out_of_range, arenas_without_thread_caches,
};

template <class C>
constexpr int first_broken_rule_of_a_complete_config();

template <class C>
constexpr int first_broken_rule() {
  // An override of the old name would silently stop working: say so instead.
  if (requires { typename C::ListLinks; }) return list_links_renamed;
  // Members, in DefaultConfig's order.
  if (!requires { typename C::Lock; }) return no_lock;
  if (!requires { typename C::PageSource; }) return no_page_source;
  if (!requires { typename C::Stats; }) return no_stats;
  if (!requires { typename C::SpanKinds; }) return no_span_kinds;
  if (!requires { typename C::HookLinks; }) return no_hook_links;
  if (!requires { typename C::LargeSpanTree; }) return no_large_span_tree;
  if (!requires { typename C::MisusePolicy; }) return no_misuse_policy;
  if (!requires { typename C::Clock; }) return no_clock;
  if (!requires { C::page_shift; }) return no_page_shift;
  if (!requires { C::max_list_pages; }) return no_max_list_pages;
  if (!requires { C::min_grow_bytes; }) return no_min_grow_bytes;
  if (!requires { C::grow_granule_bytes; }) return no_grow_granule_bytes;
  if (!requires { C::span_pool_chunk_bytes; }) return no_span_pool_chunk_bytes;
  if (!requires { C::reserved_span_records; }) return no_reserved_span_records;
  if (!requires { C::span_cache_pages; }) return no_span_cache_pages;
  if (!requires { C::span_cache_per_length; }) return no_span_cache_per_length;
  if (!requires { C::thread_caches; }) return no_thread_caches;
  if (!requires { C::valgrind_annotations; }) return no_valgrind_annotations;
  if (!requires { C::idle_retention_bytes; }) return no_idle_retention_bytes;
  if (!requires { C::idle_retention_percent; }) return no_idle_retention_percent;
  if (!requires { C::idle_retention_floor_bytes; }) return no_idle_retention_floor_bytes;
  if (!requires { C::idle_retention_decay_ms; }) return no_idle_retention_decay_ms;
  if (!requires { C::arenas; }) return no_arenas;
  if (!requires { C::guard_pages; }) return no_guard_pages;
  if (!requires { C::internal_checks; }) return no_internal_checks;
  if constexpr (HeapConfig<C>) {
    // Policies against their concepts.
    if (!LockPolicy<typename C::Lock>) return bad_lock;
    if (!PageSourcePolicy<typename C::PageSource>) return bad_page_source;
    if (std::is_same_v<typename C::PageSource, NoPageSource>) return no_os_page_source;
    // `if constexpr` from here: a rule about the kinds and the counters (mheap/accounting.hpp) must
    // not even be instantiated with a Stats or SpanKinds it cannot read.
    if constexpr (!std::is_base_of_v<Stats, typename C::Stats>) {
      return bad_stats;
    } else if constexpr (!is_span_kinds<typename C::SpanKinds>) {
      return bad_span_kinds;
    } else {
      return first_broken_rule_of_a_complete_config<C>();
    }
  }
  return 0;
}

template <class C>
constexpr int first_broken_rule_of_a_complete_config() {
  using StatsT = typename C::Stats;
  using Kinds = typename C::SpanKinds;
  if constexpr (!kinds_fit_stats<StatsT, Kinds>()) {
    return kinds_not_in_stats;  // the counter rules below would not compile with such a kind
  } else {
    if (!kinds_own_their_counters<StatsT, Kinds>()) return kinds_charge_heap_counters;
    if (!shared_counters_agree<StatsT, Kinds>()) return shared_counter_split;
    if (!HookLinkPolicy<typename C::HookLinks>) return bad_hook_links;
    if (!LargeSpanTreePolicy<typename C::LargeSpanTree>) return bad_large_span_tree;
    if (!MisuseHandler<typename C::MisusePolicy>) return bad_misuse_policy;
    if (!ClockPolicy<typename C::Clock>) return bad_clock;
    // Sizes.
    if (C::page_shift < 8 || C::page_shift > 30) return bad_page_shift;
    const std::size_t page = std::size_t{1} << C::page_shift;
    if (C::max_list_pages < 2) return bad_max_list_pages;
    if (C::min_grow_bytes < page || C::grow_granule_bytes < page) return grow_below_a_page;
    // Growth sizes are added to page counts: a quarter of the address space keeps that from wrapping.
    if (C::min_grow_bytes > SIZE_MAX / 4 || C::grow_granule_bytes > SIZE_MAX / 4) return grow_too_large;
    if (C::span_pool_chunk_bytes < page) return pool_chunk_below_a_page;
    if constexpr (HookLinkPolicy<typename C::HookLinks> && LargeSpanTreePolicy<typename C::LargeSpanTree>)
      if (sizeof(Span<typename C::HookLinks, typename C::LargeSpanTree, ReleasingPageSourcePolicy<typename C::PageSource>>) > C::span_pool_chunk_bytes)
        return record_beyond_chunk;  // a tree hook can make a record larger than a small page
    // A growth may hold two records at once (the new span and the spare for the tail cut from it).
    if (C::reserved_span_records == 1) return too_few_span_records;
    // Per-thread caches need thread-local storage and a mutex; a single-threaded lock never uses them.
    if (C::thread_caches && C::span_cache_pages != 0 && !MHEAP_HAS_THREADS &&
        !is_single_threaded_lock<typename C::Lock>)
      return thread_caches_without_threads;
    // A retention bound asks for releases: on a source without release() it would be ignored in
    // silence (neither bound is compiled there), so asking for one is a mistake to name. The
    // default percentage (idle_retention_auto) asks only where pages can go back.
    if (!ReleasingPageSourcePolicy<typename C::PageSource> &&
        ((C::idle_retention_percent != 0 && C::idle_retention_percent != idle_retention_auto) ||
         C::idle_retention_bytes != static_cast<std::size_t>(-1)))
      return retention_without_release;
    // The decay is counted in nanoseconds, in 64 bits: milliseconds must fit in 32 (and not be
    // negative, which would wrap into a long decay).
    if (std::cmp_less(C::idle_retention_decay_ms, 0) || std::cmp_greater(C::idle_retention_decay_ms, 0xffff'ffffu))
      return decay_too_long;
    // Arenas (mheap/arena_set.hpp): a thread finds its home arena through its caches, and each
    // arena opens a source of its own.
    if (C::arenas != arenas_auto && (std::cmp_less(C::arenas, 1) || std::cmp_greater(C::arenas, 64)))
      return arenas_out_of_range;
    if (C::arenas != arenas_auto && C::arenas > 1 &&
        !(has_thread_caches<C> && ReplicablePageSource<typename C::PageSource>))
      return arenas_without_thread_caches;
    // Without a tree every free span must fit on a list: the source's capacity, known at compile
    // time, bounds the longest span (mheap/free_set.hpp).
    if constexpr (std::is_same_v<typename C::LargeSpanTree, NoTree>) {
      if constexpr (!FixedCapacityPageSource<typename C::PageSource>) {
        return no_tree_needs_fixed_capacity;
      } else if (C::max_list_pages <= (C::PageSource::fixed_capacity >> C::page_shift)) {
        return no_tree_lists_too_short;
      }
    }
    return 0;
  }
}

// The static_asserts, one per rule. The heap instantiates this (empty) class where it takes its
// configuration; the configuration it builds with is computed apart (checked_config_t), so a
// compiler that gives up on this class after the error (clang does) still has a whole heap to
// build, and nothing more to say.
template <class C, int Broken = first_broken_rule<C>()>
struct ConfigCheck {

  static_assert(Broken != list_links_renamed,
                "Config::ListLinks is now Config::HookLinks (it sets the link mode of every hook of a span record, "
                "the free lists' and the tree's): rename the override");
  static_assert(Broken != no_lock, "Config::Lock is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_page_source, "Config::PageSource is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_stats, "Config::Stats is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_span_kinds, "Config::SpanKinds is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_hook_links, "Config::HookLinks is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_large_span_tree, "Config::LargeSpanTree is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_misuse_policy, "Config::MisusePolicy is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_clock, "Config::Clock is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_page_shift, "Config::page_shift is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_max_list_pages, "Config::max_list_pages is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_min_grow_bytes, "Config::min_grow_bytes is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_grow_granule_bytes, "Config::grow_granule_bytes is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_span_pool_chunk_bytes, "Config::span_pool_chunk_bytes is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_reserved_span_records, "Config::reserved_span_records is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_span_cache_pages, "Config::span_cache_pages is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_span_cache_per_length, "Config::span_cache_per_length is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_thread_caches, "Config::thread_caches is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_valgrind_annotations, "Config::valgrind_annotations is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_idle_retention_bytes, "Config::idle_retention_bytes is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_idle_retention_percent, "Config::idle_retention_percent is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_idle_retention_floor_bytes, "Config::idle_retention_floor_bytes is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_arenas, "Config::arenas is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_idle_retention_decay_ms, "Config::idle_retention_decay_ms is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_guard_pages, "Config::guard_pages is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != no_internal_checks, "Config::internal_checks is missing: derive the configuration from mheap::DefaultConfig");
  static_assert(Broken != bad_lock, "Config::Lock does not satisfy mheap::LockPolicy (default-constructible, lock(), unlock())");
  static_assert(Broken != bad_page_source, "Config::PageSource does not satisfy mheap::PageSourcePolicy (base(), capacity(), commit(p, n))");
  static_assert(Broken != no_os_page_source, "this target has no OS page source: set Config::PageSource (e.g. StaticArena<Bytes>)");
  static_assert(Broken != bad_stats, "Config::Stats must be mheap::Stats or derive from it");
  static_assert(Broken != bad_span_kinds, "Config::SpanKinds must be mheap::SpanKinds<Kind...>");
  static_assert(Broken != kinds_not_in_stats,
                "a kind in Config::SpanKinds names a counter that is not a std::uint64_t member of Config::Stats");
  static_assert(Broken != kinds_charge_heap_counters,
                "a kind in Config::SpanKinds charges heap_sys, heap_idle, heap_released, mspan_* or other_sys (or "
                "heap_inuse, and it is a manual kind): those are the heap's own; give the kind a counter of its own");
  static_assert(Broken != shared_counter_split,
                "two kinds in Config::SpanKinds share a counter but not counts_toward_heap_sys: a counter is either "
                "inside heap_sys or outside it");
  static_assert(Broken != bad_hook_links, "Config::HookLinks does not satisfy mheap::HookLinkPolicy (NormalLinks or SafeLinks)");
  static_assert(Broken != bad_large_span_tree,
                "Config::LargeSpanTree does not satisfy mheap::LargeSpanTreePolicy (hook<mode> and container<T, Hook, "
                "Compare> templates, as RbTree, AvlTree, ...)");
  static_assert(Broken != bad_misuse_policy, "Config::MisusePolicy does not satisfy mheap::MisuseHandler (report(const MisuseReport&))");
  static_assert(Broken != bad_clock, "Config::Clock does not satisfy mheap::ClockPolicy (now() in nanoseconds)");
  static_assert(Broken != bad_page_shift, "Config::page_shift must be in [8, 30]");
  static_assert(Broken != bad_max_list_pages, "Config::max_list_pages must leave room for at least 1-page lists (>= 2)");
  static_assert(Broken != grow_below_a_page, "Config::min_grow_bytes and grow_granule_bytes must be at least one page");
  static_assert(Broken != grow_too_large, "Config::min_grow_bytes and grow_granule_bytes must be at most SIZE_MAX / 4");
  static_assert(Broken != pool_chunk_below_a_page, "Config::span_pool_chunk_bytes must be at least one page");
  static_assert(Broken != record_beyond_chunk, "Config::span_pool_chunk_bytes must hold one span record");
  static_assert(Broken != too_few_span_records,
                "Config::reserved_span_records must be 0 (one record per page: never short) or at least 2 (a growth "
                "may hold two records at once)");
  static_assert(Broken != thread_caches_without_threads,
                "Config::thread_caches needs a standard library with threads: set it to false on this target (or "
                "span_cache_pages to 0, or use a single-threaded lock)");
  static_assert(Broken != no_tree_needs_fixed_capacity,
                "Config::LargeSpanTree = NoTree needs a page source with a capacity fixed at compile time "
                "(mheap::FixedCapacityPageSource, e.g. StaticArena<Bytes>): it bounds the longest free span");
  static_assert(Broken != retention_without_release,
                "Config::idle_retention_percent or idle_retention_bytes asks for a retention bound, but "
                "Config::PageSource cannot release pages (no release(p, n)): set idle_retention_percent to 0 and "
                "idle_retention_bytes to its default, or use a source that releases");
  static_assert(Broken != decay_too_long,
                "Config::idle_retention_decay_ms must fit in 32 bits (0 to about 49 days; 0: no decay)");
  static_assert(Broken != arenas_out_of_range,
                "Config::arenas must be 1 to 64, or arenas_auto (the default)");
  static_assert(Broken != arenas_without_thread_caches,
                "Config::arenas > 1 needs thread caches (a span cache, thread_caches, a lock that is not "
                "single-threaded) and a page source each arena can open again (mheap::ReplicablePageSource): "
                "set arenas to 1 or arenas_auto");
  static_assert(Broken != no_tree_lists_too_short,
                "Config::LargeSpanTree = NoTree: max_list_pages must exceed the source's capacity in pages "
                "(PageSource::fixed_capacity >> page_shift), so every free span has a list");
};

}  // namespace detail

/// Whether Config keeps every rule (a heap on one that does not reports the first broken rule).
template <class Config>
inline constexpr bool config_is_valid = detail::first_broken_rule<Config>() == 0;
/// The configuration a heap builds with: Config itself when it keeps every rule (else the one
/// broken rule has been reported, and a fallback keeps the rest of the build quiet).
template <class Config>
using checked_config_t = std::conditional_t<config_is_valid<Config>, Config, detail::FallbackConfig>;

}  // namespace mheap
