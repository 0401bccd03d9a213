// SPDX-License-Identifier: BSL-1.0
// policies/static_arena.hpp — a fixed buffer for embedded images: no OS call, no malloc.
//
// The buffer lives inside the arena object, so `constinit static Heap<Cfg> heap;` puts the whole
// heap in .bss with a capacity fixed at compile time, and nothing runs before main()
// (docs/embedded.md).
//
// Fresh memory must read as zero wherever the arena object lives, without zeroing anything twice:
//   - constant-initialised (a `constinit` or other static heap the compiler initialises at compile
//     time): the buffer is zero in the image, and .bss is zero at start-up, so commit() clears
//     nothing;
//   - constructed at run time (on a stack, with new, inside another object): the buffer is left
//     uninitialised, and commit() clears each range the first and only time the heap commits it.
// `dirty_` tells the two apart; it is false in the constant image, so the object stays all zero
// bytes and lands in .bss rather than .data.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace mheap {

// Whether a StaticArena offers release(): yes, so the scavenging and retention code runs on
// embedded builds as elsewhere; no, so a heap on it compiles none of that code (docs/embedded.md).
enum class ArenaRelease : bool { none, zero_and_count };

// Alignment: of the buffer, a power of two. The heap aligns its layout to its page, so an arena
// aligned to the heap's page loses nothing at its start; 4096 suits every page up to 4 KiB. A small
// target with small pages passes its page size: an object aligned to 4096 may cost up to 4 KiB of
// padding around it in .bss.
template <std::size_t Bytes, std::size_t Alignment = 4096, ArenaRelease Release = ArenaRelease::zero_and_count>
class StaticArena {
 public:
  static_assert(Bytes > 0, "StaticArena needs a size");
  static_assert(Alignment != 0 && (Alignment & (Alignment - 1)) == 0, "StaticArena: Alignment must be a power of two");
  static constexpr std::size_t alignment = Alignment;
  static constexpr std::size_t fixed_capacity = Bytes;  // FixedCapacityPageSource (page_source.hpp)

  constexpr StaticArena() noexcept : dirty_(!std::is_constant_evaluated()) {
    if (std::is_constant_evaluated()) storage_ = Storage{};  // a constant needs every byte set: zero
  }
  StaticArena(const StaticArena&) = delete;
  StaticArena& operator=(const StaticArena&) = delete;

  std::byte* base() noexcept { return storage_.bytes; }
  std::size_t capacity() const noexcept { return Bytes; }

  bool commit(std::byte* p, std::size_t n) noexcept {
    if (!holds(p, n)) return false;
    if (dirty_) std::memset(p, 0, n);
    return true;
  }

  // A static arena has no one to give memory back to: its pages stay in the image. "Released"
  // here means zeroed and counted in heap_released, so the heap's contract holds (released pages
  // read as zero and need no clearing) and the same scavenging code runs on embedded builds.
  std::size_t release(std::byte* p, std::size_t n) noexcept
    requires(Release == ArenaRelease::zero_and_count) {
    if (!holds(p, n)) return 0;
    std::memset(p, 0, n);
    return n;
  }

 private:
  bool holds(const std::byte* p, std::size_t n) const noexcept {
    return p >= storage_.bytes && n <= Bytes && p <= storage_.bytes + (Bytes - n);
  }

  struct Storage {  // an aggregate, so a constant initialiser can zero it in one step
    alignas(alignment) std::byte bytes[Bytes];
  };
  bool dirty_;  // constructed at run time: commit() must clear what it hands out (first: no padding after the buffer)
  Storage storage_;
};

}  // namespace mheap
