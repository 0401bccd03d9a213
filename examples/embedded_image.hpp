// SPDX-License-Identifier: BSL-1.0
// examples/embedded_image.hpp — an embedded image's heap, configured entirely at compile time.
#pragma once

namespace embedded {

// Runs a firmware-like workload on the image's static heap: task stacks, message buffers,
// a scratch region. Returns the number of failed checks (0 when all is well).
int run_workload();

}  // namespace embedded
