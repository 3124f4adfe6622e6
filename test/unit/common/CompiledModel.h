// Test-only: a random Llama-3.1 checkpoint on disk, compiled by the real
// compiler in-process (import, the compile pipeline, the translation), for
// tests of what runs artifacts (the CUDA executor on the emulated driver or a
// GPU, the runtime, the CLI).
#pragma once

#include "codegen/cuda/Kernels.h"
#include "passes/Pipelines.h"
#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>
#include <vector>

namespace qcc::test {

// Standard deviations of the random weights, relative to 1/sqrt(fan-in).
struct RandomWeightScales {
  float qk = 2.0f;     // q_proj, k_proj: attention scores of standard deviation ~(qk^2)
  float lmHead = 0.2f; // absolute
};

// config.json and model.safetensors (bf16 weights, normal with sensible
// scales; norms near 1) for `config` in `dir` (created if missing).
Status writeRandomCheckpoint(const std::string &dir, const ModelConfig &config, unsigned seed,
                             const RandomWeightScales &scales = {});

struct CompiledModel {
  std::string artifactPath;
  std::string loweredMlir; // the module after the pipeline, printed
  // Every kernel the lowered module launches, with its generated source (for
  // host builds on the emulated driver).
  std::vector<cuda::GeneratedKernel> kernels;
};
// Compiles `checkpointDir` with `options` (targets empty: CPU only) into
// `artifactPath`, with parameter archives in a temporary folder. `mutate`, when
// given, changes the imported module before the pipeline runs (graph mutation
// tests: the result must follow the changed IR).
Expected<CompiledModel> compileCheckpoint(const std::string &checkpointDir, const QuantizationOptions &options,
                                          const std::string &artifactPath,
                                          const std::function<Status(mlir::ModuleOp)> &mutate = {});

} // namespace qcc::test
