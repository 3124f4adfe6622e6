// Host builds of generated kernels for the emulated driver (EmulatedDriver.cpp):
// each GeneratedKernel's complete NVRTC source is compiled by the host C++
// compiler under the CUDA host emulation (HostEmulation.h) into
// <dir>/<name>.so, which exports
//   extern "C" void qcc_emu_launch(unsigned gx, unsigned gy, unsigned gz,
//                                  unsigned block, void **kernelParams);
//   extern "C" const unsigned qcc_emu_param_count, qcc_emu_param_sizes[];
// unpacking cuLaunchKernel's parameter array by the entry point's own
// parameter types (the sizes let graph nodes copy argument values). Builds are
// cached by source, emulation and compiler (a sidecar hash file).
#pragma once

#include "codegen/cuda/Kernels.h"

#include <string>
#include <vector>

namespace qcc::cuda::testing {

// The C++ translation unit for one kernel (exposed for tests of the wrapper).
Expected<std::string> hostKernelSource(const GeneratedKernel &kernel);

// Compiles the kernels not yet built in `dir` (in parallel); the error carries
// the compiler's output.
Status buildHostKernels(const std::vector<GeneratedKernel> &kernels, const std::string &dir);

// For programs that run on a GPU or, as a rehearsal, on the emulated driver
// (QCC_CUDA_DRIVER=libqcc-emu-cuda.so): when QCC_EMU_KERNELS names the
// driver's kernel folder, builds the kernels there; otherwise does nothing.
Status buildHostKernelsIfEmulated(const std::vector<GeneratedKernel> &kernels);

} // namespace qcc::cuda::testing
