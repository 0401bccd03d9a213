// SPDX-License-Identifier: BSL-1.0
// test/fuzz/heap_fuzzer.cpp — libFuzzer target: an input is a sequence of heap operations, run on a
// fresh StaticArena heap beside a reference model and checked after every one (test/model_driver.hpp):
// allocs of any kind and any size (0, SIZE_MAX, capacity + 1, raw 64-bit values), frees through
// SpanRef and free_at, double frees, free_at and lookup of arbitrary addresses, scavenges; the
// counters after every operation, the full audit every few operations and at the end, then every
// span is freed and the heap must be whole again. Any disagreement prints what and aborts.
//
// Build and run: tools/fuzz.sh SECONDS [CORPUS_DIR] (clang++ -fsanitize=fuzzer,address,undefined).
//
// Input format: byte 0 picks the configuration; then operations, each an opcode byte followed by
// the bytes it reads (a missing byte reads as 0):
//   op % 16:  0-3 alloc  kind:u8 size:(u8 selector + u8/u16/u64) zeroed = bit 7 of the op byte
//             4-5 free   index:u8 (bit 7 of op: through free_at instead of the SpanRef)
//             6   double free of a stale ref   index:u8
//             7   free_at(kind, address)       kind:u8 address:u64
//             8   free_at of a live span's interior or as the wrong kind   index:u8 r:u64
//             9   lookup(address)              address:u64
//             10  lookup inside a live span    index:u8 offset:u32
//             11  audit
//             12  scavenge                     budget selector:u8
//             13-15 alloc of 1..8 pages of kind op/16
#include <sanitizer/common_interface_defs.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <string>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FUZZ_ASAN 1
#endif
#endif

#include "mheap/mheap.hpp"
#include "test/model.hpp"
#include "test/model_driver.hpp"

namespace {
using namespace mheap;

// ---- configurations ---------------------------------------------------------------------------------
struct FuzzStats : Stats {
  std::uint64_t workbuf_inuse = 0;
  std::uint64_t gcbits_inuse = 0;
  friend bool operator==(const FuzzStats&, const FuzzStats&) = default;
};
struct EndsOnlySpanPolicy {  // a hand-written manual kind sharing workbuf_inuse, first/last page mapped
  static constexpr auto counter = &FuzzStats::workbuf_inuse;
  static constexpr bool counts_toward_heap_sys = false;
  static constexpr bool maps_interior_pages = false;
  static constexpr SpanState state = SpanState::manual;
  static constexpr const char* name = "EndsOnlySpanPolicy";
};
using FuzzKinds = SpanKinds<GCSpanPolicy, StackSpanPolicy, ManualSpanPolicy<&FuzzStats::workbuf_inuse>,
                            ManualInHeapSpanPolicy<&FuzzStats::gcbits_inuse>, EndsOnlySpanPolicy>;

// 8 KiB pages, 32 MiB, red-black tree.
struct BigPages : DefaultConfig {
  using Lock = NullLock;
  using PageSource = StaticArena<std::size_t{32} << 20>;
  using Stats = FuzzStats;
  using SpanKinds = FuzzKinds;
  using HookLinks = SafeLinks;
  using MisusePolicy = RecordMisuse;  static constexpr bool internal_checks = true;
};
// 4 KiB pages, 16 MiB, few exact lists (the tree does most of the work), small growth steps.
struct SmallPages : BigPages {
  using LargeSpanTree = Treap;
  using PageSource = StaticArena<std::size_t{16} << 20>;
  static constexpr std::size_t page_shift = 12;
  static constexpr std::size_t max_list_pages = 8;
  static constexpr std::size_t min_grow_bytes = std::size_t{64} << 10;
  static constexpr std::size_t grow_granule_bytes = std::size_t{16} << 10;
};

std::uint64_t g_ops = 0, g_inputs = 0;

void report_totals() {
  std::fprintf(stderr, "heap_fuzzer: %llu heap operations in %llu inputs\n", static_cast<unsigned long long>(g_ops),
               static_cast<unsigned long long>(g_inputs));
}

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool done() const { return p_ >= end_; }
  std::uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  std::uint64_t bytes(unsigned n) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= std::uint64_t{u8()} << (8 * i);
    return v;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

[[noreturn]] void die(const char* config, std::size_t op, const std::string& why) {
  std::fprintf(stderr, "heap_fuzzer: %s, op %zu: %s\n", config, op, why.c_str());
  std::abort();
}

// The heap lives in static storage, constructed afresh for every input (no 32 MiB malloc per run).
template <class Config>
void run(const char* name, Reader& in) {
  using H = Heap<Config>;
  alignas(H) static unsigned char storage[sizeof(H)];
#if defined(FUZZ_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(storage, sizeof storage);  // the last heap poisoned its free spans
#endif
  H* heap = ::new (static_cast<void*>(storage)) H();
  {
    check::Driver<Config, test::Model<H>> d(*heap, 16);
    std::size_t op = 0;
    auto require = [&](const std::string& err) {
      if (!err.empty()) die(name, op, err);
    };
    require(d.start());
    const std::size_t cap = heap->capacity_pages();
    const std::size_t absurd[] = {0,
                                  std::numeric_limits<std::size_t>::max(),
                                  (std::numeric_limits<std::size_t>::max() >> H::page_shift) + 1,
                                  std::numeric_limits<std::size_t>::max() >> H::page_shift,
                                  cap + 1,
                                  cap,
                                  cap - 1,
                                  std::size_t{1} << 32,
                                  std::numeric_limits<std::size_t>::max() / 2 + 1};
    for (; !in.done() && op < 4096; ++op) {
      const std::uint8_t code = in.u8();
      switch (code % 16) {
        case 0: case 1: case 2: case 3: {
          const std::size_t kind = in.u8();
          const std::uint8_t sel = in.u8();
          std::size_t pages;
          switch (sel % 8) {
            case 0: case 1: case 2: pages = 1 + in.u8() % 16; break;
            case 3: case 4: pages = 1 + in.bytes(2) % 2048; break;
            case 5: pages = 1 + in.bytes(2) % (cap + 1); break;
            case 6: pages = absurd[in.u8() % std::size(absurd)]; break;
            default: pages = static_cast<std::size_t>(in.bytes(8)); break;
          }
          require(d.alloc(kind, pages, code & 0x80));
          break;
        }
        case 4: case 5: require(d.free(in.u8(), !(code & 0x80))); break;
        case 6: require(d.double_free(in.u8())); break;
        case 7: {
          const std::size_t kind = in.u8();
          require(d.free_at(kind, d.address(in.bytes(8))));
          break;
        }
        case 8: {
          const std::size_t index = in.u8();
          require(d.free_live_wrongly(index, in.bytes(8)));
          break;
        }
        case 9: require(d.lookup(d.address(in.bytes(8)))); break;
        case 10: {
          const std::size_t index = in.u8();
          require(d.lookup_in_live(index, in.bytes(4)));
          break;
        }
        case 11: require(d.audit()); break;
        case 12: {
          const std::uint8_t b = in.u8();
          require(d.scavenge(b == 255 ? std::numeric_limits<std::size_t>::max() : std::size_t{b} * H::page_bytes));
          break;
        }
        default: require(d.alloc(code / 16, 1 + code % 8, false)); break;
      }
      require(d.check_counters());
      if (op % 8 == 7) require(d.audit());
    }
    require(d.audit());
    require(d.free_all());
    g_ops += op;
  }
  heap->~H();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit(report_totals);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  ++g_inputs;
  if (in.u8() % 2 == 0)
    run<BigPages>("8 KiB pages, 32 MiB", in);
  else
    run<SmallPages>("4 KiB pages, 16 MiB", in);
  return 0;
}
