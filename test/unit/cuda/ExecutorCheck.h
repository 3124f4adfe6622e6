// The whole-model check of the CUDA executor, shared by the GPU test
// (ExecutorGpuTest, a real device) and the emulation test
// (ExecutorEmulationTest, the emulated driver): a small random Llama in one
// format is compiled for the device's target, written as an artifact, and run
// by CudaExecutor and by the CPU executor (rt::Session) over the same file;
// prefill and decode logits must agree within `bound` (relative L2 error;
// for W8A8 formats at least 1.5 x the format's own error, see the .cpp), and
// the GPU must be as far from the unquantized model as the CPU (0.5x..2x).
// fp8 on a target without fp8 tensor cores (weight-only kernels) is compared
// with the CPU on the dequantized weights.
// Activations and KV caches are poisoned (NaN) before the kernels write them.
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/cuda/CudaDevice.h"

#include <functional>
#include <string>
#include <vector>

namespace qcc::cuda::testing {

struct ExecutorCheck {
  int rounds = 2;       // the second round checks reset()
  int decodeSteps = 6;  // M = 1 kernels
  int promptTokens = 21; // M > 16: the prefill kernels; each round's prompt is 12 longer
  bool cudaGraphs = true; // decode through a graph (rebuilt when a longer prompt grows the buffers)
  // Called with the artifact's spec and its kernels before the executor is
  // created (the emulation builds host versions of them here).
  std::function<Status(const artifact::ArtifactSpec &, const std::vector<artifact::TargetDecl> &)> prepare;
};

// gtest assertions; `format` is "dense" or a formats::parseFormatSpec name.
void checkExecutorAgainstCpu(CudaDevice &device, const std::string &format, double bound,
                             const ExecutorCheck &check = {});

} // namespace qcc::cuda::testing
