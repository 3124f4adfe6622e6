// The whole-model checks of the CUDA executor, shared by the GPU test
// (ExecutorGpuTest, a real device) and the emulation test
// (ExecutorEmulationTest, the emulated driver).
//
// checkExecutorAgainstCpu: a small random Llama checkpoint (fresh seed each
// run, printed) is compiled by the real compiler (test/unit/common
// CompiledModel.h) for the device's target, and the artifact is run by
// CudaExecutor and by the CPU executor (rt::Session) over the same file;
// prefill and decode logits must agree within `bound` (relative L2 error; for
// W8A8 formats at least 1.5 x the format's own error, see the .cpp), and the
// GPU must be as far from the unquantized model as the CPU (0.5x..2x).
// fp8 on a target without fp8 tensor cores (weight-only kernels) is compared
// with the CPU on a model whose fp8 weights are the artifact's, dequantized.
// Activations and KV caches are poisoned (NaN) before the kernels write them.
//
// checkGreedyIdsAgainstCpu: a checkpoint on disk (a trained one: its logits
// leave no near-ties) compiled for the device's target; greedy decoding on
// the GPU gives the CPU's ids.
#pragma once

#include "CompiledModel.h"
#include "runtime/cuda/CudaDevice.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace qcc::cuda::testing {

struct ExecutorCheck {
  int rounds = 2;         // the second round checks reset()
  int decodeSteps = 6;    // M = 1 kernels
  int promptTokens = 21;  // M > 16: the prefill kernels; each round's prompt is 12 longer
  bool cudaGraphs = true; // decode through a graph (rebuilt when a longer prompt grows the buffers)
  // Per-layer formats (rules of `--layer-formats`, first match wins) over the
  // default format; e.g. {"*.q_proj", "int8"}.
  std::vector<std::pair<std::string, std::string>> layerFormats;
  // Called with the compiled model before the executor is created (the
  // emulation builds host versions of its kernels here).
  std::function<Status(const qcc::test::CompiledModel &)> prepare;
};

// gtest assertions; `format` is the default format ("bf16", "fp8", "int8",
// "w4a16", "w4a16:256").
void checkExecutorAgainstCpu(CudaDevice &device, const std::string &format, double bound,
                             const ExecutorCheck &check = {});

// gtest assertions: `tokens` greedy ids after `prompt` on the GPU and on the
// CPU executor, both over the artifact compiled from `checkpointDir` with
// `format` and `check.layerFormats` for the device's target (fp8 weight-only
// where the target has no fp8 tensor cores).
void checkGreedyIdsAgainstCpu(CudaDevice &device, const std::string &checkpointDir, const std::string &format,
                              const std::vector<int64_t> &prompt, int tokens, const ExecutorCheck &check = {});

} // namespace qcc::cuda::testing
