// SPDX-License-Identifier: BSL-1.0
// mheap/span_view.hpp — one span of the arena as Heap::for_each_span() shows it, by value.
//
// A walk of the heap sees every span of the grown arena, free or held; a SpanView is a copy taken
// under the heap lock, so a visitor may keep it after the walk. It says what the span is doing
// from the counters' point of view (SpanUse), which is coarser than the record's own state
// (mheap/span_state.hpp): a parked span is `cached` whatever its kind's live state, a span being
// released outside the lock is `releasing`.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>

namespace mheap {

/// What a span of the grown arena is doing, as the heap's counters see it.
enum class SpanUse : std::uint8_t {
  live,       ///< charged to its kind's counter: owned by a caller (or claimed by a free() on its way to the lock)
  cached,     ///< parked: held whole by its kind in a span cache, idle (counted in heap_idle)
  free,       ///< in the free set, idle (counted in heap_idle); some or all of its pages may be released
  releasing,  ///< free, out of the free set while another thread gives its pages back with the lock dropped
};

/// The word printers use for a SpanUse: "live", "cached", "free" or "releasing".
constexpr const char* describe(SpanUse use) noexcept {
  switch (use) {
    case SpanUse::live: return "live";
    case SpanUse::cached: return "cached";
    case SpanUse::free: return "free";
    case SpanUse::releasing: return "releasing";
  }
  return "?";
}

/// One span of the grown arena, copied under the heap lock by Heap::for_each_span().
struct SpanView {
  std::byte* base = nullptr;         ///< first byte
  /// Index of its first page in the arena (page 0 is the arena's first); in a heap of several
  /// arenas, in the arenas' grown pages laid end to end (mheap/arena_set.hpp).
  std::size_t first_page = 0;
  std::size_t arena = 0;             ///< the arena it is in (0 but in a heap of several)
  std::size_t npages = 0;            ///< length in pages, ≥ 1
  std::size_t bytes = 0;             ///< length in bytes
  std::size_t released_pages = 0;    ///< pages given back to the page source; only an idle free span has any.
                                     ///< Which of its pages they are is not recorded (merges add them up).
  SpanUse use = SpanUse::free;       ///< what it is doing
  std::uint8_t kind = 0;             ///< live or cached: index into the heap's SpanKinds; otherwise 0
  const char* kind_name = nullptr;   ///< live or cached: that kind's name; otherwise null

  /// Held by a kind: live or cached (kind and kind_name are meaningful).
  constexpr bool held() const noexcept { return use == SpanUse::live || use == SpanUse::cached; }
  /// Idle: counted in heap_idle (cached, free or releasing).
  constexpr bool idle() const noexcept { return use != SpanUse::live; }
  /// First page past the span: where the next span of the arena starts.
  constexpr std::size_t end_page() const noexcept { return first_page + npages; }
};

}  // namespace mheap
