// SPDX-License-Identifier: BSL-1.0
// mheap/heap_walk.hpp — Heap::for_each_span(): every span of the grown arena, in address order, as
// the counters see it (declared and documented in mheap/heap_shard.hpp; the census and the printers in
// mheap/span_census.hpp and mheap/report.hpp build on it).
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "heap_shard.hpp"

namespace mheap {

template <class UserConfig>
template <class Visitor>
MemStats HeapShard<UserConfig>::for_each_span(Visitor&& visit) const {
  detail::LockGuard guard(lock_);
  typename front_end_type::Stop stop(front_);
  // A held span whose generation is even is parked in a span cache, or was claimed by a free()
  // that has not reached the lock yet and is still charged to its kind (live, as the counters
  // say). Marking the parked ones tells the two apart, as audit() does (a mark is an epoch).
  const std::uint32_t epoch = ++this->audit_epoch_;
  front_.for_each_cache([&](const auto& cache) {
    cache.for_each([&](const span_type& s, std::size_t, std::size_t) { s.audit_mark = epoch; });
  });
  front_.for_each_in_outboxes([&](const span_type& s) { s.audit_mark = epoch; });
  const auto& map = arena_.map();
  for (std::size_t page = 0, grown = arena_.pages(); page < grown;) {
    const span_type* s = map[page];
    if (s == nullptr || s->base != arena_.page_addr(page) || s->npages == 0 || s->npages > grown - page) break;
    SpanView v;
    v.base = s->base;
    v.first_page = page;
    v.npages = s->npages;
    v.bytes = s->npages << page_shift;
    if (is_held(s->state)) {
      const bool parked = !is_owned(generation::load(s->generation)) && s->audit_mark == epoch;
      v.use = parked ? SpanUse::cached : SpanUse::live;
      v.kind = s->kind;
      span_kinds::for_each([&]<class K, std::size_t I>() {
        if (I == s->kind) v.kind_name = K::name;
      });
    } else {
      v.use = s->state == SpanState::scavenging ? SpanUse::releasing : SpanUse::free;
      v.released_pages = s->released_pages();
    }
    visit(static_cast<const SpanView&>(v));
    page += s->npages;
  }
  const stats_type s = snapshot_locked();
  return make_mem_stats<stats_type, span_kinds>(s, this->totals_, std::uint64_t{front_.parked_pages()} << page_shift);
}

}  // namespace mheap
