// SPDX-License-Identifier: BSL-1.0
// A seeded random trace on the target itself (Cortex-M under QEMU, test/qemu_test.sh): a heap in
// .bss guarded by InterruptLock (policies/interrupt_lock.hpp), 256-byte pages; every step checked against a model of what must be live, every
// counter after every step, the audit every 256 steps and at the end, a stale ref's double free
// every so often. The exit status, through semihosting, is the number of failed checks.
#include <cstdint>
#include <cstdio>

#include "mheap/mheap.hpp"

namespace {

static_assert(mheap::LockPolicy<mheap::InterruptLock>);
struct TargetConfig : mheap::DefaultConfig {
  using Lock = mheap::InterruptLock;  // masks interrupts while a heap call runs
  using PageSource = mheap::StaticArena<std::size_t{64} << 10>;
  using MisusePolicy = mheap::RecordMisuse;
  static constexpr std::size_t page_shift = 8;
  static constexpr std::size_t max_list_pages = 16;
  static constexpr std::size_t min_grow_bytes = 2 << 10;
  static constexpr std::size_t grow_granule_bytes = 1 << 10;
  static constexpr std::size_t span_pool_chunk_bytes = 1 << 10;
  static constexpr std::size_t span_cache_pages = 16;
  static constexpr std::uint32_t span_cache_per_length = 2;
  static constexpr bool internal_checks = true;
};
using Heap = mheap::Heap<TargetConfig>;
using GC = mheap::GCSpanPolicy;
using Stack = mheap::StackSpanPolicy;
constexpr std::size_t page = Heap::page_bytes;

Heap heap;  // .bss

std::uint32_t rng_state = 20261129;
std::uint32_t next() {  // xorshift32: the same steps on every target
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

struct Slot {
  mheap::SpanRef<GC> gc;
  mheap::SpanRef<Stack> stack;
  std::uint8_t tag = 0;
};
constexpr int slots = 24;
Slot live[slots];
std::uint64_t gc_bytes = 0, stack_bytes = 0;  // the model
int failed = 0;

void check(bool ok, const char* what, int step) {
  if (ok) return;
  if (++failed <= 10) std::printf("step %d: %s\n", step, what);
}

template <class Ref>
void fill(const Ref& r, std::uint8_t tag) {
  auto* b = static_cast<std::uint8_t*>(r.base());
  b[0] = tag;
  b[r.bytes() - 1] = tag;
}
template <class Ref>
bool intact(const Ref& r, std::uint8_t tag) {
  const auto* b = static_cast<const std::uint8_t*>(r.base());
  return b[0] == tag && b[r.bytes() - 1] == tag;
}

void check_counters(int step) {
  const mheap::Stats s = heap.stats();
  check(s.heap_inuse == gc_bytes, "heap_inuse disagrees with the model", step);
  check(s.stacks_inuse == stack_bytes, "stacks_inuse disagrees with the model", step);
  check(s.heap_idle + s.heap_inuse == s.heap_sys, "heap_idle + heap_inuse != heap_sys", step);
}

std::uint32_t primask() {
  std::uint32_t m;
  asm volatile("mrs %0, primask" : "=r"(m));
  return m;
}

// InterruptLock masks interrupts while held and leaves PRIMASK as it found it, masked or not.
void check_interrupt_lock() {
  mheap::InterruptLock l;
  check(primask() == 0, "interrupts masked before the test", -1);
  l.lock();
  check(primask() == 1, "InterruptLock::lock() did not mask interrupts", -1);
  l.unlock();
  check(primask() == 0, "InterruptLock::unlock() did not unmask them", -1);
  asm volatile("cpsid i" ::: "memory");  // the caller's own critical section
  l.lock();
  l.unlock();
  check(primask() == 1, "InterruptLock::unlock() unmasked the caller's critical section", -1);
  asm volatile("cpsie i" ::: "memory");
}

}  // namespace

int main() {
  check_interrupt_lock();
  constexpr int steps = 6000;
  std::size_t misuses = 0;
  for (int step = 0; step < steps; ++step) {
    Slot& sl = live[next() % slots];
    const auto tag = static_cast<std::uint8_t>(step);
    if (sl.gc) {  // free what is there, checking nobody wrote over it
      check(intact(sl.gc, sl.tag), "a live GC span was overwritten", step);
      gc_bytes -= sl.gc.bytes();
      const auto stale = sl.gc;
      heap.free(sl.gc);
      sl.gc = {};
      if (next() % 16 == 0) {  // a double free: reported, nothing moves
        heap.free(stale);
        check(heap.misuse_policy().count == ++misuses, "a double free was not reported", step);
      }
    } else if (sl.stack) {
      check(intact(sl.stack, sl.tag), "a live stack span was overwritten", step);
      stack_bytes -= sl.stack.bytes();
      heap.free(sl.stack);
      sl.stack = {};
    } else {
      const std::size_t n = 1 + next() % (next() % 8 == 0 ? 40 : 6);
      if (next() % 3 == 0) {
        sl.stack = heap.alloc<Stack>(n);
        if (sl.stack) {
          stack_bytes += n * page;
          fill(sl.stack, tag);
        }
      } else {
        sl.gc = heap.alloc<GC>(n, next() % 4 == 0);
        if (sl.gc) {
          gc_bytes += n * page;
          fill(sl.gc, tag);
        }
      }
      sl.tag = tag;
    }
    check_counters(step);
    if (step % 256 == 0) check(static_cast<bool>(heap.audit()), "audit failed", step);
  }
  for (Slot& sl : live) {
    if (sl.gc) heap.free(sl.gc);
    if (sl.stack) heap.free(sl.stack);
  }
  gc_bytes = stack_bytes = 0;
  check_counters(steps);
  const mheap::AuditReport report = heap.audit();
  check(static_cast<bool>(report), "final audit failed", steps);
  if (!report) std::printf("%s\n", report.what().data());
  std::printf("trace on target: %d steps, %u misuses reported, %d failed checks\n", steps,
              static_cast<unsigned>(misuses), failed);
  return failed;
}
