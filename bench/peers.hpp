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
#pragma once

#include <sys/mman.h>

#include <cstddef>
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
}

namespace bench {

// A malloc-style peer: handle = the pointer.
template <class Fns>
struct MallocPeer {
  using handle = void*;
  handle alloc(std::size_t pages) noexcept { return Fns::alloc(pages * kPageBytes); }
  void free(handle p, std::size_t pages) noexcept { Fns::free(p, pages * kPageBytes); }
  static void* base(handle p) noexcept { return p; }
};

struct GlibcFns {
  static void* alloc(std::size_t bytes) noexcept { return std::aligned_alloc(kPageBytes, bytes); }
  static void free(void* p, std::size_t) noexcept { std::free(p); }
};
struct TcmallocFns {
  static void* alloc(std::size_t bytes) noexcept { return tc_memalign(kPageBytes, bytes); }
  static void free(void* p, std::size_t) noexcept { tc_free(p); }
};
struct JemallocFns {
  // MALLOCX_ALIGN(a) is ffs(a)-1 for a power of two: 8192 → 13.
  static constexpr int kAlign = __builtin_ctzll(kPageBytes);
  static void* alloc(std::size_t bytes) noexcept { return mallocx(bytes, kAlign); }
  static void free(void* p, std::size_t bytes) noexcept { sdallocx(p, bytes, kAlign); }
};
struct MimallocFns {
  static void* alloc(std::size_t bytes) noexcept { return mi_malloc_aligned(bytes, kPageBytes); }
  static void free(void* p, std::size_t) noexcept { mi_free(p); }
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
