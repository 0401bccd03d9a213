#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# tools/size_table.sh — how much code and RAM the heap costs on a Cortex-M4 (issue 11's table).
#
#   tools/size_table.sh [OUT.md]
#
# Builds one program per configuration with arm-none-eabi-g++ 12 and picolibc, the flags of issue
# 11 (-Os -DNDEBUG -fno-exceptions -fno-rtti -ffunction-sections -fdata-sections -Wl,--gc-sections),
# and reports .text, .data and .bss over the same program without the heap, plus the biggest
# symbols (arm-none-eabi-nm --size-sort -C). Every program initialises the heap, allocates a span,
# frees it and reads the counters; "full" also runs the audit. With qemu-system-arm it also runs a
# probe of each configuration on a Cortex-M4 (mps2-an386) for the size of a span record and the
# arena pages left to spans. Prints a Markdown section, and writes it to OUT.md when given
# (bench/run.sh passes bench/out/sizes.md and puts it into RESULTS.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cxx=arm-none-eabi-g++
specs=/usr/lib/picolibc/arm-none-eabi/picolibcpp.specs
command -v "$cxx" >/dev/null && [[ -e $specs ]] || { echo "size_table: needs gcc-arm-none-eabi and picolibc (./bazelw installs them)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/size_table.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boost-only"
ln -s /usr/include/boost "$work/boost-only/boost"

flags=(-std=c++20 -mcpu=cortex-m4 -mthumb "--specs=$specs" --oslib=semihost -Os -DNDEBUG -fno-exceptions -fno-rtti
       -ffunction-sections -fdata-sections -Wl,--gc-sections -I"$root" -isystem "$work/boost-only"
       -Wl,--defsym=__flash=0x08000000 -Wl,--defsym=__flash_size=0x100000
       -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x200000)
# The probe runs on QEMU's MPS2 board: code at 0, data at 0x20000000, started through semihosting.
probe_flags=(-std=c++20 -mcpu=cortex-m4 -mthumb "--specs=$specs" --oslib=semihost --crt0=semihost -Os -DNDEBUG
             -fno-exceptions -fno-rtti -I"$root" -isystem "$work/boost-only"
             -Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x400000
             -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000)

# name|what it is|extra config lines|extra statements in main
small='using PageSource = mheap::StaticArena<std::size_t{64} << 10, 256, mheap::ArenaRelease::none>; using LargeSpanTree = mheap::NoTree; static constexpr std::size_t page_shift = 8; static constexpr std::size_t max_list_pages = 257; static constexpr std::size_t span_cache_pages = 0; static constexpr bool guard_pages = false;'
records='static constexpr std::size_t reserved_span_records = 64;'
arena='using PageSource = mheap::StaticArena<std::size_t{64} << 10>; static constexpr std::size_t page_shift = 8;'
configs=(
  "small|docs/embedded.md's small configuration: no tree (a list per length), no span cache, an arena without release(), trap on misuse|using MisusePolicy = mheap::TrapOnMisuse; $small $records|"
  "small, with messages|as small, misuse reported with a message (AbortOnMisuse, the default)|$small $records|"
  "small, records for the worst case|as small, room for one span record per page (reserved_span_records = 0)|using MisusePolicy = mheap::TrapOnMisuse; $small|"
  "embedded|issue 11's program: DefaultConfig with NullLock, StaticArena 64 KiB, 256-byte pages|$arena|"
  "embedded, no span cache|as embedded, span_cache_pages = 0|$arena static constexpr std::size_t span_cache_pages = 0;|"
  "full|as embedded, plus audit()|$arena|failed += !heap.audit();"
)

# probe EXTRA: "record | pages" of that configuration, measured on a Cortex-M4 under QEMU (semihosting
# printf; the exit status is the probe's), or "— | —" without qemu-system-arm.
probe() {
  command -v qemu-system-arm >/dev/null || { echo "— | —"; return; }
  cat >"$work/probe.cpp" <<CPP
#include <cstdio>
#include "mheap/mheap.hpp"
struct Cfg : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  $1
};
constinit static mheap::Heap<Cfg> heap;
int main() {
  std::printf("%u B | %u of %u\\n", unsigned{sizeof(mheap::Heap<Cfg>::span_type)}, unsigned(heap.capacity_pages()),
              unsigned((std::size_t{64} << 10) >> Cfg::page_shift));
  return 0;
}
CPP
  "$cxx" "${probe_flags[@]}" "$work/probe.cpp" -o "$work/probe.elf"
  timeout 60 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$work/probe.elf" 2>&1 | tr -d '\r'
}

cat >"$work/base.cpp" <<'CPP'
int main() { return 0; }
CPP
"$cxx" "${flags[@]}" "$work/base.cpp" -o "$work/base.elf"
read -r base_text base_data base_bss _ < <(arm-none-eabi-size "$work/base.elf" | tail -1)

out="## Code size on a Cortex-M4 (\`tools/size_table.sh\`)

arm-none-eabi-g++ $("$cxx" -dumpversion) with picolibc, \`-Os -DNDEBUG -fno-exceptions -fno-rtti
-ffunction-sections -fdata-sections -Wl,--gc-sections\`; each program initialises a \`NullLock\` heap on
a \`StaticArena<64 KiB>\`, allocates a span, frees it and reads the counters. Bytes over the same
program without the heap (.bss includes the 64 KiB arena). *record*: bytes per span record; *pages for
spans*: the arena's 256 pages less the page map, the span records' room and the guards.

| configuration | what | .text | .data | .bss | record | pages for spans |
|---|---|---|---|---|---|---|
"
symbols=""
for c in "${configs[@]}"; do
  IFS='|' read -r name what extra stmts <<<"$c"
  cat >"$work/prog.cpp" <<CPP
#include "mheap/mheap.hpp"
struct Cfg : mheap::DefaultConfig {
  using Lock = mheap::NullLock;
  $extra
};
constinit static mheap::Heap<Cfg> heap;  // no constructor, nothing at exit
int main() {
  int failed = 0;
  auto s = heap.alloc<mheap::GCSpanPolicy>(3);
  failed += !s;
  heap.free(s);
  failed += heap.stats().heap_inuse != 0;
  $stmts
  return failed;
}
CPP
  "$cxx" "${flags[@]}" "$work/prog.cpp" -o "$work/prog.elf"
  read -r text data bss _ < <(arm-none-eabi-size "$work/prog.elf" | tail -1)
  out+="| $name | $what | $((text - base_text)) | $((data - base_data)) | $((bss - base_bss)) | $(probe "$extra") |
"
  if [[ $name == small || $name == embedded ]]; then
    symbols+="
Biggest functions of *$name* (bytes, \`arm-none-eabi-nm --size-sort -C\`):

| bytes | symbol |
|---|---|
$(arm-none-eabi-nm --size-sort -C -S "$work/prog.elf" | awk '$3 ~ /[tTwW]/' | tail -12 | tac |
  while read -r _ size _ sym; do printf '| %d | `%s` |\n' "$((16#$size))" "${sym:0:110}"; done)
"
  fi
done
out+="$symbols"
printf '%s' "$out"
[[ $# -ge 1 ]] && printf '%s' "$out" >"$1"
exit 0
