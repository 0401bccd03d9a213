#!/bin/sh
# SPDX-License-Identifier: BSL-1.0
# Stand-in for Bazel's remote coverage tools; see BUILD.
echo "$(basename "$0"): bazel coverage is not supported in this offline build (third_party/remote_coverage_tools is a stub)" >&2
exit 1
