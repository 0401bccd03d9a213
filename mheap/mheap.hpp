// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/mheap.hpp — the whole public surface of mheap, in one include.
//
//   Heap<Config>             mheap/heap.hpp       alloc / free / lookup / scavenge / stats / audit
//                            (the API: mheap/heap_shard.hpp; several arenas: mheap/arena_set.hpp)
//   BackgroundScavenger<H>   mheap/background_scavenger.hpp   Go's periodic scavenger, on request
//   SpanRef<Kind>            mheap/span_ref.hpp   what alloc hands out
//   MemoryResource<H, Kind>  mheap/memory_resource.hpp   std::pmr::memory_resource over a heap's spans
//                            (where the standard library has <memory_resource>: not libc++ before 16)
//   (FiberStackAllocator<H>  mheap/fiber_stack.hpp: Boost.Context fiber stacks; not included here,
//                            as it needs Boost.Context linked: include it yourself)
//   Stats, MemStats          mheap/stats.hpp, mheap/mem_stats.hpp; scvg_line: mheap/scvg_trace.hpp
//   DefaultConfig            mheap/config.hpp
//   span kinds               policies/span_kind.hpp    GCSpanPolicy, ManualSpanPolicy<Counter>, ...
//   locks                    policies/lock.hpp         NullLock, SpinLock, MutexLock
//   page sources             policies/page_source.hpp, mmap_source.hpp, static_arena.hpp
//   free-span containers     policies/span_lists.hpp   NormalLinks/SafeLinks, RbTree/AvlTree/...
//   misuse                   policies/misuse.hpp       AbortOnMisuse, RecordMisuse
//
// Not included here, because they need <ostream> and allocate, which a small target may not
// want: mheap/report.hpp — take_census (mheap/span_census.hpp) and the printers: aligned text,
// JSON with Go's MemStats names, an SVG map of the arena. Heap::for_each_span() is in heap.hpp.
//
// Levels (docs/architecture.md): vocabulary (stats, span_state, fixed_text, detail/) ← policies/
// ← the parts (layout, arena, page_map, span, span_pool, free_set, span_cache, accounting,
// release_engine, config, config_check) ← heap_core, heap, audit ← this header and the clients
// beside it (span_heap, memory_resource, fiber_stack). A header includes
// only its own level or below.
#pragma once
#include "detail/require_cxx20.hpp"

#include "audit.hpp"
#include "background_scavenger.hpp"
#include "config.hpp"
#include "heap.hpp"
#include "mem_stats.hpp"
#if __has_include(<memory_resource>)  // std::pmr: libstdc++ 9+, libc++ 16+
#include "memory_resource.hpp"
#endif
#include "scvg_trace.hpp"
#include "span_ref.hpp"
#include "stats.hpp"
#include "version.hpp"
#include "../policies/clock.hpp"
#include "../policies/interrupt_lock.hpp"
#include "../policies/lock.hpp"
#include "../policies/misuse.hpp"
#include "../policies/page_source.hpp"
#include "../policies/span_kind.hpp"
#include "../policies/span_lists.hpp"
#include "../policies/static_arena.hpp"
#if __has_include(<sys/mman.h>)
#include "../policies/mmap_source.hpp"
#endif

/// \namespace mheap
/// Everything mheap declares for its users: the heap, its configuration and policies, spans and
/// counters (names in mheap::detail are not part of the API). docs/architecture.md says which
/// header does what.
