// Small helpers shared by the quantization tests: seeded random data and
// float64 reference arithmetic.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace qcc::quant::test {

inline std::vector<float> randn(int64_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float &x : v) x = dist(rng);
  return v;
}

// Correlated activations X[rows][K] = Z A with per-channel magnitudes that
// vary over two orders (a few "salient" channels), like LLM activations.
inline std::vector<float> correlatedActivations(int64_t rows, int64_t K, uint32_t seed) {
  std::vector<float> z = randn(rows * K, seed);
  std::vector<float> a = randn(K * K, seed + 1, 1.0f / std::sqrt(static_cast<float>(K)));
  for (int64_t i = 0; i < K; ++i) a[i * K + i] += 1.0f; // keep it well conditioned-ish
  std::vector<float> mag(K);
  std::mt19937 rng(seed + 2);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t j = 0; j < K; ++j) mag[j] = (j % 17 == 3) ? 20.0f : 0.2f + 2.0f * u(rng);
  std::vector<float> x(rows * K, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) {
      const float zk = z[r * K + k];
      for (int64_t j = 0; j < K; ++j) x[r * K + j] += zk * a[k * K + j];
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < K; ++j) x[r * K + j] *= mag[j];
  return x;
}

// H = 2/n X^T X in float64.
inline std::vector<double> hessian64(const std::vector<float> &x, int64_t rows, int64_t K) {
  std::vector<double> h(K * K, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        h[i * K + j] += static_cast<double>(x[r * K + i]) * x[r * K + j];
  for (double &v : h) v *= 2.0 / rows;
  return h;
}

// || X (W - Q)^T ||_F in float64: the layer's output reconstruction error.
inline double outputError(const std::vector<float> &x, int64_t rows, const std::vector<float> &w,
                          const std::vector<float> &q, int64_t N, int64_t K) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<double>(x[r * K + k]) * (static_cast<double>(w[n * K + k]) - q[n * K + k]);
      total += acc * acc;
    }
  return std::sqrt(total);
}

inline double frobenius(const std::vector<float> &x, int64_t rows, const std::vector<float> &w,
                        int64_t N, int64_t K) {
  std::vector<float> zero(N * K, 0.0f);
  return outputError(x, rows, w, zero, N, K);
}

} // namespace qcc::quant::test
