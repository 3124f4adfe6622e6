// GPTQ against a straightforward float64 reimplementation (the paper's
// column-by-column update with an explicit inverse, no Cholesky, no blocks),
// and against round-to-nearest on the layer's output error ||X W^T - X Q^T||_F.
#include "quant/Gptq.h"
#include "quant/Stats.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace qcc;
using namespace qcc::quant;
using formats::Format;
using formats::FormatSpec;

namespace {

// Gauss-Jordan inverse with partial pivoting, float64.
std::vector<double> inverse64(std::vector<double> a, int64_t K) {
  std::vector<double> inv(K * K, 0.0);
  for (int64_t i = 0; i < K; ++i) inv[i * K + i] = 1.0;
  for (int64_t c = 0; c < K; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < K; ++r)
      if (std::fabs(a[r * K + c]) > std::fabs(a[p * K + c])) p = r;
    for (int64_t j = 0; j < K; ++j) {
      std::swap(a[c * K + j], a[p * K + j]);
      std::swap(inv[c * K + j], inv[p * K + j]);
    }
    const double d = a[c * K + c];
    for (int64_t j = 0; j < K; ++j) {
      a[c * K + j] /= d;
      inv[c * K + j] /= d;
    }
    for (int64_t r = 0; r < K; ++r) {
      if (r == c) continue;
      const double f = a[r * K + c];
      if (f == 0.0) continue;
      for (int64_t j = 0; j < K; ++j) {
        a[r * K + j] -= f * a[c * K + j];
        inv[r * K + j] -= f * inv[c * K + j];
      }
    }
  }
  return inv;
}

float scaleOf(Format f, const std::vector<float> &vals, bool mse) {
  if (mse) return mseClipScale(f, vals.data(), static_cast<int64_t>(vals.size()), 1);
  float m = 0;
  for (float v : vals) m = std::max(m, std::fabs(v));
  return formats::scaleFromAbsMax(m, formatQmax(f));
}

// Reference GPTQ: returns dequantized Q[N][K] in the original column order.
std::vector<float> referenceGptq(const std::vector<float> &w, int64_t N, int64_t K,
                                 std::vector<double> H, const FormatSpec &spec, bool actOrder,
                                 bool mse) {
  const bool grouped = spec.format == Format::W4A16;
  const int64_t g = grouped ? spec.groupSize : K, G = K / g;
  std::vector<double> W(w.begin(), w.end());
  std::vector<int64_t> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  if (actOrder)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * K + a] > H[b * K + b]; });
  for (int64_t d = 0; d < K; ++d)
    if (H[d * K + d] == 0) {
      H[d * K + d] = 1;
      for (int64_t n = 0; n < N; ++n) W[n * K + d] = 0;
    }
  // Scales fixed up front (per channel, or per original group with act order).
  std::vector<float> scales(N * G);
  auto groupValues = [&](int64_t n, int64_t first, int64_t count) {
    std::vector<float> v(count);
    for (int64_t t = 0; t < count; ++t) v[t] = static_cast<float>(W[n * K + first + t]);
    return v;
  };
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < G; ++j) scales[n * G + j] = scaleOf(spec.format, groupValues(n, j * g, g), mse);
  // Permute.
  std::vector<double> Wp(N * K), Hp(K * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j) Wp[n * K + j] = W[n * K + perm[j]];
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) Hp[i * K + j] = H[perm[i] * K + perm[j]];
  double mean = 0;
  for (int64_t i = 0; i < K; ++i) mean += Hp[i * K + i];
  for (int64_t i = 0; i < K; ++i) Hp[i * K + i] += 0.01 * mean / K;
  std::vector<double> Hinv = inverse64(Hp, K);

  std::vector<float> Qp(N * K);
  for (int64_t i = 0; i < K; ++i) {
    if (grouped && !actOrder && i % g == 0)
      for (int64_t n = 0; n < N; ++n) {
        std::vector<float> v(g);
        for (int64_t t = 0; t < g; ++t) v[t] = static_cast<float>(Wp[n * K + i + t]);
        scales[n * G + i / g] = scaleOf(spec.format, v, mse);
      }
    const int64_t group = grouped ? perm[i] / g : 0;
    const double hii = Hinv[i * K + i];
    for (int64_t n = 0; n < N; ++n) {
      const double x = Wp[n * K + i];
      const float q = fakeQuant(spec.format, static_cast<float>(x), scales[n * G + group]);
      Qp[n * K + i] = q;
      const double e = (x - q) / hii;
      for (int64_t j = i + 1; j < K; ++j) Wp[n * K + j] -= e * Hinv[i * K + j];
    }
    // Eliminate column i from the inverse (OBS update).
    for (int64_t a = i + 1; a < K; ++a)
      for (int64_t b = i + 1; b < K; ++b) Hinv[a * K + b] -= Hinv[a * K + i] * Hinv[i * K + b] / hii;
  }
  std::vector<float> Q(N * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j) Q[n * K + perm[j]] = Qp[n * K + j];
  return Q;
}

struct Problem {
  int64_t rows = 1024, N = 16, K = 256;
  std::vector<float> x, w, h;
  std::vector<double> h64;
  explicit Problem(uint32_t seed, int64_t k = 256) : K(k) {
    x = test::correlatedActivations(rows, K, seed);
    w = test::randn(N * K, seed + 100);
    HessianAccumulator acc(K);
    EXPECT_TRUE(acc.add(x.data(), rows, K));
    h = acc.hessian();
    h64.assign(h.begin(), h.end()); // the same fp32 Hessian for both
  }
};

struct Case {
  FormatSpec spec;
  bool actOrder, mse;
  const char *name;
};

class GptqVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(GptqVsReference, MatchesFloat64AndBeatsRtn) {
  const Case c = GetParam();
  Problem p(42);
  GptqOptions opts;
  opts.actOrderStatic = c.actOrder;
  opts.mseClip = c.mse;
  auto r = gptqQuantize(p.w.data(), p.N, p.K, p.h.data(), c.spec, opts);
  ASSERT_TRUE(r) << r.message();
  EXPECT_TRUE(r->remark.empty()) << r->remark;
  EXPECT_EQ(r->dequant, formats::dequantize(r->linear));

  std::vector<float> ref = referenceGptq(p.w, p.N, p.K, p.h64, c.spec, c.actOrder, c.mse);
  int64_t same = 0;
  // Same code: equal up to the last bits of a scale computed from updated weights.
  for (int64_t i = 0; i < p.N * p.K; ++i)
    same += std::fabs(ref[i] - r->dequant[i]) <= 1e-5f * std::fabs(ref[i]);
  const double agree = static_cast<double>(same) / (p.N * p.K);

  auto rtn = quantizeRtn(p.w.data(), p.N, p.K, c.spec, c.mse);
  ASSERT_TRUE(rtn);
  const double norm = test::frobenius(p.x, p.rows, p.w, p.N, p.K);
  const double eOurs = test::outputError(p.x, p.rows, p.w, r->dequant, p.N, p.K) / norm;
  const double eRef = test::outputError(p.x, p.rows, p.w, ref, p.N, p.K) / norm;
  const double eRtn = test::outputError(p.x, p.rows, p.w, formats::dequantize(*rtn), p.N, p.K) / norm;
  std::printf("[ gptq %-22s] codes equal to float64 ref %.2f%%; rel output error: gptq %.5f "
              "ref %.5f rtn %.5f (gptq/rtn %.3f)\n",
              c.name, 100 * agree, eOurs, eRef, eRtn, eOurs / eRtn);
  // fp32 vs float64 sweeps may round a few near-tie elements differently.
  EXPECT_GT(agree, 0.99);
  EXPECT_NEAR(eOurs, eRef, 0.01 * eRef);
  EXPECT_LT(eOurs, 0.9 * eRtn);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GptqVsReference,
    ::testing::Values(Case{{Format::W4A16, 128}, false, false, "w4a16 g128"},
                      Case{{Format::W4A16, 32}, false, false, "w4a16 g32"},
                      Case{{Format::W4A16, 128}, false, true, "w4a16 g128 mse"},
                      Case{{Format::W4A16, 128}, true, false, "w4a16 g128 actorder"},
                      Case{{Format::W4A16, 64}, true, true, "w4a16 g64 actorder mse"},
                      Case{{Format::INT8, 0}, false, false, "int8"},
                      Case{{Format::INT8, 0}, true, true, "int8 actorder mse"},
                      Case{{Format::FP8, 0}, false, false, "fp8"}),
    [](const ::testing::TestParamInfo<Case> &i) {
      std::string s = i.param.name;
      for (char &ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

TEST(Gptq, GroupsThatDoNotDivideTheBlock) {
  // K = 200, g = 40: blocks of 120 columns (3 groups), then 80.
  Problem p(11, 200);
  FormatSpec spec{Format::W4A16, 40};
  auto r = gptqQuantize(p.w.data(), p.N, p.K, p.h.data(), spec);
  ASSERT_TRUE(r) << r.message();
  std::vector<float> ref = referenceGptq(p.w, p.N, p.K, p.h64, spec, false, false);
  int64_t same = 0;
  for (int64_t i = 0; i < p.N * p.K; ++i)
    same += std::fabs(ref[i] - r->dequant[i]) <= 1e-5f * std::fabs(ref[i]);
  EXPECT_GT(same, 0.99 * p.N * p.K);
  ASSERT_EQ(r->linear.scales.size(), static_cast<size_t>(p.N * 5));
}

TEST(Gptq, BlockSizeDoesNotChangeTheMath) {
  Problem p(7);
  FormatSpec spec{Format::W4A16, 32};
  GptqOptions a, b;
  a.blockSize = 128;
  b.blockSize = 32;
  auto ra = gptqQuantize(p.w.data(), p.N, p.K, p.h.data(), spec, a);
  auto rb = gptqQuantize(p.w.data(), p.N, p.K, p.h.data(), spec, b);
  ASSERT_TRUE(ra && rb);
  int64_t same = 0;
  for (int64_t i = 0; i < p.N * p.K; ++i) same += ra->dequant[i] == rb->dequant[i];
  EXPECT_GT(same, 0.98 * p.N * p.K);
}

TEST(Gptq, DeadColumnsAreZeroed) {
  Problem p(3);
  // Inputs 5 and 200 never fire: their Hessian rows/columns are zero.
  for (int64_t r = 0; r < p.rows; ++r) p.x[r * p.K + 5] = p.x[r * p.K + 200] = 0.0f;
  HessianAccumulator acc(p.K);
  ASSERT_TRUE(acc.add(p.x.data(), p.rows, p.K));
  auto r = gptqQuantize(p.w.data(), p.N, p.K, acc.hessian().data(), FormatSpec{Format::W4A16, 128});
  ASSERT_TRUE(r) << r.message();
  EXPECT_TRUE(r->remark.empty());
  for (int64_t n = 0; n < p.N; ++n) {
    EXPECT_EQ(r->dequant[n * p.K + 5], 0.0f);
    EXPECT_EQ(r->dequant[n * p.K + 200], 0.0f);
  }
  for (float v : r->dequant) ASSERT_TRUE(std::isfinite(v));
}

TEST(Gptq, CholeskyFailureFallsBackToRtn) {
  const int64_t N = 4, K = 64;
  std::vector<float> w = test::randn(N * K, 5);
  // Positive diagonal, but indefinite: every off-diagonal is 2.
  std::vector<float> h(K * K, 2.0f);
  for (int64_t i = 0; i < K; ++i) h[i * K + i] = 1.0f;
  for (FormatSpec spec : {FormatSpec{Format::W4A16, 32}, FormatSpec{Format::INT8, 0}}) {
    auto r = gptqQuantize(w.data(), N, K, h.data(), spec);
    ASSERT_TRUE(r) << r.message();
    EXPECT_NE(r->remark.find("fell back to round-to-nearest"), std::string::npos) << r->remark;
    auto rtn = quantizeRtn(w.data(), N, K, spec, false);
    ASSERT_TRUE(rtn);
    EXPECT_EQ(r->linear.weights, rtn->weights);
    EXPECT_EQ(r->linear.scales, rtn->scales);
  }
}

TEST(Gptq, RejectsBadInput) {
  const int64_t N = 2, K = 8;
  std::vector<float> w(N * K, 1.0f), h(K * K, 0.0f);
  for (int64_t i = 0; i < K; ++i) h[i * K + i] = 1.0f;
  EXPECT_FALSE(gptqQuantize(w.data(), N, K, h.data(), FormatSpec{Format::BF16, 0}));
  EXPECT_FALSE(gptqQuantize(w.data(), N, K, h.data(), FormatSpec{Format::W4A16, 6}));
  EXPECT_FALSE(gptqQuantize(w.data(), 0, K, h.data(), FormatSpec{Format::INT8, 0}));
  h[3] = NAN;
  auto r = gptqQuantize(w.data(), N, K, h.data(), FormatSpec{Format::INT8, 0});
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("non-finite"), std::string::npos);
  h[3] = 0.0f;
  w[1] = INFINITY;
  EXPECT_FALSE(gptqQuantize(w.data(), N, K, h.data(), FormatSpec{Format::INT8, 0}));
}

TEST(UpperCholeskyOfInverse, ReconstructsTheInverse) {
  const int64_t K = 12;
  std::vector<float> x = test::randn(40 * K, 2);
  std::vector<double> a = test::hessian64(x, 40, K);
  std::vector<double> inv = inverse64(a, K), u = a;
  ASSERT_TRUE(upperCholeskyOfInverse(u, K));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) {
      if (j < i) {
        EXPECT_EQ(u[i * K + j], 0.0);
      }
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += u[k * K + i] * u[k * K + j];
      EXPECT_NEAR(s, inv[i * K + j], 1e-9 * (1 + std::fabs(inv[i * K + j])));
    }
}

} // namespace
