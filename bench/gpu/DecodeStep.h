// The decode step (one token, M = 1) of a Llama-3.1-8B-shaped model with 2
// layers and synthetic weights, per format, against its weight-bytes roofline:
// the kernels qcc-lower-to-kernels emits for such a model (fused q|k|v and
// gate|up, residuals in the GEMM epilogues, bf16 lm_head; LlamaKernelSet.h),
// launched in its order as one CUDA graph, the way CudaExecutor replays a
// decode step. The model is too large to compile on a machine that only runs
// kernels, hence assembled here from the kernel specs.
#pragma once

#include "BenchDevice.h"

#include <string>

namespace qcc::bench {

struct DecodeShape {
  int64_t hidden = 4096, intermediate = 14336, heads = 32, kvHeads = 8, headDim = 128, vocab = 128256;
  int64_t layers = 2, maxSeq = 4096, position = 1023;
  std::string name() const; // "8B-shaped (hidden 4096, ..., 2 layers)"
};

struct DecodeResult {
  double ms = 0;          // per step (graph replay)
  double bytes = 0;       // weights read (every linear, norms, one embedding row, lm_head) + KV cache
  int launches = 0;
};

// `format`: "bf16", "fp8" (weight-only on targets without fp8 tensor cores),
// "int8", "w4a16".
DecodeResult timeDecodeStep(BenchDevice &b, const DecodeShape &shape, const std::string &format);

} // namespace qcc::bench
