#include "quant/Gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qcc::quant {

using formats::Format;

// In-place lower Cholesky factor of a[K][K] (row-major; the lower triangle is
// read and overwritten with L, the upper triangle zeroed). Right-looking, so
// the inner loop is a contiguous axpy. False on a non-positive pivot.
static bool choleskyLower(std::vector<double> &a, int64_t K) {
  std::vector<double> col(K); // column j of L below the diagonal
  for (int64_t j = 0; j < K; ++j) {
    double *rj = a.data() + j * K;
    const double d = rj[j];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    rj[j] = ljj;
    for (int64_t k = j + 1; k < K; ++k) rj[k] = 0.0;
    for (int64_t i = j + 1; i < K; ++i) col[i] = (a[i * K + j] /= ljj);
    // Trailing update of the lower triangle: A[i][j+1..i] -= L[i][j] * L[j+1..i][j].
    for (int64_t i = j + 1; i < K; ++i) {
      const double lij = col[i];
      if (lij == 0.0) continue;
      double *ri = a.data() + i * K;
      for (int64_t k = j + 1; k <= i; ++k) ri[k] -= lij * col[k];
    }
  }
  return true;
}

// With J the reversal permutation: if J A J = L' L'^T (lower Cholesky), then
// A = U~ U~^T with U~ = J L' J upper, so A^-1 = (U~^-1)^T U~^-1 and the upper
// Cholesky factor of A^-1 is U~^-1 (unique with a positive diagonal). One
// Cholesky and one triangular inverse; no explicit inverse of A is formed.
bool upperCholeskyOfInverse(std::vector<double> &a, int64_t K) {
  std::vector<double> b(K * K); // [K][K] = J A J
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) b[i * K + j] = a[(K - 1 - i) * K + (K - 1 - j)];
  if (!choleskyLower(b, K)) return false;
  for (int64_t i = 0; i < K; ++i) // a = U~ = J L' J (upper)
    for (int64_t j = 0; j < K; ++j) a[i * K + j] = b[(K - 1 - i) * K + (K - 1 - j)];
  // V = U~^-1 (upper), rows from the bottom:
  //   V[i][i] = 1 / U~[i][i],  V[i][j>i] = -(sum_{k=i+1..j} U~[i][k] V[k][j]) / U~[i][i].
  std::vector<double> &v = b; // reuse: [K][K]
  std::fill(v.begin(), v.end(), 0.0);
  std::vector<double> acc(K);
  for (int64_t i = K - 1; i >= 0; --i) {
    const double *ui = a.data() + i * K;
    std::fill(acc.begin() + i, acc.end(), 0.0);
    for (int64_t k = i + 1; k < K; ++k) {
      const double c = ui[k];
      if (c == 0.0) continue;
      const double *vk = v.data() + k * K;
      for (int64_t j = k; j < K; ++j) acc[j] += c * vk[j];
    }
    const double inv = 1.0 / ui[i];
    double *vi = v.data() + i * K;
    vi[i] = inv;
    for (int64_t j = i + 1; j < K; ++j) vi[j] = -acc[j] * inv;
  }
  for (double x : v)
    if (!std::isfinite(x)) return false;
  a.swap(v);
  return true;
}

// The scale of n consecutive weights: absmax rule or MSE clip.
static float groupScale(Format f, const float *x, int64_t n, const GptqOptions &opts) {
  if (opts.mseClip) return mseClipScale(f, x, n, 1, opts.mse);
  float m = 0.0f;
  for (int64_t t = 0; t < n; ++t) m = std::max(m, std::fabs(x[t]));
  return formats::scaleFromAbsMax(m, formatQmax(f));
}

Expected<GptqResult> gptqQuantize(const float *w, int64_t N, int64_t K, const float *h,
                                  const formats::FormatSpec &spec, const GptqOptions &opts) {
  if (spec.format == Format::BF16)
    return Status::error("gptq: bf16 is not a quantized weight format");
  if (N <= 0 || K <= 0 || !w || !h)
    return Status::error("gptq: empty weight [" + std::to_string(N) + ", " + std::to_string(K) +
                         "] or missing hessian");
  if (opts.blockSize <= 0 || !(opts.dampFrac >= 0.0))
    return Status::error("gptq: block size must be positive and dampening non-negative");
  for (int64_t i = 0; i < K * K; ++i)
    if (!std::isfinite(h[i])) return Status::error("gptq: hessian has a non-finite entry");

  const bool grouped = spec.format == Format::W4A16;
  const int64_t g = grouped ? spec.groupSize : K; // columns per scale
  std::vector<float> W(w, w + N * K);             // [N][K], the working copy
  std::vector<double> H(h, h + K * K);            // [K][K]

  // Visiting order: by descending diag(H) for static act order (stable).
  std::vector<int64_t> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  if (opts.actOrderStatic)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * K + a] > H[b * K + b]; });

  // Dead inputs never contribute to the output: zero their weights.
  for (int64_t d = 0; d < K; ++d)
    if (H[d * K + d] == 0.0) {
      H[d * K + d] = 1.0;
      for (int64_t n = 0; n < N; ++n) W[n * K + d] = 0.0f;
    }

  // Scales [N][G] (G = K / g). Validates shapes and finiteness. Per-group scales
  // without act order are recomputed when the sweep reaches each group.
  Expected<std::vector<float>> scalesOr = computeScales(W.data(), N, K, spec, opts.mseClip, opts.mse);
  if (!scalesOr) return scalesOr.status().withContext("gptq");
  std::vector<float> scales = std::move(scalesOr.value());
  const int64_t G = grouped ? K / g : 1;
  const bool lazyGroups = grouped && !opts.actOrderStatic;

  // Permute W columns and H into visiting order.
  std::vector<float> Wp(N * K);      // [N][K] permuted
  std::vector<double> Hp(K * K);     // [K][K] permuted
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j) Wp[n * K + j] = W[n * K + perm[j]];
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) Hp[i * K + j] = H[perm[i] * K + perm[j]];

  double meanDiag = 0.0;
  for (int64_t i = 0; i < K; ++i) meanDiag += Hp[i * K + i];
  meanDiag /= K;
  for (int64_t i = 0; i < K; ++i) Hp[i * K + i] += opts.dampFrac * meanDiag;

  GptqResult result;
  if (!upperCholeskyOfInverse(Hp, K)) {
    result.remark = "gptq: the hessian is not positive definite after dampening " +
                    std::to_string(opts.dampFrac) + "; fell back to round-to-nearest";
    std::fill(Hp.begin(), Hp.end(), 0.0);
    for (int64_t i = 0; i < K; ++i) Hp[i * K + i] = 1.0;
  }
  std::vector<float> U(Hp.begin(), Hp.end()); // [K][K] upper, fp32 for the sweep
  Hp.clear();
  Hp.shrink_to_fit();

  // Block size: whole groups per block, so a group's scales see all updates.
  int64_t B = opts.blockSize;
  if (grouped) B = std::max<int64_t>(g, B / g * g);

  std::vector<float> Q(N * K, 0.0f);  // [N][K] permuted, dequantized
  std::vector<float> err(N * B);      // [N][B] scaled errors of the block
  for (int64_t i1 = 0; i1 < K; i1 += B) {
    const int64_t i2 = std::min(i1 + B, K), count = i2 - i1;
    for (int64_t i = i1; i < i2; ++i) {
      if (lazyGroups && i % g == 0) // a group starts: scales from the updated weights
        for (int64_t n = 0; n < N; ++n)
          scales[n * G + i / g] = groupScale(spec.format, &Wp[n * K + i], g, opts);
      const int64_t group = grouped ? perm[i] / g : 0;
      const float d = U[i * K + i];
      const float *urow = U.data() + i * K;
      for (int64_t n = 0; n < N; ++n) {
        float *wrow = Wp.data() + n * K;
        const float x = wrow[i];
        const float q = fakeQuant(spec.format, x, scales[n * G + group]);
        Q[n * K + i] = q;
        const float e = (x - q) / d;
        err[n * B + (i - i1)] = e;
        result.loss += 0.5 * static_cast<double>(e) * e;
        for (int64_t t = i + 1; t < i2; ++t) wrow[t] -= e * urow[t];
      }
    }
    // Lazy batch update of the columns after the block: W[:, i2:] -= Err * U[i1:i2, i2:],
    // in column chunks so the U chunk [count, 256] stays in cache across rows.
    constexpr int64_t kChunk = 256;
    for (int64_t t0 = i2; t0 < K; t0 += kChunk) {
      const int64_t t1 = std::min(K, t0 + kChunk);
      for (int64_t n = 0; n < N; ++n) {
        float *wrow = Wp.data() + n * K;
        for (int64_t i = 0; i < count; ++i) {
          const float e = err[n * B + i];
          if (e == 0.0f) continue;
          const float *urow = U.data() + (i1 + i) * K;
          for (int64_t t = t0; t < t1; ++t) wrow[t] -= e * urow[t];
        }
      }
    }
  }

  // Back to the original column order; re-encode with the scales used.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j) W[n * K + perm[j]] = Q[n * K + j];
  Expected<formats::QuantizedLinear> lin =
      formats::quantizeLinearWithScales(W.data(), N, K, spec, std::move(scales));
  if (!lin) return lin.status().withContext("gptq");
  result.linear = std::move(lin.value());
  result.dequant = formats::dequantize(result.linear);
  return result;
}

} // namespace qcc::quant
