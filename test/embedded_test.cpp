// SPDX-License-Identifier: BSL-1.0
// The embedded image (examples/embedded_image.cpp, built with -fno-exceptions -fno-rtti) never
// reaches malloc or operator new: every allocation function of the process is interposed here and
// counts calls while the workload runs. A self-check first proves the interposition sees a call.
//
// A plain program (not Boost.Test): it is itself built without exceptions, like the image.
#include <cstddef>
#include <cstdio>
#include <new>

#include "examples/embedded_image.hpp"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
bool armed = false;
unsigned long calls = 0;
void note() {
  if (armed) ++calls;
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  note();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  note();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  note();
  *out = __libc_memalign(alignment, n);
  return *out ? 0 : 12;
}
void free(void* p) { __libc_free(p); }
}

void* operator new(std::size_t n) {
  note();
  return __libc_malloc(n ? n : 1);
}
void* operator new[](std::size_t n) {
  note();
  return __libc_malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }

int main() {
  int failed = 0;

  // Self-check: an allocation while armed is seen (through a volatile pointer, so the compiler
  // cannot drop the malloc/free pair).
  void* (*volatile do_malloc)(std::size_t) = &malloc;
  armed = true;
  void* probe = do_malloc(16);
  int* object = new int(7);
  armed = false;
  free(probe);
  delete object;
  if (calls != 2) {
    std::printf("FAIL self-check: interposition saw %lu of 2 calls\n", calls);
    ++failed;
  } else {
    std::printf("ok   self-check: malloc and operator new are interposed\n");
  }

  calls = 0;
  armed = true;
  const int workload_failures = embedded::run_workload();
  armed = false;
  if (workload_failures != 0) {
    std::printf("FAIL workload: %d checks failed\n", workload_failures);
    ++failed;
  } else {
    std::printf("ok   workload: audits clean, all memory returned\n");
  }
  if (calls != 0) {
    std::printf("FAIL no-malloc: the heap reached an allocation function %lu times\n", calls);
    ++failed;
  } else {
    std::printf("ok   no-malloc: no call reached malloc or operator new\n");
  }
  std::printf("%d passed, %d failed\n", 3 - failed, failed);
  return failed == 0 ? 0 : 1;
}
