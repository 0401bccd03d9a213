// mheap/span_pool.hpp — span records from fixed-size chunks of the page source, never malloc.
//
// Go's fixalloc for mspan, reduced to what the heap needs: records are carved from chunks the
// heap commits at the top of its reservation, retired records go on a free list and are reused
// first. Records are never returned to the source, so a pointer to a record stays a pointer to a
// record for the heap's lifetime (what lets free() and lookup() validate stale pointers).
//
// Accounting: mspan_sys == chunk bytes taken; mspan_inuse == live records × sizeof(record).
#pragma once

#include <cstddef>
#include <new>

#include "policies/span_kind.hpp"

namespace mheap {

template <class SpanT>
class SpanPool {
 public:
  static constexpr std::size_t record_bytes = sizeof(SpanT);

  // A record from the free list or the current chunk; null when both are exhausted (the heap
  // then feeds a chunk with add_chunk() and asks again). A reused record keeps its old fields,
  // its generation above all (stale SpanRefs must keep failing): the heap sets the rest.
  SpanT* try_alloc() noexcept {
    SpanT* s = unused_;
    if (s != nullptr) {
      unused_ = s->next;
      s->next = nullptr;
    } else if (static_cast<std::size_t>(end_ - next_) >= record_bytes) {
      s = ::new (static_cast<void*>(next_)) SpanT{};
      next_ += record_bytes;
    } else {
      return nullptr;
    }
    ++live_records_;
    return s;
  }

  // Retires a record that no longer describes a span. Its hooks must be unlinked.
  void retire(SpanT* s) noexcept {
    s->state = SpanState::unused;
    s->next = unused_;
    unused_ = s;
    --live_records_;
  }

  // Hands the pool a fresh, zeroed chunk of at least one record. Whatever was left of the
  // previous chunk (less than one record) is abandoned; it stays counted in sys_bytes().
  void add_chunk(std::byte* chunk, std::size_t bytes) noexcept {
    next_ = chunk;
    end_ = chunk + bytes;
    sys_bytes_ += bytes;
  }

  std::size_t live_records() const noexcept { return live_records_; }
  std::size_t sys_bytes() const noexcept { return sys_bytes_; }

 private:
  SpanT* unused_ = nullptr;      // retired records, reused first (LIFO: warm in cache)
  std::byte* next_ = nullptr;    // bump pointer in the current chunk
  std::byte* end_ = nullptr;
  std::size_t live_records_ = 0; // records handed out and not retired
  std::size_t sys_bytes_ = 0;    // bytes of all chunks ever added
};

}  // namespace mheap
