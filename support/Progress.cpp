#include "support/Progress.h"

#include <mutex>

namespace qcc {

namespace {
std::mutex mutex;
ProgressReporter &current() {
  static ProgressReporter r;
  return r;
}
} // namespace

ProgressReporter setProgressReporter(ProgressReporter reporter) {
  std::lock_guard<std::mutex> lock(mutex);
  std::swap(current(), reporter);
  return reporter;
}

void reportProgress(const std::string &stage, int64_t done, int64_t total) {
  ProgressReporter r;
  {
    std::lock_guard<std::mutex> lock(mutex);
    r = current();
  }
  if (r) r(stage, done, total);
}

} // namespace qcc
