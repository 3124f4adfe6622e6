// Tests of runtime/formats: scalar conversions against brute-force references
// (nearest representable value by search, ties to the even code), int4 packing,
// the scale rules and QuantizedLinear.
#include "runtime/formats/Finite.h"
#include "runtime/formats/Formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>

using namespace qcc::formats;

namespace {

// Independent e4m3fn decode from the bit fields, in double.
double e4m3Reference(int code) {
  int s = code >> 7, e = (code >> 3) & 0xF, m = code & 7;
  double v = e == 0 ? m * std::ldexp(1.0, -9) : (8 + m) * std::ldexp(1.0, e - 10);
  return s ? -v : v;
}

// Nearest finite e4m3 code by exhaustive search; ties go to the even code;
// beyond 448 saturate. Positive codes 0x00..0x7E are increasing in value.
int e4m3Nearest(double x) {
  double a = std::fabs(x);
  int best = 0;
  double bestErr = INFINITY;
  for (int c = 0; c <= 0x7E; ++c) {
    double err = std::fabs(e4m3Reference(c) - a);
    if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
      bestErr = err;
      best = c;
    }
  }
  return (std::signbit(x) ? 0x80 : 0) | best;
}

} // namespace

TEST(E4m3, EveryCodeDecodesAndRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    float v = e4m3ToFloat(static_cast<uint8_t>(c));
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(v)) << c;
      EXPECT_EQ(floatToE4m3(v), c) << c; // NaN keeps its sign bit
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), e4m3Reference(c)) << c;
    EXPECT_EQ(floatToE4m3(v), c) << c; // includes -0 -> 0x80
  }
}

TEST(E4m3, Boundaries) {
  EXPECT_EQ(e4m3ToFloat(0x7E), 448.0f);
  EXPECT_EQ(e4m3ToFloat(0xFE), -448.0f);
  EXPECT_EQ(floatToE4m3(448.0f), 0x7E);
  EXPECT_EQ(floatToE4m3(448.01f), 0x7E);  // just above the max saturates
  EXPECT_EQ(floatToE4m3(464.0f), 0x7E);   // would round to 480 without saturation
  EXPECT_EQ(floatToE4m3(1e30f), 0x7E);
  EXPECT_EQ(floatToE4m3(-1e30f), 0xFE);
  EXPECT_EQ(floatToE4m3(INFINITY), 0x7E);
  EXPECT_EQ(floatToE4m3(-INFINITY), 0xFE);
  EXPECT_EQ(floatToE4m3(NAN), 0x7F);
  EXPECT_EQ(floatToE4m3(-NAN), 0xFF);
  // Subnormals: quantum 2^-9, largest 7 * 2^-9, smallest normal 2^-6.
  EXPECT_EQ(e4m3ToFloat(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3ToFloat(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3ToFloat(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -10)), 0x00);      // tie 0 / 2^-9 -> even (0)
  EXPECT_EQ(floatToE4m3(std::ldexp(3.0f, -10)), 0x02);      // tie 1 / 2 quanta -> 2
  EXPECT_EQ(floatToE4m3(std::ldexp(15.0f, -10)), 0x08);     // tie 7 / 8 quanta -> 8
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -11)), 0x00);
  EXPECT_EQ(floatToE4m3(std::ldexp(1.1f, -10)), 0x01);
}

TEST(E4m3, TiesInEveryBinadeGoToEven) {
  for (int c = 0; c < 0x7E; ++c) {
    double mid = (e4m3Reference(c) + e4m3Reference(c + 1)) / 2;
    float f = static_cast<float>(mid);
    ASSERT_EQ(static_cast<double>(f), mid); // exactly representable
    int expect = (c & 1) == 0 ? c : c + 1;
    EXPECT_EQ(floatToE4m3(f), expect) << "tie after code " << c;
    EXPECT_EQ(floatToE4m3(-f), 0x80 | expect) << "negative tie after code " << c;
    // Just off the tie goes to the nearer side.
    EXPECT_EQ(floatToE4m3(std::nextafter(f, 0.0f)), c);
    EXPECT_EQ(floatToE4m3(std::nextafter(f, 1000.0f)), c + 1);
  }
}

TEST(E4m3, RandomFloatsMatchExhaustiveSearch) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exp(-14, 10);
  for (int i = 0; i < 20000; ++i) {
    float x = std::ldexp(mant(rng), exp(rng));
    ASSERT_EQ(floatToE4m3(x), e4m3Nearest(x)) << x;
    ASSERT_EQ(roundToE4m3(x), e4m3ToFloat(floatToE4m3(x)));
  }
}

TEST(Bf16, RoundingAndTies) {
  EXPECT_EQ(roundToBf16(1.0f), 1.0f);
  EXPECT_EQ(roundToBf16(1.0f + std::ldexp(1.0f, -8)), 1.0f); // tie -> even
  EXPECT_EQ(roundToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(roundToBf16(-(1.0f + std::ldexp(1.0f, -8))), -1.0f);
  EXPECT_EQ(roundToBf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
            1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(roundToBf16(NAN)));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(std::nanf("0x1")))));  // payload low bits only
  EXPECT_EQ(roundToBf16(INFINITY), INFINITY);
  EXPECT_EQ(roundToBf16(FLT_MAX), INFINITY); // IEEE overflow of round-to-nearest
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16ToFloat(0x3F80), 1.0f);
}

TEST(Bf16, RandomFloatsAreNearestWithEvenTies) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits(0, 0x7F7FFFFF - 0x10000);
  for (int i = 0; i < 100000; ++i) {
    uint32_t b = bits(rng);
    float x;
    std::memcpy(&x, &b, 4);
    float lo = bf16ToFloat(static_cast<uint16_t>(b >> 16));
    float hi = bf16ToFloat(static_cast<uint16_t>((b >> 16) + 1));
    double dlo = double(x) - lo, dhi = double(hi) - x;
    float expect = dlo < dhi ? lo : dhi < dlo ? hi : (((b >> 16) & 1) ? hi : lo);
    ASSERT_EQ(roundToBf16(x), expect) << b;
  }
}

TEST(F16, EveryCodeRoundTrips) {
  for (int c = 0; c < 65536; ++c) {
    float v = f16ToFloat(static_cast<uint16_t>(c));
    if (std::isnan(v)) {
      EXPECT_TRUE((c & 0x7C00) == 0x7C00 && (c & 0x3FF) != 0);
      EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(v))));
      continue;
    }
    ASSERT_EQ(floatToF16(v), c) << c;
  }
  EXPECT_EQ(f16ToFloat(0x3C00), 1.0f);
  EXPECT_EQ(f16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(f16ToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(floatToF16(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToF16(65520.0f), 0x7C00);                      // tie -> even -> inf
  EXPECT_EQ(floatToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(floatToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
}

TEST(FormatNames, ParseAndPrint) {
  for (Format f : {Format::BF16, Format::FP8, Format::INT8, Format::W4A16}) {
    auto p = parseFormat(formatName(f));
    ASSERT_TRUE(p.isOk());
    EXPECT_EQ(*p, f);
  }
  EXPECT_FALSE(parseFormat("int4").isOk());
  EXPECT_NE(parseFormat("FP16").message().find("unknown format 'FP16'"), std::string::npos);
  auto s = parseFormatSpec("w4a16:g64");
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->groupSize, 64);
  EXPECT_EQ(formatSpecName(*s), "w4a16:g64");
  EXPECT_EQ(parseFormatSpec("w4a16")->groupSize, 128);
  EXPECT_FALSE(parseFormatSpec("w4a16:g0").isOk());
  EXPECT_FALSE(parseFormatSpec("w4a16:g7").isOk());
  EXPECT_FALSE(parseFormatSpec("w4a16:128").isOk());
  EXPECT_FALSE(parseFormatSpec("w4a16:g").isOk());
  EXPECT_FALSE(parseFormatSpec("fp8:g128").isOk());
  EXPECT_EQ(formatSpecName(*parseFormatSpec("fp8")), "fp8");
}

TEST(Scales, ZeroAndTinyRules) {
  EXPECT_EQ(scaleFromAbsMax(0.0f, 448.0f), 1.0f);
  EXPECT_EQ(scaleFromAbsMax(1e-44f, 127.0f), FLT_MIN);
  EXPECT_EQ(scaleFromAbsMax(254.0f, 127.0f), 2.0f);
  uint8_t q8[4];
  float zeros[4] = {0, 0, 0, 0};
  EXPECT_EQ(quantizeTokenFp8(zeros, 4, q8), 1.0f);
  for (uint8_t c : q8) EXPECT_EQ(c, 0);
}

TEST(Scales, TokenInt8IsSymmetricAndHitsTheRange) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x(257), nx(257);
  for (size_t i = 0; i < x.size(); ++i) nx[i] = -(x[i] = nd(rng));
  std::vector<int8_t> q(x.size()), nq(x.size());
  float s = quantizeTokenInt8(x.data(), 257, q.data());
  float ns = quantizeTokenInt8(nx.data(), 257, nq.data());
  EXPECT_EQ(s, ns);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  EXPECT_EQ(s, amax / 127.0f);
  int maxq = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(q[i], -nq[i]);
    EXPECT_EQ(q[i], static_cast<int8_t>(std::rint(x[i] / s)));
    maxq = std::max(maxq, std::abs(int(q[i])));
    EXPECT_LE(std::fabs(q[i] * s - x[i]), 0.5f * s * 1.0001f);
  }
  EXPECT_EQ(maxq, 127);
  // fp8 token: the absmax element maps to +-448.
  std::vector<uint8_t> f(x.size());
  float fs = quantizeTokenFp8(x.data(), 257, f.data());
  EXPECT_EQ(fs, amax / 448.0f);
  bool hitMax = false;
  for (uint8_t c : f) hitMax |= (c & 0x7F) == 0x7E;
  EXPECT_TRUE(hitMax);
}

TEST(Int4Pack, LayoutAndRoundTrip) {
  int8_t q[4] = {1, -1, -8, 7};
  auto p = packInt4(q, 1, 4);
  ASSERT_TRUE(p.isOk());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0], 0xF1); // low nibble = even k
  EXPECT_EQ((*p)[1], 0x78);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> d(-8, 7);
  for (int64_t K : {2, 6, 128, 130}) {
    int64_t N = 5;
    std::vector<int8_t> v(N * K);
    for (auto &x : v) x = static_cast<int8_t>(d(rng));
    auto packed = packInt4(v.data(), N, K);
    ASSERT_TRUE(packed.isOk());
    auto back = unpackInt4(packed->data(), N, K);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, v);
  }
  int8_t bad[2] = {8, 0};
  EXPECT_FALSE(packInt4(bad, 1, 2).isOk());
  EXPECT_FALSE(packInt4(q, 1, 3).isOk()); // odd K
  EXPECT_FALSE(unpackInt4(p->data(), 1, 3).isOk());
}

namespace {
std::vector<float> randomMatrix(int64_t N, int64_t K, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> w(N * K);
  for (auto &x : w) x = nd(rng);
  return w;
}
} // namespace

TEST(QuantizedLinear, RtnEachFormat) {
  const int64_t N = 6, K = 256;
  std::vector<float> w = randomMatrix(N, K, 9);
  for (int r = 0; r < K; ++r) w[2 * K + r] = 0.0f; // a zero row
  for (FormatSpec spec : {FormatSpec{Format::BF16, 0}, FormatSpec{Format::FP8, 0},
                          FormatSpec{Format::INT8, 0}, FormatSpec{Format::W4A16, 64}}) {
    auto q = quantizeLinear(w.data(), N, K, spec);
    ASSERT_TRUE(q.isOk()) << q.message();
    ASSERT_TRUE(validate(*q).isOk()) << validate(*q).message();
    std::vector<float> d = dequantize(*q);
    ASSERT_EQ(d.size(), w.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        float x = w[n * K + k], y = d[n * K + k];
        switch (spec.format) {
        case Format::BF16: EXPECT_EQ(y, roundToBf16(x)); break;
        case Format::FP8:
          EXPECT_EQ(y, roundToE4m3(x / q->scales[n]) * q->scales[n]);
          break;
        case Format::INT8:
          EXPECT_LE(std::fabs(y - x), 0.5f * q->scales[n] * 1.0001f);
          break;
        case Format::W4A16: {
          float s = q->scales[n * (K / 64) + k / 64];
          EXPECT_LE(std::fabs(y - x), 0.5f * s * 1.0001f);
          break;
        }
        }
        if (n == 2) {
          EXPECT_EQ(y, 0.0f);
        }
      }
    if (spec.format != Format::BF16) {
      EXPECT_EQ(q->scales[spec.format == Format::W4A16 ? 2 * (K / 64) : 2], 1.0f); // zero row
    }
  }
}

TEST(QuantizedLinear, W4a16CodesAndExplicitScales) {
  const int64_t N = 3, K = 128;
  std::vector<float> w = randomMatrix(N, K, 13);
  FormatSpec spec{Format::W4A16, 128};
  auto q = quantizeLinear(w.data(), N, K, spec);
  ASSERT_TRUE(q.isOk());
  std::vector<int8_t> codes = integerCodes(*q);
  ASSERT_EQ(codes.size(), size_t(N * K));
  for (int64_t n = 0; n < N; ++n) {
    int maxAbs = 0;
    for (int64_t k = 0; k < K; ++k) maxAbs = std::max(maxAbs, std::abs(int(codes[n * K + k])));
    EXPECT_EQ(maxAbs, 7); // absmax/7: the largest magnitude maps to +-7
  }
  // Halved scales clip: codes reach -8 and 7.
  std::vector<float> half(q->scales);
  for (auto &s : half) s /= 2;
  auto c = quantizeLinearWithScales(w.data(), N, K, spec, half);
  ASSERT_TRUE(c.isOk());
  std::vector<int8_t> cc = integerCodes(*c);
  EXPECT_EQ(*std::min_element(cc.begin(), cc.end()), -8);
  EXPECT_EQ(*std::max_element(cc.begin(), cc.end()), 7);
}

TEST(QuantizedLinear, BadShapesAndScalesAreRejected) {
  std::vector<float> w = randomMatrix(4, 130, 1);
  auto r = quantizeLinear(w.data(), 4, 130, {Format::W4A16, 128});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.message().find("not a multiple of the group size 128"), std::string::npos);
  EXPECT_FALSE(quantizeLinear(w.data(), 4, 130, {Format::W4A16, 13}).isOk()); // odd group
  EXPECT_FALSE(quantizeLinear(w.data(), 0, 130, {Format::FP8, 0}).isOk());
  EXPECT_FALSE(quantizeLinear(w.data(), 4, -1, {Format::INT8, 0}).isOk());
  EXPECT_FALSE(quantizeLinearWithScales(w.data(), 4, 130, {Format::INT8, 0}, {1, 1, 1}).isOk());
  EXPECT_FALSE(
      quantizeLinearWithScales(w.data(), 4, 130, {Format::INT8, 0}, {1, 1, 0, 1}).isOk());
  EXPECT_FALSE(
      quantizeLinearWithScales(w.data(), 4, 130, {Format::INT8, 0}, {1, 1, NAN, 1}).isOk());
  w[5] = INFINITY;
  EXPECT_FALSE(quantizeLinear(w.data(), 4, 130, {Format::FP8, 0}).isOk());
  // A tampered value fails validation and dequantizes to nothing.
  std::vector<float> ok = randomMatrix(2, 64, 2);
  auto q = quantizeLinear(ok.data(), 2, 64, {Format::W4A16, 32});
  ASSERT_TRUE(q.isOk());
  q->weights.pop_back();
  EXPECT_FALSE(validate(*q).isOk());
  EXPECT_TRUE(dequantize(*q).empty());
}

// --- finiteness of stored weights (Finite.h) ------------------------------------

namespace {
template <typename Bits> qcc::TensorRef tensorOf(qcc::DType dtype, const std::vector<Bits> &v, std::vector<int64_t> shape) {
  return qcc::TensorRef{dtype, std::move(shape), v.data()};
}
} // namespace

TEST(Finite, EveryFloatDtypeAndTheFirstBadElement) {
  using qcc::DType;
  using qcc::formats::checkFinite;
  std::vector<uint16_t> bf16(24, 0x3F80); // 1.0
  EXPECT_TRUE(checkFinite(tensorOf(DType::BF16, bf16, {4, 6}), "w").isOk());
  bf16[13] = 0x7FC1;                                      // NaN
  bf16[20] = 0x7F80;                                      // +inf, after the NaN
  qcc::Status s = checkFinite(tensorOf(DType::BF16, bf16, {4, 6}), "w");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "tensor 'w': element 13 [2, 1] is nan");
  std::vector<uint16_t> f16(5, 0x3C00);
  f16[4] = 0xFC00; // -inf
  EXPECT_EQ(checkFinite(tensorOf(DType::F16, f16, {5}), "h").message(), "tensor 'h': element 4 [4] is -inf");
  std::vector<uint32_t> f32(3, 0x3F800000u);
  f32[0] = 0x7F800000u;
  EXPECT_EQ(checkFinite(tensorOf(DType::F32, f32, {3}), "f").message(), "tensor 'f': element 0 [0] is inf");
  std::vector<uint64_t> f64(2, 0x3FF0000000000000ull);
  f64[1] = 0x7FF8000000000000ull;
  EXPECT_EQ(checkFinite(tensorOf(DType::F64, f64, {2}), "d").message(), "tensor 'd': element 1 [1] is nan");
  std::vector<uint8_t> e4m3 = {0x38, 0x7E, 0xFF};
  EXPECT_EQ(checkFinite(tensorOf(DType::F8E4M3, e4m3, {3}), "q").message(), "tensor 'q': element 2 [2] is nan");
  std::vector<uint8_t> u8 = {0xFF, 0x7F};
  EXPECT_TRUE(checkFinite(tensorOf(DType::U8, u8, {2}), "tokenizer").isOk()); // not a float
  // Larger than one scan chunk, unaligned: found in the second chunk.
  std::vector<uint8_t> raw(2 * 20000 + 1, 0);
  const uint16_t nan = 0xFFC0;
  std::memcpy(raw.data() + 1 + 2 * 17000, &nan, 2);
  qcc::TensorRef unaligned{DType::BF16, {20000}, raw.data() + 1};
  EXPECT_EQ(checkFinite(unaligned, "u").message(), "tensor 'u': element 17000 [17000] is nan");
}
