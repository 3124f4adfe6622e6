#include "runtime/cpu/ThreadPool.h"

#include <algorithm>

namespace qcc::cpu {

ThreadPool::ThreadPool(int numThreads) {
  if (numThreads <= 0) numThreads = static_cast<int>(std::thread::hardware_concurrency());
  numThreads_ = std::max(1, numThreads);
  for (int i = 1; i < numThreads_; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto &t : workers_) t.join();
}

// Chunk i of n items split over `parts` threads.
static void chunk(int64_t n, int parts, int i, int64_t &begin, int64_t &end) {
  int64_t base = n / parts, rem = n % parts;
  begin = i * base + std::min<int64_t>(i, rem);
  end = begin + base + (i < rem ? 1 : 0);
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)> *job;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = jobSize_;
    }
    int64_t begin, end;
    chunk(n, numThreads_, index, begin, end);
    if (begin < end) (*job)(begin, end);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0) return;
  if (numThreads_ == 1 || n == 1) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobSize_ = n;
    pending_ = numThreads_ - 1;
    ++generation_;
  }
  wake_.notify_all();
  int64_t begin, end;
  chunk(n, numThreads_, 0, begin, end);
  if (begin < end) fn(begin, end);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
}

} // namespace qcc::cpu
