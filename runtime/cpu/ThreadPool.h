// A small fixed thread pool with one operation: parallelFor over a range.
// The calling thread takes part, so a pool of n threads starts n - 1 workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qcc::cpu {

class ThreadPool {
public:
  // numThreads <= 0: std::thread::hardware_concurrency().
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int numThreads() const { return numThreads_; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), at most one chunk
  // per thread, and returns when all are done. Runs inline when n is small
  // (n <= 1) or the pool has one thread. Calls from several threads are
  // serialised.
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

private:
  void workerLoop(int index);

  int numThreads_;
  std::vector<std::thread> workers_;
  std::mutex callMutex_; // one parallelFor at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)> *job_ = nullptr;
  int64_t jobSize_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

} // namespace qcc::cpu
