// The whole-model CUDA executor: runs an artifact's Llama schedule with the
// kernels the artifact carries (codegen/cuda/ArtifactKernels.h names them),
// one sequence with a KV cache, logits back to the host as f32.
//
//   auto dev = qcc::cuda::CudaDevice::open(0);
//   auto ex = qcc::cuda::CudaExecutor::create(file, **dev, {});
//   auto logits = (*ex)->prefill({1, 2, 3}); // [T][V]
//   auto next = (*ex)->decode(42);           // [V]
//
// Weights are uploaded once at creation in the kernels' layouts: q|k|v and
// gate|up rows concatenated (one GEMM each), dense tensors as bf16, w4a16
// repacked with packW4A16ForKernel, fp8 / int8 codes with per-channel scales.
#pragma once

#include "codegen/cuda/ArtifactKernels.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cuda/CudaDevice.h"

#include <map>
#include <memory>

namespace qcc::cuda {

struct CudaExecutorOptions {
  // Positions the KV cache holds; <= 0: what the artifact's attention
  // kernels were specialised for (artifactMaxSeq), which is also the limit.
  int64_t maxSeqLen = 0;
  // Fill every activation and the logits with 0xff bytes (NaN as bf16/f32)
  // before each forward, so a kernel that skips an element shows (tests).
  bool poisonActivations = false;
  // Plans with this `qcc tune` table instead of the one stored with the
  // kernels (TargetDecl::tileTable); for kernels compiled without storing it.
  const TileTable *tiles = nullptr;
  // Replay the decode step (one token, ~10 kernels per layer) as one CUDA
  // graph, built at the first decode and rebuilt when buffers grow; off, or
  // without graph support in the driver, every kernel is launched by itself.
  bool cudaGraphs = true;
  // Kernels to use instead of the artifact's own (e.g. compiled just now with
  // compileArtifactKernels for an artifact written without this target).
  const std::vector<artifact::TargetDecl> *kernels = nullptr;
};

// The artifact target whose kernels a device of compute capability
// major.minor runs: its own ("sm_90a" for 9.0), else the newest cubin of the
// same major and lower minor, else the newest older PTX (JIT-compiled);
// arch-specific targets ("sm_90a") only on their own architecture. Null when
// none fits; targets without kernels never do.
const artifact::TargetDecl *chooseKernelTarget(const std::vector<artifact::TargetDecl> &targets, int ccMajor,
                                               int ccMinor);

class CudaExecutor {
public:
  // Picks the artifact's kernels for `device` (its exact target's cubins, else
  // a compatible cubin or PTX, see CudaDevice::loadBest), uploads the weights,
  // allocates the KV cache. `file` may be closed afterwards; `device` must
  // outlive the executor.
  static Expected<std::unique_ptr<CudaExecutor>> create(const artifact::ArtifactFile &file, CudaDevice &device,
                                                        const CudaExecutorOptions &options = {});
  ~CudaExecutor();

  // Appends `tokens` at the current position; logits of every one, [T][V].
  Expected<std::vector<float>> prefill(const std::vector<int64_t> &tokens);
  // Appends one token; its logits [V].
  Expected<std::vector<float>> decode(int64_t token);
  void reset() { position_ = 0; }

  int64_t position() const { return position_; }
  int64_t maxSeqLen() const { return maxSeq_; }
  int64_t vocabSize() const { return config_.vocabSize; }
  // The artifact target whose kernels run ("sm_90a") and how they were loaded.
  const std::string &kernelTarget() const { return kernelTarget_; }
  // Whether decode replays a CUDA graph, and how many times one was built.
  bool usesCudaGraphs() const { return graphs_; }
  int decodeGraphBuilds() const { return graphBuilds_; }

  struct Gemm; // one (possibly fused) linear: kernels, functions, weights
  struct Layer;

private:
  CudaExecutor() = default;
  Status ensureRows(int64_t rows);
  Status forward(const std::vector<int64_t> &tokens, std::vector<float> *logits);
  Status enqueueKernels(int64_t T); // the whole forward's launches (or graph nodes)
  Status runGemm(const Gemm &g, CUdeviceptr a, CUdeviceptr tokScale, CUdeviceptr residual, CUdeviceptr out,
                 int64_t rows);
  Status launch(const KernelSpec &spec, int64_t rows, std::vector<void *> args);
  Status submit(CUfunction f, const LaunchDims &dims, void **args);

  CudaDevice *dev_ = nullptr;
  ModelConfig config_;
  ModelKernels plan_;
  std::string kernelTarget_;
  int64_t maxSeq_ = 0, position_ = 0;
  bool poison_ = false;
  bool graphs_ = false;
  int graphBuilds_ = 0;
  std::vector<CudaModule> modules_;
  std::map<std::string, CUfunction> functions_; // entry name -> function

  DeviceBuffer embed_, finalNorm_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::unique_ptr<Gemm> lmHead_;

  // Activations for up to rows_ tokens (see forward() for the shapes).
  int64_t rows_ = 0;
  DeviceBuffer ids_, pos_, x_, x2_, h_, hScale_, qkv_, attn_, attnQ_, attnScale_, gu_, act_, actScale_, logits_;

  // Last, so that it is destroyed before the modules and buffers it uses.
  KernelGraph decodeGraph_;         // the T = 1 forward over the current buffers
  KernelGraph *building_ = nullptr; // launches become graph nodes while set
};

} // namespace qcc::cuda
