// SPDX-License-Identifier: BSL-1.0
// mheap/window_fence.hpp — which side of a heap's window handshake pays for its store-then-load
// order, chosen from how often the heap is cut.
//
// Every alloc and free through a thread cache opens a window (mheap/consistent_stats.hpp), and
// every cut or stop of the front end (stats(), growth, scavenging, audit) waits the open ones out.
// The order both sides need is paid either by the threads, a seq_cst store per window (about 8 ns
// here), or by the heap, one membarrier(2) call per cut that may meet another thread's window (8.3
// us with another thread running): mheap/detail/asymmetric_fence.hpp. Which costs less depends on
// how many windows open between two cuts; at about a thousand they cost the same. Measured
// (2026-12-07, one worker churning Heap<>, another thread calling stats() with 100 us pauses): 24 us
// per stats() on the asymmetric fence, 1.1 us on the symmetric one.
//
// So each heap counts the windows opened between its cuts (from the windows' seqs, which it reads
// anyway while it waits for them: nothing on the threads' side) and, after each cut:
//   asymmetric, fewer than enter_below windows since the last cut -> symmetric from the next cut;
//   symmetric, at least leave_at windows since the last cut        -> asymmetric at once;
//   no other thread's cache in the heap                            -> asymmetric at once (a cut
//                                    then needs no call: the cutting thread's own window is closed);
// and, so that a heap whose cuts stop altogether does not stay symmetric, leave_after_visits lock
// visits by its threads' caches with no cut in between -> asymmetric at once. Without membarrier(2)
// (not registered, mheap/detail/asymmetric_fence.hpp) a heap is always symmetric.
//
// Why a switch keeps the order. Every window reads the epoch's symmetric bit before its store, and
// the epoch again after it (CacheWindow::open).
//   To symmetric: the bit is set by a cut's epoch store, and that cut still calls membarrier(2)
//     (heavy_needed() looks at the epoch before it). A window whose light store came before the
//     barrier it was made to execute is seen open and waited out. One whose store came after it
//     loads the new epoch after that store, finds it differs from the one it chose its store by,
//     and executes a full fence before it loads the epoch again: its store is then ordered before
//     every later cut. Windows that read the bit store seq_cst. So no later cut, which makes no
//     call, can miss a light store.
//   To asymmetric: the bit is cleared, and every cut from an epoch without it calls membarrier(2),
//     which orders stores of either kind. Nothing to wait for.
// Only the heap lock's holder writes the epoch, so a plain load and store under the lock suffice.
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
  static constexpr std::uint64_t enter_below = 8 * 1024;   ///< windows between cuts: go symmetric below
  static constexpr std::uint64_t leave_at = 32 * 1024;    ///< windows between cuts: go asymmetric from
  static constexpr std::uint32_t leave_after_visits = leave_at;  ///< lock visits without a cut: go asymmetric

  /// The epoch `next` a cut or stop is about to store, with this heap's fence bit.
  std::uint32_t with_fence(std::uint32_t next) const noexcept {
    return symmetric() ? next | FrontEndEpoch::symmetric : next & ~FrontEndEpoch::symmetric;
  }
  /// Whether a cut from epoch `old` must call membarrier(2) before it waits: only on the asymmetric
  /// fence, and only if another thread's window may be open.
  static bool heavy_needed(std::uint32_t old, bool others) noexcept {
    return others && !(old & FrontEndEpoch::symmetric);
  }
  /// After a cut that waited out every listed window: `seq_sum`, the sum of their seqs then;
  /// `others`, whether any belongs to another thread than the caller.
  void after_cut(FrontEndEpoch& epoch, std::uint64_t seq_sum, bool others) noexcept {
    const std::uint64_t windows = (seq_sum - seq_sum_at_cut_) / 2;  // modulo 2^64, as the seqs
    seq_sum_at_cut_ = seq_sum;
    visits_ = 0;
    const bool now = (epoch.value.load(std::memory_order_relaxed) & FrontEndEpoch::symmetric) != 0;
    chose_symmetric_ = others && windows < (now ? leave_at : enter_below);
    if (now && !symmetric()) go_asymmetric(epoch);
  }
  /// A thread's cache takes the heap lock (a refill, or a span its cache has no room for).
  void visit_locked(FrontEndEpoch& epoch) noexcept {
    if (chose_symmetric_ && ++visits_ >= leave_after_visits) {
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
    epoch.value.store(epoch.value.load(std::memory_order_relaxed) & ~FrontEndEpoch::symmetric,
                      std::memory_order_relaxed);
  }

  bool chose_symmetric_ = false;     // cut often: the threads pay (the epoch's bit follows at the next cut)
  std::uint64_t seq_sum_at_cut_ = 0;  // the listed windows' seqs at the last cut, less those retired since
  std::uint32_t visits_ = 0;          // lock visits by the threads' caches since the last cut
};

}  // namespace mheap
