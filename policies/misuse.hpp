// SPDX-License-Identifier: BSL-1.0
/// \file
/// policies/misuse.hpp — what the heap does when its caller breaks the rules.
///
/// Every misuse the heap can see from a span's own state (O(1), no search) is reported to the
/// configuration's misuse policy *before* anything changes, so a policy that returns (for tests)
/// leaves the heap exactly as it was and audit() clean. The default aborts with a message that
/// names the misuse, as Go's runtime throws on a bad free.
#pragma once
#include "../mheap/detail/require_cxx20.hpp"

#include <concepts>
#include <cstdio>
#include <cstdlib>

#include "../mheap/fixed_text.hpp"

namespace mheap {

/// The misuses a heap detects, each in O(1) from the span's own record.
enum class Misuse : unsigned char {
  double_free,   ///< the span was already freed (its record is free, retired, or describes another span)
  wrong_kind,    ///< the span is live but was allocated as another kind
  foreign_span,  ///< the reference does not come from this heap
  not_span_base, ///< an address inside the heap that is not the base of a live span
  outside_heap,  ///< an address outside the heap's arena
  in_free_span,  ///< a page boundary inside free memory: freed already (a double free), or never handed out
  wrong_size,    ///< a client's size (or alignment) for a live span disagrees with the span (reported by
                 ///< MemoryResource and FiberStackAllocator before they free anything; the heap's own
                 ///< calls take no size)
};

/// One line of text for a misuse, as AbortOnMisuse prints it (a string literal: no allocation).
constexpr const char* describe(Misuse m) noexcept {
  switch (m) {
    case Misuse::double_free: return "double free (span is not live, or was freed and reused)";
    case Misuse::wrong_kind: return "free with the wrong span kind";
    case Misuse::foreign_span: return "span does not belong to this heap";
    case Misuse::not_span_base: return "address is not the base of a live span";
    case Misuse::outside_heap: return "address is outside the heap";
    case Misuse::in_free_span: return "address is in free memory (freed already, or never handed out)";
    case Misuse::wrong_size: return "deallocation size or alignment does not match the span";
  }
  return "unknown misuse";
}

/// What a misuse policy is told. Reported before the heap changes anything.
struct MisuseReport {
  Misuse what;            ///< which rule the caller broke
  const void* address;    ///< the span base or address the caller passed; null when no longer known
  const char* kind_name;  ///< the kind the caller named
};

/// What a heap's Config::MisusePolicy must be: default-constructible, with report(const MisuseReport&).
/// If report() returns, the call that misused the heap returns without effect (an empty result).
/// report() runs under the heap's lock (the adapters' reports too, Heap::report_misuse), one report
/// at a time: it must not call into the heap.
template <class P>
concept MisuseHandler = std::default_initializable<P> && requires(P& policy, const MisuseReport& report) {
  policy.report(report);
};

/// Default: print one line naming the misuse and abort. No allocation on the way out.
struct AbortOnMisuse {
  /// Writes "mheap: fatal: ..." with the address and kind to stderr, then std::abort().
  [[noreturn]] void report(const MisuseReport& r) noexcept {
    FixedText<256> line;
    line << "mheap: fatal: " << describe(r.what);
    if (r.address != nullptr)
      line << " at " << r.address;
    else
      line << " (address no longer known: the span's record has changed since)";
    line << " (" << r.kind_name << ")\n";
    std::fputs(line.c_str(), stderr);
    std::abort();
  }
};

/// For small embedded images: stop at the misuse, with no message text linked in (no stdio, no
/// describe() strings). A debugger shows the trap at the caller's free(); the report's fields are
/// in the registers of the frame below.
struct TrapOnMisuse {
  /// __builtin_trap(): nothing printed, nothing returned.
  [[noreturn]] void report(const MisuseReport&) noexcept { __builtin_trap(); }
};

/// For tests and for callers that log and carry on: counts reports and keeps the last one.
struct RecordMisuse {
  /// Counts the report and keeps it as `last`.
  void report(const MisuseReport& r) noexcept {
    ++count;
    last = r;
  }
  unsigned long count = 0;  ///< reports so far
  MisuseReport last{};      ///< the latest report (all zero before the first)
};

}  // namespace mheap
