// SPDX-License-Identifier: BSL-1.0
// mheap::MemoryResource built without exceptions and without RTTI (the embedded build's flags): it
// allocates and frees as usual, recognises only itself as equal (no dynamic_cast to tell another
// resource over the same heap), and an allocation it cannot satisfy prints one line naming the
// request and aborts (checked in a child process). A plain program: Boost.Test needs exceptions.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <string>

#include "mheap/memory_resource.hpp"
#include "mheap/mheap.hpp"

#if defined(__cpp_exceptions) || defined(__GXX_RTTI)
#error "this test must be built with -fno-exceptions -fno-rtti"
#endif

namespace {

struct Config : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<std::size_t{2} << 20>;
  static constexpr bool internal_checks = true;
};
using SmallHeap = mheap::Heap<Config>;
SmallHeap heap;  // in .bss, as an embedded image keeps it

int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

// Runs f in a child; returns what it wrote to stderr and whether SIGABRT ended it.
template <class F>
std::string aborts_with(F f, bool& aborted) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);
    dup2(fds[1], 2);
    close(fds[0]);
    f();
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return text;
}

}  // namespace

int main() {
  mheap::MemoryResource<SmallHeap> resource(heap);
  mheap::MemoryResource<SmallHeap> twin(heap);

  void* p = resource.allocate(3 * SmallHeap::page_bytes);
  check(p != nullptr, "allocate returns memory");
  check(heap.stats().heap_inuse == 3 * SmallHeap::page_bytes, "heap_inuse counts the block");
  std::memset(p, 0x5A, 3 * SmallHeap::page_bytes);
  resource.deallocate(p, 3 * SmallHeap::page_bytes);
  check(heap.stats().heap_inuse == 0, "heap_inuse back to 0");
  check(static_cast<bool>(heap.audit()), "audit clean");

  check(resource.is_equal(resource), "a resource equals itself");
  check(!resource.is_equal(twin), "without RTTI another resource over the same heap is not recognised");
  check(!resource.is_equal(*std::pmr::null_memory_resource()), "nor is another kind of resource");

  bool aborted = false;
  const std::string text = aborts_with([&] { (void)resource.allocate(std::size_t{4} << 20); }, aborted);
  check(aborted, "an allocation the heap cannot satisfy aborts");
  check(text.find("mheap: fatal: MemoryResource cannot allocate 4194304 bytes aligned to 16 (GCSpanPolicy)") !=
            std::string::npos,
        "and says which request, on stderr");
  check(static_cast<bool>(heap.audit()), "audit clean after");

  if (failures == 0) std::puts("memory_resource_no_exceptions_test: all checks passed");
  return failures == 0 ? 0 : 1;
}
