// Streaming calibration statistics against direct float64 computations.
#include "quant/Stats.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::quant;

namespace {

TEST(ChannelStats, AbsMaxAndMeanAcrossBatches) {
  const int64_t rows = 300, K = 40;
  std::vector<float> x = test::randn(rows * K, 11, 3.0f);
  ChannelStats st(K);
  // Uneven batches, including an empty one.
  ASSERT_TRUE(st.add(x.data(), 7, K));
  ASSERT_TRUE(st.add(x.data() + 7 * K, 0, K));
  ASSERT_TRUE(st.add(x.data() + 7 * K, rows - 7, K));
  EXPECT_EQ(st.rows(), rows);
  std::vector<float> mean = st.meanAbs();
  for (int64_t j = 0; j < K; ++j) {
    double mx = 0, sum = 0;
    for (int64_t r = 0; r < rows; ++r) {
      mx = std::max(mx, std::fabs(static_cast<double>(x[r * K + j])));
      sum += std::fabs(x[r * K + j]);
    }
    EXPECT_EQ(st.absMax()[j], static_cast<float>(mx));
    EXPECT_NEAR(mean[j], sum / rows, 1e-6 * sum / rows);
  }
  Status bad = st.add(x.data(), 1, K + 1);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("expected 40 columns"), std::string::npos);
}

TEST(Hessian, StreamingEqualsFloat64Direct) {
  // K spans several 64-wide tiles (the last one partial); batches cross the
  // 256-row chunks.
  const int64_t rows = 600, K = 150;
  std::vector<float> x = test::correlatedActivations(rows, K, 5);
  HessianAccumulator acc(K);
  int64_t done = 0;
  for (int64_t b : {1, 300, 299}) {
    ASSERT_TRUE(acc.add(x.data() + done * K, b, K));
    done += b;
  }
  ASSERT_EQ(done, rows);
  std::vector<double> ref = test::hessian64(x, rows, K);
  double maxDiag = 0;
  for (int64_t i = 0; i < K; ++i) maxDiag = std::max(maxDiag, ref[i * K + i]);
  double worst = 0;
  for (int64_t i = 0; i < K * K; ++i)
    worst = std::max(worst, std::fabs(acc.hessian()[i] - ref[i]) / maxDiag);
  EXPECT_LT(worst, 1e-5); // fp32 accumulation, relative to the largest entry
  EXPECT_GT(maxDiag, 1.0);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) EXPECT_EQ(acc.hessian()[i * K + j], acc.hessian()[j * K + i]);
  EXPECT_FALSE(acc.add(x.data(), 2, K - 1));
}

TEST(Collector, GathersPerLinearAndReportsWidthMismatch) {
  CalibrationCollector c(CollectOptions{/*hessian=*/true, /*keepRows=*/5});
  std::vector<float> x = test::randn(8 * 6, 2);
  c.observe("a", x.data(), 4, 6);
  c.observe("a", x.data() + 24, 4, 6);
  c.observe("b", x.data(), 3, 16);
  ASSERT_TRUE(c.status());
  const LinearStats *a = c.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->channels.rows(), 8);
  ASSERT_TRUE(a->hessian);
  EXPECT_EQ(a->hessian->rows(), 8);
  ASSERT_TRUE(a->sample);
  EXPECT_EQ(a->sample->rows(), 5);
  EXPECT_EQ(a->sample->data()[29], x[29]);
  EXPECT_EQ(c.find("missing"), nullptr);
  c.observe("a", x.data(), 2, 5);
  ASSERT_FALSE(c.status());
  EXPECT_EQ(c.status().message().rfind("a: ", 0), 0u) << c.status().message();
}

} // namespace
