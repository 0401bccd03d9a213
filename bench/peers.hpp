// SPDX-License-Identifier: BSL-1.0
// bench/peers.hpp — adapters for the peer allocators (see bench/workloads.hpp for the interface).
//
// Each peer is linked into its OWN binary (bench/BUILD), never LD_PRELOADed. The peers' entry
// points are declared here rather than included, so only the allocator under test is linked in
// each binary; the symbols were checked against Debian 12's libraries with `nm -D`:
//   glibc     aligned_alloc / free
//   tcmalloc  tc_memalign / tc_free            (libtcmalloc_minimal.so.4, gperftools 2.10)
//   jemalloc  mallocx(MALLOCX_ALIGN) / sdallocx (libjemalloc.so.2, 5.3.0, unprefixed)
//   mimalloc  mi_malloc_aligned / mi_free       (libmimalloc.so.2, 2.0.9)
//   boost     managed_external_buffer::allocate_aligned / deallocate (Boost.Interprocess 1.74)
// and each one's own way of giving free memory back to the OS (workload release/*):
//   glibc     malloc_trim(0)
//   tcmalloc  MallocExtension_ReleaseFreeMemory()          (gperftools/malloc_extension_c.h)
//   jemalloc  mallctl("arena.4096.purge")                  (4096 = MALLCTL_ARENAS_ALL)
//   mimalloc  mi_collect(true)
//   boost     none: the buffer is the caller's, and the allocator never unmaps or advises it
#pragma once

#include <malloc.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "bench/trace.hpp"

extern "C" {
void* tc_memalign(std::size_t alignment, std::size_t size) noexcept;
void tc_free(void* p) noexcept;
void* mallocx(std::size_t size, int flags) noexcept;
void sdallocx(void* p, std::size_t size, int flags) noexcept;
void* mi_malloc_aligned(std::size_t size, std::size_t alignment) noexcept;
void mi_free(void* p) noexcept;
void MallocExtension_ReleaseFreeMemory(void) noexcept;
int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen) noexcept;
void mi_collect(bool force) noexcept;
}

namespace bench {

// A malloc-style peer: handle = the pointer.
template <class Fns>
struct MallocPeer {
  using handle = void*;
  handle alloc(std::size_t pages) noexcept { return Fns::alloc(pages * kPageBytes); }
  void free(handle p, std::size_t pages) noexcept { Fns::free(p, pages * kPageBytes); }
  static void* base(handle p) noexcept { return p; }
  void release_to_os() noexcept { Fns::release(); }
};

struct GlibcFns {
  static void* alloc(std::size_t bytes) noexcept { return std::aligned_alloc(kPageBytes, bytes); }
  static void free(void* p, std::size_t) noexcept { std::free(p); }
  static void release() noexcept { malloc_trim(0); }
};
struct TcmallocFns {
  static void* alloc(std::size_t bytes) noexcept { return tc_memalign(kPageBytes, bytes); }
  static void free(void* p, std::size_t) noexcept { tc_free(p); }
  static void release() noexcept { MallocExtension_ReleaseFreeMemory(); }
};
struct JemallocFns {
  // MALLOCX_ALIGN(a) is ffs(a)-1 for a power of two: 8192 → 13.
  static constexpr int kAlign = __builtin_ctzll(kPageBytes);
  static void* alloc(std::size_t bytes) noexcept { return mallocx(bytes, kAlign); }
  static void free(void* p, std::size_t bytes) noexcept { sdallocx(p, bytes, kAlign); }
  // Purges every arena's dirty and muzzy pages (MALLCTL_ARENAS_ALL is 4096 in jemalloc 5).
  static void release() noexcept {
    if (mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) != 0) std::fputs("bench: arena purge failed\n", stderr);
  }
  // The "decay" variant of the release workload: dirty pages decay over `ms` (the default is
  // 10 s) in every arena, and a background thread purges them without any allocator call.
  static void short_decay(long ms) noexcept {
    ssize_t decay = ms;
    bool on = true;
    if (mallctl("arenas.dirty_decay_ms", nullptr, nullptr, &decay, sizeof decay) != 0)
      std::fputs("bench: arenas.dirty_decay_ms failed\n", stderr);
    unsigned narenas = 0;
    std::size_t len = sizeof narenas;
    mallctl("arenas.narenas", &narenas, &len, nullptr, 0);
    for (unsigned i = 0; i < narenas; ++i) {  // existing arenas; uninitialized ones refuse (EFAULT)
      char name[64];
      std::snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", i);
      mallctl(name, nullptr, nullptr, &decay, sizeof decay);
    }
    if (mallctl("background_thread", nullptr, nullptr, &on, sizeof on) != 0)
      std::fputs("bench: background_thread failed\n", stderr);
  }
};
struct MimallocFns {
  static void* alloc(std::size_t bytes) noexcept { return mi_malloc_aligned(bytes, kPageBytes); }
  static void free(void* p, std::size_t) noexcept { mi_free(p); }
  static void release() noexcept { mi_collect(true); }
};

using GlibcPeer = MallocPeer<GlibcFns>;
using TcmallocPeer = MallocPeer<TcmallocFns>;
using JemallocPeer = MallocPeer<JemallocFns>;
using MimallocPeer = MallocPeer<MimallocFns>;

// Address space reserved by the buffer-based heaps (mheap's MmapSource, Boost's buffer): large
// enough for 100,000 free large spans (≈ 200 GiB). PROT_NONE / MAP_NORESERVE: costs no memory.
// BENCH_RESERVE_GIB overrides it (valgrind cannot map 512 GiB: use e.g. 16 for profiling runs).
inline std::size_t reserve_bytes() {
  static const std::size_t bytes = [] {
    const char* env = std::getenv("BENCH_RESERVE_GIB");
    return (env ? std::strtoull(env, nullptr, 10) : std::size_t{512}) << 30;
  }();
  return bytes;
}

}  // namespace bench
