// Round-to-nearest and MSE-optimal clipping.
#include "quant/Rtn.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::quant;
using formats::Format;
using formats::FormatSpec;

namespace {

// sum |fakeQuant(x) - x|^2.4 in float64 for one candidate scale.
double normError(Format f, const float *x, int64_t n, float scale) {
  double e = 0.0;
  for (int64_t i = 0; i < n; ++i)
    e += std::pow(std::fabs(static_cast<double>(fakeQuant(f, x[i], scale)) - x[i]), 2.4);
  return e;
}

TEST(Rtn, AbsmaxMatchesFormatLibrary) {
  const int64_t N = 8, K = 256;
  std::vector<float> w = test::randn(N * K, 1);
  for (FormatSpec spec : {FormatSpec{Format::INT8, 0}, FormatSpec{Format::FP8, 0},
                          FormatSpec{Format::W4A16, 64}}) {
    auto ours = quantizeRtn(w.data(), N, K, spec, /*mseClip=*/false);
    auto ref = formats::quantizeLinear(w.data(), N, K, spec);
    ASSERT_TRUE(ours) << ours.message();
    ASSERT_TRUE(ref) << ref.message();
    EXPECT_EQ(ours->weights, ref->weights) << formats::formatName(spec.format);
    EXPECT_EQ(ours->scales, ref->scales);
  }
}

TEST(Rtn, FakeQuantIsDequantizeOfQuantize) {
  // int4 with scale 0.5: 1.25 -> 2.5 rounds to 2 (half to even), 9 clips to 7.
  EXPECT_FLOAT_EQ(fakeQuant(Format::W4A16, 1.25f, 0.5f), 1.0f);
  EXPECT_FLOAT_EQ(fakeQuant(Format::W4A16, 9.0f, 0.5f), 3.5f);
  EXPECT_FLOAT_EQ(fakeQuant(Format::W4A16, -9.0f, 0.5f), -4.0f);
  EXPECT_FLOAT_EQ(fakeQuant(Format::INT8, 1000.0f, 1.0f), 127.0f);
  EXPECT_FLOAT_EQ(fakeQuant(Format::FP8, 1000.0f, 1.0f), 448.0f);
  EXPECT_FLOAT_EQ(fakeQuant(Format::FP8, 17.0f, 1.0f), 16.0f); // e4m3 spacing 2 at 16, tie to even
}

TEST(MseClip, PicksTheGridMinimum) {
  // Heavy-tailed groups: one outlier makes a smaller range worth it for int4.
  std::vector<float> x = test::randn(128, 7);
  x[5] = 6.0f;
  for (Format f : {Format::W4A16, Format::INT8, Format::FP8}) {
    const float chosen = mseClipScale(f, x.data(), 128, 1);
    float absmax = 0.0f;
    for (float v : x) absmax = std::max(absmax, std::fabs(v));
    const double chosenErr = normError(f, x.data(), 128, chosen);
    bool onGrid = false;
    for (int i = 0; i < 20; ++i) {
      const float p = static_cast<float>(1.0 - i / 100.0);
      const float s = formats::scaleFromAbsMax(p * absmax, formatQmax(f));
      EXPECT_LE(chosenErr, normError(f, x.data(), 128, s)) << formats::formatName(f) << " p " << p;
      onGrid |= (s == chosen);
    }
    EXPECT_TRUE(onGrid) << formats::formatName(f);
  }
  // For int4 the outlier does make clipping win (p < 1).
  float absmax = 6.0f;
  EXPECT_LT(mseClipScale(Format::W4A16, x.data(), 128, 1),
            formats::scaleFromAbsMax(absmax, formats::kInt4Max));
}

TEST(MseClip, LowersWeightErrorAndHonoursStride) {
  const int64_t N = 16, K = 256;
  std::vector<float> w = test::randn(N * K, 3);
  FormatSpec spec{Format::W4A16, 128};
  auto plain = quantizeRtn(w.data(), N, K, spec, false);
  auto mse = quantizeRtn(w.data(), N, K, spec, true);
  ASSERT_TRUE(plain && mse);
  std::vector<float> dp = formats::dequantize(*plain), dm = formats::dequantize(*mse);
  double ep = 0, em = 0;
  for (int64_t i = 0; i < N * K; ++i) {
    ep += std::pow(std::fabs(dp[i] - w[i]), 2.4);
    em += std::pow(std::fabs(dm[i] - w[i]), 2.4);
  }
  EXPECT_LT(em, ep);
  std::printf("[ mse-clip ] int4 g128 sum|err|^2.4: absmax %.4f  mse %.4f (%.1f%% lower)\n", ep, em,
              100.0 * (1 - em / ep));
  // A strided column gives the same scale as the same values packed.
  std::vector<float> col(N), packed(N);
  for (int64_t n = 0; n < N; ++n) packed[n] = w[n * K + 9];
  EXPECT_EQ(mseClipScale(Format::INT8, w.data() + 9, N, K),
            mseClipScale(Format::INT8, packed.data(), N, 1));
}

TEST(MseClip, ZeroGroupKeepsTheFormatRule) {
  std::vector<float> z(64, 0.0f);
  EXPECT_EQ(mseClipScale(Format::W4A16, z.data(), 64, 1), 1.0f);
  auto q = quantizeRtn(z.data(), 1, 64, FormatSpec{Format::W4A16, 64}, true);
  ASSERT_TRUE(q);
  for (float v : formats::dequantize(*q)) EXPECT_EQ(v, 0.0f);
}

TEST(Rtn, RejectsBadInput) {
  std::vector<float> w(3 * 100, 0.5f);
  auto odd = quantizeRtn(w.data(), 3, 100, FormatSpec{Format::W4A16, 64}, true);
  ASSERT_FALSE(odd);
  EXPECT_FALSE(quantizeRtn(w.data(), 3, 100, FormatSpec{Format::BF16, 0}, false));
  w[7] = NAN;
  EXPECT_FALSE(quantizeRtn(w.data(), 3, 100, FormatSpec{Format::INT8, 0}, true));
  EXPECT_FALSE(quantizeRtn(w.data(), 0, 100, FormatSpec{Format::INT8, 0}, false));
}

} // namespace
