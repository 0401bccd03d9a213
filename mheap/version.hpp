// SPDX-License-Identifier: BSL-1.0
// mheap/version.hpp — which mheap this is, for the preprocessor and as text.
//
// The one place the version is written: CMakeLists.txt reads the three numbers from here, so the
// CMake and pkg-config packages cannot disagree with the headers they install. While the major
// number is 0, a minor release may change the API (CHANGELOG.md says what changed).
#pragma once
#include "detail/require_cxx20.hpp"

#define MHEAP_VERSION_MAJOR 0
#define MHEAP_VERSION_MINOR 4
#define MHEAP_VERSION_PATCH 0
#define MHEAP_VERSION_STRING "0.4.0"

// One comparable number, e.g. `#if MHEAP_VERSION >= 500` for "0.5.0 or later".
#define MHEAP_VERSION (MHEAP_VERSION_MAJOR * 10000 + MHEAP_VERSION_MINOR * 100 + MHEAP_VERSION_PATCH)
