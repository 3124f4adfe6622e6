// The CUDA executor: interprets the launch list the compiler stored for one
// of the artifact's targets (artifact.fbs, TargetKernels): device buffers by
// bytes per token, weights uploaded once in the layouts the kernels read,
// one KV cache per attention, and per forward the launches in order (each
// picking its kernel variant by the token count). It knows no model and no
// kernel: the launch list says everything.
//
//   auto dev = qcc::cuda::CudaDevice::open(0);
//   auto ex = qcc::cuda::CudaExecutor::create(file, **dev, {});
//   auto logits = (*ex)->prefill({1, 2, 3}); // [T][V]
//   auto next = (*ex)->decode(42);           // [V]
#pragma once

#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cuda/CudaDevice.h"

#include <memory>
#include <vector>

namespace qcc::cuda {

struct CudaExecutorOptions {
  // Positions the KV caches hold; <= 0: what the target's attention kernels
  // were specialised for (TargetDecl::maxSeq), which is also the limit.
  int64_t maxSeqLen = 0;
  // Fill every activation buffer with 0xff bytes (NaN as bf16/f32) before
  // each forward, and the caches once, so a kernel that skips an element shows (tests).
  bool poisonActivations = false;
  // Replay the decode step (one token) as one CUDA graph, built at the first
  // decode and rebuilt when buffers grow; off, or without graph support in
  // the driver, every kernel is launched by itself.
  bool cudaGraphs = true;
  // Targets to use instead of the artifact's own (e.g. compiled just now for
  // a target the artifact was written without).
  const std::vector<artifact::TargetDecl> *targets = nullptr;
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
  // Picks the artifact's target for `device`, loads its kernels, uploads the
  // weights, allocates the KV caches. `file` may be closed afterwards;
  // `device` must outlive the executor.
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
  int64_t vocabSize() const { return vocab_; }
  // The artifact target whose kernels run ("sm_90a").
  const std::string &kernelTarget() const { return target_.target; }
  // Whether decode replays a CUDA graph, and how many times one was built.
  bool usesCudaGraphs() const { return graphs_; }
  int decodeGraphBuilds() const { return graphBuilds_; }

private:
  CudaExecutor() = default;
  Status ensureRows(int64_t rows);
  Status forward(const std::vector<int64_t> &tokens, std::vector<float> *logits);
  Status enqueue(int64_t rows); // every launch of one forward (or graph nodes)
  Expected<CUdeviceptr> argPointer(const artifact::LaunchArg &a) const;

  CudaDevice *dev_ = nullptr;
  artifact::TargetDecl target_; // its launch list (kernel images dropped after loading)
  int64_t vocab_ = 0, maxSeq_ = 0, position_ = 0;
  bool poison_ = false, graphs_ = false;
  int graphBuilds_ = 0;
  std::vector<CudaModule> modules_;
  std::vector<CUfunction> functions_; // per kernel of the target
  std::vector<DeviceBuffer> weights_; // per device weight
  std::vector<DeviceBuffer> kcache_, vcache_;
  int64_t rows_ = 0;
  std::vector<DeviceBuffer> buffers_;
  DeviceBuffer ids_, positions_; // int32 [rows]

  // Last, so that it is destroyed before the modules and buffers it uses.
  KernelGraph decodeGraph_;         // the one-token forward over the current buffers
  KernelGraph *building_ = nullptr; // launches become graph nodes while set
};

} // namespace qcc::cuda
