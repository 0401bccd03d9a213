// SPDX-License-Identifier: BSL-1.0
// mheap/heap_release.hpp — the release loop: HeapCore's part of giving memory back. What to
// release and in which batches is planned in mheap/release_engine.hpp; here the batches leave the
// free set, the lock is dropped around the page source's release() calls, and they come back
// merged. Members of HeapCore (mheap/heap_core.hpp), defined here.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "heap_core.hpp"

namespace mheap {

// Unreleased idle bytes less the spans other calls are releasing with the lock dropped (state
// scavenging): they are on their way out, and a pass that counted them would release that excess
// twice. It saturates at 0: those spans may be partly released already (their whole length is
// taken off), and with thread caches stats_ lags the threads' deltas until the next fold.
template <class Config>
std::size_t HeapCore<Config>::unreleased_idle_not_in_flight() const noexcept {
  const std::size_t gone = stats_.heap_released + (releasing_pages_ << page_shift);
  return stats_.heap_idle > gone ? stats_.heap_idle - gone : 0;
}

template <class Config>
void HeapCore<Config>::enforce_retention_bound() noexcept {
  const std::size_t budget = retention_.pass_budget(unreleased_idle_not_in_flight());
  if (budget == 0) return;
  front_.flush_all_locked(*this);  // parked spans are idle too, and only the free set can be released
  release_locked(budget, [](const span_type&) { return true; }, Overshoot::allowed);
  retention_.after_pass(unreleased_idle_not_in_flight());  // others' in-flight spans will go
}

// After a free that grew the free set: the paced bound (Config::idle_retention_percent). A few
// loads, a division by a constant, two compares and the episode's store or countdown; a clock
// read and maybe a pass only when idle memory has outgrown it.
// With thread caches this reads the counters as of the last fold, so it may fire early or late
// (until a later check after a fold); so may the start of an episode, which is decided without a
// fold (a fold per over-bound free would cost the threads more); a pass folds before it decides.
template <class Config>
void HeapCore<Config>::pace_retention_locked(std::uint32_t frees) noexcept {
  if constexpr (paces) {
    if (paced_.pass_budget(unreleased_idle_not_in_flight(), stats_.heap_inuse) == 0)
      paced_.below();
    else if (paced_.clock_due(frees)) [[unlikely]]
      paced_release();
  }
  (void)frees;
}

// set_idle_retention: a bound the caller picks replaces the paced one, for good.
template <class Config>
void HeapCore<Config>::stop_pacing_locked() noexcept {
  if constexpr (paces) paced_.turn_off();
}

// A pass of the paced bound (PacedRetention): from the free set only. Parked spans stay where
// they are: flushing every cache (with thread caches, a stop of every thread) for each pass would
// cost the threads more than the pages are worth, and the caches are bounded. The threads'
// deltas are folded in first, so the pass decides on exact counters.
template <class Config>
void HeapCore<Config>::paced_release() noexcept {
  // The episode's age first, on the counters as they are: a free inside the decay that would
  // release less than the minimum costs a clock read, not a fold of every thread's deltas.
  std::uint64_t now = 0;
  if constexpr (paced_type::decays) {
    now = clock_.now();
    if (!paced_.continue_episode(now)) return;  // it begins: nothing goes yet
    if (paced_.decayed(paced_.pass_budget(unreleased_idle_not_in_flight(), stats_.heap_inuse), stats_.heap_inuse,
                       now) == 0)
      return;
  }
  front_.fold_locked(*this);
  if (paced_.pass_budget(unreleased_idle_not_in_flight(), stats_.heap_inuse) == 0) return;  // the check was stale
  paced_.judge_last_pass(stats_.heap_released);  // may widen the slack: ask again
  const std::size_t excess = paced_.pass_budget(unreleased_idle_not_in_flight(), stats_.heap_inuse);
  const std::size_t budget = paced_.decayed(excess, stats_.heap_inuse, now);
  if (budget == 0) return;
  const std::size_t released = release_locked(budget, [](const span_type&) { return true; }, Overshoot::allowed);
  paced_.passed(now);
  // Others' in-flight spans will go; what this pass released is judged before the next one; what
  // the decay deferred is not a shortfall.
  paced_.after_pass(unreleased_idle_not_in_flight(), stats_.heap_inuse, released, stats_.heap_released,
                    excess - budget);
}

// Before the heap grows for an allocation of n pages, with the front end flushed and the counters
// folded: Go's synchronous scavenging. The growth commits what plan_growth() says; the allocation
// takes the free span ending the arena, if any, and the fresh pages it still needs.
// True when it released, with the lock dropped meanwhile: the caller looks at the free set again.
// The free span ending the arena is left alone: the growth takes it in and the allocation uses it
// (releasing it would cost a system call and its faults for nothing).
template <class Config>
bool HeapCore<Config>::release_before_growth(std::size_t n) noexcept {
  if constexpr (paces) {
    const GrowthPlan g = plan_growth(n);
    if (g.ask == 0) return false;  // the growth will fail: nothing to make room for
    const std::size_t tail_pages = g.tail_pages;
    const std::size_t tail_unreleased = tail_pages != 0 ? (tail_pages - g.tail->released_pages()) << page_shift : 0;
    const std::size_t fresh_in_use = n > tail_pages ? n - tail_pages : 0;
    const std::size_t unreleased = unreleased_idle_not_in_flight();
    // After the allocation: the tail in use, and the pages committed beyond the request idle.
    const std::size_t unreleased_after = (unreleased > tail_unreleased ? unreleased - tail_unreleased : 0) +
                                         ((g.ask > fresh_in_use ? g.ask - fresh_in_use : 0) << page_shift);
    const std::size_t budget = paced_.growth_budget(unreleased_after, stats_.heap_inuse + (n << page_shift));
    if (budget == 0) return false;
    release_locked(budget, [tail = g.tail](const span_type& s) { return &s != tail; }, Overshoot::allowed);
    return true;
  } else {
    (void)n;
    return false;
  }
}

// An allocation took `bytes` from the free set during an episode above the paced bound: if no
// pass is due any more, the hole was refilled in time and the episode is over.
template <class Config>
void HeapCore<Config>::end_episode_after_alloc(std::size_t bytes) noexcept {
  if constexpr (paces) {
    const std::size_t unreleased = unreleased_idle_not_in_flight();
    if (paced_.pass_budget(unreleased > bytes ? unreleased - bytes : 0, stats_.heap_inuse + bytes) == 0) paced_.below();
  } else {
    (void)bytes;
  }
}

// Releases up to `budget` bytes from the free spans `wanted` accepts, largest first, a batch at a
// time: free → scavenging (out of the free set), the lock dropped around the system calls, then
// scavenging → free, settled and merged. Called and returns with the lock held.
template <class Config>
template <class Wanted>
std::size_t HeapCore<Config>::release_locked(std::size_t budget, Wanted wanted, Overshoot overshoot) {
  const std::size_t granule = granule_of(source_);
  std::size_t released = 0;
  for (;;) {
    release_batch_type batch;
    batch.plan(free_, budget - released, granule, overshoot, wanted);
    if (batch.size() == 0) return released;
    for (auto& job : batch.jobs()) {
      detail::internal_check<checks>([&] { return job.span->state == SpanState::free; }, "release: span not free");
      free_.erase(*job.span);
      job.span->state = SpanState::scavenging;
      releasing_pages_ += job.span->npages;
    }
    {
      detail::UnlockGuard unlocked(lock_);
      batch.template release<Config::valgrind_annotations>(source_);
    }
    for (auto& job : batch.jobs()) {
      released += batch.settle(job, stats_, events_);
      releasing_pages_ -= job.span->npages;
      detail::internal_check<checks>([&] { return job.span->state == SpanState::scavenging; }, "release: span moved");
      job.span->state = SpanState::free;
      insert_free(job.span, free_set_type::Recency::cold);  // resident spans of its length go first
    }
    // A source that refuses is not asked again in this call.
    if (!batch.all_done() || batch.size() < batch.capacity() || released >= budget) return released;
  }
}

}  // namespace mheap
