// SPDX-License-Identifier: BSL-1.0
// mheap::Heap<NullLockConfig> with GCSpanPolicy, plus the thread variants (1, 2, 4, 8 threads):
// one heap shared under SpinLock, one under MutexLock, one under AdaptiveLock (all with thread
// caches and arenas, the default), one under AdaptiveLock with one arena, one with one cache under
// the lock, and a NullLock heap per thread; the pipeline (one thread allocates, another frees) on
// the default and on one arena; and the release workload with no call: the default's paced bound
// after 1.1 s idle and a few more calls, and the paced bound at 50 % releasing at once.
#include "bench/mheap_peer.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
  using namespace bench;
  return bench_main(argc, argv, [] {
    register_single_thread<MheapPeer<NullLockConfig>>();
    register_release<MheapPeer<NullLockConfig>>("release/default", {.call = false, .idle_first_ms = 1100, .go_on_pairs = 32});
    register_release<MheapPeer<PacedConfig>>("release/paced50", {.call = false});
    register_threads_shared<MheapPeer<SpinLockConfig>>("spinlock");
    register_threads_shared<MheapPeer<MutexLockConfig>>("mutexlock");
    register_threads_shared<MheapPeer<AdaptiveLockConfig>>("adaptivelock");
    register_threads_shared<MheapPeer<AdaptiveLockOneArenaConfig>>("adaptivelock_one_arena");
    register_threads_shared<MheapPeer<AdaptiveLockOneCacheConfig>>("adaptivelock_one_cache");
    register_threads_private<MheapPeer<NullLockConfig>>("heap_per_thread");
    register_pipeline<MheapPeer<AdaptiveLockConfig>>("adaptivelock");
    register_pipeline<MheapPeer<AdaptiveLockOneArenaConfig>>("adaptivelock_one_arena");
  });
}
