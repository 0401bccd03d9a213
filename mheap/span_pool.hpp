// SPDX-License-Identifier: BSL-1.0
// mheap/span_pool.hpp — span records from fixed-size chunks of the page source, never malloc.
//
// Go's fixalloc for mspan, reduced to what the heap needs: records are carved from chunks committed
// at the top of the reservation (the record region of mheap/layout.hpp), retired records go on a
// free list and are reused first. Records are never returned to the source, so a pointer to a
// record stays a pointer to a record for the heap's lifetime: that is what lets free() and lookup()
// validate stale pointers in O(1).
//
// Accounting, kept here once: mspan_sys == committed_bytes(); mspan_inuse == inuse_bytes()
// == live records × sizeof(record). The heap reads both when it reports its counters.
#pragma once
#include "detail/require_cxx20.hpp"

#include <cstddef>
#include <cstdint>
#include <new>

#include "detail/shared_word.hpp"
#include "span_state.hpp"

namespace mheap {

// Shared: free() checks owns() before it takes any lock (a heap with thread caches), so the
// committed size it reads is published atomically there (mheap/detail/shared_word.hpp).
template <class SpanT, bool Shared = false>
class SpanPool {
 public:
  static constexpr std::size_t record_bytes = sizeof(SpanT);

  // Records may fill [base, base + capacity), committed chunk_bytes at a time. page_shift is
  // written into every new record (SpanRef::bytes() reads it).
  void place(std::byte* base, std::size_t capacity, std::size_t chunk_bytes, std::uint8_t page_shift) noexcept {
    base_ = base;
    capacity_ = capacity;
    chunk_bytes_ = chunk_bytes;
    page_shift_ = page_shift;
  }

  // A record: a retired one, else one carved from the current chunk, else from a fresh chunk
  // committed with commit(p, n) (the page source's). Null when the region is full or the source
  // refuses. A reused record keeps its old fields, its generation above all (stale SpanRefs must
  // keep failing): the caller sets the rest. Cost: O(1) (one commit call at most).
  template <class Commit>
  SpanT* take(Commit&& commit) noexcept {
    SpanT* s = unused_;
    if (s != nullptr) {
      unused_ = s->next;
      s->next = nullptr;
    } else {
      if (static_cast<std::size_t>(end_ - next_) < record_bytes && !add_chunk(commit)) return nullptr;
      s = ::new (static_cast<void*>(next_)) SpanT{};
      s->page_shift = page_shift_;
      next_ += record_bytes;
    }
    ++live_records_;
    return s;
  }

  // Retires a record that no longer describes a span; its hooks must be unlinked. The caller has
  // moved its generation on (HeapCore::retire_record), so no SpanRef to the span it described
  // matches it again, nor names that span's base in a report.
  void retire(SpanT* s) noexcept {
    s->state = SpanState::unused;
    s->next = unused_;
    unused_ = s;
    --live_records_;
  }

  // Whether p points into the committed record region (a record of this pool, live or not).
  bool owns(const void* p) const noexcept {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(base_) <
           detail::SharedWord<Shared>::load(committed_);
  }

  std::size_t live_records() const noexcept { return live_records_; }
  std::size_t inuse_bytes() const noexcept { return live_records_ * record_bytes; }  // mspan_inuse
  std::size_t committed_bytes() const noexcept { return committed_; }              // mspan_sys
  std::byte* base() const noexcept { return base_; }
  std::size_t region_bytes() const noexcept { return capacity_; }  // the record region, committed or not

 private:
  // Commits the next chunk (the last one may be shorter: what is left of the region). Whatever was
  // left of the previous chunk, less than one record, is abandoned and stays counted.
  template <class Commit>
  bool add_chunk(Commit& commit) noexcept {
    const std::size_t left = capacity_ - committed_;
    const std::size_t bytes = chunk_bytes_ < left ? chunk_bytes_ : left;
    if (bytes < record_bytes || !commit(base_ + committed_, bytes)) return false;
    next_ = base_ + committed_;
    end_ = next_ + bytes;
    detail::SharedWord<Shared>::store(committed_, committed_ + bytes);  // after the commit: owns() may read it now
    return true;
  }

  SpanT* unused_ = nullptr;       // retired records, reused first (LIFO: warm in cache)
  std::byte* next_ = nullptr;     // bump pointer in the current chunk
  std::byte* end_ = nullptr;
  std::size_t live_records_ = 0;  // records handed out and not retired
  std::byte* base_ = nullptr;     // the record region
  std::size_t capacity_ = 0;
  std::size_t committed_ = 0;     // bytes of the region committed so far, chunk by chunk
  std::size_t chunk_bytes_ = 0;
  std::uint8_t page_shift_ = 0;
};

}  // namespace mheap
