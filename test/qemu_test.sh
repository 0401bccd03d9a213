#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the heap on the target: test/target/trace_on_target.cpp, cross-built with arm-none-eabi-g++
# and picolibc for a Cortex-M4 (QEMU's mps2-an386 board) and a Cortex-M3 (mps2-an385), under
# qemu-system-arm with semihosting, whose exit status is the program's: the number of failed
# checks of a seeded trace against its model, the counters and the audit. One test per CPU.
set -uo pipefail

cxx=arm-none-eabi-g++
specs=/usr/lib/picolibc/arm-none-eabi/picolibcpp.specs
for tool in "$cxx" qemu-system-arm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed (./bazelw installs gcc-arm-none-eabi, picolibc-arm-none-eabi, qemu-system-arm)"
    exit 1
  fi
done

root="${TEST_SRCDIR:-$(pwd)}/${TEST_WORKSPACE:-mheap}"
[[ -n ${TEST_SRCDIR:-} ]] || root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boost-only"
ln -s /usr/include/boost "$work/boost-only/boost"  # never -I/usr/include in a cross build

# The MPS2 boards: code in the 4 MiB at 0, data in the 4 MiB at 0x20000000.
memory=(-Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x400000
        -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000)
passed=0
failed=0
for target in "cortex-m4 mps2-an386" "cortex-m3 mps2-an385"; do
  read -r cpu board <<<"$target"
  elf="$work/trace-$cpu.elf"
  if ! "$cxx" -std=c++20 -mcpu="$cpu" -mthumb "--specs=$specs" --oslib=semihost --crt0=semihost -Os -Wall \
       -Wextra -Werror -fno-exceptions -fno-rtti -I"$root" -isystem "$work/boost-only" \
       "$root/test/target/trace_on_target.cpp" -o "$elf" "${memory[@]}"; then
    echo "FAIL $cpu: the trace does not build"
    failed=$((failed + 1))
    continue
  fi
  timeout 120 qemu-system-arm -machine "$board" -cpu "$cpu" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf"
  status=$?
  if ((status == 0)); then
    echo "ok   $cpu ($board)"
    passed=$((passed + 1))
  else
    echo "FAIL $cpu ($board): exit status $status (failed checks, or 124: timed out)"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
((failed == 0))
