// A small fork-join thread pool: `run(n_tasks, fn)` calls fn(task, thread) for every task
// in [0, n_tasks) across the pool's threads and returns when all are done. The calling
// thread works too, so a pool of N threads starts N-1 workers.
//
// Natively it uses std::thread. Under Emscripten it uses pthreads when the module is built
// with -pthread (then link with -sEXIT_RUNTIME=1 or Node hangs at exit); a single-threaded
// WASM build (TESSERA_THREADS == 0) runs every task inline on the caller.
// Nested calls from inside a task run inline, so kernels can call parallel_for freely.
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/arena.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#if TESSERA_THREADS
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace tessera::runtime {

namespace detail {
inline bool& in_parallel_region() {
  thread_local bool flag = false;
  return flag;
}
}  // namespace detail

// True inside a task of a pool's run(): a nested run() would execute inline, so a kernel may
// pick its serial blocking instead of splitting work for threads it will not get.
inline bool in_parallel_region() { return detail::in_parallel_region(); }

class thread_pool {
 public:
  // num_threads == 0: one per hardware thread.
  explicit thread_pool(std::size_t num_threads = 0) { start(num_threads); }
  ~thread_pool() { stop(); }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  std::size_t num_threads() const noexcept { return num_threads_; }

  // Restarts the pool with another size (not while a run() is in flight).
  void set_num_threads(std::size_t n) {
    stop();
    start(n);
  }

  // fn(std::size_t task, std::size_t thread) for every task; thread < num_threads().
  template <class F>
  void run(std::size_t n_tasks, F&& fn) {
    if (n_tasks == 0) return;
#if TESSERA_THREADS
    if (num_threads_ > 1 && n_tasks > 1 && !detail::in_parallel_region()) {
      using Fn = std::remove_reference_t<F>;
      dispatch([](void* ctx, std::size_t task, std::size_t thread) { (*static_cast<Fn*>(ctx))(task, thread); },
               const_cast<void*>(static_cast<const void*>(&fn)), n_tasks);
      return;
    }
#endif
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t, std::size_t{0});
  }

 private:
#if TESSERA_THREADS
  // The job being run, in the pool: workers read it only after joining (see state_).
  struct job {
    void (*call)(void*, std::size_t, std::size_t) = nullptr;
    void* ctx = nullptr;
    std::size_t n_tasks = 0;
    std::atomic<std::size_t> next{0};
  };

  // state_: the job's generation (high 32 bits), whether it still takes workers (kOpen) and
  // how many joined (low bits). A worker joins with a CAS while the job is open; the caller
  // closes it once every task is claimed and waits only for the workers that joined. So a
  // worker that wakes late (its core busy with another process, a halted vCPU) costs the
  // caller nothing: it finds the job closed and goes back to waiting.
  static constexpr std::uint64_t kOpen = std::uint64_t{1} << 31, kJoined = kOpen - 1;
  static std::uint32_t generation_of(std::uint64_t s) { return static_cast<std::uint32_t>(s >> 32); }

  // Polls `ready` for up to kSpinSeconds, with the CPU's spin-wait hint, so a sibling
  // hardware thread or the hypervisor knows this core is only waiting.
  static constexpr double kSpinSeconds = 2e-4;
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kSpinSeconds);
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
        cpu_relax();
      }
      if (std::chrono::steady_clock::now() >= deadline) return ready();
    }
  }
  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  void work_on(std::size_t thread) {
    detail::in_parallel_region() = true;
    for (std::size_t t = job_.next.fetch_add(1, std::memory_order_relaxed); t < job_.n_tasks;
         t = job_.next.fetch_add(1, std::memory_order_relaxed))
      job_.call(job_.ctx, t, thread);
    detail::in_parallel_region() = false;
  }

  void dispatch(void (*call)(void*, std::size_t, std::size_t), void* ctx, std::size_t n_tasks) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // one job at a time per pool
    // No worker is joined here (the last dispatch waited for them), so the job is ours to fill.
    job_.call = call;
    job_.ctx = ctx;
    job_.n_tasks = n_tasks;
    job_.next.store(0, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::uint64_t gen = generation_of(state_.load(std::memory_order_relaxed)) + std::uint64_t{1};
      state_.store((gen << 32) | kOpen, std::memory_order_release);
    }
    work_cv_.notify_all();
    work_on(0);
    // Every task is claimed: close the job, then wait for the workers inside it (the callable
    // lives on the caller's stack).
    std::uint64_t s = state_.fetch_and(~kOpen, std::memory_order_acq_rel) & ~kOpen;
    const auto all_left = [&] { return (state_.load(std::memory_order_acquire) & kJoined) == 0; };
    if ((s & kJoined) != 0 && !spin_until(all_left)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, all_left);
    }
  }

  // Joins the open job of a generation other than `seen`; false when it closed meanwhile.
  bool join(std::uint32_t& seen) {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (generation_of(s) == seen) return false;
      if (!(s & kOpen)) {
        seen = generation_of(s);  // finished without us
        return false;
      }
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        seen = generation_of(s);
        return true;
      }
    }
  }

  // What a worker's thread_arena() holds from the start: a GEMM's A packing (MC x KC floats,
  // at most 245 KB on any target) and a kernel's per-task temporaries. A worker may miss a
  // model's warm-up call (it joins only while the job is open), and its first task must then
  // not allocate either.
  static constexpr std::size_t kWorkerScratchBytes = std::size_t{1} << 20;

  void worker_loop(std::size_t thread) {
    (void)thread_arena().reserve(kWorkerScratchBytes);  // on failure the first task reports it
    std::uint32_t seen = generation_of(state_.load(std::memory_order_acquire));
    started_.fetch_add(1, std::memory_order_release);
    for (;;) {
      // Spin a while before sleeping: waking a sleeping thread costs 50-300 us on a VM (the
      // host must reschedule a halted vCPU), as long as a whole 512^3 GEMM; the next kernel of
      // a network usually comes sooner than that.
      const auto news = [&] {
        return stopping_.load(std::memory_order_relaxed) || generation_of(state_.load(std::memory_order_acquire)) != seen;
      };
      if (!spin_until(news)) {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, news);
      }
      if (stopping_.load()) return;
      if (!join(seen)) continue;
      work_on(thread);
      if ((state_.fetch_sub(1, std::memory_order_acq_rel) & kJoined) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between its check and its wait
        done_cv_.notify_all();
      }
    }
  }

  void start(std::size_t n) {
    if (n == 0) n = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    num_threads_ = n;
    stopping_.store(false);
    workers_.reserve(n - 1);
    // Natively the constructor returns once every worker holds its scratch: a worker reserving
    // it later, during a caller's first job, would be an allocation inside that job. Not in a
    // browser, where a pthread may only start once the page's thread returns to its event loop.
    started_.store(0);
    for (std::size_t i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
#if !defined(__EMSCRIPTEN__)
    while (started_.load(std::memory_order_acquire) < n - 1) std::this_thread::yield();
#endif
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    work_cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::atomic<std::size_t> started_{0};  // workers that hold their scratch (start() waits natively)
  std::mutex mutex_, run_mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::atomic<std::uint64_t> state_{0};
  std::atomic<bool> stopping_{false};
  job job_;
#else
  void start(std::size_t) { num_threads_ = 1; }
  void stop() {}
#endif
  std::size_t num_threads_ = 1;
};

// The process-wide pool that kernels use unless given another one.
inline thread_pool& default_pool() {
  static thread_pool pool(0);
  return pool;
}

// `pool` if given, else default_pool(): the rule of every kernel's optional pool argument.
inline thread_pool& pool_or_default(thread_pool* pool) { return pool ? *pool : default_pool(); }

// Splits [begin, end) into chunks of at least `grain` items, at most a few per thread, and
// calls fn(chunk_begin, chunk_end) on the pool.
template <class F>
void parallel_for(thread_pool& pool, std::size_t begin, std::size_t end, std::size_t grain, F&& fn) {
  if (end <= begin) return;
  const std::size_t n = end - begin;
  grain = std::max<std::size_t>(1, grain);
  const std::size_t max_chunks = pool.num_threads() * 4;
  std::size_t chunks = std::min<std::size_t>((n + grain - 1) / grain, max_chunks);
  if (chunks <= 1 || pool.num_threads() == 1) {
    fn(begin, end);
    return;
  }
  const std::size_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  pool.run(chunks, [&](std::size_t c, std::size_t) {
    const std::size_t b = begin + c * step;
    fn(b, std::min(end, b + step));
  });
}

template <class F>
void parallel_for(std::size_t begin, std::size_t end, std::size_t grain, F&& fn) {
  parallel_for(default_pool(), begin, end, grain, std::forward<F>(fn));
}

}  // namespace tessera::runtime
