// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/config.hpp — the default configuration; users derive from it and override what they need.
///
/// A configuration is a plain struct of types and constants, read at compile time: nothing is
/// configured by macros or generated headers, so two translation units can never disagree about a
/// heap's layout.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "stats.hpp"
#include "../policies/clock.hpp"
#include "../policies/lock.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"
#include "../policies/span_kind.hpp"
#include "../policies/span_lists.hpp"

#if __has_include(<sys/mman.h>)
#include "../policies/mmap_source.hpp"
namespace mheap {
/// DefaultConfig's page source: OS memory where the target has mmap; a bare-metal target must
/// name its own source (there this is NoPageSource, which no heap accepts).
using DefaultPageSource = MmapSource;
}
#else
namespace mheap {
using DefaultPageSource = NoPageSource;
}
#endif

namespace mheap {

/// Where the standard library has threads, a lock that spins briefly and then sleeps (it survives
/// more threads than cores); elsewhere (bare metal) a spin lock, the only one there is.
#if MHEAP_HAS_THREADS
using DefaultLock = AdaptiveLock;
#else
using DefaultLock = SpinLock;
#endif

/// Config::idle_retention_percent: "the paced bound at default_idle_retention_percent where pages
/// can go back to an operating system" (the default; paced_retention_percent resolves it).
inline constexpr unsigned idle_retention_auto = static_cast<unsigned>(-1);
/// The paced bound's percentage by default: idle memory up to the bytes in use, so retained memory
/// stays within twice the live heap, near Go's (its goal, twice the live heap under GOGC=100, plus
/// 10 %).
inline constexpr unsigned default_idle_retention_percent = 100;

/// The percentage a configuration's paced bound uses (0: none). idle_retention_auto resolves to the
/// default where the page source releases and its capacity is not fixed at compile time; a fixed
/// arena (StaticArena) has nobody to give pages to, and zeroing them would only cost time.
template <class C>
inline constexpr unsigned paced_retention_percent =
    C::idle_retention_percent != idle_retention_auto ? C::idle_retention_percent
    : ReleasingPageSourcePolicy<typename C::PageSource> && !FixedCapacityPageSource<typename C::PageSource>
        ? default_idle_retention_percent
        : 0;

/// Whether threads use a heap of configuration C through span caches of their own, without its lock
/// (mheap/front_end.hpp): a span cache, Config::thread_caches, and a lock that is not single-threaded.
template <class C>
inline constexpr bool has_thread_caches =
    C::span_cache_pages != 0 && C::thread_caches && !is_single_threaded_lock<typename C::Lock>;

/// Config::arenas: "default_arenas where threads have caches of their own and the page source can
/// be opened once per arena; one arena elsewhere" (the default; arena_count resolves it).
inline constexpr unsigned arenas_auto = static_cast<unsigned>(-1);
/// Arenas a heap shared by threads has by default: enough for each of up to eight threads to
/// allocate from an arena of its own. An arena costs nothing until a thread makes it its home
/// (its reservation is address space only, mheap/arena_set.hpp).
inline constexpr unsigned default_arenas = 8;

/// The arenas a heap of configuration C has (1: the heap is one HeapShard, with no arena code).
template <class C>
inline constexpr std::size_t arena_count =
    C::arenas != arenas_auto ? C::arenas
    : has_thread_caches<C> && ReplicablePageSource<typename C::PageSource> ? default_arenas
                                                                            : 1;

/// The default configuration; users derive from it and override what they need (a heap checks
/// the result once, mheap/config_check.hpp).
struct DefaultConfig {
  using Lock = DefaultLock;            ///< every public operation takes it; thread-safe by default
  using PageSource = DefaultPageSource;  ///< MmapSource: reserves address space, commits as the heap grows
  using Stats = mheap::Stats;          ///< derive to add counters for your own manual kinds
  using SpanKinds = mheap::SpanKinds<GCSpanPolicy, StackSpanPolicy>;  ///< the kinds spans are allocated as
  using HookLinks = NormalLinks;       ///< link mode of every hook in a span record; SafeLinks in debug configurations
  using LargeSpanTree = RbTree;        ///< AvlTree, SplayTree, ScapegoatTree, Treap
  using MisusePolicy = AbortOnMisuse;  ///< RecordMisuse for tests
  using Clock = SteadyClock;           ///< for scavenge_idle() and the paced bound's decay; ManualClock in tests

  static constexpr std::size_t page_shift = 13;             ///< 8 KiB pages, as Go
  static constexpr std::size_t max_list_pages = 128;        ///< spans shorter than this sit on exact lists
  static constexpr std::size_t min_grow_bytes = 1 << 20;    ///< grow by at least 1 MiB ...
  static constexpr std::size_t grow_granule_bytes = 64 << 10;  ///< ... rounded up to 64 KiB
  static constexpr std::size_t span_pool_chunk_bytes = 16 << 10;  ///< span records per refill
  /// Span records to reserve room for: spans free and live at once, together (0: one per arena
  /// page plus two, the worst case, so no request ever fails for want of a record). The record
  /// region is this many rounded up to whole pages, and the pool carves every record those pages
  /// hold (mheap/layout.hpp). On a small arena a lower number leaves more pages for spans; once
  /// the records run out, an allocation that needs a new one (a split or a growth) returns null.
  static constexpr std::size_t reserved_span_records = 0;
  /// Pages a span cache may hold, in freed spans shorter than max_list_pages kept whole (parked)
  /// for the next request of their kind and length (0: no cache, no code, no storage). Flushed
  /// before the heap grows or scavenges. mheap/span_cache.hpp.
  /// 512 pages of 8 KiB: 4 MiB, tcmalloc's largest thread cache (a thread with thread caches also
  /// parks up to half as much again in its outbox, and each arena's returned stack as much again,
  /// mheap/thread_caches.hpp, mheap/returned_spans.hpp).
  static constexpr std::size_t span_cache_pages = 512;
  static constexpr std::uint32_t span_cache_per_length = 32;  ///< spans parked per kind and length at most
  /// One span cache per thread, used without the heap lock (mheap/thread_caches.hpp), where the
  /// standard library has threads; each thread that uses the heap then holds up to span_cache_pages.
  /// Ignored under a lock that declares itself single-threaded (NullLock): such a heap has one
  /// cache, its own, and no thread-local or atomic at all.
  static constexpr bool thread_caches = MHEAP_HAS_THREADS;
  /// Arenas: independent heaps inside one Heap, each with its own page source, lock, free set, span
  /// records, page map and thread caches (mheap/arena_set.hpp). A thread allocates from its home
  /// arena (the one the fewest live threads call home when it first allocates) and frees a span to
  /// the arena that owns it, so threads on different arenas share no cache line of the heap's: two
  /// threads then run as fast as one. The price is memory: each arena grows on its own, and one
  /// arena's free spans do not serve another's requests. A thread alone uses one arena only, so a
  /// single-threaded program sees a heap of one arena. arenas_auto (the default): default_arenas
  /// where threads have caches of their own and the page source is a ReplicablePageSource, else 1;
  /// more than 1 needs both.
  static constexpr unsigned arenas = arenas_auto;
  /// Mark free spans NOACCESS for Valgrind's memcheck (a dozen instructions per request even
  /// natively, so off by default). ASan builds poison free spans whatever this says.
  static constexpr bool valgrind_annotations = false;
  /// Guards between the page map, the arena and the span records (mheap/layout.hpp): a stray byte
  /// past the last span or before the first faults instead of rewriting the heap's metadata. Each
  /// costs one granule of the page source (MmapSource: address space only) or one heap page.
  static constexpr bool guard_pages = true;
  /// O(1) checks of the heap's own preconditions at every state transition (mheap/span_state.hpp),
  /// split and counter update; a failure aborts naming it. Off: no instruction, no byte. The test
  /// configurations turn them on.
  static constexpr bool internal_checks = false;
  /// Idle bytes not yet released that a free may leave behind (set_idle_retention changes it), per
  /// arena in a heap of several (see arenas). Default: none (keep everything); a fixed bound also
  /// turns the paced bound below off.
  static constexpr std::size_t idle_retention_bytes = static_cast<std::size_t>(-1);
  /// The paced bound (mheap/paced_retention.hpp; Go 1.13+ keeps retained memory
  /// near its heap goal to the same end): idle bytes not yet released are kept within this
  /// percentage of the bytes in use (or the floor below, if more). Go's two ways, both here: before
  /// the heap grows, it releases down to the bound at once (synchronous scavenging); after a free
  /// that leaves idle memory above the bound, it releases the excess paced by time (see
  /// idle_retention_decay_ms), largest free spans first, never on the span-cache path.
  /// idle_retention_auto (the default): default_idle_retention_percent where pages can go back to an
  /// operating system, off on a fixed arena (paced_retention_percent, above); 0: off.
  static constexpr unsigned idle_retention_percent = idle_retention_auto;
  /// How long idle memory may stay above the paced bound before frees release all of the excess;
  /// frees sooner release the share of it that this much time has run (nothing at the free that
  /// finds the heap above the bound; passes at least a sixteenth of this apart; no call for less
  /// than a sixteenth of the bound); a free or an allocation that finds the heap back within the
  /// bound ends the episode. So holes the
  /// program refills within the decay cost nothing, and memory it is done with goes back within
  /// about this long, provided it goes on freeing (frees that reach the free set: long spans, and
  /// short ones the span caches have no room for, at the thread's next lock where threads have caches;
  /// the clock is read once in 32 of them). Measured 2026-12-07 on the 1,000-slot churn
  /// trace, touched (docs/go-accounting.md): at 100 % and released at once, 3 release calls in
  /// 30,000 steps and 49,000 page faults against 28,000 (3.3–3.9 µs per step against 2.3–2.7); with a
  /// decay of one second, no call and the same faults and time as without the bound. 0: release the
  /// whole excess at once. A program that stops calling the heap gets nothing more back: run a
  /// BackgroundScavenger, or call release_all(), for that.
  static constexpr std::uint32_t idle_retention_decay_ms = 1000;
  /// Idle bytes the paced bound always tolerates: a small heap makes no system call for its
  /// holes. 64 MiB.
  static constexpr std::size_t idle_retention_floor_bytes = std::size_t{64} << 20;
};

}  // namespace mheap
