#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/Targets.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qcc;
using namespace qcc::cuda;

TEST(CudaTargets, LookupBySpellings) {
  EXPECT_STREQ((*findTarget("sm80"))->name, "sm_80");
  EXPECT_STREQ((*findTarget("sm_86"))->name, "sm_86");
  EXPECT_STREQ((*findTarget("sm89"))->name, "sm_89");
  EXPECT_STREQ((*findTarget("sm90"))->name, "sm_90a");
  EXPECT_STREQ((*findTarget("sm_90a"))->name, "sm_90a");
  Expected<const GpuTarget *> bad = findTarget("sm_75");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.message(), "unknown gpu target 'sm_75' (known: sm80, sm86, sm89, sm90)");
  EXPECT_EQ(targetForComputeCapability(9, 0), *findTarget("sm90"));
  EXPECT_EQ(targetForComputeCapability(7, 5), nullptr);
}

TEST(CudaTargets, Fp8MmaOnlyFromSm89) {
  EXPECT_FALSE((*findTarget("sm80"))->hasFp8Mma);
  EXPECT_FALSE((*findTarget("sm86"))->hasFp8Mma);
  EXPECT_TRUE((*findTarget("sm89"))->hasFp8Mma);
  EXPECT_TRUE((*findTarget("sm90"))->hasFp8Mma);
}

TEST(CudaTargets, TileTableFollowsShapeAndSmCount) {
  const GpuTarget &a100 = **findTarget("sm80"), &a6000 = **findTarget("sm86");
  // Decode: one m tile; K split across warps so the grid fills the GPU.
  GemmTile d = chooseGemmTile(a100, GemmFormat::W4A16, 1, 4096, 4096);
  EXPECT_EQ(d.mTiles, 1);
  EXPECT_GT(d.kSplit, 1);
  // Wide N already fills the GPU: no split.
  EXPECT_EQ(chooseGemmTile(a100, GemmFormat::BF16, 1, 128256, 4096).kSplit, 1);
  // Fewer SMs need less splitting for the same shape.
  EXPECT_LE(chooseGemmTile(a6000, GemmFormat::BF16, 1, 6144, 4096).kSplit,
            chooseGemmTile(a100, GemmFormat::BF16, 1, 6144, 4096).kSplit);
  // Prefill: bigger tiles, 4 warps across N.
  GemmTile p = chooseGemmTile(a100, GemmFormat::INT8, 2048, 4096, 4096);
  EXPECT_EQ(p.mTiles, 2);
  EXPECT_EQ(p.warpsN, 4);
  for (const GpuTarget &t : allTargets())
    for (GemmFormat f : {GemmFormat::BF16, GemmFormat::INT8, GemmFormat::FP8, GemmFormat::W4A16})
      for (int64_t m : {1, 16, 17, 128, 2048}) {
        GemmTile x = chooseGemmTile(t, f, m, 14336, 4096);
        EXPECT_LE(gemmSharedBytes(x, f), std::min<int64_t>(48 * 1024, t.sharedPerBlockOptin));
        EXPECT_LE(x.threads(), 1024);
      }
}

TEST(CudaTargets, Llama3InvFreqMatchesTheFormula) {
  ModelConfig c;
  c.headDim = 128;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true; // factor 8, low 1, high 4, original 8192
  std::vector<float> f = llamaInvFreq(c);
  ASSERT_EQ(f.size(), 64u);
  // High frequencies (wavelength < 8192/4) are unchanged.
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[1], float(1.0 / std::pow(500000.0, 2.0 / 128)));
  // The lowest frequency (wavelength > 8192) is divided by the factor.
  EXPECT_FLOAT_EQ(f[63], float(1.0 / std::pow(500000.0, 126.0 / 128) / 8.0));
  // Strictly decreasing through the smooth band.
  for (size_t i = 1; i < f.size(); ++i) EXPECT_LT(f[i], f[i - 1]) << i;
  c.ropeScaling.enabled = false;
  EXPECT_FLOAT_EQ(llamaInvFreq(c)[63], float(1.0 / std::pow(500000.0, 126.0 / 128)));
}
