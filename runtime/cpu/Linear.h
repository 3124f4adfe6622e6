// One linear layer y = x W^T of the CPU executor, in each of qcc's formats,
// computed exactly as the GPU kernels are specified to compute it (up to the
// order of fp32 accumulation). x is [T, K] (T tokens), W is [N, K], y is [T, N].
//
// Per format (s_t = token scale, s_n = channel scale, s_ng = group scale):
//   BF16 (dense)  y[t,n] = sum_k x[t,k] * W[n,k]                       (fp32 acc)
//                 W holds fp32 values (bf16-exact for a bf16 model).
//   FP8  W8A8     a = e4m3(x[t,:] / s_t), s_t = absmax(x[t,:]) / 448  (per token)
//                 y[t,n] = (sum_k float(a[k]) * float(w[n,k])) * s_t * s_n
//                 (e4m3 x e4m3 products are exact in fp32; fp32 acc; the
//                 epilogue multiplies by s_t first, then by s_n)
//   INT8 W8A8     a = clamp(rint(x[t,:] / s_t), -127, 127), s_t = absmax / 127
//                 acc = sum_k int32(a[k]) * int32(w[n,k])   (exact int32)
//                 y[t,n] = (float(acc) * s_t) * s_n
//   W4A16         a = bf16(x[t,:]) (activations are 16-bit), q = int4 codes
//                 y[t,n] = sum_g s_ng * (sum_{k in group g} float(q[n,k]) * a[k])
//                 (fp32 acc; the scale is applied once per group in fp32, so a
//                 kernel may multiply bf16 codes by bf16 activations on tensor
//                 cores exactly; it must not round q * s to 16 bits)
// With ActDType::BF16 every output y is rounded to bf16 (what a bf16 GEMM
// writes); with F32 it stays fp32.
//
// The CPU order of fp32 accumulation: sequential over k (over k within each
// group for W4A16), one product then one add per step, no FMA contraction.
// The kernels work on panels of kPanel output rows stored k-major
// ([K][kPanel]), vectorised across the outputs, so the result does not depend
// on the SIMD width, the thread count or the token blocking.
#pragma once

#include "runtime/cpu/ThreadPool.h"
#include "runtime/formats/Formats.h"

#include <cstdint>
#include <vector>

namespace qcc::cpu {

// Precision of the activations flowing between ops.
enum class ActDType { F32, BF16 };
const char *actDTypeName(ActDType a); // "f32" "bf16"

constexpr int64_t kPanel = 32; // output rows per weight panel

struct Linear {
  formats::Format format = formats::Format::BF16;
  int64_t N = 0; // out features
  int64_t K = 0; // in features
  // BF16: W in panels [ceil(N/kPanel)][K][kPanel], rows past N zero: as bf16
  // bits when every weight is bf16-exact (half the memory traffic, same
  // values), else as fp32.
  std::vector<uint16_t> bf16Panels;
  std::vector<float> panels;
  formats::QuantizedLinear quant; // FP8 / INT8 / W4A16: packed weights + scales
  // INT8 / W4A16: the codes in panel layout [ceil(N/kPanel)][K][kPanel] (int8
  // or unpacked int4 values), zero past N. FP8: the e4m3 values in the same
  // layout as bf16 bits (every e4m3 value is exactly a bf16 value).
  std::vector<int8_t> codePanels;
  std::vector<uint16_t> fp8Panels;

  static Linear fromDense(std::vector<float> w, int64_t N, int64_t K);
  // Takes a validated QuantizedLinear; a BF16 one becomes dense.
  static Linear fromQuantized(formats::QuantizedLinear q);
  // fp32 weights [N*K]: the dense values or the dequantized ones.
  std::vector<float> weights() const;
};

// y [T, N] = x [T, K] W^T. Parallel over output rows when the work is large.
void linearForward(const Linear &l, const float *x /*[T,K]*/, int64_t T, float *y /*[T,N]*/,
                   ActDType act, ThreadPool &pool);

// Dynamic per-token quantization of x [T, K] for an FP8 or INT8 linear: codes
// [T, K] as floats (e4m3 values, or int8 integers; both exact) and scales [T]
// (formats::quantizeTokenFp8 / quantizeTokenInt8).
void quantizeActivations(formats::Format format, const float *x, int64_t T, int64_t K, float *codes,
                         float *tokenScales);
// y [T, N] from codes quantizeActivations wrote for the linear's own format;
// linearForward(x) == linearForwardCodes(quantizeActivations(x)).
void linearForwardCodes(const Linear &l, const float *codes /*[T,K]*/, const float *tokenScales /*[T]*/,
                        int64_t T, float *y /*[T,N]*/, ActDType act, ThreadPool &pool);

} // namespace qcc::cpu
