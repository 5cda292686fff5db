// The first failure among tasks run on a thread pool: tasks record their status, check
// failed() to stop early, and the caller returns take() once the pool's run() is over.
#pragma once

#include <tessera/core/error.hpp>

#include <atomic>
#include <utility>

namespace tessera::runtime {

class first_failure {
 public:
  bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

  void record(status st) {
    if (st.ok() || taken_.test_and_set(std::memory_order_acq_rel)) return;
    error_ = std::move(st);
    failed_.store(true, std::memory_order_release);
  }

  // After the run: the first error recorded, or success.
  status take() { return failed_.load(std::memory_order_acquire) ? std::move(error_) : status{}; }

 private:
  std::atomic<bool> failed_{false};
  std::atomic_flag taken_ = ATOMIC_FLAG_INIT;
  status error_;
};

}  // namespace tessera::runtime
