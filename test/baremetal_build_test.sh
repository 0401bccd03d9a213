#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The umbrella header and the embedded image compile and link for a bare-metal Cortex-M4 with
# arm-none-eabi-g++ and picolibc: no std::mutex there (MutexLock must vanish), no <sys/mman.h>
# (MmapSource must vanish), and Boost comes from a directory holding only boost/ — never
# -I/usr/include, whose glibc headers would break a cross build.
set -euo pipefail

cxx=arm-none-eabi-g++
specs=/usr/lib/picolibc/arm-none-eabi/picolibcpp.specs
if ! command -v "$cxx" >/dev/null || [[ ! -e $specs ]]; then
  echo "FAIL: $cxx with picolibc is not installed (./bazelw installs gcc-arm-none-eabi picolibc-arm-none-eabi)"
  exit 1
fi

root="${TEST_SRCDIR:-$(pwd)}/${TEST_WORKSPACE:-mheap}"
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/baremetal.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boost-only"
ln -s /usr/include/boost "$work/boost-only/boost"

cat >"$work/main.cpp" <<'CPP'
#include "mheap/mheap.hpp"  // the whole public surface
#include "examples/embedded_image.hpp"
#if MHEAP_HAS_THREADS
#error "a bare-metal libstdc++ has no threads: MutexLock must not be defined"
#endif
static_assert(mheap::LockPolicy<mheap::SpinLock>);
int main() { return embedded::run_workload(); }
CPP

flags=(-std=c++20 -mcpu=cortex-m4 -mthumb "--specs=$specs" --oslib=semihost -Os -Wall -Wextra -Werror
       -fno-exceptions -fno-rtti -I"$root" -isystem "$work/boost-only")
"$cxx" "${flags[@]}" "$work/main.cpp" "$root/examples/embedded_image.cpp" -o "$work/image.elf" \
  -Wl,--defsym=__flash=0x08000000 -Wl,--defsym=__flash_size=0x100000 \
  -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x200000
arm-none-eabi-size "$work/image.elf"
if "$cxx" "${flags[@]}" -v -E -x c++ /dev/null 2>&1 | grep -q '^ /usr/include$'; then
  echo "FAIL: host /usr/include is on the cross compiler's include path"
  exit 1
fi
echo "1 passed, 0 failed"
