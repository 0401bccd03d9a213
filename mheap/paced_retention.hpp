// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/paced_retention.hpp — the paced bound: how much idle memory a heap keeps unreleased
/// relative to the bytes in use, and when a pass releases the rest (Config::idle_retention_percent,
/// idle_retention_decay_ms). The heap asks it after frees and before growth
/// (mheap/heap_release.hpp); the releases themselves are mheap/release_engine.hpp's.
#pragma once
#include "detail/require_cxx20.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mheap {

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
  /// A heap of k arenas (mheap/arena_set.hpp) gives each a k-th of the floor, so that together
  /// their floors add up to one heap's. 1: the whole floor.
  void share_floor(std::size_t k) noexcept { floor_cut_ = Floor - Floor / k; }
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
  /// `frees` frees (a batch drained at once counts each of its spans) found idle memory above the
  /// bound: whether one of them is due to read the clock (and may release); the count restarts
  /// from it. None: nothing is due.
  bool clock_due(std::uint32_t frees = 1) noexcept {
    if (frees == 0) return false;
    if constexpr (decays) {
      if (countdown_ >= frees) {
        countdown_ -= frees;
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
  std::size_t bound_of(std::size_t inuse) const noexcept {
    constexpr std::size_t most = static_cast<std::size_t>(-1) / (Percent == 0 ? 1 : Percent);
    const std::size_t hundredths = inuse / 100;  // a share past SIZE_MAX saturates (any Percent is valid)
    const std::size_t share = hundredths > most ? static_cast<std::size_t>(-1) : hundredths * Percent;
    const std::size_t floor = Floor - floor_cut_;
    return share > floor ? share : floor;
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
  std::size_t floor_cut_ = 0;            // the floor is Floor less this (share_floor)
};

}  // namespace mheap
