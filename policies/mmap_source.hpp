// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/mmap_source.hpp — OS memory: reserve address space once, commit it as the heap grows.
///
/// The reservation is PROT_NONE and MAP_NORESERVE, so reserving 64 GiB costs neither memory nor
/// swap accounting; commit() turns a range read-write with mprotect, and the kernel supplies zero
/// pages on first touch. Linux/POSIX only; embedded builds use StaticArena.
///
/// Address space is not always there to take: `ulimit -v` counts reserved bytes, Valgrind gives its
/// client a few tens of GiB at most, a 32-bit process has under 4 GiB in all. So a reservation the
/// kernel refuses is asked again at half the size, down to a floor; capacity() says what was got,
/// requested() what was asked. Below the floor the source reserves nothing: the heap then refuses
/// every allocation, and debug builds (no NDEBUG) say so on stderr once, when the source is built.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#ifndef NDEBUG
#include <cstdio>
#include <cstring>
#endif

namespace mheap {

/// The default page source on POSIX systems: one PROT_NONE reservation, committed with mprotect,
/// released with madvise; see the file's description.
class MmapSource {
 public:
  /// 64 GiB where address space is plentiful; a 32-bit process starts at 2 GiB, about all the
  /// contiguous room it can hope for (64 GiB would not even fit in its size_t).
  static constexpr std::size_t default_reserve_bytes =
      sizeof(std::size_t) >= 8 ? std::size_t{64} << 30 : std::size_t{2} << 30;
  /// The smallest reservation a refused one falls back to. 64 MiB holds spans of up to about 63 MiB
  /// after the page map and the span records; much less, and a heap that passed a small test would
  /// fail moderate requests later, far from the cause, where an empty heap fails at once. 64 MiB is
  /// also small enough to be found in a crowded 32-bit address space, and getting there from 64 GiB
  /// costs at most ten refused mmap calls, once.
  static constexpr std::size_t default_floor_bytes = std::size_t{64} << 20;

  /// Reserves reserve_bytes, or the largest of its halvings the kernel grants that is at least
  /// floor_bytes (or reserve_bytes itself, when that is below the floor).
  explicit MmapSource(std::size_t reserve_bytes = default_reserve_bytes,
                      std::size_t floor_bytes = default_floor_bytes) noexcept
      : requested_(reserve_bytes), floor_(floor_bytes) {
    const std::size_t floor = floor_bytes < reserve_bytes ? floor_bytes : reserve_bytes;
    int error = EINVAL;
    for (std::size_t size = reserve_bytes; size != 0 && size >= floor; size = round_down(size / 2)) {
      void* p = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p != MAP_FAILED) {
        base_ = static_cast<std::byte*>(p);
        capacity_ = size;
        return;
      }
      error = errno;
    }
#ifndef NDEBUG
    std::fprintf(stderr,
                 "mheap: MmapSource could not reserve %zu MiB of address space, nor any halving of it "
                 "down to %zu MiB (%s); every allocation from its heap will fail. Raise the limit "
                 "(ulimit -v) or pass a smaller size to the heap's constructor.\n",
                 reserve_bytes >> 20, floor >> 20, std::strerror(error));
#else
    (void)error;
#endif
  }
  /// A source like `like`, for another arena of its heap (ReplicablePageSource): a reservation of
  /// the size `like` obtained, with its floor.
  MmapSource(replica_of_t, const MmapSource& like) noexcept
      : MmapSource(like.capacity_ != 0 ? like.capacity_ : like.requested_, like.floor_) {}
  /// Unmaps the whole reservation.
  ~MmapSource() {
    if (base_ != nullptr) ::munmap(base_, capacity_);
  }
  MmapSource(const MmapSource&) = delete;
  MmapSource& operator=(const MmapSource&) = delete;

  /// Start of the reservation; null when nothing could be reserved.
  std::byte* base() const noexcept { return base_; }
  /// Bytes reserved: requested(), a halving of it after a refusal, or 0 when even the floor was refused.
  std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes the constructor was asked for; capacity() < requested() means it fell back.
  std::size_t requested() const noexcept { return requested_; }

  /// Makes [p, p+n), rounded outward to OS pages, readable and writable; false if mprotect refused.
  bool commit(std::byte* p, std::size_t n) noexcept {
    // The heap commits whole heap pages, which are multiples of the OS page on every host we
    // support; mprotect needs page-aligned ranges, so round outward to be safe.
    auto [lo, hi] = round_outward(p, n);
    return ::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_READ | PROT_WRITE) == 0;
  }

  /// The OS page: releases and guards are whole OS pages.
  std::size_t granule() const noexcept { return os_page_size(); }

  /// Makes [p, p+n) fault on any access (the heap's guards). The reservation already does, as long
  /// as nothing commits it; saying so keeps the guard true whatever a later commit rounds.
  bool protect(std::byte* p, std::size_t n) noexcept {
    auto [lo, hi] = round_inward(p, n);
    return hi <= lo || ::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_NONE) == 0;
  }

  /// Makes the whole OS pages inside [p, p+n) readable and writable again, contents kept: undoes
  /// protect() on committed memory (a fiber stack's guard, before its span goes back to the heap;
  /// GuardingPageSourcePolicy in policies/page_source.hpp). Returns whether it worked.
  bool unprotect(std::byte* p, std::size_t n) noexcept {
    auto [lo, hi] = round_inward(p, n);
    return hi <= lo || ::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_READ | PROT_WRITE) == 0;
  }

  /// Gives the whole OS pages inside [p, p+n) back to the kernel. MADV_DONTNEED, not MADV_FREE:
  /// MADV_FREE leaves pages in RSS until memory pressure, which misleads every measurement, and
  /// DONTNEED guarantees the next touch reads zero. Returns the bytes released (0: refused).
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    auto [lo, hi] = round_inward(p, n);
    if (hi <= lo) return 0;
    if (::madvise(lo, static_cast<std::size_t>(hi - lo), MADV_DONTNEED) != 0) return 0;
    return static_cast<std::size_t>(hi - lo);
  }

  /// sysconf(_SC_PAGESIZE), read once.
  static std::size_t os_page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
  }

 private:
  struct Range {
    std::byte* lo;
    std::byte* hi;
  };
  static std::size_t round_down(std::size_t n) noexcept { return n & ~(os_page_size() - 1); }
  static Range round_outward(std::byte* p, std::size_t n) noexcept {
    const std::uintptr_t mask = os_page_size() - 1;
    const auto lo = reinterpret_cast<std::uintptr_t>(p) & ~mask;
    const auto hi = (reinterpret_cast<std::uintptr_t>(p) + n + mask) & ~mask;
    return {reinterpret_cast<std::byte*>(lo), reinterpret_cast<std::byte*>(hi)};
  }
  static Range round_inward(std::byte* p, std::size_t n) noexcept {
    const std::uintptr_t mask = os_page_size() - 1;
    const auto lo = (reinterpret_cast<std::uintptr_t>(p) + mask) & ~mask;
    const auto hi = (reinterpret_cast<std::uintptr_t>(p) + n) & ~mask;
    return {reinterpret_cast<std::byte*>(lo), reinterpret_cast<std::byte*>(hi)};
  }

  std::byte* base_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t requested_ = 0;
  std::size_t floor_ = 0;  // the smallest reservation the constructor settled for
};

}  // namespace mheap
