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

/// The paced bound (Config::idle_retention_percent; mheap/config.hpp). Go 1.13+ keeps the memory
/// it retains near its heap goal; a page heap has no goal but the bytes in use, so here idle bytes
/// not yet released may reach Percent % of heap_inuse, or Floor bytes if that is more. Two ways
/// enforce it, as in Go: before the heap grows, all at once (growth_budget(); Go's synchronous
/// scavenging: memory the heap would grow past is memory nobody uses now), and after frees, paced
/// by time (below).
///
/// Time (DecayNs, Config::idle_retention_decay_ms): a free that finds idle memory above the bound
/// (and its slack) starts an episode and releases nothing; later frees while it lasts release the
/// share of the excess that the episode's age is of DecayNs, all of it once the episode is that
/// old; nothing until a sixteenth of DecayNs has passed since the episode began or its last pass,
/// nor while that share is under a sixteenth of the bound (no system call for less). A heap far
/// above its bound (bench large/10000: 20 GiB idle over 80 MiB in use) thus makes at most 16
/// passes per decay, not one per clock read.
/// A free or an allocation from the free set that finds no pass due (idle memory within the bound,
/// its slack and what the last pass could not release) ends the episode. Why: a bound checked
/// on frees cannot tell a hole the program is about to refill from memory it is done with, and
/// releasing a hole that is refilled costs a system call and a page fault per page (measured,
/// docs/go-accounting.md); holes refilled within DecayNs never reach a pass. Go's background
/// scavenger paces itself too, by CPU time. The clock is read only by frees that find idle memory
/// above the bound: the first of an episode and every clock_period-th after it (a read costs about
/// as much as a free, 17 ns here, and a heap far above its floor would pay it on every long free);
/// DecayNs == 0 releases at once, and no clock is read.
///
/// Checked only where a free grows the free set (never on the span-cache path). Frees push idle
/// memory over the bound, by at most their own bytes and Percent % of them, and so do allocations
/// cut from a span released in part (the whole span is made usable again and its rest returns to
/// the free set unreleased; the rest of a span released whole stays released). Without a decay, a
/// pass releases what those added since the last one, which is its pacing; with one, the decayed
/// share of it, and all of it once the episode is a decay old.
///
/// A pass runs once the excess is more than the slack, an eighth of the bound at first, and
/// releases (its share of the way) down to the bound, largest free spans first. So a span allocated and freed again and
/// again at the bound is released once, not on every free (bench large/100, 2026-12-06: 427 ns per
/// op without the slack, in release calls and faults; 58 with it; 61–65 without the bound), and a
/// heap shrinking from its peak makes a pass per eighth of the bound rather than per free.
///
/// A span longer than the slack would still go and come back on every such cycle (measured: 16 MiB
/// against a 64 MiB bound, one release call per free). So each pass first judges the one before it:
/// if allocations have since taken back at least half of the pages it released (heap_released fell
/// by that much), it released memory the program still cycles through, and the slack doubles, up
/// to the whole bound; otherwise the churn has stopped and it is an eighth again at once (memory
/// is the point of the bound). A span churned at the bound then costs a few passes, not one per
/// free; one longer than the bound itself still cycles. The price: once widened, idle memory may
/// reach the bound plus the widened slack (twice the bound at most) before the next pass, which
/// narrows it again. Two passes at once (each drops the lock around its releases) each record
/// their own outcome; the later one's stands, which only makes the next judgement less informed.
/// Releases by other calls in between raise heap_released and can hide such reuse: the slack then
/// stays narrow, which costs release calls, never memory.
///
/// What a pass could not release (idle pages parked in span caches, which it does not flush, and
/// runs below the source's granule) is tolerated until the next pass, which it also delays.
/// set_idle_retention (a bound the caller picks) turns it off.
template <unsigned Percent, std::size_t Floor, std::uint64_t DecayNs>
class PacedRetention {
 public:
  static constexpr bool decays = DecayNs != 0;  ///< whether frees release paced by time
  void turn_off() noexcept { off_ = true; }  ///< For good: the caller's own bound replaces it.
  /// Bytes to release before the heap grows: the excess over the bound of the bytes in use after
  /// the allocation, counting the idle bytes the growth adds (no slack, no decay).
  std::size_t growth_budget(std::size_t unreleased_after, std::size_t inuse_after) const noexcept {
    const std::size_t bound = bound_of(inuse_after);
    return !off_ && unreleased_after > bound ? unreleased_after - bound : 0;
  }
  static constexpr std::uint32_t clock_period = 32;  ///< over-bound frees per clock read, at most
  /// Whether an episode above the bound is running (an allocation from the free set asks, to end it).
  bool above() const noexcept {
    if constexpr (decays) return above_;
    return false;
  }
  /// No pass is due (idle memory within the bound, its slack and what the last pass could not
  /// release), found by a free or an allocation: an episode above the bound is over.
  void below() noexcept {
    if constexpr (decays) {
      above_ = false;  // the episode is over
      countdown_ = 0;
    }
  }
  /// A free found idle memory above the bound: whether it reads the clock (and may release).
  bool clock_due() noexcept {
    if constexpr (decays) {
      if (countdown_ != 0) {
        --countdown_;
        return false;
      }
      countdown_ = clock_period - 1;
    }
    return true;
  }
  /// A pass is due at `now`: true when an episode above the bound was running; false when this
  /// starts one (it releases nothing).
  bool continue_episode(std::uint64_t now) noexcept {
    if constexpr (decays) {
      if (!above_) {
        above_ = true;
        above_since_ = now;
        last_pass_at_ = now;
        return false;
      }
    }
    (void)now;
    return true;
  }
  /// The share of the excess (`excess`, over the bound of `inuse`) a pass may release at `now`, in
  /// a running episode (see the class comment); 0: no pass.
  std::size_t decayed(std::size_t excess, std::size_t inuse, std::uint64_t now) const noexcept {
    if constexpr (!decays) {
      (void)inuse, (void)now;
      return excess;
    } else {
      const std::uint64_t age = now - above_since_;
      if (age >= DecayNs) return excess;
      // A sixteenth of the decay since the episode began or its last pass: at most 16 passes per
      // decay (each takes a share of what the last left), and none in a short episode.
      if (now - last_pass_at_ < DecayNs / 16) return 0;
      const std::size_t share =
          std::min(excess, excess / 1024 * static_cast<std::size_t>(age / (DecayNs / 1024)));  // ≤ 1024/1024
      return share >= bound_of(inuse) / 16 ? share : 0;
    }
  }
  /// A pass released at `now` (decays only: the next waits a sixteenth of the decay).
  void passed(std::uint64_t now) noexcept {
    if constexpr (decays) last_pass_at_ = now;
    (void)now;
  }
  /// Bytes a pass should release now, after a free (0: no pass). One division by a constant.
  std::size_t pass_budget(std::size_t unreleased, std::size_t inuse) const noexcept {
    const std::size_t bound = bound_of(inuse);
    if (off_ || unreleased <= bound || unreleased - bound <= slack_of(bound) + tolerated_) return 0;
    return unreleased - bound;
  }
  /// When a pass is due: widens or narrows the slack by what became of the last pass's pages
  /// (`released_now` is heap_released); the caller asks pass_budget() again. Once per pass: the
  /// reuse it saw is old news to the next call, which would otherwise widen the slack again and
  /// again on the same evidence, each time the excess passes the widened slack.
  void judge_last_pass(std::size_t released_now) noexcept {
    if (judged_) return;
    judged_ = true;
    const std::size_t reused = released_after_pass_ > released_now ? released_after_pass_ - released_now : 0;
    if (last_pass_bytes_ != 0 && reused >= last_pass_bytes_ / 2) {
      if (widening_ < max_widening) ++widening_;
    } else {
      widening_ = 0;  // the churn has stopped
    }
  }
  /// After a pass: what it left above the bound (in-flight releases of other calls excluded), what
  /// it released, heap_released once it is done, and the excess it left on purpose (the decay's
  /// deferred part, which is still to go, unlike what the pass could not release).
  void after_pass(std::size_t unreleased_left, std::size_t inuse, std::size_t pass_bytes, std::size_t released_now,
                  std::size_t deferred) noexcept {
    const std::size_t bound = bound_of(inuse);
    const std::size_t left = unreleased_left > bound ? unreleased_left - bound : 0;
    tolerated_ = left > deferred ? left - deferred : 0;
    last_pass_bytes_ = pass_bytes;
    released_after_pass_ = released_now;
    judged_ = false;
  }

 private:
  static constexpr unsigned max_widening = 3;  // the slack reaches 8/8 of the bound at most
  static std::size_t bound_of(std::size_t inuse) noexcept {
    constexpr std::size_t most = static_cast<std::size_t>(-1) / (Percent == 0 ? 1 : Percent);
    const std::size_t hundredths = inuse / 100;  // a share past SIZE_MAX saturates (any Percent is valid)
    const std::size_t share = hundredths > most ? static_cast<std::size_t>(-1) : hundredths * Percent;
    return share > Floor ? share : Floor;
  }
  std::size_t slack_of(std::size_t bound) const noexcept { return (bound / 8) << widening_; }

  // All zero when constant-initialised: a heap that paces still starts in .bss.
  static_assert(DecayNs == 0 || DecayNs >= 1024, "the decay is counted in 1/1024ths");
  bool off_ = false;
  bool judged_ = false;                  // judge_last_pass() ran since the last pass
  bool above_ = false;                   // an episode above the bound is running (decays only)
  std::uint32_t countdown_ = 0;          // over-bound frees before the next clock read
  std::uint64_t above_since_ = 0;        // when it started
  std::uint64_t last_pass_at_ = 0;       // when its last pass released (its start, before one)
  unsigned char widening_ = 0;           // the slack is (bound / 8) << widening_
  std::size_t tolerated_ = 0;            // excess the last pass left (it could not release it)
  std::size_t last_pass_bytes_ = 0;      // bytes the last pass released
  std::size_t released_after_pass_ = 0;  // heap_released when it was done
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
