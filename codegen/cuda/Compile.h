// Compiling generated kernels for a target: cache lookup, NVRTC, cache store,
// in parallel across cores.
#pragma once

#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/Nvrtc.h"
#include "codegen/cuda/Targets.h"

#include <string>
#include <vector>

namespace qcc::cuda {

struct CompileOptions {
  std::string cacheDir;       // "" -> defaultKernelCacheDir()
  bool useCache = true;
  unsigned threads = 0;       // 0 -> std::thread::hardware_concurrency()
  std::vector<std::string> extraOptions;
};

struct CompiledKernel {
  std::string name;   // entry point
  std::string target; // "sm_90a"
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::string log;    // includes ptxas' resource lines
  KernelResources resources;
  bool fromCache = false;
};

// The NVRTC options qcc always passes besides the architecture.
std::vector<std::string> defaultNvrtcOptions();

Expected<CompiledKernel> compileKernel(const GeneratedKernel &kernel, const GpuTarget &target,
                                       const CompileOptions &options = {});
// Compiles all kernels (order kept). On failure, the error lists every kernel
// that failed, each with NVRTC's log.
Expected<std::vector<CompiledKernel>> compileKernels(const std::vector<GeneratedKernel> &kernels,
                                                     const GpuTarget &target, const CompileOptions &options = {});

} // namespace qcc::cuda
