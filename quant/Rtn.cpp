#include "quant/Rtn.h"

#include <cmath>

namespace qcc::quant {

using formats::Format;

float formatQmax(Format f) {
  switch (f) {
  case Format::FP8: return formats::kE4m3Max;
  case Format::INT8: return formats::kInt8Max;
  case Format::W4A16: return formats::kInt4Max;
  case Format::BF16: return 0.0f;
  }
  return 0.0f;
}

float fakeQuant(Format f, float x, float scale) {
  switch (f) {
  case Format::FP8: return formats::e4m3ToFloat(formats::quantizeFp8(x, scale)) * scale;
  case Format::INT8: return static_cast<float>(formats::quantizeInt8(x, scale)) * scale;
  case Format::W4A16: return static_cast<float>(formats::quantizeInt4(x, scale)) * scale;
  case Format::BF16: return formats::roundToBf16(x);
  }
  return x;
}

float mseClipScale(Format f, const float *x, int64_t n, int64_t stride,
                   const MseClipOptions &opts) {
  const float qmax = formatQmax(f);
  float absmax = 0.0f;
  for (int64_t i = 0; i < n; ++i) absmax = std::max(absmax, std::fabs(x[i * stride]));

  float bestScale = formats::scaleFromAbsMax(absmax, qmax);
  if (absmax == 0.0f) return bestScale; // every candidate is exact
  double bestErr = INFINITY;
  const int steps = static_cast<int>(opts.maxShrink * opts.grid + 0.5);
  for (int i = 0; i < steps; ++i) {
    // p as llm-compressor computes it (1 - i/grid), applied to the fp32 range.
    const float p = static_cast<float>(1.0 - static_cast<double>(i) / opts.grid);
    const float scale = formats::scaleFromAbsMax(p * absmax, qmax);
    double err = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      const float v = x[j * stride];
      err += std::pow(std::fabs(static_cast<double>(fakeQuant(f, v, scale)) - v), opts.norm);
    }
    if (err < bestErr) { // strict: ties keep the larger p
      bestErr = err;
      bestScale = scale;
    }
  }
  return bestScale;
}

Expected<std::vector<float>> computeScales(const float *w, int64_t N, int64_t K,
                                           const formats::FormatSpec &spec, bool mseClip,
                                           const MseClipOptions &opts) {
  if (spec.format == Format::BF16)
    return Status::error("quantize: bf16 is not a quantized weight format");
  // defaultScales validates sizes, finiteness and the group shape.
  Expected<std::vector<float>> scales = formats::defaultScales(w, N, K, spec);
  if (!scales || !mseClip) return scales;
  std::vector<float> &s = scales.value();
  if (spec.format == Format::W4A16) {
    const int64_t g = spec.groupSize, groups = K / g;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < groups; ++j)
        s[n * groups + j] = mseClipScale(spec.format, w + n * K + j * g, g, 1, opts);
  } else {
    for (int64_t n = 0; n < N; ++n) s[n] = mseClipScale(spec.format, w + n * K, K, 1, opts);
  }
  return scales;
}

Expected<formats::QuantizedLinear> quantizeRtn(const float *w, int64_t N, int64_t K,
                                               const formats::FormatSpec &spec, bool mseClip,
                                               const MseClipOptions &opts) {
  Expected<std::vector<float>> scales = computeScales(w, N, K, spec, mseClip, opts);
  if (!scales) return scales.status();
  return formats::quantizeLinearWithScales(w, N, K, spec, std::move(scales.value()));
}

} // namespace qcc::quant
