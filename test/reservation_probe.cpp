// SPDX-License-Identifier: BSL-1.0
// The default heap under a limited address space, run by test/reservation_test.sh in child shells
// with `ulimit -v` set. One mode per run:
//   alloc    Heap<> allocates a 128 MiB GC span (16384 pages of 8 KiB), writes its first and last
//            byte, frees it and audits; exit 0 on success.
//   nothing  Heap<> (or, with "huge", a heap asked for 2^60 bytes with a floor of 2^59, which no
//            64-bit address space holds) got no reservation: capacity_pages() == 0 and alloc(1) is
//            empty; exit 0 if so. The source's stderr message is the script's to check.
//   vmsize   prints this process's address space in KiB (VmSize), to size a limit that lets the
//            program run but leaves less than the reservation floor.
// Every mode prints "requested=<bytes> capacity=<bytes> ndebug=<0|1>" first (not vmsize).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "mheap/mheap.hpp"

namespace {

#ifdef NDEBUG
constexpr int kNdebug = 1;
#else
constexpr int kNdebug = 0;
#endif

template <class H>
void describe(H& heap) {
  std::printf("requested=%zu capacity=%zu ndebug=%d\n", heap.page_source().requested(),
              heap.page_source().capacity(), kNdebug);
}

int alloc_128_mib() {
  mheap::Heap<> heap;
  describe(heap);
  constexpr std::size_t pages = 16384;
  static_assert(mheap::Heap<>::page_bytes == 8192, "the case is 16384 pages of 8 KiB");
  auto span = heap.alloc<mheap::GCSpanPolicy>(pages);
  if (!span || span.bytes() != pages * 8192) {
    std::printf("FAIL: no 128 MiB span (capacity_pages %zu)\n", heap.capacity_pages());
    return 1;
  }
  auto* bytes = static_cast<unsigned char*>(span.base());
  bytes[0] = 1;
  bytes[span.bytes() - 1] = 1;
  heap.free(span);
  if (auto report = heap.audit(); !report) {
    std::printf("FAIL: audit: %.*s\n", static_cast<int>(report.what().size()), report.what().data());
    return 1;
  }
  std::printf("ok: 128 MiB span allocated, written, freed; audit clean\n");
  return 0;
}

template <class H>
int expect_nothing(H& heap) {
  describe(heap);
  if (heap.capacity_pages() != 0 || heap.page_source().capacity() != 0) {
    std::printf("FAIL: the source reserved %zu bytes\n", heap.page_source().capacity());
    return 1;
  }
  if (heap.template alloc<mheap::GCSpanPolicy>(1)) {
    std::printf("FAIL: an empty heap handed out a span\n");
    return 1;
  }
  std::printf("ok: nothing reserved, alloc refused\n");
  return 0;
}

int vmsize() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) {
      std::printf("%ld\n", std::stol(line.substr(7)));
      return 0;
    }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "alloc") return alloc_128_mib();
  if (mode == "vmsize") return vmsize();
  if (mode == "nothing" && argc > 2 && std::strcmp(argv[2], "huge") == 0) {
    mheap::Heap<> heap(std::size_t{1} << 60, std::size_t{1} << 59);
    return expect_nothing(heap);
  }
  if (mode == "nothing") {
    mheap::Heap<> heap;
    return expect_nothing(heap);
  }
  std::fprintf(stderr, "usage: %s alloc | nothing [huge] | vmsize\n", argv[0]);
  return 2;
}
