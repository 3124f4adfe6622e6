// w4a16: canonical (formats) layout -> kernel layout -> canonical is the identity,
// and the kernel layout puts every code where kernels/gemm.cuh reads it.
#include "runtime/cuda/Packing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <tuple>

using namespace qcc;
using namespace qcc::cuda;

namespace {
formats::QuantizedLinear randomW4(int64_t N, int64_t K, int64_t G, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> w(size_t(N * K));
  for (float &x : w) x = u(rng);
  formats::FormatSpec spec{formats::Format::W4A16, int(G)};
  Expected<formats::QuantizedLinear> q = formats::quantizeLinear(w.data(), N, K, spec);
  EXPECT_TRUE(q) << q.message();
  return *q;
}
} // namespace

TEST(CudaPacking, RoundTripEqualsCanonicalCodes) {
  for (auto [N, K, G] : {std::tuple<int64_t, int64_t, int64_t>{8, 128, 128}, {13, 256, 128}, {64, 512, 256}}) {
    formats::QuantizedLinear q = randomW4(N, K, G, uint32_t(N * K));
    Expected<W4A16KernelWeights> p = packW4A16ForKernel(q);
    ASSERT_TRUE(p) << p.message();
    EXPECT_EQ(p->weights.size(), size_t((N + 7) / 8 * 8 * K / 2));
    Expected<formats::QuantizedLinear> back = unpackW4A16FromKernel(*p);
    ASSERT_TRUE(back) << back.message();
    EXPECT_EQ(back->weights, q.weights) << N << "x" << K;
    EXPECT_EQ(back->scales, q.scales);
    EXPECT_EQ(formats::integerCodes(*back), formats::integerCodes(q));
  }
}

TEST(CudaPacking, CodesSitWhereTheKernelReadsThem) {
  // One distinct code per position of a 8 x 128 block, checked against the
  // kernel's read rule: lane 4g+t word w, pair p = (v=2p, v=2p+1) from
  // (word >> 4p) & 0x000f000f, k = 32t + 8w + v.
  formats::QuantizedLinear q = randomW4(8, 128, 128, 7);
  std::vector<int8_t> codes = formats::integerCodes(q);
  Expected<W4A16KernelWeights> p = packW4A16ForKernel(q);
  ASSERT_TRUE(p) << p.message();
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int w = 0; w < 4; ++w) {
      uint32_t word;
      std::memcpy(&word, p->weights.data() + lane * 16 + w * 4, 4);
      for (int pair = 0; pair < 4; ++pair) {
        const uint32_t x = (word >> (4 * pair)) & 0x000f000fu;
        const int lo = int(x & 0xf) - 8, hi = int(x >> 16) - 8;
        const int k0 = 32 * t + 8 * w + 2 * pair;
        EXPECT_EQ(lo, codes[size_t(g * 128 + k0)]) << lane << " " << w << " " << pair;
        EXPECT_EQ(hi, codes[size_t(g * 128 + k0 + 1)]) << lane << " " << w << " " << pair;
      }
    }
  }
}

TEST(CudaPacking, PaddingRowsAreZeroAndScalesTransposed) {
  formats::QuantizedLinear q = randomW4(5, 256, 128, 3);
  Expected<W4A16KernelWeights> p = packW4A16ForKernel(q);
  ASSERT_TRUE(p) << p.message();
  for (int64_t k = 0; k < 256; ++k) {
    int64_t off;
    int shift;
    w4a16KernelPosition(6, k, 256, &off, &shift); // row 6 of the 8-row tile does not exist
    EXPECT_EQ((p->weights[size_t(off)] >> shift) & 0xf, 8);
  }
  // scales [K/G][8]: column n, group g == canonical [n][g]
  EXPECT_EQ(p->scales.size(), 2u * 8u);
  EXPECT_EQ(p->scales[1 * 8 + 4], q.scales[4 * 2 + 1]);
  EXPECT_EQ(p->scales[0 * 8 + 7], 1.0f);
}

TEST(CudaPacking, RejectsShapesTheKernelCannotRead) {
  formats::QuantizedLinear q = randomW4(8, 192, 64, 1); // group 64
  Expected<W4A16KernelWeights> p = packW4A16ForKernel(q);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("multiple of 128"), std::string::npos) << p.message();
  formats::QuantizedLinear b;
  b.format = formats::Format::INT8;
  EXPECT_FALSE(packW4A16ForKernel(b));
}
