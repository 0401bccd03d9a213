// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/version.hpp — which mheap this is, for the preprocessor and as text.
///
/// The one place the version is written: CMakeLists.txt reads the three numbers from here, so the
/// CMake and pkg-config packages cannot disagree with the headers they install. While the major
/// number is 0, a minor release may change the API (CHANGELOG.md says what changed).
#pragma once
#include "detail/require_cxx20.hpp"

// Each #define stays alone on its line: CMakeLists.txt, tools/package_test.sh and
// test/version_test.sh read the numbers with patterns that end at the number.

/// Major version.
#define MHEAP_VERSION_MAJOR 0
/// Minor version (while the major is 0, a new minor version may change the API).
#define MHEAP_VERSION_MINOR 4
/// Patch version.
#define MHEAP_VERSION_PATCH 0
/// The three numbers as text, "MAJOR.MINOR.PATCH".
#define MHEAP_VERSION_STRING "0.4.0"

/// One comparable number, e.g. `#if MHEAP_VERSION >= 500` for "0.5.0 or later".
#define MHEAP_VERSION (MHEAP_VERSION_MAJOR * 10000 + MHEAP_VERSION_MINOR * 100 + MHEAP_VERSION_PATCH)
