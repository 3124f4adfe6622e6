#include "quant/Awq.h"

#include "quant/Rtn.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qcc::quant {

Expected<std::vector<float>> awqEffectiveWeights(const WeightView &w, const std::vector<float> &s,
                                                 const formats::FormatSpec &spec) {
  const int64_t N = w.rows, K = w.cols;
  if (static_cast<int64_t>(s.size()) != K)
    return Status::error("awq: " + std::to_string(s.size()) + " scales for " + std::to_string(K) +
                         " input channels");
  std::vector<float> ws(w.data, w.data + N * K); // [N][K] = W diag(s)
  scaleColumns(ws.data(), N, K, s);
  Expected<std::vector<float>> scales = computeScales(ws.data(), N, K, spec, false);
  if (!scales) return scales.status();
  const int64_t G = spec.format == formats::Format::W4A16 ? K / spec.groupSize : 1;
  const int64_t g = K / G;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      ws[n * K + k] = fakeQuant(spec.format, ws[n * K + k], scales.value()[n * G + k / g]) / s[k];
  return ws;
}

// sum over rows, outputs of (x (W - Weff)^T)^2.
static Expected<double> scaledQuantError(const float *x, int64_t rows, const WeightView &w,
                                         const std::vector<float> &s,
                                         const formats::FormatSpec &spec) {
  const int64_t N = w.rows, K = w.cols;
  Expected<std::vector<float>> eff = awqEffectiveWeights(w, s, spec);
  if (!eff) return eff.status();
  std::vector<float> &diff = eff.value(); // [N][K] = W - Weff
  for (int64_t i = 0; i < N * K; ++i) diff[i] = w.data[i] - diff[i];
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * K;
    for (int64_t n = 0; n < N; ++n) {
      const float *dn = diff.data() + n * K;
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * dn[k];
      total += static_cast<double>(acc) * acc;
    }
  }
  return total;
}

Expected<AwqResult> awqSearchWith(const std::vector<float> &meanAbs,
                                  const std::function<Expected<double>(const std::vector<float> &)> &loss,
                                  const AwqOptions &opts) {
  const int64_t K = static_cast<int64_t>(meanAbs.size());
  if (opts.gridSteps <= 0) return Status::error("awq: grid steps must be positive");
  for (float m : meanAbs)
    if (!std::isfinite(m) || m < 0.0f) return Status::error("awq: bad activation statistic");
  AwqResult best;
  std::vector<float> s(K);
  for (int i = 0; i < opts.gridSteps; ++i) {
    const double alpha = static_cast<double>(i) / opts.gridSteps;
    float lo = INFINITY, hi = 0.0f;
    for (int64_t j = 0; j < K; ++j) {
      s[j] = std::max(std::pow(meanAbs[j], static_cast<float>(alpha)), 1e-4f);
      lo = std::min(lo, s[j]);
      hi = std::max(hi, s[j]);
    }
    const float norm = std::sqrt(lo * hi);
    for (float &v : s) v /= norm;
    Expected<double> l = loss(s);
    if (!l) return l.status();
    if (i == 0) best.lossUnscaled = l.value();
    if (i == 0 || l.value() < best.loss) {
      best.loss = l.value();
      best.alpha = alpha;
      best.scales = s;
    }
  }
  return best;
}

Expected<AwqResult> awqSearch(const std::vector<float> &meanAbs, const float *x, int64_t rows,
                              const std::vector<WeightView> &weights,
                              const formats::FormatSpec &spec, const AwqOptions &opts) {
  const int64_t K = static_cast<int64_t>(meanAbs.size());
  if (rows <= 0 || !x) return Status::error("awq: no calibration activations");
  if (weights.empty()) return Status::error("awq: no weights");
  int64_t outputs = 0;
  for (const WeightView &w : weights) {
    if (w.cols != K || w.rows <= 0 || !w.data)
      return Status::error("awq: weight [" + std::to_string(w.rows) + ", " +
                           std::to_string(w.cols) + "] does not match " + std::to_string(K) +
                           " input channels");
    outputs += w.rows;
  }

  auto loss = [&](const std::vector<float> &s) -> Expected<double> {
    double total = 0.0;
    for (const WeightView &w : weights) {
      Expected<double> e = scaledQuantError(x, rows, w, s, spec);
      if (!e) return e.status().withContext("awq");
      total += e.value();
    }
    return total / (static_cast<double>(rows) * outputs);
  };
  return awqSearchWith(meanAbs, loss, opts);
}

} // namespace qcc::quant
