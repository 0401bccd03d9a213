// SPDX-License-Identifier: BSL-1.0
/// \file
/// mheap/thread_caches.hpp — one span cache per (thread, heap), found without a lock, returned when
/// the thread exits.
///
/// What a thread replicates of a heap is exactly what a single-threaded heap holds once: a span
/// cache (mheap/span_cache.hpp). Add the window the thread opens around each lock-free use of it,
/// which carries its counter deltas (mheap/consistent_stats.hpp), and an outbox for the spans its
/// stacks have no room for, and that is a ThreadCache: one per thread that uses a heap, allocated
/// on its first use (so threads that never touch a heap cost it nothing), owned by the thread,
/// listed by the heap. The front end (mheap/front_end.hpp) is what uses it; users never name these
/// types (Config::thread_caches turns them on).
///
/// Finding the cache costs one thread-local load and one compare: the thread remembers the cache
/// it used last (`last`, a trivially destructible thread_local, so the compiler reaches it without
/// a guard). A thread using several heaps finds the others on a short list under the registry
/// mutex. Three events change who knows a cache, all under one process-wide mutex, so a thread
/// exiting and a heap being destroyed can never miss each other:
///
///     first use:    the thread links a new cache into its own list and, under the heap lock, into
///                   the heap's list (snapshots and stops of the front end walk that list);
///     thread exit:  every cache the thread owns goes back to its heap (Owner::retire_thread_cache:
///                   under the heap lock its spans, its outbox and the arena's returned stack are
///                   flushed and its deltas folded in),
///                   then is deleted; a heap call made later in the thread's exit (from another
///                   thread_local's destructor) finds no cache and uses the heap under its lock;
///     heap dies:    the heap forgets its caches (owner = null); their threads delete them later,
///                   at exit or when they next look for a cache.
///
/// Lock order: the registry mutex before a heap lock; nothing takes them the other way round.
///
/// A thread that must grow the heap, scavenge, enforce the retention bound or audit stops the
/// front end (mheap/consistent_stats.hpp) and then reads or flushes every thread's cache itself:
/// parked spans never make the heap grow, however many threads park them (in a heap of several
/// arenas, mheap/arena_set.hpp: never make their arena grow).
#pragma once
#include "detail/require_cxx20.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/intrusive/list.hpp>

#include "consistent_stats.hpp"
#include "detail/intrusive.hpp"
#include "span_cache.hpp"
#include "../policies/lock.hpp"  // MHEAP_HAS_THREADS

#if MHEAP_HAS_THREADS
#include <mutex>
#endif

namespace mheap {

#if MHEAP_HAS_THREADS
/// The mutex behind first use, thread exit and heap destruction (rare events, all heaps share it).
inline std::mutex& thread_cache_registry_mutex() noexcept {
  static std::mutex m;
  return m;
}
#endif

/// What one thread holds of one heap (Owner): its span cache, its window, its outbox.
template <class Owner, class SpanT, std::size_t Kinds, std::size_t MaxPages>
struct ThreadCache {
  /// Hook type of the heap's list of caches.
  using heap_hook = detail::bi::list_member_hook<detail::bi::link_mode<detail::bi::normal_link>>;
  /// Hook type of the thread's list of caches.
  using thread_hook = detail::bi::list_member_hook<detail::bi::link_mode<detail::bi::normal_link>>;

  /// An empty cache of heap o.
  explicit ThreadCache(Owner* o) noexcept : owner(o) {}

  CacheWindow<Kinds> window;                ///< opened by the owning thread, waited out by the heap
  SpanCache<SpanT, Kinds, MaxPages> spans;  ///< the owning thread's inside a window, the heap's under its lock
  std::atomic<Owner*> owner;                ///< the heap; null once it is destroyed
  std::atomic<std::uint64_t> zeroed_bytes{0};  ///< HeapEvents::zeroed_bytes of the lock-free path
  std::atomic<std::uint32_t> in_transit{0};    ///< spans claimed in the window, on their way to the heap
  static constexpr std::size_t outbox_capacity = 16;  ///< spans the outbox holds at most
  /// Parked spans no stack had room for, waiting for this thread's next lock (or a stop) to go to
  /// the free set, or for the free that finds it full to take them onto the arena's returned stack
  /// in one batch (mheap/returned_spans.hpp): a free that misses the cache costs no lock of its
  /// own. At most outbox_capacity short spans and half the cache's pages. The thread's, like `spans`.
  std::array<SpanT*, outbox_capacity> outbox{};
  std::uint32_t outbox_size = 0;            ///< spans in the outbox
  std::size_t outbox_pages = 0;             ///< their pages (at most half the cache's)
  void box(SpanT* s, std::size_t n) noexcept {  ///< s, of n pages, into the outbox (the caller saw room)
    outbox[outbox_size++] = s;
    outbox_pages += n;
  }
  void clear_outbox() noexcept { outbox_size = 0, outbox_pages = 0; }  ///< its spans went elsewhere
  /// For a heap of several arenas (mheap/arena_set.hpp): the heap in which this cache's arena is
  /// the thread's home (null: not a home). Set under the registry mutex.
  const void* home_of = nullptr;
  /// That heap's count of the live threads calling the arena home, which the thread's exit lowers
  /// (under the registry mutex).
  std::uint32_t* homes = nullptr;
  /// A guest: this cache's arena is not the thread's home, and the thread only frees into it
  /// (ThisThread::free_cache_for). Its stacks stay empty; its frees wait in the outbox, and a span
  /// the outbox cannot take (full, or long) goes with it onto the arena's returned stack, unlocked
  /// (mheap/returned_spans.hpp, which bounds what waits there). Being listed, it is another
  /// thread's window for the arena's cuts (mheap/window_fence.hpp). Set (and cleared, when the arena
  /// becomes the thread's home) by the owning thread under the registry mutex; read only by it.
  bool guest = false;
  heap_hook in_heap;                        ///< the heap's list (under its lock)
  thread_hook in_thread;                    ///< the owning thread's list (under the registry mutex)
};

#if MHEAP_HAS_THREADS
/// A heap's side: the caches of the threads that used it, and the epoch of its snapshots.
template <class Cache>
class ThreadCacheRegistry {
  using List = detail::bi::list<Cache, detail::bi::member_hook<Cache, typename Cache::heap_hook, &Cache::in_heap>,
                                detail::bi::constant_time_size<false>>;

 public:
  ThreadCacheRegistry() = default;  ///< No caches yet.
  ThreadCacheRegistry(const ThreadCacheRegistry&) = delete;
  ThreadCacheRegistry& operator=(const ThreadCacheRegistry&) = delete;
  /// The heap is going away: its caches' threads must not come back to it.
  ~ThreadCacheRegistry() { detach_all(); }

  /// The heap is going away (its destructor calls this before anything else is torn down): every
  /// cache forgets its owner, under the registry mutex.
  void detach_all() noexcept {
    std::lock_guard g(thread_cache_registry_mutex());
    while (!caches_.empty()) {
      Cache& c = caches_.front();
      caches_.pop_front();
      c.owner.store(nullptr, std::memory_order_relaxed);
    }
  }

  // All four under the heap lock (and the registry mutex for link/unlink).
  void link(Cache& c) noexcept { caches_.push_back(c); }                     ///< Lists c (first use).
  void unlink(Cache& c) noexcept { caches_.erase(caches_.iterator_to(c)); }  ///< Forgets c (thread exit).
  /// Calls f(cache) for every cache listed.
  template <class F>
  void for_each(F&& f) {
    for (Cache& c : caches_) f(c);
  }
  /// Calls f(cache) for every cache listed, read-only.
  template <class F>
  void for_each(F&& f) const {
    for (const Cache& c : caches_) f(c);
  }

  FrontEndEpoch epoch;  ///< what every cache's window reads (mheap/consistent_stats.hpp)

 private:
  List caches_;
};

/// A thread's side, per cache type (one per heap configuration).
template <class Cache>
class ThisThread {
  using Owner = std::remove_pointer_t<decltype(std::declval<Cache&>().owner.load())>;
  using List = detail::bi::list<Cache, detail::bi::member_hook<Cache, typename Cache::thread_hook, &Cache::in_thread>,
                                detail::bi::constant_time_size<false>>;

 public:
  /// The calling thread's cache for heap h, made on first use; null when none can be had (out of
  /// memory, or the thread is exiting and its caches are gone: the heap then works without one).
  static Cache* cache_for(Owner* h) noexcept {
    Cache* c = last;
    if (c != nullptr && c->owner.load(std::memory_order_relaxed) == h) [[likely]]
      return c;
    return find_or_make(h);
  }

  /// The calling thread's cache in its home arena of `heap`, a heap of several arenas
  /// (mheap/arena_set.hpp). On the thread's first call for that heap, pick() chooses the arena under
  /// the registry mutex and returns its owner and the heap's count of threads calling it home
  /// (raised by pick, lowered at the thread's exit). Null as cache_for().
  template <class Pick>
  static Cache* home_cache_for(const void* heap, Pick&& pick) noexcept {
    Cache* c = home;
    if (c != nullptr && c->home_of == heap && c->owner.load(std::memory_order_relaxed) != nullptr) [[likely]]
      return c;
    return find_or_make_home(heap, pick);
  }
  /// The calling thread's cache in its home arena of `heap`, if it has one (never made here).
  static Cache* home_cache_of(const void* heap) noexcept {
    Cache* c = home;
    if (c != nullptr && c->home_of == heap && c->owner.load(std::memory_order_relaxed) != nullptr) [[likely]]
      return c;
    return find_home(heap);
  }
  /// The calling thread's cache for a free into `arena`, an arena of a heap of several: its home
  /// cache if the arena is its home, else its guest cache there (Cache::guest), made on the first
  /// free. Null as cache_for(). A thread that only frees into a heap thus has a cache in each
  /// arena it frees into and no home.
  static Cache* free_cache_for(Owner* arena) noexcept {
    Cache* c = home;
    if (c != nullptr && c->owner.load(std::memory_order_relaxed) == arena) [[likely]]
      return c;
    c = guest;
    if (c != nullptr && c->owner.load(std::memory_order_relaxed) == arena) return c;
    return find_or_make_guest(arena);
  }

 private:
  // Deletes the thread's caches at its exit, after giving each back to its heap.
  struct Owned {
    List caches;
    ~Owned() {
      exiting = true;
      last = nullptr;
      home = nullptr;
      guest = nullptr;
      std::lock_guard g(thread_cache_registry_mutex());
      while (!caches.empty()) {
        Cache& c = caches.front();
        caches.pop_front();
        if (Owner* h = c.owner.load(std::memory_order_relaxed)) {
          if (c.homes != nullptr) --*c.homes;  // one thread fewer calls the arena home
          h->retire_thread_cache(c);
        }
        delete &c;
      }
    }
  };

  [[gnu::noinline]] static Cache* find_or_make(Owner* h) noexcept {
    if (exiting) return nullptr;
    List& mine = owned().caches;
    // A thread moving between heaps finds its cache without the mutex: only this thread changes
    // its list, and a heap's destructor only clears `owner` (a heap built since at the same address
    // was published to this thread after that store, so it reads null, never a stale match).
    for (Cache& c : mine) {
      if (c.owner.load(std::memory_order_relaxed) == h) {
        last = &c;
        return &c;
      }
    }
    std::lock_guard g(thread_cache_registry_mutex());
    return find_or_make_locked(h);
  }

  // Under the registry mutex: the thread's cache for h, made if it has none; its dead caches
  // (their heaps are gone) deleted on the way.
  static Cache* find_or_make_locked(Owner* h) noexcept {
    List& mine = owned().caches;
    Cache* found = nullptr;
    for (auto it = mine.begin(); it != mine.end();) {
      Cache& c = *it;
      Owner* o = c.owner.load(std::memory_order_relaxed);
      if (o == nullptr) {  // its heap is gone
        it = mine.erase(it);
        if (last == &c) last = nullptr;
        if (home == &c) home = nullptr;
        if (guest == &c) guest = nullptr;
        delete &c;
        continue;
      }
      if (o == h) found = &c;
      ++it;
    }
    if (found == nullptr) {
      found = new (std::nothrow) Cache(h);
      if (found == nullptr) return nullptr;
      mine.push_back(*found);
      h->register_thread_cache(*found);
    }
    last = found;
    return found;
  }

  // The thread's home cache in heap from its list, without the mutex (only this thread changes its
  // list, as in find_or_make), or null.
  [[gnu::noinline]] static Cache* find_home(const void* heap) noexcept {
    if (exiting) return nullptr;
    for (Cache& c : owned().caches) {
      if (c.home_of == heap && c.owner.load(std::memory_order_relaxed) != nullptr) {
        home = &c;
        return &c;
      }
    }
    return nullptr;
  }
  template <class Pick>
  [[gnu::noinline]] static Cache* find_or_make_home(const void* heap, Pick& pick) noexcept {
    if (Cache* c = find_home(heap)) return c;
    if (exiting) return nullptr;
    std::lock_guard g(thread_cache_registry_mutex());
    const auto [arena, homes] = pick();  // counts this thread in
    Cache* c = find_or_make_locked(arena);
    if (c == nullptr) {
      --*homes;
      return nullptr;
    }
    c->home_of = heap;
    c->homes = homes;
    c->guest = false;  // the thread freed into this arena before: now it allocates here too
    home = last = c;
    return c;
  }
  // The thread's cache in arena from its list (without the mutex, as in find_or_make; the home
  // cache if the list holds it), else a new guest cache made under the mutex.
  [[gnu::noinline]] static Cache* find_or_make_guest(Owner* arena) noexcept {
    if (exiting) return nullptr;
    for (Cache& c : owned().caches) {
      if (c.owner.load(std::memory_order_relaxed) == arena) {
        guest = &c;
        return &c;
      }
    }
    std::lock_guard g(thread_cache_registry_mutex());
    Cache* c = find_or_make_locked(arena);
    if (c != nullptr && c->home_of == nullptr) c->guest = true;
    guest = c;
    return c;
  }

  static inline thread_local Cache* home = nullptr;  // the home cache used last (a heap of arenas)
  static inline thread_local Cache* guest = nullptr;  // the guest cache used last (a heap of arenas)
  static inline thread_local Cache* last = nullptr;  // trivially destructible: no guard on the fast path
  static inline thread_local bool exiting = false;
  // In a function, not a static data member: GCC (12 here; its bug 66944) emits one guard
  // variable under one name for every thread_local static member with a destructor, and fails with
  // "redefinition of __tls_guard" in a program that uses two heap configurations with thread caches
  // in one translation unit. Only the slow paths above reach it (the fast ones read `last`, `home`).
  static Owned& owned() noexcept {
    static thread_local Owned mine;
    return mine;
  }
};

#endif  // MHEAP_HAS_THREADS

}  // namespace mheap
