// NVRTC, opened with dlopen at first use: binaries start without libnvrtc and
// fail with a clear message only when a kernel must be compiled.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::cuda {

struct NvrtcOutput {
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::string log; // NVRTC's program log (ptxas info with --ptxas-options=-v)
};

class Nvrtc {
public:
  // The process-wide NVRTC. Tries $QCC_NVRTC_LIBRARY, libnvrtc.so.13,
  // libnvrtc.so.12, <cuda root>/lib64/libnvrtc.so.13, libnvrtc.so.
  static Expected<const Nvrtc *> get();
  // A specific library file (tests use a missing path to check the error).
  static Expected<const Nvrtc *> loadFrom(const std::string &library);

  int major() const { return major_; }
  int minor() const { return minor_; }
  std::string version() const { return std::to_string(major_) + "." + std::to_string(minor_); }
  const std::string &libraryPath() const { return path_; }

  // Compiles one translation unit for `arch` ("sm_90a"): PTX and cubin.
  // Thread-safe. On failure the error names the kernel and carries NVRTC's log.
  Expected<NvrtcOutput> compile(const std::string &source, const std::string &kernelName,
                                const std::string &arch, const std::vector<std::string> &options) const;

  struct Api; // the dlsym'ed entry points
private:
  Nvrtc() = default;
  void *handle_ = nullptr;
  const Api *api_ = nullptr;
  int major_ = 0, minor_ = 0;
  std::string path_;
};

// Registers and spills of one kernel, from ptxas' info lines in the log
// ("Used 40 registers", "0 bytes spill stores, 0 bytes spill loads"); -1 when absent.
struct KernelResources {
  int registers = -1;
  int64_t spillStores = -1, spillLoads = -1, stackFrame = -1;
};
KernelResources parsePtxasInfo(const std::string &log);

} // namespace qcc::cuda
