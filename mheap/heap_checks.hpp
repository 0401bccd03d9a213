// SPDX-License-Identifier: BSL-1.0
// mheap/heap_checks.hpp — how a heap checks what it is handed: an address for lookup(), a base for
// free_at(), a ref whose claim failed, and the reports of what fails (members of HeapShard, declared in
// mheap/heap_shard.hpp; the misuses themselves in policies/misuse.hpp). Every check reads the page map
// and the record's generation: O(1), whatever the caller passes.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

#include "heap_shard.hpp"

namespace mheap {

/// The live span holding p, or null: free or parked spans, stale entries of a free span's interior
/// and addresses outside the grown arena are not live.
template <class UserConfig>
auto HeapShard<UserConfig>::live_span_at_locked(const void* p) const -> const span_type* {
  const std::size_t page = arena_.page_of(p);
  if (page >= arena_.pages()) return nullptr;
  const span_type* s = arena_.map()[page];
  // Free or parked, or a stale entry of a free span's interior.
  if (s == nullptr || !is_owned(generation::load(s->generation))) return nullptr;
  const auto offset = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(s->base);
  return offset < (s->npages << page_shift) ? s : nullptr;  // a stale entry naming a record reused elsewhere
}

/// free_at()'s check: the span of Kind starting at base, claimed, or null (misuse reported).
template <class UserConfig>
template <class Kind>
auto HeapShard<UserConfig>::claim_at_locked(const void* base) -> span_type* {
  const std::size_t page = arena_.page_of(base);
  if (page >= arena_.pages()) return report(Misuse::outside_heap, base, Kind::name), nullptr;
  span_type* s = arena_.map()[page];
  if (s == nullptr || s->state == SpanState::unused) return report(Misuse::not_span_base, base, Kind::name), nullptr;
  if (s->base != base) {
    // A page boundary inside a free span: where a span began before it merged into this one (a
    // merge maps the absorbed span's first page to the survivor) — or never a base at all. Other
    // entries inside a free span may be stale and name nothing.
    const bool in_free = s->state == SpanState::free && arena_.page_addr(page) == base &&
                         page - arena_.page_of(s->base) < s->npages;
    return report(in_free ? Misuse::in_free_span : Misuse::not_span_base, base, Kind::name), nullptr;
  }
  const Generation g = generation::load(s->generation);
  if (!is_owned(g))  // parked: freed, kept whole since; free: freed and merged, or never handed out here
    return report(is_held(s->state) ? Misuse::double_free : Misuse::in_free_span, base, Kind::name), nullptr;
  if (s->kind != span_kinds::template index_of<Kind>) return report(Misuse::wrong_kind, base, Kind::name), nullptr;
  if (!generation::claim(s->generation, g)) return report(Misuse::double_free, base, Kind::name), nullptr;  // a free(ref) won
  return s;
}

/// A ref that failed free()'s claim was freed since it was handed out. Name the caller's span only
/// while the record still describes it as freed: one free later, its base unchanged (merging below
/// it or retiring it moves the generation by two). Otherwise the record may describe someone else's
/// span now, so no address.
template <class UserConfig>
void HeapShard<UserConfig>::report_bad_free(const span_type* s, Generation ref_generation, const char* kind) {
  detail::LockGuard guard(lock_);
  report_bad_free_locked(s, ref_generation, kind);
}
/// report_bad_free() with the lock held.
template <class UserConfig>
void HeapShard<UserConfig>::report_bad_free_locked(const span_type* s, Generation ref_generation, const char* kind) {
  const Generation now = generation::load(s->generation);
  report(Misuse::double_free, now == ref_generation + 1 ? s->base : nullptr, kind);
}
/// A foreign ref, found before the lock was taken, reported under it with the address its record
/// gives (ref.base(): the record is another heap's, read without that heap's lock, so the address
/// may be stale by the time it is reported; it is for the report only).
template <class UserConfig>
template <class Kind>
void HeapShard<UserConfig>::report_foreign(SpanRef<Kind> ref) {
  detail::LockGuard guard(lock_);
  report(Misuse::foreign_span, ref.base(), Kind::name);
}

}  // namespace mheap
