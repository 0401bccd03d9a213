// SPDX-License-Identifier: BSL-1.0
// A heap with Valgrind annotations on, used by test/valgrind_test.sh under memcheck:
//   valgrind_probe clean   — allocates, writes, frees: memcheck must find nothing;
//   valgrind_probe misuse  — writes into a span after freeing it: memcheck must report it.
#include <cstdio>
#include <cstring>

#include "mheap/mheap.hpp"

namespace {
struct AnnotatedConfig : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  using PageSource = mheap::StaticArena<std::size_t{4} << 20>;
  static constexpr bool valgrind_annotations = true;
};
mheap::Heap<AnnotatedConfig> heap;
}  // namespace

int main(int argc, char** argv) {
  const bool misuse = argc > 1 && std::strcmp(argv[1], "misuse") == 0;
  auto span = heap.alloc<mheap::GCSpanPolicy>(2, /*zeroed=*/true);
  auto* p = static_cast<volatile char*>(span.base());
  p[0] = 1;  // a live span: fine
  heap.free(span);
  if (misuse) p[100] = 2;  // a freed span: memcheck reports an invalid write here
  auto again = heap.alloc<mheap::GCSpanPolicy>(2, /*zeroed=*/true);
  std::printf("%d\n", static_cast<volatile char*>(again.base())[0]);  // zeroed: defined
  heap.free(again);
  return heap.audit() ? 0 : 1;
}
