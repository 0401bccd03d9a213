// SPDX-License-Identifier: BSL-1.0
// test/test_support.hpp — configurations and checks shared by the Boost.Test suites.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <csignal>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "mheap/mheap.hpp"

namespace mheap {
// Printers for Boost.Test's messages (found by argument-dependent lookup).
inline std::ostream& boost_test_print_type(std::ostream& os, const Stats& s) {
  return os << "{heap_sys " << s.heap_sys << ", heap_idle " << s.heap_idle << ", heap_inuse " << s.heap_inuse
            << ", heap_released " << s.heap_released << ", stacks_inuse " << s.stacks_inuse << ", mspan_inuse "
            << s.mspan_inuse << ", mspan_sys " << s.mspan_sys << ", other_sys " << s.other_sys << "}";
}
inline std::ostream& boost_test_print_type(std::ostream& os, const MemStats& m) {
  return os << "{Sys " << m.Sys << ", HeapSys " << m.HeapSys << ", HeapIdle " << m.HeapIdle << ", HeapInuse "
            << m.HeapInuse << ", HeapReleased " << m.HeapReleased << ", StackInuse " << m.StackInuse
            << ", StackSys " << m.StackSys << ", MSpanInuse " << m.MSpanInuse << ", MSpanSys " << m.MSpanSys
            << ", OtherSys " << m.OtherSys << ", ManualSys " << m.ManualSys << "}";
}
inline std::ostream& boost_test_print_type(std::ostream& os, const HeapEvents& e) {
  return os << "{grow_calls " << e.grow_calls << ", grow_failures " << e.grow_failures << ", zeroed_bytes "
            << e.zeroed_bytes << ", misuses " << e.misuses << "}";
}
inline std::ostream& boost_test_print_type(std::ostream& os, Misuse m) { return os << describe(m); }
}  // namespace mheap

namespace mheap::test {

inline constexpr std::uint64_t kPage = std::uint64_t{1} << DefaultConfig::page_shift;

// AddressSanitizer builds (--config=asan) run the cases that check poisoning; others skip them.
#if defined(MHEAP_ASAN)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif

// Single-threaded, fixed capacity, hooks checked, misuse recorded instead of aborting.
template <std::size_t Bytes = (std::size_t{64} << 20)>
struct ArenaConfig : DefaultConfig {
  using Lock = NullLock;
  using PageSource = StaticArena<Bytes>;
  using HookLinks = SafeLinks;
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
};

// OS memory (the reservation size is the constructor's argument, 64 GiB by default) and recorded misuse.
struct MmapConfig : DefaultConfig {
  using MisusePolicy = RecordMisuse;
  static constexpr bool internal_checks = true;
};

// Asserts that the heap's audit is clean, printing what failed otherwise.
template <class H>
void require_clean(H& heap) {
  const AuditReport report = heap.audit();
  BOOST_REQUIRE_MESSAGE(static_cast<bool>(report), "audit failed:\n" << std::string(report.what()));
}

// Runs f in a child process with default SIGABRT handling (Boost.Test's monitor would catch it).
// Returns whether the child exited normally with status 0, whether it was killed by SIGABRT, what
// it wrote to stderr, and the signal that killed it (0: none).
struct ChildResult {
  bool clean_exit;
  bool aborted;
  std::string stderr_text;
  int signal;
};
template <class F>
ChildResult run_in_child(F f) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);  // and faults: death tests expect the signal, not Boost's report
    std::signal(SIGSEGV, SIG_DFL);
    std::signal(SIGBUS, SIG_DFL);
    dup2(fds[1], 2);
    close(fds[0]);
    f();
    _exit(0);
  }
  close(fds[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return {WIFEXITED(status) && WEXITSTATUS(status) == 0, signal == SIGABRT, err, signal};
}

// Heaps are large (StaticArena holds its buffer): make them static-duration or heap-allocated.
template <class H, class... Args>
std::unique_ptr<H> make_heap(Args&&... args) {
  return std::make_unique<H>(std::forward<Args>(args)...);
}

}  // namespace mheap::test
