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
      job j;
      j.call = [](void* ctx, std::size_t task, std::size_t thread) { (*static_cast<Fn*>(ctx))(task, thread); };
      j.ctx = const_cast<void*>(static_cast<const void*>(&fn));
      j.n_tasks = n_tasks;
      dispatch(j);
      return;
    }
#endif
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t, std::size_t{0});
  }

 private:
#if TESSERA_THREADS
  struct job {
    void (*call)(void*, std::size_t, std::size_t) = nullptr;
    void* ctx = nullptr;
    std::size_t n_tasks = 0;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> workers_left{0};
  };

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

  static void work_on(job& j, std::size_t thread) {
    detail::in_parallel_region() = true;
    for (std::size_t t = j.next.fetch_add(1, std::memory_order_relaxed); t < j.n_tasks;
         t = j.next.fetch_add(1, std::memory_order_relaxed))
      j.call(j.ctx, t, thread);
    detail::in_parallel_region() = false;
  }

  void dispatch(job& j) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // one job at a time per pool
    j.workers_left.store(workers_.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = &j;
      generation_.fetch_add(1, std::memory_order_release);
    }
    work_cv_.notify_all();
    work_on(j, 0);
    // Wait until every worker has left the job: it lives on this stack frame.
    const auto all_left = [&] { return j.workers_left.load(std::memory_order_acquire) == 0; };
    if (!spin_until(all_left)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, all_left);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = nullptr;
  }

  // `seen` is the generation at start(): a worker that starts late must still take a job
  // published before it first ran.
  void worker_loop(std::size_t thread, std::uint64_t seen) {
    for (;;) {
      // Spin a while before sleeping: waking a sleeping thread costs 50-300 us on a VM (the
      // host must reschedule a halted vCPU), as long as a whole 512^3 GEMM; the next kernel of
      // a network usually comes sooner than that.
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stopping_.load(std::memory_order_relaxed); });
      job* j = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
        if (stopping_.load()) return;
        seen = generation_.load();
        j = current_;
      }
      work_on(*j, thread);
      if (j->workers_left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_cv_.notify_all();
      }
    }
  }

  void start(std::size_t n) {
    if (n == 0) n = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    num_threads_ = n;
    stopping_.store(false);
    workers_.reserve(n - 1);
    const std::uint64_t gen = generation_.load();
    for (std::size_t i = 1; i < n; ++i) workers_.emplace_back([this, i, gen] { worker_loop(i, gen); });
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
  std::mutex mutex_, run_mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  job* current_ = nullptr;
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
