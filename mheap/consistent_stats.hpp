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
//   the cache's thread, per operation          the heap, under its lock
//   f = epoch          (relaxed: which fence)  epoch += step     (seq_cst)   [stop: set bit 0]
//   seq odd            (store *)               membarrier(2) *, on the asymmetric fence, if
//   e = epoch          (seq_cst)                 another thread has a cache here
//   if e != f: full fence, e = epoch           per cache: wait while seq is odd (seq_cst)
//   if e is stopped (or bypassed, or asks a    per cache: take buffer[old parity], zero it
//     visit now): seq even, take the lock      [a cut while stopped: the store alone, relaxed]
//   use the cache; buffer[e parity] += bytes
//   seq even          (release)
//
// Either the thread's epoch load sees the new epoch (its operation lands after the cut) or the
// heap's load of seq sees it odd and waits for the operation to finish before the cut. Both sides
// need their store ordered before their load (*): mheap/detail/asymmetric_fence.hpp either puts
// that cost on the heap's side (on Linux one membarrier(2) call per cut or stop, none when no other
// thread has a cache in the heap), so the thread's side is a plain store, or leaves both seq_cst;
// each heap chooses from how often it is cut (mheap/window_fence.hpp, the epoch's bit 2).
// An operation that happened before another thread's operation in the old buffer is itself in the
// old buffer, so a fold is a consistent cut: a snapshot counts a span as live exactly when it was
// live at the cut.
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
#include "detail/asymmetric_fence.hpp"
#include "detail/cpu_relax.hpp"
#include "detail/lock_guard.hpp"
#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS

#if MHEAP_HAS_THREADS
#include <thread>
#endif

namespace mheap {

/// The epoch every thread reads: on a cache line of its own, written only under the heap lock.
/// Bit 0: the front end is stopped (for a moment); bit 1: it is bypassed (while a retention bound is
/// set, every free must be checked against it under the lock); bit 2: the windows' fence is
/// symmetric (each thread's store is seq_cst, and a cut needs no membarrier(2):
/// mheap/window_fence.hpp sets it while the heap is cut often); bit 3: the heap chose that fence
/// and may leave it, so each thread visits the lock now and then; bit 4: which buffer the threads'
/// deltas go to. A new heap starts symmetric: the asymmetric fence needs the process registered,
/// which the first window does.
struct alignas(detail::cache_line_bytes) FrontEndEpoch {
  static constexpr std::uint32_t stopped = 1;    ///< bit 0: the front end is stopped
  static constexpr std::uint32_t bypassed = 2;   ///< bit 1: the front end is bypassed
  static constexpr std::uint32_t symmetric = 4;  ///< bit 2: windows open with a seq_cst store
  static constexpr std::uint32_t visits = 8;     ///< bit 3: windows visit the lock now and then
  static constexpr std::uint32_t step = 16;      ///< one cut; bit 4 picks the delta buffer
  /// While bit 3 is set a thread takes the heap lock once per this many windows, cut or not, so
  /// that the heap can switch back (mheap/window_fence.hpp).
  static constexpr std::uint64_t windows_per_visit = 4096;
  std::atomic<std::uint32_t> value{symmetric};   ///< the epoch
};

/// What one thread's window holds for one kind since the last fold: the bytes it charged net of
/// those it credited (modulo 2^64), and the spans and bytes it handed out and took back (the
/// kind's KindTotals, mheap/stats.hpp). The free bytes are alloc_bytes - net_bytes.
struct KindDelta {
  std::uint64_t net_bytes = 0;    ///< charged minus credited, modulo 2^64
  std::uint64_t allocs = 0;       ///< spans handed out
  std::uint64_t frees = 0;        ///< spans taken back
  std::uint64_t alloc_bytes = 0;  ///< bytes handed out
};

/// One thread's window onto its cache, and its counter deltas per kind (Kinds of them) in two
/// buffers; the protocol is in the header's comments.
template <std::size_t Kinds>
class alignas(detail::cache_line_bytes) CacheWindow {
 public:
  /// Made by its owning thread, before its cache is registered with a heap: so the process has
  /// registered for membarrier(2), if it can, before a heap may choose the light store for this
  /// window (mheap/detail/asymmetric_fence.hpp, mheap/window_fence.hpp).
  CacheWindow() noexcept : owner_(this_thread()) { detail::AsymmetricFence::enable(); }
  /// Whether the calling thread owns this window (the only thread that opens it).
  bool mine() const noexcept { return owner_ == this_thread(); }
  /// The owning thread, before it touches its cache: false (and nothing open) when the front end
  /// is stopped or bypassed, and once per FrontEndEpoch::windows_per_visit windows while the heap
  /// asks for visits; the caller then takes the heap lock instead. (open() and close() are forced
  /// inline: g++ called them out of line from free(), 37.3 → 35.6 ns per op on the default heap's
  /// one-thread bench, 2026-12-07.)
  [[gnu::always_inline]] bool open(const FrontEndEpoch& epoch) noexcept {
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    const std::uint32_t fence = epoch.value.load(std::memory_order_relaxed);
    detail::AsymmetricFence::store_before_loads(seq_, s + 1, !(fence & FrontEndEpoch::symmetric));
    std::uint32_t e = epoch.value.load(std::memory_order_seq_cst);
    if (e != fence) [[unlikely]] {
      // The heap moved the epoch between the two loads, perhaps to the symmetric fence, whose cuts
      // make no membarrier(2) call: a light store must not stay unordered into them.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      e = epoch.value.load(std::memory_order_seq_cst);
    }
    if (e & (FrontEndEpoch::stopped | FrontEndEpoch::bypassed | FrontEndEpoch::visits)) [[unlikely]] {
      if ((e & (FrontEndEpoch::stopped | FrontEndEpoch::bypassed)) || s % (2 * FrontEndEpoch::windows_per_visit) == 0) {
        seq_.store(s + 2, std::memory_order_release);
        return false;
      }
    }
    buffer_ = (e / FrontEndEpoch::step) & 1;
    return true;
  }
  /// Inside an open window: a span of kind k and `bytes` handed out.
  void add_alloc(std::size_t k, std::uint64_t bytes) noexcept {
    Slot& d = buffers_[buffer_][k];
    bump(d.net_bytes, bytes);
    bump(d.allocs, 1);
    bump(d.alloc_bytes, bytes);
  }
  /// Inside an open window: a span of kind k and `bytes` taken back.
  void add_free(std::size_t k, std::uint64_t bytes) noexcept {
    Slot& d = buffers_[buffer_][k];
    bump(d.net_bytes, -bytes);
    bump(d.frees, 1);
  }
  /// The owning thread, done with its cache: closes the window (release).
  [[gnu::always_inline]] void close() noexcept { seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  /// The heap, under its lock, after changing the epoch and then (on the asymmetric fence)
  /// detail::AsymmetricFence::heavy(): waits until this thread's window is closed. Returns the
  /// window's seq then, which grows by 2 per window opened (mheap/window_fence.hpp counts them).
  std::uint64_t wait_closed() noexcept {
    std::uint64_t seq;
    for (unsigned spins = 0; (seq = seq_.load(std::memory_order_seq_cst)) & 1; ++spins) {
#if MHEAP_HAS_THREADS
      if (spins >= 64) {
        std::this_thread::yield();  // the thread may have been preempted inside its window
        continue;
      }
#endif
      detail::cpu_relax();
    }
    seq_at_cut_ = seq;
    return seq;
  }
  /// The owning thread, or the heap with the window closed: the window's seq (2 per window opened).
  std::uint64_t seq() const noexcept { return seq_.load(std::memory_order_relaxed); }
  /// Under the heap lock: windows this thread opened since the heap's last cut waited for it.
  std::uint64_t windows_since_cut() const noexcept { return (seq() - seq_at_cut_) / 2; }
  /// The heap, under its lock, with this window closed since the epoch moved off `old`: the
  /// deltas of buffer (old parity), f(k, KindDelta) for each kind that moved, zeroed.
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
  // The owner's words: only it writes them, inside a window; the heap reads and zeroes them only
  // while that buffer is out of the owner's reach (after the cut or during a stop).
  struct Slot {
    std::atomic<std::uint64_t> net_bytes{0};
    std::atomic<std::uint64_t> allocs{0};
    std::atomic<std::uint64_t> frees{0};
    std::atomic<std::uint64_t> alloc_bytes{0};
  };
  static void bump(std::atomic<std::uint64_t>& word, std::uint64_t by) noexcept {
    word.store(word.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  static std::uint64_t take_word(std::atomic<std::uint64_t>& word) noexcept {
    const std::uint64_t v = word.load(std::memory_order_relaxed);
    if (v != 0) word.store(0, std::memory_order_relaxed);
    return v;
  }

  template <class F>
  void take_buffer(std::size_t b, F& f) noexcept {
    for (std::size_t k = 0; k < Kinds; ++k) {
      Slot& s = buffers_[b][k];
      const KindDelta d{take_word(s.net_bytes), take_word(s.allocs), take_word(s.frees), take_word(s.alloc_bytes)};
      if ((d.allocs | d.frees) != 0) f(k, d);  // every change counts a span: no span, no change
    }
  }

  // The address of a thread-local byte: which thread this is, with no system call. Two live threads
  // never share it; a thread started after another's exit may get the same address, but by then the
  // exited thread's caches have left every heap's list (ThisThread's Owned, at thread exit), so no
  // listed window can be mistaken for the caller's. (After fork(), a child's thread may match a
  // parent thread's cache left in a list; that cache's thread does not exist, and never opens it.)
  static const void* this_thread() noexcept {
    static thread_local const char tag = 0;
    return &tag;
  }

  std::atomic<std::uint64_t> seq_{0};  // odd while the owner is inside a window
  const void* owner_;                  // this_thread() of the owning thread
  std::uint64_t seq_at_cut_ = 0;       // the heap's, under its lock: seq_ when its last cut waited
  std::size_t buffer_ = 0;             // the owner's: which buffer this window adds to
  std::array<std::array<Slot, Kinds>, 2> buffers_{};
};

}  // namespace mheap
