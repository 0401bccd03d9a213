#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The CMake and pkg-config packages, as a consumer meets them: configure and install mheap into a
# scratch prefix, check what the install put there, then build and run examples/consumer (copied
# out of the tree) with find_package(mheap) and with pkg-config; then move the installed tree
# elsewhere and build both again (both packages locate themselves); last, build the consumer with
# the checkout as an add_subdirectory() of its own build. Exits non-zero on any failure;
# the last line is "package test: passed" or "package test: FAILED (...)".
#
# What the install must hold: <prefix>/include/mheap-<major>.<minor>/{mheap,policies}/*.hpp and
# nothing else under include/ (above all no <prefix>/include/policies); the CMake package and
# mheap.pc at the version mheap/version.hpp says; no tests, benchmarks or examples.
#
#   tools/package_test.sh            (.ci/run counts it as one test)
#   KEEP=1 tools/package_test.sh     keeps the scratch directory and prints where it is
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Debian package -> file that proves it is installed (as ./bazelw does for the Bazel build).
declare -A required=(
  [cmake]=/usr/bin/cmake
  [pkg-config]=/usr/bin/pkg-config
  [g++]=/usr/bin/g++
  [make]=/usr/bin/make
  [libboost-dev]=/usr/include/boost/version.hpp
)
source "$(dirname "${BASH_SOURCE[0]}")/ensure_packages.sh"
ensure_packages package_test required

work=$(mktemp -d "${TMPDIR:-/tmp}/mheap-package.XXXXXX")
if [[ -n ${KEEP:-} ]]; then
  echo "package_test: keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

failures=()
fail() {
  echo "FAIL: $*"
  failures+=("$1")
}
step() { echo "::: package_test: $*"; }

version=$(awk '$1 == "#define" && $2 ~ /^MHEAP_VERSION_(MAJOR|MINOR|PATCH)$/ { v[$2] = $3 }
  END { print v["MHEAP_VERSION_MAJOR"] "." v["MHEAP_VERSION_MINOR"] "." v["MHEAP_VERSION_PATCH"] }' mheap/version.hpp)
series=${version%.*}
prefix="$work/prefix"

step "configure and install mheap $version into $prefix"
cmake -S "$root" -B "$work/build" -DCMAKE_INSTALL_PREFIX="$prefix" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; echo "package test: FAILED (cmake configure)"; exit 1; }
cmake --install "$work/build" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "package test: FAILED (cmake --install)"; exit 1; }

step "what the install holds"
[[ ! -e $prefix/include/policies ]] || fail "$prefix/include/policies exists"
others=$(cd "$prefix/include" && ls -A | grep -vx "mheap-$series" || true)
[[ -z $others ]] || fail "include/ holds more than mheap-$series: $others"
for dir in mheap policies; do
  want=$(cd "$root" && find "$dir" -name '*.hpp' | sort)
  got=$(cd "$prefix/include/mheap-$series" 2>/dev/null && find "$dir" -type f | sort) || got=""
  [[ $want == "$got" ]] || fail "include/mheap-$series/$dir differs from the tree's $dir/*.hpp"
done
strays=$(cd "$prefix" && find . \( -name '*.cpp' -o -name 'test' -o -name 'bench' -o -name 'examples' -o -name 'BUILD' \) | head)
[[ -z $strays ]] || fail "tests, benchmarks or examples installed: $strays"
cmake_version=$(sed -nE 's/^set\(PACKAGE_VERSION "([^"]*)"\)$/\1/p' "$prefix/share/cmake/mheap/mheapConfigVersion.cmake")
[[ $cmake_version == "$version" ]] || fail "mheapConfigVersion.cmake says '$cmake_version', mheap/version.hpp $version"
pc_version=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --modversion mheap) || pc_version="(not found)"
[[ $pc_version == "$version" ]] || fail "pkg-config --modversion mheap says '$pc_version', mheap/version.hpp $version"

# consumers PREFIX LABEL: build and run examples/consumer against PREFIX, both ways.
consumers() {
  local at=$1 label=$2 dir="$work/consumer-$2"
  cp -R "$root/examples/consumer" "$dir"

  step "$label: find_package(mheap) consumer"
  if cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$at" >"$dir/cmake.log" 2>&1 &&
     cmake --build "$dir/build" >>"$dir/cmake.log" 2>&1 &&
     "$dir/build/consumer" >"$dir/cmake.out" 2>&1 &&
     grep -qx "mheap $version: ok" "$dir/cmake.out"; then
    echo "ok: $(cat "$dir/cmake.out")"
  else
    cat "$dir/cmake.log" "$dir/cmake.out" 2>/dev/null | tail -n 30
    fail "$label: the find_package(mheap) consumer"
  fi

  step "$label: pkg-config consumer"
  if PKG_CONFIG_PATH="$at/share/pkgconfig" make -C "$dir" consumer >"$dir/make.log" 2>&1 &&
     "$dir/consumer" >"$dir/make.out" 2>&1 &&
     grep -qx "mheap $version: ok" "$dir/make.out"; then
    echo "ok: $(cat "$dir/make.out")"
  else
    cat "$dir/make.log" "$dir/make.out" 2>/dev/null | tail -n 30
    fail "$label: the pkg-config consumer"
  fi
}

consumers "$prefix" installed
mv "$prefix" "$work/moved"
consumers "$work/moved" moved

# Without installing: the checkout as a subdirectory of the consumer's own build.
step "add_subdirectory(mheap) consumer"
sub="$work/consumer-subdirectory"
mkdir -p "$sub"
cat >"$sub/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(mheap_subdirectory_consumer LANGUAGES CXX)
add_subdirectory("$root" mheap)
add_executable(consumer "$root/examples/consumer/main.cpp")
target_link_libraries(consumer PRIVATE mheap::mheap)
CMAKE
if cmake -S "$sub" -B "$sub/build" >"$sub/cmake.log" 2>&1 &&
   cmake --build "$sub/build" >>"$sub/cmake.log" 2>&1 &&
   "$sub/build/consumer" >"$sub/out" 2>&1 &&
   grep -qx "mheap $version: ok" "$sub/out"; then
  echo "ok: $(cat "$sub/out")"
else
  cat "$sub/cmake.log" "$sub/out" 2>/dev/null | tail -n 30
  fail "the add_subdirectory(mheap) consumer"
fi

if ((${#failures[@]})); then
  echo "package test: FAILED (${#failures[@]} check(s), listed above)"
  exit 1
fi
echo "package test: passed"
