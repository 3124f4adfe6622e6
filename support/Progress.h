// Progress of long compiler work (calibration blocks, writing layers), for
// the tool that runs it: the CLI installs a reporter; libraries call
// reportProgress. Only a display hook: nothing depends on it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace qcc {

// stage: "quantize", "write", ...; done of total units finished.
using ProgressReporter = std::function<void(const std::string &stage, int64_t done, int64_t total)>;

// Installs `reporter` for this process (empty: none) and returns the previous one.
ProgressReporter setProgressReporter(ProgressReporter reporter);
void reportProgress(const std::string &stage, int64_t done, int64_t total);

} // namespace qcc
