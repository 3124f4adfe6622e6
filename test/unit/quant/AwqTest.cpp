// AWQ's scale search.
#include "quant/Awq.h"
#include "quant/Rtn.h"
#include "quant/Stats.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::quant;
using formats::Format;
using formats::FormatSpec;

namespace {

TEST(Awq, BeatsRtnOnSalientChannels) {
  const int64_t rows = 256, K = 256;
  std::vector<float> x = test::correlatedActivations(rows, K, 21);
  std::vector<float> q = test::randn(32 * K, 22), k = test::randn(16 * K, 23);
  ChannelStats st(K);
  ASSERT_TRUE(st.add(x.data(), rows, K));
  FormatSpec spec{Format::W4A16, 128};
  auto r = awqSearch(st.meanAbs(), x.data(), rows, {{q.data(), 32, K}, {k.data(), 16, K}}, spec);
  ASSERT_TRUE(r) << r.message();
  ASSERT_EQ(r->scales.size(), static_cast<size_t>(K));
  EXPECT_GT(r->alpha, 0.0);
  EXPECT_LT(r->loss, 0.9 * r->lossUnscaled);

  // Independent check of the reported loss: apply the scales, quantize with RTN,
  // fold 1/s back and measure the output error in float64.
  double total = 0, totalRtn = 0;
  for (auto [w, n] : {std::pair{&q, int64_t{32}}, std::pair{&k, int64_t{16}}}) {
    std::vector<float> ws = *w;
    scaleColumns(ws.data(), n, K, r->scales);
    auto lin = quantizeRtn(ws.data(), n, K, spec, false);
    auto rtn = quantizeRtn(w->data(), n, K, spec, false);
    ASSERT_TRUE(lin && rtn);
    std::vector<float> deq = formats::dequantize(*lin);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < K; ++j) deq[i * K + j] /= r->scales[j];
    const double e = test::outputError(x, rows, *w, deq, n, K);
    const double e0 = test::outputError(x, rows, *w, formats::dequantize(*rtn), n, K);
    total += e * e;
    totalRtn += e0 * e0;
  }
  total /= rows * 48.0;
  totalRtn /= rows * 48.0;
  EXPECT_NEAR(total, r->loss, 1e-3 * r->loss);
  EXPECT_NEAR(totalRtn, r->lossUnscaled, 1e-3 * r->lossUnscaled);
  std::printf("[ awq ] alpha %.2f, output MSE %.6g vs RTN %.6g (%.1f%% lower)\n", r->alpha, r->loss,
              r->lossUnscaled, 100.0 * (1 - r->loss / r->lossUnscaled));
}

TEST(Awq, UniformActivationsKeepUnitScales) {
  // With identical channel magnitudes every s(alpha) is 1: alpha 0 wins the ties.
  const int64_t rows = 16, K = 64;
  std::vector<float> x = test::randn(rows * K, 1);
  std::vector<float> w = test::randn(8 * K, 2);
  std::vector<float> mean(K, 0.7f);
  auto r = awqSearch(mean, x.data(), rows, {{w.data(), 8, K}}, FormatSpec{Format::W4A16, 64});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->alpha, 0.0);
  for (float s : r->scales) EXPECT_FLOAT_EQ(s, 1.0f);
}

TEST(Awq, RejectsBadInput) {
  std::vector<float> x(4 * 8, 1.0f), w(2 * 8, 1.0f), mean(8, 1.0f);
  FormatSpec spec{Format::W4A16, 8};
  EXPECT_FALSE(awqSearch(mean, x.data(), 0, {{w.data(), 2, 8}}, spec));
  EXPECT_FALSE(awqSearch(mean, x.data(), 4, {}, spec));
  EXPECT_FALSE(awqSearch(mean, x.data(), 4, {{w.data(), 2, 4}}, spec));
  EXPECT_FALSE(awqSearch(mean, x.data(), 4, {{w.data(), 2, 8}}, FormatSpec{Format::W4A16, 3}));
  mean[2] = NAN;
  EXPECT_FALSE(awqSearch(mean, x.data(), 4, {{w.data(), 2, 8}}, spec));
}

} // namespace
