#include "quant/Smooth.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qcc::quant {

Expected<std::vector<float>> smoothQuantScales(const std::vector<float> &actAbsMax,
                                               const std::vector<WeightView> &weights,
                                               const SmoothQuantOptions &opts) {
  const int64_t K = static_cast<int64_t>(actAbsMax.size());
  if (!(opts.alpha >= 0.0 && opts.alpha <= 1.0))
    return Status::error("smoothquant: alpha " + std::to_string(opts.alpha) +
                         " is outside [0, 1]");
  if (weights.empty()) return Status::error("smoothquant: no weights to balance against");
  // Column maxima over all weights sharing this input.
  std::vector<float> wMax(K, 0.0f); // [K]
  for (const WeightView &v : weights) {
    if (v.cols != K || v.rows <= 0 || !v.data)
      return Status::error("smoothquant: weight [" + std::to_string(v.rows) + ", " +
                           std::to_string(v.cols) + "] does not match " + std::to_string(K) +
                           " input channels");
    for (int64_t r = 0; r < v.rows; ++r)
      for (int64_t j = 0; j < K; ++j)
        wMax[j] = std::max(wMax[j], std::fabs(v.data[r * K + j]));
  }
  std::vector<float> s(K, 1.0f);
  for (int64_t j = 0; j < K; ++j) {
    if (!std::isfinite(actAbsMax[j]) || !std::isfinite(wMax[j]))
      return Status::error("smoothquant: non-finite statistic at channel " + std::to_string(j));
    if (actAbsMax[j] == 0.0f || wMax[j] == 0.0f) continue; // s = 1
    const double a = std::max<double>(actAbsMax[j], opts.minValue);
    const double w = std::max<double>(wMax[j], opts.minValue);
    const double v = std::pow(a, opts.alpha) / std::pow(w, 1.0 - opts.alpha);
    s[j] = static_cast<float>(std::clamp(v, opts.minValue, opts.maxScale));
  }
  return s;
}

void scaleColumns(float *w, int64_t rows, int64_t cols, const std::vector<float> &s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[r * cols + j] *= s[j];
}

void divideElements(float *v, const std::vector<float> &s) {
  for (size_t j = 0; j < s.size(); ++j) v[j] /= s[j];
}

void divideRows(float *w, int64_t rows, int64_t cols, const std::vector<float> &s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[r * cols + j] /= s[r];
}

void rescaleHessian(std::vector<float> &h, const std::vector<float> &s) {
  const size_t K = s.size();
  for (size_t i = 0; i < K; ++i)
    for (size_t j = 0; j < K; ++j) h[i * K + j] /= s[i] * s[j];
}

} // namespace qcc::quant
