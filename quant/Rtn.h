// Round-to-nearest weight quantization with optional MSE-optimal clipping.
//
// Element rules (rounding, clamps, the absmax/qmax scale) come from
// runtime/formats/Formats.h; this file only chooses scales:
//  * absmax: scale = absmax / qmax of each output channel (fp8, int8) or of each
//    group of `groupSize` input channels (w4a16), as formats::defaultScales.
//  * MSE clip (llm-compressor's MSE observer): for shrink p = 1 - i/grid,
//    i = 0 .. maxShrink*grid - 1 (defaults: p = 1.00, 0.99, ..., 0.81), take
//    scale = (p * absmax) / qmax and keep the p with the smallest
//    sum |fakeQuant(x) - x|^norm (norm 2.4) over the channel or group; ties keep
//    the larger p. Values beyond the shrunk range clip to the format's range.
#pragma once

#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <cstdint>
#include <vector>

namespace qcc::quant {

// The quantized-domain maximum of a weight format: fp8 448, int8 127, w4a16 7.
// 0 for BF16 (not a quantized format).
float formatQmax(formats::Format f);

// dequantize(quantize(x, scale)) for one weight element of format f, using
// Formats.h's element quantizers (round-half-to-even, weight clamps).
float fakeQuant(formats::Format f, float x, float scale);

struct MseClipOptions {
  int grid = 100;          // shrink step 1/grid
  double maxShrink = 0.2;  // try shrink factors p > 1 - maxShrink
  double norm = 2.4;       // error exponent
};

// The MSE-optimal scale for the n values x[0], x[stride], ..., x[(n-1)*stride].
float mseClipScale(formats::Format f, const float *x, int64_t n, int64_t stride,
                   const MseClipOptions &opts = {});

// Scales of W[N][K] for `spec`: [N] for fp8/int8, [N][K/groupSize] for w4a16;
// absmax rule, or MSE clip when mseClip is set. Errors as formats::defaultScales
// (bad sizes, non-finite weights, K not a multiple of the group, BF16).
Expected<std::vector<float>> computeScales(const float *w /*[N][K]*/, int64_t N, int64_t K,
                                           const formats::FormatSpec &spec, bool mseClip,
                                           const MseClipOptions &opts = {});

// Round-to-nearest quantization of W[N][K] with computeScales' scales.
Expected<formats::QuantizedLinear> quantizeRtn(const float *w /*[N][K]*/, int64_t N, int64_t K,
                                               const formats::FormatSpec &spec, bool mseClip,
                                               const MseClipOptions &opts = {});

} // namespace qcc::quant
