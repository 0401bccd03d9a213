// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/release_engine.hpp — giving idle pages back to the page source: when a span counts as idle
/// long enough (IdleTicks), and which pages of which spans one trip releases (ReleaseBatch).
///
/// The heap keeps only the moves that need its lock: it takes a batch's spans out of the free set
/// (state scavenging), drops the lock while ReleaseBatch::release() makes the system calls, and
/// puts them back, settled (mheap/heap_core.hpp, release_locked()). Both pieces here can be driven
/// without a heap (test/release_engine_test.cpp). They are parts of the heap, documented for
/// whoever works on it; a user calls Heap::scavenge(), scavenge_idle() or set_idle_retention().
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "layout.hpp"
#include "sanitizers.hpp"
#include "span_state.hpp"
#include "stats.hpp"

namespace mheap {

/// Go 1.9's idle-time rule without a clock read on the free path. Each scavenge_idle() call is a
/// tick; a span is stamped, when it becomes free, with the current tick number (one load), and counts
/// as free from the start of the next tick. The start times of the last `history` ticks are kept.
class IdleTicks {
 public:
  static constexpr std::size_t history = 64;  ///< tick start times kept

  /// The stamp for a span that becomes free now: the current tick number.
  std::uint64_t stamp() const noexcept { return tick_; }
  /// A scavenge_idle() call begins a tick at time now.
  void begin_tick(std::uint64_t now) noexcept {
    ++tick_;
    started_[tick_ % history] = now;
  }

  /// True when a span stamped `stamp` has been free for at least min_ns at `now`. It became free
  /// before tick stamp + 1 started; if that start has left the history, the oldest start kept is a
  /// later time, so judging by it is never early. A span freed during the current tick is never old.
  bool idle_at_least(std::uint64_t stamp, std::uint64_t now, std::uint64_t min_ns) const noexcept {
    std::uint64_t next = stamp + 1;
    if (next > tick_) return false;  // freed during the current tick
    if (tick_ - next >= history) next = tick_ - history + 1;
    // A call that read its clock before another call began a later tick (both can be releasing
    // at once, each with the lock dropped) sees that tick start after its `now`: not idle yet.
    const std::uint64_t started = started_[next % history];
    return now >= started && now - started >= min_ns;
  }

 private:
  std::uint64_t tick_ = 0;                      // ticks so far
  std::array<std::uint64_t, history> started_{};  // [t % history]: when tick t began
};

/// The retention bound: after a free, idle bytes not yet released above `bound` are released. The
/// bound is reached except for idle pages no release can cover (runs shorter than the page source's
/// granule, and what a source refused). What a pass leaves above the bound is remembered as the
/// shortfall, and the next pass waits until idle memory grows past it, so frees do not scan the free
/// set again and again for pages that cannot go; allocations from the free set lower it as they take
/// idle memory, so memory freed later is not tolerated in place of what was taken.
class RetentionBound {
 public:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);  ///< no bound: keep everything

  /// A bound of `bound` unreleased idle bytes (none: no bound).
  constexpr explicit RetentionBound(std::size_t bound) noexcept : bound_plus_one_(bound + 1) {}
  /// Changes the bound; forgets the shortfall.
  void set(std::size_t bound) noexcept {
    bound_plus_one_ = bound + 1;
    shortfall_ = 0;
  }
  /// Whether there is a bound at all.
  bool is_set() const noexcept { return bound_plus_one_ != 0; }
  /// Bytes a pass should release now, given the idle bytes not yet released (0: no pass).
  std::size_t pass_budget(std::size_t unreleased) const noexcept {
    const std::size_t excess = excess_of(unreleased);
    return excess > shortfall_ ? excess : 0;
  }
  /// After a pass: what it left above the bound (in-flight releases of other calls excluded).
  void after_pass(std::size_t unreleased_left) noexcept { shortfall_ = excess_of(unreleased_left); }
  /// Whether a shortfall is remembered (the alloc path asks before calling after_alloc(): one compare).
  bool has_shortfall() const noexcept { return shortfall_ != 0; }
  /// After an allocation took idle memory: the shortfall shrinks with the idle bytes left.
  void after_alloc(std::size_t unreleased) noexcept { shortfall_ = std::min(shortfall_, excess_of(unreleased)); }

 private:
  std::size_t bound() const noexcept { return bound_plus_one_ - 1; }
  std::size_t excess_of(std::size_t unreleased) const noexcept { return unreleased > bound() ? unreleased - bound() : 0; }

  // Unreleased idle bytes kept at most, plus one (wrapping): `none` is stored as 0, so a heap
  // without a bound is all zero bytes when constant-initialised and stays in .bss.
  std::size_t bound_plus_one_;
  std::size_t shortfall_ = 0;  // excess the last pass could not release
};

/// Whether a release may exceed its budget. A span that is already partly released can only be
/// released whole (where its released pages lie is not recorded), which may overshoot: fine for the
/// retention bound (a floor on what to release), not for scavenge(max_bytes) (a ceiling).
enum class Overshoot {
  forbidden,  ///< the budget is a ceiling (scavenge(max_bytes))
  allowed,    ///< the budget is a floor (the retention bound)
};

/// One trip's worth of releases: up to Size spans, each with the run of pages to give back.
template <class SpanT, std::size_t PageShift, std::size_t Size = 32>
class ReleaseBatch {
 public:
  static constexpr std::size_t page_bytes = std::size_t{1} << PageShift;  ///< bytes per heap page

  /// One span's release: planned by plan(), made by release(), accounted by settle().
  struct Job {
    SpanT* span;                 ///< the span, out of the free set (scavenging) meanwhile
    std::byte* from;             ///< whole granules of the page source
    std::size_t bytes;           ///< bytes to release from `from`
    std::size_t released_after;  ///< the span's released pages once this job is done
    bool done;                   ///< the source gave back every byte asked
  };

  /// The highest `pages` pages of s, in whole granules of the page source: what a release of them
  /// really gives back, so heap_released counts exactly that. Rounded inward (a run shorter than a
  /// granule gives nothing) under a ceiling; under a floor (Overshoot::allowed) the start rounds
  /// outward, as far as the span reaches, so the run covers at least `pages` when the span can. A
  /// span's released pages always lie inside its whole length rounded inward, so releasing that run
  /// covers them all.
  struct PageRun {
    std::byte* from;    ///< first byte (null when nothing can be released)
    std::size_t pages;  ///< heap pages from `from` to the end of the span's releasable part
  };
  /// See PageRun.
  static PageRun releasable(const SpanT& s, std::size_t pages, std::size_t granule,
                            Overshoot overshoot = Overshoot::forbidden) noexcept {
    const auto base = reinterpret_cast<std::uintptr_t>(s.base);
    const auto end = base + (s.npages << PageShift);
    std::uintptr_t lo = end - (pages << PageShift), hi = end;
    if (granule > page_bytes) {
      hi = hi / granule * granule;
      if (overshoot == Overshoot::allowed) {
        std::uintptr_t outward = lo / granule * granule;
        if (hi >= granule && outward > hi - granule) outward = hi - granule;  // at least one granule
        lo = std::max(layout::align_up(base, granule), outward);
      } else {
        lo = layout::align_up(lo, granule);
      }
      if (hi <= lo) return {nullptr, 0};
    }
    return {reinterpret_cast<std::byte*>(lo), (hi - lo) >> PageShift};
  }

  /// Picks spans from free_set.visit_largest_first() that `wanted` accepts until `budget` bytes are
  /// planned or the batch is full: whole spans while they fit, a clean span's highest pages to use
  /// up the rest, a partly released span whole again. Returns the bytes the batch would release.
  /// Changes nothing. Cost: O(spans visited); stops at the first span once the budget is met.
  template <class FreeSetT, class Wanted>
  std::size_t plan(FreeSetT& free_set, std::size_t budget, std::size_t granule, Overshoot overshoot, Wanted&& wanted) {
    n_ = 0;
    std::size_t planned = 0;
    free_set.visit_largest_first([&](SpanT& s) {
      if (s.idle.npreleased == s.npages || !wanted(s)) return false;
      const std::size_t remaining = budget - planned;
      // Whole pages: rounded down under a ceiling, up under a floor.
      const std::size_t left =
          (remaining >> PageShift) + (overshoot == Overshoot::allowed && (remaining & (page_bytes - 1)) != 0);
      if (left == 0) return true;  // not a page left to release: stop looking
      const PageRun run = releasable(s, s.idle.npreleased == 0 ? std::min(s.npages, left) : s.npages, granule, overshoot);
      if (run.pages <= s.idle.npreleased) return false;  // nothing more this span can give
      const std::size_t fresh = run.pages - s.idle.npreleased;
      if (fresh > left && overshoot == Overshoot::forbidden) return false;
      jobs_[n_++] = Job{&s, run.from, run.pages << PageShift, run.pages, false};
      planned += fresh << PageShift;
      return n_ == Size || planned >= budget;
    });
    return planned;
  }

  /// Makes the system calls: source.release() for every job. Called with the heap lock dropped
  /// (the spans are out of the free set meanwhile). A job counts as done only when the source gave
  /// back every byte asked; anything else is a refusal, and nothing of it is counted.
  template <bool Valgrind, class Source>
  void release(Source& source) noexcept {
    for (Job& job : jobs()) {
      detail::unpoison_memory<Valgrind>(job.from, job.bytes, false);  // a source may write it (StaticArena zeroes)
      job.done = source.release(job.from, job.bytes) == job.bytes;
      detail::poison_free_memory<Valgrind>(job.from, job.bytes);
    }
  }

  /// Accounts one job's outcome in its span and the counters; returns the bytes newly released.
  std::size_t settle(Job& job, Stats& stats, HeapEvents& events) noexcept {
    ++events.release_calls;
    if (!job.done) return 0;
    SpanT* s = job.span;
    const std::size_t fresh = job.released_after - s->idle.npreleased;
    events.released_bytes += job.bytes;
    s->idle.npreleased = job.released_after;
    stats.heap_released += fresh << PageShift;
    if (s->idle.npreleased == s->npages) s->needzero = false;  // released pages read as zero
    return fresh << PageShift;
  }

  /// The planned jobs, for a range-for.
  struct Range {
    Job* b;                                     ///< first job
    Job* e;                                     ///< one past the last
    Job* begin() const noexcept { return b; }   ///< First job.
    Job* end() const noexcept { return e; }     ///< One past the last job.
  };
  Range jobs() noexcept { return {jobs_.data(), jobs_.data() + n_}; }  ///< The jobs plan() made.
  std::size_t size() const noexcept { return n_; }                    ///< How many jobs plan() made.
  static constexpr std::size_t capacity() noexcept { return Size; }   ///< Jobs per trip at most.
  /// Whether every job's release succeeded.
  bool all_done() const noexcept {
    return std::all_of(jobs_.begin(), jobs_.begin() + static_cast<std::ptrdiff_t>(n_), [](const Job& j) { return j.done; });
  }

 private:
  std::array<Job, Size> jobs_;
  std::size_t n_ = 0;
};

}  // namespace mheap
