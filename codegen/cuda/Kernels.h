// Kernel specialisation: a KernelSpec (what to compute, with which compile-time
// constants) becomes CUDA C++ source for NVRTC with one extern "C" entry point.
#pragma once

#include "codegen/cuda/Targets.h"
#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qcc::cuda {

enum class KernelKind { Gemm, RmsNorm, SwiGlu, Add, Embed, Rope, KvStore, Attention, Quantize };
const char *kernelKindName(KernelKind k);

// Output of RMSNorm / SwiGLU: bf16, or int8 / e4m3 codes plus per-token scales.
enum class QuantOut : int { None = 0, Int8 = 1, Fp8 = 2 };

// A GEMM launch runs its decode tile (chosen for M = 1) up to this many
// tokens and its prefill tile (chosen for M = 2048) above; both are correct
// at any M, they differ in tiling only.
constexpr int64_t kDecodeRows = 16;

struct KernelSpec {
  KernelKind kind = KernelKind::Gemm;
  // Gemm: out[M][n] = A[M][k] . W[n][k]^T, M is a run-time argument.
  GemmFormat format = GemmFormat::BF16;
  int64_t n = 0, k = 0;
  int group = 128;       // w4a16 input channels per scale (multiple of 128)
  bool residual = false; // epilogue adds a residual [M][n]
  GemmTile tile;
  // RmsNorm (width = hidden), SwiGlu (width = intermediate, ld = row stride of gate/up),
  // Quantize (width; quant must be Int8 or Fp8).
  int64_t width = 0, ld = 0;
  QuantOut quant = QuantOut::None;
  // Embed.
  int64_t vocab = 0;
  // Rope / KvStore / Attention / SwiGlu. `ld` (0 = packed) is the token-row
  // stride of q (Rope, Attention), k (KvStore) and gate (SwiGlu), e.g.
  // (HQ+2HKV)*D when they are slices of the fused qkv output; `ld2` that of
  // k (Rope), v (KvStore) and up (SwiGlu), 0 = the same as `ld` when that is
  // set, else packed.
  int64_t ld2 = 0;
  // Rope (kvHeads 0: queries only) / KvStore / Attention.
  int64_t heads = 0, kvHeads = 0, headDim = 0, maxSeq = 0;
  std::vector<float> invFreq; // Rope: [headDim/2], Llama-3.1 scaled
  int threads = 256;          // block size of the non-GEMM kernels
};

// The unique entry-point name, e.g. "qcc_gemm_w4a16_n4096_k4096_g128_r0_m1n4w1s4".
std::string kernelName(const KernelSpec &spec);

struct GeneratedKernel {
  std::string name;   // extern "C" entry point
  std::string source; // complete CUDA C++ for NVRTC (no #include)
  unsigned threads = 0;
};
// Checks the spec against the templates' constraints (an error names the
// kernel and the broken constraint) and writes the source for `target`.
Expected<GeneratedKernel> generateKernel(const KernelSpec &spec, const GpuTarget &target);

// Grid and block for a launch over `rows` tokens (M of a GEMM, T otherwise).
struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block = 0;
};
LaunchDims launchDims(const KernelSpec &spec, int64_t rows);
// The same as formulas of the token count: per dimension a constant
// (rowsDiv == 0) or ceil(rows * rowsMul / rowsDiv); and the block size.
struct GridFormula {
  int64_t constant = 1, rowsMul = 0, rowsDiv = 0;
  int64_t at(int64_t rows) const { return rowsDiv == 0 ? constant : (rows * rowsMul + rowsDiv - 1) / rowsDiv; }
};
std::array<GridFormula, 3> gridFormula(const KernelSpec &spec);
unsigned blockSize(const KernelSpec &spec);

// RoPE inverse frequencies theta^(-2i/headDim), Llama-3.1 ("llama3") scaled
// when enabled, computed in double and rounded to float: [headDim / 2].
std::vector<float> ropeInvFreq(int64_t headDim, double theta, const RopeScaling &scaling);
// The same for a model config.
std::vector<float> llamaInvFreq(const ModelConfig &config);

} // namespace qcc::cuda
