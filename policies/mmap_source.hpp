// SPDX-License-Identifier: BSL-1.0
// policies/mmap_source.hpp — OS memory: reserve address space once, commit it as the heap grows.
//
// The reservation is PROT_NONE and MAP_NORESERVE, so reserving 64 GiB costs neither memory nor
// swap accounting; commit() turns a range read-write with mprotect, and the kernel supplies zero
// pages on first touch. Linux/POSIX only; embedded builds use StaticArena.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace mheap {

class MmapSource {
 public:
  static constexpr std::size_t default_reserve_bytes = std::size_t{64} << 30;

  explicit MmapSource(std::size_t reserve_bytes = default_reserve_bytes) noexcept {
    void* p = ::mmap(nullptr, reserve_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      base_ = static_cast<std::byte*>(p);
      capacity_ = reserve_bytes;
    }
  }
  ~MmapSource() {
    if (base_ != nullptr) ::munmap(base_, capacity_);
  }
  MmapSource(const MmapSource&) = delete;
  MmapSource& operator=(const MmapSource&) = delete;

  std::byte* base() const noexcept { return base_; }
  std::size_t capacity() const noexcept { return capacity_; }

  bool commit(std::byte* p, std::size_t n) noexcept {
    // The heap commits whole heap pages, which are multiples of the OS page on every host we
    // support; mprotect needs page-aligned ranges, so round outward to be safe.
    auto [lo, hi] = round_outward(p, n);
    return ::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_READ | PROT_WRITE) == 0;
  }

  std::size_t granule() const noexcept { return os_page_size(); }

  // Makes [p, p+n) fault on any access (the heap's guards). The reservation already does, as long
  // as nothing commits it; saying so keeps the guard true whatever a later commit rounds.
  bool protect(std::byte* p, std::size_t n) noexcept {
    auto [lo, hi] = round_inward(p, n);
    return hi <= lo || ::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_NONE) == 0;
  }

  // Gives the whole OS pages inside [p, p+n) back to the kernel. MADV_DONTNEED, not MADV_FREE:
  // MADV_FREE leaves pages in RSS until memory pressure, which misleads every measurement, and
  // DONTNEED guarantees the next touch reads zero.
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    auto [lo, hi] = round_inward(p, n);
    if (hi <= lo) return 0;
    if (::madvise(lo, static_cast<std::size_t>(hi - lo), MADV_DONTNEED) != 0) return 0;
    return static_cast<std::size_t>(hi - lo);
  }

  static std::size_t os_page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
  }

 private:
  struct Range {
    std::byte* lo;
    std::byte* hi;
  };
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
};

}  // namespace mheap
