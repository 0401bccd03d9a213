// SPDX-License-Identifier: BSL-1.0
// Boost.Interprocess managed_external_buffer: a header-only best-fit heap (rbtree_best_fit) over
// one buffer, here a 512 GiB MAP_NORESERVE mapping. Single-threaded runs use null_mutex_family;
// the thread runs use the default mutex_family (one process-shared pthread mutex).
#include <sys/mman.h>

#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include "bench/peers.hpp"
#include "bench/workloads.hpp"

namespace bip = boost::interprocess;

template <class MutexFamily>
class BoostPeer {
  using Buffer = bip::basic_managed_external_buffer<char, bip::rbtree_best_fit<MutexFamily>, bip::iset_index>;

 public:
  using handle = void*;
  BoostPeer() {
    mem_ = ::mmap(nullptr, bench::reserve_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
    if (mem_ == MAP_FAILED) bench::die("mmap", bench::reserve_bytes() / bench::kPageBytes);
    buf_ = new Buffer(bip::create_only, mem_, bench::reserve_bytes());
  }
  ~BoostPeer() {
    delete buf_;
    ::munmap(mem_, bench::reserve_bytes());
  }
  BoostPeer(const BoostPeer&) = delete;
  BoostPeer& operator=(const BoostPeer&) = delete;

  handle alloc(std::size_t pages) noexcept {
    return buf_->allocate_aligned(pages * bench::kPageBytes, bench::kPageBytes, std::nothrow);
  }
  void free(handle p, std::size_t) noexcept { buf_->deallocate(p); }
  static void* base(handle p) noexcept { return p; }

 private:
  void* mem_ = nullptr;
  Buffer* buf_ = nullptr;
};

int main(int argc, char** argv) {
  return bench::bench_main(argc, argv, [] {
    bench::register_single_thread<BoostPeer<bip::null_mutex_family>>();
    bench::register_threads_shared<BoostPeer<bip::mutex_family>>("shared");
    bench::register_pipeline<BoostPeer<bip::mutex_family>>("shared");
  });
}
