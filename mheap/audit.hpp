// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/audit.hpp — recompute everything from the spans and compare (Go's ReadMemStatsSlow).
///
/// The heap keeps its counters incrementally; the census walks the arena page by page through the
/// page map, visits every free span through the free set, and checks each invariant stated in
/// heap.hpp, free_set.hpp, page_map.hpp and stats.hpp. It reports what failed in words, in a fixed
/// buffer (no allocation, usable in an embedded image). O(arena pages); for tests and debugging.
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "accounting.hpp"
#include "fixed_text.hpp"
#include "mem_stats.hpp"
#include "span_state.hpp"
#include "../policies/span_kind.hpp"

namespace mheap {

/// What Heap::audit() found: true when every check held, else the failures in words.
class AuditReport {
 public:
  /// True when nothing failed.
  explicit operator bool() const noexcept { return failures_ == 0; }
  /// How many checks failed (all of them, also those past the listed few).
  std::size_t failures() const noexcept { return failures_; }
  /// One line per failure (the first few), e.g. "heap_idle is 8192, spans say 16384"; "clean" when none.
  std::string_view what() const noexcept { return failures_ == 0 ? std::string_view("clean") : text_.view(); }

  /// Records a failure; its line is the parts written one after the other (the first 16 are kept).
  template <class... Parts>
  void fail(const Parts&... parts) noexcept {
    if (++failures_ > max_listed) return;
    ((text_ << parts), ...);
    text_ << "\n";
  }
  /// Takes in another audit's failures (an arena's, mheap/arena_set.hpp), its lines under a
  /// heading "<label> <index>:".
  void merge(const char* label, std::size_t index, const AuditReport& other) noexcept {
    if (other.failures_ == 0) return;
    if (failures_ < max_listed) text_ << label << " " << std::uint64_t{index} << ":\n" << other.text_.view();
    failures_ += other.failures_;
  }
  /// A failure "<what> is <kept>, spans say <recomputed>" unless the two are equal.
  void expect_equal(const char* what, std::uint64_t kept, std::uint64_t recomputed) noexcept {
    if (kept != recomputed) fail(what, " is ", kept, ", spans say ", recomputed);
  }

 private:
  static constexpr std::size_t max_listed = 16;
  std::size_t failures_ = 0;
  FixedText<2048> text_;
};

/// The audit itself. Reads the heap's internals (it is HeapCore's friend); call Heap::audit(),
/// which holds the lock and stops the front end around it.
template <class H>
class Census {
  using span_type = typename H::span_type;
  using kinds = typename H::span_kinds;
  using stats_type = typename H::stats_type;

 public:
  /// Checks h's free set, span caches, arena and counters; h's lock must be held.
  static AuditReport run(const H& h) {
    Census c(h);
    c.check_free_set();
    c.walk_arena();
    c.check_counters();
    return c.report_;
  }

 private:
  explicit Census(const H& h) : h_(h), epoch_(++h.audit_epoch_), stats_(h.snapshot_locked()) {}

  // Every span in the free set: free, in the container for its length, in no other container.
  void check_free_set() {
    h_.free_.for_each([&](const span_type& s, std::size_t list) {
      ++in_free_set_;
      if (s.state != SpanState::free) report_.fail("free set holds a span that is not free at ", s.base);
      if (list != 0 && s.npages != list)
        report_.fail("span of ", s.npages, " pages at ", s.base, " is on free list ", list);
      if (list == 0 && s.npages < H::max_list_pages)
        report_.fail("span of ", s.npages, " pages at ", s.base, " is in the large-span tree");
      if (s.audit_mark == epoch_) report_.fail("span at ", s.base, " is in the free set twice");
      s.audit_mark = epoch_;
    });
    for (std::size_t i = 1; i < H::max_list_pages; ++i)
      if (h_.free_.bit_says_nonempty(i) == h_.free_.list_empty(i))
        report_.fail("bitmap bit ", i, " disagrees with free list ", i);
    if (!h_.free_.large_is_ordered()) report_.fail("large-span tree is not ordered by (pages, address)");
    if (const span_type* s = h_.free_.first_in_wrong_tree())
      report_.fail("span of ", s->npages, " pages at ", s->base, " is in the large-span tree for ",
                   s->fully_released() ? "resident" : "released", " spans");
    h_.free_.for_each_indexed([&](std::size_t slot, const span_type& s) {
      // Marked just above, free, long and not released whole means it is in the tree of resident
      // spans (the index covers no other); only then ask that tree.
      if (s.audit_mark != epoch_ || s.state != SpanState::free || s.npages < H::max_list_pages ||
          s.fully_released() || H::free_set_type::index_slot(s.npages) != slot)
        report_.fail("length index slot ", slot, " holds a span that is not a resident long free span of its length");
      else if (!h_.free_.is_leftmost_of_its_length(s))
        report_.fail("length index slot ", slot, " holds a span with a lower-addressed twin at ", s.base);
    });

    // Every span cache (the heap's one, or every thread's): parked spans only, each once, on the
    // stack of its kind and length, the counts and page totals right.
    h_.front_.for_each_cache([&](const auto& cache) {
      std::uint64_t pages = 0;
      std::array<std::array<std::uint32_t, H::max_list_pages>, kinds::size> on_stack{};
      cache.for_each([&](const span_type& s, std::size_t kind, std::size_t stack) {
        ++in_cache_;
        pages += s.npages;
        if (!is_held(s.state) || s.kind != kind || is_owned(s.generation))
          report_.fail("span cache holds a span that is not parked as its kind at ", s.base);
        if (s.npages != stack) report_.fail("span of ", s.npages, " pages at ", s.base, " is on cache stack ", stack);
        if (s.audit_mark == epoch_) report_.fail("span at ", s.base, " is parked twice or also free");
        s.audit_mark = epoch_;
        ++on_stack[kind][stack];
      });
      report_.expect_equal("span cache's page count", cache.pages(), pages);
      for (std::size_t k = 0; k < kinds::size; ++k)
        for (std::size_t n = 1; n < H::max_list_pages; ++n)
          if (on_stack[k][n] != cache.count(k, n))
            report_.fail("span cache stack ", k, "/", n, " counts ", cache.count(k, n), ", holds ", on_stack[k][n]);
    });
    // Every thread's outbox (parked spans its stacks had no room for) and the returned stack, each once.
    h_.front_.for_each_in_outboxes([&](const span_type& s) {
      ++in_cache_;
      if (!is_held(s.state) || is_owned(s.generation)) report_.fail("an outbox holds a span that is not parked at ", s.base);
      if (s.audit_mark == epoch_) report_.fail("span at ", s.base, " is parked twice or also free");
      s.audit_mark = epoch_;
    });
  }

  // The arena, page by page through the page map: tiled by spans, no two free spans touching.
  void walk_arena() {
    bool previous_free = false;
    const auto& map = h_.arena_.map();
    const std::size_t grown = h_.arena_.pages();
    for (std::size_t p = 0; p < grown;) {
      const span_type* s = map[p];
      if (s == nullptr || s->base != h_.arena_.page_addr(p) || s->npages == 0 || s->npages > grown - p ||
          s->state == SpanState::unused) {
        report_.fail("page map: page ", p, " does not start a span; walk stopped");
        return;
      }
      ++records_;
      const std::size_t last = p + s->npages - 1;
      if (map[last] != s) report_.fail("page map: last page of span at ", s->base, " maps elsewhere");
      const std::uint64_t bytes = std::uint64_t{s->npages} << H::page_shift;
      const bool parked = is_held(s->state) && !is_owned(s->generation);
      if (s->state == SpanState::free || s->state == SpanState::scavenging || parked) {
        // A scavenging span is free but out of the free set while another thread releases its
        // pages outside the lock; a parked one waits whole in a span cache. Both merge with
        // their neighbours when they go back to the free set.
        if (s->state == SpanState::free) {
          if (previous_free) report_.fail("free spans touch at ", s->base);
          if (s->npages > largest_free_) largest_free_ = s->npages;
          if (s->audit_mark != epoch_) report_.fail("free span at ", s->base, " is not in the free set");
          ++free_spans_;
        } else if (parked) {
          if (s->audit_mark != epoch_) {  // claimed by a free on its way to the heap (or lost): not yet credited
            ++in_transit_;
            if (s->kind < kinds::size) {
              kind_bytes_[s->kind] += bytes;
              ++kind_spans_[s->kind];
            }
            previous_free = false;
            p = last + 1;
            continue;
          }
          ++cached_spans_;
          if (s->released_pages() != 0) report_.fail("parked span at ", s->base, " has released pages");
        }
        if (s->released_pages() > s->npages) report_.fail("span at ", s->base, " has more released pages than pages");
        idle_ += bytes;
        released_ += std::uint64_t{s->released_pages()} << H::page_shift;
      } else {
        check_live(*s, p, bytes);
      }
      previous_free = s->state == SpanState::free;
      p = last + 1;
    }
    if (free_spans_ != in_free_set_)
      report_.fail("free set holds ", in_free_set_, " spans, the arena has ", free_spans_, " free spans");
    report_.expect_equal("claimed spans on their way to the heap", h_.front_.claimed_in_transit(), in_transit_);
    if (cached_spans_ != in_cache_)
      report_.fail("span caches hold ", in_cache_, " spans, the arena has ", cached_spans_, " parked spans");
  }

  void check_live(const span_type& s, std::size_t first, std::uint64_t bytes) {
    if (s.kind >= kinds::size) {
      report_.fail("live span at ", s.base, " has kind index ", s.kind);
      return;
    }
    if (s.released_pages() != 0) report_.fail("live span at ", s.base, " has released pages");
    kinds::for_each([&]<class K, std::size_t I>() {
      if (I != s.kind) return;
      if (s.state != K::state) report_.fail("live span at ", s.base, " has the wrong state for ", K::name);
      if constexpr (K::maps_interior_pages)
        for (std::size_t p = first; p < first + s.npages; ++p)
          if (h_.arena_.map()[p] != &s) {
            report_.fail("page map: page ", p, " of span at ", s.base, " maps elsewhere");
            break;
          }
    });
    kind_bytes_[s.kind] += bytes;
    ++kind_spans_[s.kind];
  }

  void check_counters() {
    const stats_type& st = stats_;
    report_.expect_equal("heap_idle", st.heap_idle, idle_);
    report_.expect_equal("heap_released", st.heap_released, released_);
    if (st.heap_released > st.heap_idle) report_.fail("heap_released exceeds heap_idle");
    if (st.heap_idle + st.heap_inuse != st.heap_sys)
      report_.fail("heap_idle + heap_inuse is ", st.heap_idle + st.heap_inuse, ", heap_sys is ", st.heap_sys);

    // heap_inuse: live bytes of the kinds inside heap_sys. Each distinct counter: live bytes of
    // every kind sharing it (mheap/accounting.hpp). Obtained: heap_sys plus the counters outside.
    std::uint64_t inuse = 0;
    kinds::for_each([&]<class K, std::size_t I>() {
      if constexpr (K::counts_toward_heap_sys) inuse += kind_bytes_[I];
    });
    report_.expect_equal("heap_inuse", st.heap_inuse, inuse);
    for_each_distinct_counter<stats_type, kinds>([&]<class K, std::size_t>() {
      std::uint64_t expected = 0;
      for_each_kind_sharing_counter<stats_type, kinds, K>([&]<class J, std::size_t JI>() { expected += kind_bytes_[JI]; });
      report_.expect_equal(K::name, st.*(K::counter), expected);
    });
    const std::uint64_t obtained = std::uint64_t{h_.arena_.pages()} << H::page_shift;
    report_.expect_equal("heap_sys + manual counters outside it", obtained_bytes<stats_type, kinds>(st), obtained);

    report_.expect_equal("mspan_inuse", st.mspan_inuse, records_ * sizeof(span_type));
    report_.expect_equal("span pool's live records", h_.pool_.live_records(), records_);
    if (records_ * sizeof(span_type) > st.mspan_sys) report_.fail("mspan_sys is too small for the live span records");
    report_.expect_equal("other_sys", st.other_sys, h_.arena_.map_bytes_for(h_.arena_.pages()));

    // Every kind's totals against its live spans (the in-transit ones still count as live).
    kinds::for_each([&]<class K, std::size_t I>() {
      const KindTotals& t = h_.totals_[I];
      if (t.allocs - t.frees != kind_spans_[I])
        report_.fail(K::name, ": allocs - frees is ", t.allocs - t.frees, ", spans say ", kind_spans_[I]);
      if (t.alloc_bytes - t.free_bytes != kind_bytes_[I])
        report_.fail(K::name, ": bytes allocated - freed is ", t.alloc_bytes - t.free_bytes, ", spans say ",
                     kind_bytes_[I]);
      if (t.frees > t.allocs || t.free_bytes > t.alloc_bytes) report_.fail(K::name, ": more given back than handed out");
    });

    const MemStats m = make_mem_stats<stats_type, kinds>(st, h_.totals_);
    // The free set's longest span, kept nowhere but found in O(1): the walk's longest free one.
    if (h_.free_.largest_pages() != largest_free_) report_.fail("largest free span is ", h_.free_.largest_pages(),
                                                                 " pages, spans say ", largest_free_);
    report_.expect_equal("Sys vs sum of the Sys fields", m.Sys,
                         m.HeapSys + m.StackSys + m.MSpanSys + m.OtherSys + m.ManualSys);
    report_.expect_equal("Sys", m.Sys, obtained + st.mspan_sys + st.other_sys);
  }

  const H& h_;
  std::uint32_t epoch_;
  stats_type stats_;
  AuditReport report_;
  std::size_t in_free_set_ = 0, free_spans_ = 0, in_cache_ = 0, cached_spans_ = 0, in_transit_ = 0, records_ = 0;
  std::uint64_t idle_ = 0, released_ = 0;
  std::array<std::uint64_t, kinds::size> kind_bytes_{};
  std::array<std::uint64_t, kinds::size> kind_spans_{};
  std::size_t largest_free_ = 0;
};

}  // namespace mheap
