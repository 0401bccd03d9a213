// SPDX-License-Identifier: BSL-1.0
// mheap/window_fence.hpp — which side of a heap's window handshake pays for its store-then-load
// order, chosen from how often the heap is cut.
//
// Every alloc and free through a thread cache opens a window (mheap/consistent_stats.hpp), and
// every cut or stop of the front end (stats(), growth, scavenging, audit) waits the open ones out.
// The order both sides need is paid either by the threads, a seq_cst store per window (about 3.5 ns
// here: 47 against 40 ns per alloc+free pair), or by the heap, one membarrier(2) call per cut that
// may meet another thread's window (8.3 us with another thread running, and the interrupted
// thread loses about as much again): mheap/detail/asymmetric_fence.hpp. Which costs less depends
// on how many windows open between two cuts. Measured (2026-12-07, one worker churning Heap<>,
// another thread calling stats() with pauses): at about 4,000 windows per cut the symmetric fence
// won (2.8 against 24 us per stats(), the worker 43 against 51 ns per pair); at about 58,000 the
// asymmetric one (the worker 36 ns per pair, 34-35 alone, against about 43).
//
// So each heap counts the windows opened between its cuts (from the windows' seqs, which it reads
// anyway while it waits for them: nothing on the threads' side) and, after each cut:
//   the interval ran asymmetric, fewer than enter_below windows -> symmetric from the next cut;
//   the interval ran symmetric, at least leave_at windows        -> asymmetric at once;
//   no other thread's cache in the heap                          -> asymmetric at once (a cut
//                                  then needs no call: the cutting thread's own window is closed).
// So that a heap whose cuts stop altogether does not stay symmetric, a thread on the symmetric
// fence the heap chose (the epoch's visits bit) takes the lock once per
// FrontEndEpoch::windows_per_visit windows even when its cache could serve it, and any thread's
// lock visit after leave_at windows of its own since the last cut switches to asymmetric at once.
// Without membarrier(2) (not registered) a heap is always symmetric. A cut made while the front end
// is stopped (mem_stats() folds inside a stop) waits for nothing and counts nothing
// (FrontEnd::move_epoch_locked).
//
// Why no cut that skips the call can miss a light store. Every window loads the epoch before its
// store, and stores light only if that load showed the symmetric bit clear; it loads the epoch
// again after the store, and if the two loads differ it executes a full fence and loads it a third
// time (CacheWindow::open). A cut skips the call only if the epoch it moves from has the bit set;
// if every listed cache is its own (then no other window can be open); or if the front end is
// stopped (every window that opens after the stop's handshake sees the stop and touches nothing,
// and such a cut keeps the bit as it is, so it is never the one that sets it). Take a cut C of the
// first kind, and a window W of another thread whose store was light. W's first load saw the bit
// clear, so the bit was set later by a cut C0 (the last before C to set it), which called
// membarrier(2), since the epoch it moved from had the bit clear, and W's cache was listed then (it
// is listed before it is used, under the lock). Either W's store came before the barrier its thread
// was made to execute, and C0 saw it open and waited it out, or it came after, and W's second load
// saw C0's epoch or a later one: it differs from the first in the bit, so W fenced and loaded
// again, and then either C sees W's seq odd or W's third load sees C's epoch. Switching the other
// way needs nothing: every cut from an epoch without the bit calls membarrier(2), which orders
// stores of either kind. Only the bit matters here, not the rest of the epoch; only the heap lock's
// holder writes the epoch, so a plain load and store under the lock suffice.
#pragma once
#include "detail/require_cxx20.hpp"

#include <atomic>
#include <cstdint>

#include "consistent_stats.hpp"
#include "detail/asymmetric_fence.hpp"

namespace mheap {

/// One heap's choice of window fence (the protocol is in the header's comments); used under the
/// heap lock by its front end (mheap/front_end.hpp).
class WindowFence {
 public:
  static constexpr std::uint64_t enter_below = 8 * 1024;  ///< windows between cuts: go symmetric below
  static constexpr std::uint64_t leave_at = 32 * 1024;    ///< windows between cuts: go asymmetric from

  /// The epoch `next` a cut or stop is about to store, with this heap's fence bits: symmetric, and
  /// visits only if the heap chose it and may leave it (a heap that cannot call membarrier(2) is
  /// symmetric for good, and its threads never visit for nothing).
  std::uint32_t with_fence(std::uint32_t next) const noexcept {
    next &= ~(FrontEndEpoch::symmetric | FrontEndEpoch::visits);
    if (symmetric()) next |= FrontEndEpoch::symmetric;
    if (chose_symmetric_ && detail::AsymmetricFence::asymmetric()) next |= FrontEndEpoch::visits;
    return next;
  }
  /// Whether a cut from epoch `old` must call membarrier(2) before it waits: only on the asymmetric
  /// fence, and only if another thread's window may be open.
  static bool heavy_needed(std::uint32_t old, bool others) noexcept {
    return others && !(old & FrontEndEpoch::symmetric);
  }
  /// After a cut from epoch `old` that waited out every listed window: `seq_sum`, the sum of their
  /// seqs then; `others`, whether any belongs to another thread than the caller. The threshold is
  /// the one of the fence the interval ran on (old's), not of a switch this cut made.
  void after_cut(FrontEndEpoch& epoch, std::uint32_t old, std::uint64_t seq_sum, bool others) noexcept {
    const std::uint64_t windows = (seq_sum - seq_sum_at_cut_) / 2;  // modulo 2^64, as the seqs
    seq_sum_at_cut_ = seq_sum;
    const bool was_symmetric = (old & FrontEndEpoch::symmetric) != 0;
    chose_symmetric_ = others && windows < (was_symmetric ? leave_at : enter_below);
    if (!symmetric()) go_asymmetric(epoch);
  }
  /// A thread's cache takes the heap lock (a refill, a long span, or once per
  /// FrontEndEpoch::windows_per_visit windows while the epoch asks for visits), having opened
  /// `windows` windows since the last cut: enough of them, and the heap leaves the symmetric fence
  /// without waiting for a cut that may not come.
  void visit_locked(FrontEndEpoch& epoch, std::uint64_t windows) noexcept {
    if (chose_symmetric_ && windows >= leave_at) {
      chose_symmetric_ = false;
      if (!symmetric()) go_asymmetric(epoch);
    }
  }
  /// A cache was listed: the process has registered by now, if it can (its window's constructor).
  void linked_locked(FrontEndEpoch& epoch) noexcept {
    if (!symmetric()) go_asymmetric(epoch);
  }
  /// A cache with window seq `seq` leaves the list: the windows it opened since the last cut still
  /// count towards the next.
  void retired_locked(std::uint64_t seq) noexcept { seq_sum_at_cut_ -= seq; }

 private:
  bool symmetric() const noexcept { return chose_symmetric_ || !detail::AsymmetricFence::asymmetric(); }
  static void go_asymmetric(FrontEndEpoch& epoch) noexcept {
    constexpr std::uint32_t bits = FrontEndEpoch::symmetric | FrontEndEpoch::visits;
    const std::uint32_t e = epoch.value.load(std::memory_order_relaxed);
    if (e & bits) epoch.value.store(e & ~bits, std::memory_order_relaxed);
  }

  bool chose_symmetric_ = false;      // cut often: the threads pay (the epoch's bit follows at the next cut)
  std::uint64_t seq_sum_at_cut_ = 0;  // the listed windows' seqs at the last cut, less those retired since
};

}  // namespace mheap
