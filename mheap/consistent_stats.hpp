// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/consistent_stats.hpp — the window a thread opens around every lock-free use of its span
/// cache: it carries the thread's counter deltas, and it lets the heap cut or stop all threads at
/// one instant (Go 1.16's consistent heap statistics, and a stop of the front end for what must see
/// every cache). The protocol and why it is a consistent cut are in the header's comments.
//
// A thread that parks and unparks spans without the heap lock cannot move the heap's counters
// (every core would then write the same cache line). It records, per kind, the net bytes it
// charged since the heap last folded its deltas in: one word per kind in two buffers on its own
// cache line. A span may be unparked by one thread and freed by another, so reading the threads'
// deltas one after the other could count a span as freed before it was allocated. A fold therefore
// cuts all threads at one instant, as Go's consistentHeapStats.read does:
//
//   the cache's thread, per operation         the heap, under its lock
//   seq odd           (seq_cst)               epoch += 2       (seq_cst)   [stop: set bit 0]
//   e = epoch         (seq_cst)               per cache: wait while seq is odd (seq_cst)
//   if e is stopped: seq even, take the lock  per cache: take buffer[old parity], zero it
//   use the cache; buffer[e parity] += bytes
//   seq even          (release)
//
// Either the thread's epoch load sees the new epoch (its operation lands after the cut) or the
// heap's load of seq sees it odd and waits for the operation to finish before the cut (the
// store-load order both sides need is what seq_cst gives; it costs the thread one locked
// instruction on a line nobody else writes). An operation that happened before another thread's
// operation in the old buffer is itself in the old buffer, so a fold is a consistent cut: a
// snapshot counts a span as live exactly when it was live at the cut.
//
// Stopping uses the same handshake: with bit 0 of the epoch set and every window closed, no thread
// touches its cache without the heap lock, so the lock holder may read and flush every cache
// (growth, scavenging, retention, audit) and sees exact counters.
//
// Each delta is an exact modular sum of charges (mheap/accounting.hpp): charging and crediting
// one kind moves heap_idle, heap_inuse, heap_sys and the kind's counter so that every identity of
// mheap/stats.hpp holds for any sum of them.
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include "detail/cpu_relax.hpp"
#include "detail/lock_guard.hpp"
#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS

#if MHEAP_HAS_THREADS
#include <thread>
#endif

namespace mheap {

/// The epoch every thread reads: on a cache line of its own, written only under the heap lock.
/// Bit 0: the front end is stopped (for a moment); bit 1: it is bypassed (while a retention bound is
/// set, every free must be checked against it under the lock); bit 2: which buffer the threads'
/// deltas go to.
struct alignas(detail::cache_line_bytes) FrontEndEpoch {
  static constexpr std::uint32_t stopped = 1;   ///< bit 0: the front end is stopped
  static constexpr std::uint32_t bypassed = 2;  ///< bit 1: the front end is bypassed
  static constexpr std::uint32_t step = 4;      ///< one cut; bit 2 picks the delta buffer
  std::atomic<std::uint32_t> value{0};          ///< the epoch
};

/// One thread's window onto its cache, and its counter deltas per kind (Kinds of them) in two
/// buffers; the protocol is in the header's comments.
template <std::size_t Kinds>
class alignas(detail::cache_line_bytes) CacheWindow {
 public:
  /// The owning thread, before it touches its cache: false (and nothing open) when the front end
  /// is stopped; the caller then takes the heap lock instead.
  bool open(const FrontEndEpoch& epoch) noexcept {
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_seq_cst);
    const std::uint32_t e = epoch.value.load(std::memory_order_seq_cst);
    if (e & (FrontEndEpoch::stopped | FrontEndEpoch::bypassed)) {
      seq_.store(s + 2, std::memory_order_release);
      return false;
    }
    buffer_ = (e / FrontEndEpoch::step) & 1;
    return true;
  }
  /// Inside an open window: bytes charged to kind k (negative: credited), modulo 2^64.
  void add(std::size_t k, std::uint64_t bytes) noexcept {
    auto& d = buffers_[buffer_][k];
    d.store(d.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }
  /// The owning thread, done with its cache: closes the window (release).
  void close() noexcept { seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  /// The heap, under its lock, after changing the epoch: waits until this thread's window is closed.
  void wait_closed() const noexcept {
    for (unsigned spins = 0; seq_.load(std::memory_order_seq_cst) & 1; ++spins) {
#if MHEAP_HAS_THREADS
      if (spins >= 64) {
        std::this_thread::yield();  // the thread may have been preempted inside its window
        continue;
      }
#endif
      detail::cpu_relax();
    }
  }
  /// The heap, under its lock, with this window closed since the epoch moved off `old`: the
  /// deltas of buffer (old parity), f(k, bytes) for each non-zero one, zeroed.
  template <class F>
  void take(std::uint32_t old, F&& f) noexcept {
    take_buffer((old / FrontEndEpoch::step) & 1, f);
  }
  /// Both buffers: the owning thread under the heap lock, or the heap while the front end is stopped.
  template <class F>
  void take_all(F&& f) noexcept {
    take_buffer(0, f);
    take_buffer(1, f);
  }

 private:
  template <class F>
  void take_buffer(std::size_t b, F& f) noexcept {
    for (std::size_t k = 0; k < Kinds; ++k) {
      const std::uint64_t v = buffers_[b][k].load(std::memory_order_relaxed);
      if (v != 0) {
        buffers_[b][k].store(0, std::memory_order_relaxed);
        f(k, v);
      }
    }
  }

  std::atomic<std::uint64_t> seq_{0};  // odd while the owner is inside a window
  std::size_t buffer_ = 0;             // the owner's: which buffer this window adds to
  std::array<std::array<std::atomic<std::uint64_t>, Kinds>, 2> buffers_{};
};

}  // namespace mheap
