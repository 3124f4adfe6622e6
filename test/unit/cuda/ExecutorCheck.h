// The whole-model checks of the CUDA executor, shared by the GPU test
// (ExecutorGpuTest, a real device) and the emulation test
// (ExecutorEmulationTest, the emulated driver). Two halves, so that a GPU
// machine without the compiler can run them on artifacts prepared elsewhere
// (qcc-gpu-test-prepare, scripts/gpu-check.sh):
//
// prepareExecutorArtifacts (ExecutorPrepare.cpp, links the compiler): a small
// random Llama checkpoint (seed printed) is compiled by the real compiler
// (test/unit/common CompiledModel.h) in one format, with optional per-layer
// rules, for some targets; beside it the CPU-only models the check compares
// with: the unquantized model, the weight-only reference (fp8 weights of the
// artifact, dequantized, for targets without fp8 tensor cores) and, for a
// model mixing W8A8 layers with others, its W8A8 layers alone.
//
// checkExecutorArtifacts (ExecutorCheck.cpp, the runtime only): CudaExecutor
// and the CPU executor (rt::Session) run the artifact; prefill and decode
// logits must agree within `bound` (relative L2 error; for W8A8 layers at
// least 1.5 x their own error, see the .cpp), and the GPU must be as far from
// the unquantized model as the CPU (0.5x..2x). Activations and KV caches are
// poisoned (NaN) before the kernels write them.
//
// checkGreedyIdsOnArtifact: greedy decoding of an artifact (of a trained
// model: its logits leave no near-ties) gives the CPU's ids on the GPU.
#pragma once

#include "runtime/cuda/CudaDevice.h"
#include "support/Status.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace qcc::test {
struct CompiledModel;
}

namespace qcc::cuda::testing {

using LayerRules = std::vector<std::pair<std::string, std::string>>; // --layer-formats rules, first match wins

// One prepared case: artifact paths (empty: not needed).
struct ExecutorArtifacts {
  std::string label;     // "int8", "w4a16 with per-layer rules"
  unsigned seed = 0;     // of the random checkpoint
  std::string model;     // kernels for the targets it was prepared for
  std::string dense;     // the unquantized model (CPU only)
  std::string reference; // fp8 dequantized, the rest as in `model` (CPU only), for targets without fp8 mma
  std::string w8a8Only;           // its W8A8 layers alone, fp8 kept (targets with fp8 mma)
  std::string w8a8OnlyWithoutFp8; // the same with fp8 as weights only (targets without)
};

// The random model of every executor check: hidden 256, intermediate 768, 2
// layers, 4 heads of 64, 1 kv head, vocabulary 320, KV caches of 64.
constexpr int64_t kExecutorCheckVocab = 320, kExecutorCheckMaxSeq = 64;

// Compiles the random checkpoint of `seed` (written to `dir` unless there
// already) with the default `format` and `rules` for `targets` (e.g. "sm90";
// fp8 weight-only where a target has no fp8 tensor cores) into `dir`/`name`.qcc
// and the models to compare with; `onCompiled` (may be empty) sees the
// compiled model (the emulation builds host kernels from it).
Expected<ExecutorArtifacts> prepareExecutorArtifacts(const std::string &dir, const std::string &name,
                                                     const std::string &format, const LayerRules &rules,
                                                     const std::string &targets, unsigned seed,
                                                     const std::function<Status(const qcc::test::CompiledModel &)>
                                                         &onCompiled = {});
// Compiles a checkpoint on disk (the greedy check's trained model).
Expected<std::string> prepareModelArtifact(const std::string &checkpointDir, const std::string &path,
                                           const std::string &format, const LayerRules &rules,
                                           const std::string &targets,
                                           const std::function<Status(const qcc::test::CompiledModel &)>
                                               &onCompiled = {});

struct ExecutorCheck {
  int rounds = 2;         // the second round checks reset()
  int decodeSteps = 6;    // M = 1 kernels
  int promptTokens = 21;  // M > 16: the prefill kernels; each round's prompt is 12 longer
  bool cudaGraphs = true; // decode through a graph (rebuilt when a longer prompt grows the buffers)
};

// gtest assertions over prepared artifacts, on `device`.
void checkExecutorArtifacts(CudaDevice &device, const ExecutorArtifacts &artifacts, double bound,
                            const ExecutorCheck &check = {});

// gtest assertions: `tokens` greedy ids after `prompt`, GPU against CPU.
void checkGreedyIdsOnArtifact(CudaDevice &device, const std::string &artifactPath, const std::vector<int64_t> &prompt,
                              int tokens, bool cudaGraphs = true);

// Both halves in one process (tests that link the compiler): prepares the
// case for the device's target in a fresh folder, fresh seed, then checks it.
struct InProcessCheck : ExecutorCheck {
  LayerRules layerFormats;
  std::function<Status(const qcc::test::CompiledModel &)> onCompiled;
};
void checkExecutorAgainstCpu(CudaDevice &device, const std::string &format, double bound,
                             const InProcessCheck &check = {});
void checkGreedyIdsAgainstCpu(CudaDevice &device, const std::string &checkpointDir, const std::string &format,
                              const std::vector<int64_t> &prompt, int tokens, const InProcessCheck &check = {});

} // namespace qcc::cuda::testing
