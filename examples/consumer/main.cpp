// SPDX-License-Identifier: BSL-1.0
// examples/consumer/main.cpp — a program outside the mheap tree that uses an installed mheap, built
// with CMake (find_package) or with pkg-config (Makefile). tools/package_test.sh builds and runs it
// both ways and expects the line "mheap <version>: ok".
#include <cstdio>
#include <cstring>

#include "mheap/mheap.hpp"

int main() {
  mheap::Heap<> heap;  // the default configuration: MmapSource, AdaptiveLock, GC and stack spans
  auto span = heap.alloc<mheap::GCSpanPolicy>(4);
  if (!span) {
    std::puts("mheap " MHEAP_VERSION_STRING ": allocation failed");
    return 1;
  }
  std::memset(span.base(), 0x5A, span.bytes());
  heap.free(span);
  if (auto report = heap.audit(); !report) {
    std::printf("mheap " MHEAP_VERSION_STRING ": audit failed: %.*s\n", static_cast<int>(report.what().size()),
                report.what().data());
    return 1;
  }
  std::puts("mheap " MHEAP_VERSION_STRING ": ok");
  return 0;
}
