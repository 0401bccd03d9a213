// SPDX-License-Identifier: BSL-1.0
// policies/static_arena.hpp — a fixed buffer for embedded images: no OS call, no malloc.
//
// The buffer lives inside the arena object, so `static Heap<EmbeddedConfig> heap;` puts the whole
// heap in .bss with a capacity fixed at compile time. The buffer is left uninitialised (a static
// object would otherwise be zeroed twice, once by the loader and once by a constructor), so commit()
// clears each range the first and only time the heap commits it: fresh memory is zero wherever the
// arena object lives, in .bss, on a stack or inside another object.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <cstddef>
#include <cstring>

namespace mheap {

template <std::size_t Bytes>
class StaticArena {
 public:
  static_assert(Bytes > 0, "StaticArena needs a size");
  static constexpr std::size_t alignment = 4096;

  StaticArena() noexcept {}  // leaves storage_ uninitialised on purpose (see above)
  StaticArena(const StaticArena&) = delete;
  StaticArena& operator=(const StaticArena&) = delete;

  std::byte* base() noexcept { return storage_; }
  std::size_t capacity() const noexcept { return Bytes; }

  bool commit(std::byte* p, std::size_t n) noexcept {
    if (p < storage_ || n > Bytes || p > storage_ + (Bytes - n)) return false;
    std::memset(p, 0, n);
    return true;
  }

  // A static arena has no one to give memory back to: its pages stay in the image. "Released"
  // here means zeroed and counted in heap_released, so the heap's contract holds (released pages
  // read as zero and need no clearing) and the same scavenging code runs on embedded builds.
  std::size_t release(std::byte* p, std::size_t n) noexcept {
    if (p < storage_ || n > Bytes || p > storage_ + (Bytes - n)) return 0;
    std::memset(p, 0, n);
    return n;
  }

 private:
  alignas(alignment) std::byte storage_[Bytes];
};

}  // namespace mheap
