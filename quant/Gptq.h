// GPTQ (Frantar et al., arXiv 2210.17323) with the reference semantics of
// llm-compressor (see docs/QUANTIZATION.md for the formulas and the deviations).
//
//   dead columns   H[d][d] == 0  ->  H[d][d] = 1, W[:, d] = 0
//   dampening      H += dampFrac * mean(diag H) * I
//   inverse        U = upper Cholesky factor of H^-1 (H^-1 = U^T U), computed in
//                  float64; a failed factorisation falls back to round-to-nearest
//                  (U = I) and says so in GptqResult::remark
//   sweep          columns in blocks of blockSize, lazy batch updates:
//                    q = fakeQuant(w_i), err = (w_i - q) / U[i][i],
//                    W[:, i+1:] -= err * U[i, i+1:]
//   scales         per channel (fp8, int8): from the whole (dead-masked) W before
//                  the sweep; per group (w4a16): when the sweep reaches the group's
//                  first column, from the current, already-updated weights;
//                  absmax or MSE-clipped
//   act order      "static": columns visited by descending diag(H); groups keep
//                  the original column order, so their scales are computed before
//                  the sweep from the original W (llm-compressor's "weight" act
//                  order); no g_idx at run time
#pragma once

#include "quant/Rtn.h"

#include <string>

namespace qcc::quant {

struct GptqOptions {
  int64_t blockSize = 128;   // rounded to a multiple of the group size (at least one group)
  double dampFrac = 0.01;
  bool actOrderStatic = false;
  bool mseClip = false;
  MseClipOptions mse;
};

struct GptqResult {
  formats::QuantizedLinear linear; // codes + scales
  std::vector<float> dequant;      // [N][K] = formats::dequantize(linear)
  std::string remark;              // non-empty when GPTQ fell back to round-to-nearest
  double loss = 0.0;               // GPTQ's objective sum (w - q)^2 / (2 U[i][i]^2)
};

// Quantizes W[N][K] given the Hessian H[K][K] of its inputs (HessianAccumulator).
// Errors: BF16 format, bad sizes or group shape, non-finite W or H.
Expected<GptqResult> gptqQuantize(const float *w /*[N][K]*/, int64_t N, int64_t K,
                                  const float *h /*[K][K]*/, const formats::FormatSpec &spec,
                                  const GptqOptions &opts = {});

// Upper Cholesky factor U of the inverse of the SPD matrix A[K][K] (A^-1 = U^T U),
// in float64. False when A is not numerically positive definite.
bool upperCholeskyOfInverse(std::vector<double> &a /*[K][K] in, U out*/, int64_t K);

} // namespace qcc::quant
