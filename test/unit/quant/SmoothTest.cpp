// SmoothQuant scales and the folding helpers.
#include "quant/Smooth.h"
#include "quant/Stats.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::quant;

namespace {

TEST(SmoothQuant, FormulaOverSharedWeights) {
  const int64_t K = 6;
  std::vector<float> q = test::randn(4 * K, 1), k = test::randn(2 * K, 2, 3.0f);
  std::vector<float> act = {8.0f, 0.5f, 2.0f, 1.0f, 30.0f, 0.1f};
  auto s = smoothQuantScales(act, {{q.data(), 4, K}, {k.data(), 2, K}}, {0.8});
  ASSERT_TRUE(s) << s.message();
  for (int64_t j = 0; j < K; ++j) {
    double w = 0;
    for (int64_t r = 0; r < 4; ++r) w = std::max(w, std::fabs(static_cast<double>(q[r * K + j])));
    for (int64_t r = 0; r < 2; ++r) w = std::max(w, std::fabs(static_cast<double>(k[r * K + j])));
    const double expect = std::pow(act[j], 0.8) / std::pow(w, 0.2);
    EXPECT_NEAR((*s)[j], expect, 1e-6 * expect) << j;
  }
}

TEST(SmoothQuant, DegenerateChannels) {
  const int64_t K = 4;
  std::vector<float> w = {1e-9f, 0.0f, 2.0f, 1.0f,  //
                          1e-9f, 0.0f, 1.0f, 1.0f};
  std::vector<float> act = {1.0f, 5.0f, 0.0f, 1e-12f};
  auto s = smoothQuantScales(act, {{w.data(), 2, K}}, {0.5});
  ASSERT_TRUE(s);
  EXPECT_FLOAT_EQ((*s)[0], static_cast<float>(1.0 / std::sqrt(1e-5))); // weight floored at 1e-5
  EXPECT_EQ((*s)[1], 1.0f);                                             // all-zero weight column
  EXPECT_EQ((*s)[2], 1.0f);                                             // dead activation
  EXPECT_FLOAT_EQ((*s)[3], static_cast<float>(std::sqrt(1e-5)));        // activation floored
  EXPECT_FALSE(smoothQuantScales(act, {{w.data(), 2, K}}, {1.5}));
  EXPECT_FALSE(smoothQuantScales(act, {}, {0.5}));
  EXPECT_FALSE(smoothQuantScales(act, {{w.data(), 2, 3}}, {0.5}));
  act[0] = INFINITY;
  EXPECT_FALSE(smoothQuantScales(act, {{w.data(), 2, K}}, {0.5}));
}

TEST(SmoothQuant, FoldingIsExactAndFlattensActivations) {
  const int64_t rows = 64, N = 12, K = 32;
  std::vector<float> x = test::correlatedActivations(rows, K, 9);
  std::vector<float> w = test::randn(N * K, 4);
  ChannelStats st(K);
  ASSERT_TRUE(st.add(x.data(), rows, K));
  auto s = smoothQuantScales(st.absMax(), {{w.data(), N, K}}, {0.5});
  ASSERT_TRUE(s);
  std::vector<float> ws = w, xs = x;
  scaleColumns(ws.data(), N, K, *s);
  for (int64_t r = 0; r < rows; ++r) divideElements(xs.data() + r * K, *s);
  // (x / s)(W diag s)^T == x W^T up to fp32 rounding.
  const double ref = test::frobenius(x, rows, w, N, K);
  double diff = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double a = 0, b = 0;
      for (int64_t k = 0; k < K; ++k) {
        a += static_cast<double>(x[r * K + k]) * w[n * K + k];
        b += static_cast<double>(xs[r * K + k]) * ws[n * K + k];
      }
      diff += (a - b) * (a - b);
    }
  EXPECT_LT(std::sqrt(diff), 1e-5 * ref);
  // The activation range spread (max/min channel absmax) shrinks.
  ChannelStats st2(K);
  ASSERT_TRUE(st2.add(xs.data(), rows, K));
  auto spread = [](const std::vector<float> &m) {
    return *std::max_element(m.begin(), m.end()) / *std::min_element(m.begin(), m.end());
  };
  EXPECT_LT(spread(st2.absMax()), spread(st.absMax()));
}

TEST(SmoothQuant, HessianRescaleEqualsHessianOfScaledInput) {
  const int64_t rows = 50, K = 10;
  std::vector<float> x = test::randn(rows * K, 3);
  std::vector<float> s = {0.5f, 2.0f, 1.0f, 3.0f, 0.25f, 1.5f, 1.0f, 0.75f, 4.0f, 0.1f};
  HessianAccumulator a(K), b(K);
  ASSERT_TRUE(a.add(x.data(), rows, K));
  std::vector<float> xs = x;
  for (int64_t r = 0; r < rows; ++r) divideElements(xs.data() + r * K, s);
  ASSERT_TRUE(b.add(xs.data(), rows, K));
  std::vector<float> h = a.hessian();
  rescaleHessian(h, s);
  for (int64_t i = 0; i < K * K; ++i)
    EXPECT_NEAR(h[i], b.hessian()[i], 1e-4 * (std::fabs(b.hessian()[i]) + 1e-3)) << i;
}

TEST(Folding, DivideRowsUndoesOutputScaling) {
  // Folding 1/s into the producer linear's rows scales its outputs by 1/s.
  const int64_t N = 5, K = 3;
  std::vector<float> w = test::randn(N * K, 8), x = test::randn(K, 9);
  std::vector<float> s = {2.0f, 0.5f, 4.0f, 1.0f, 8.0f};
  std::vector<float> wd = w;
  divideRows(wd.data(), N, K, s);
  for (int64_t n = 0; n < N; ++n) {
    float y = 0, yd = 0;
    for (int64_t k = 0; k < K; ++k) {
      y += w[n * K + k] * x[k];
      yd += wd[n * K + k] * x[k];
    }
    EXPECT_FLOAT_EQ(yd, y / s[n]);
  }
}

} // namespace
