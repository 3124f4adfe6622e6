// Runs the real kernel templates under the host emulation (HostEmulation.h)
// and compares them with runtime/formats references: the kernels' indexing,
// packing, reductions, quantisation and epilogues are checked here without a
// GPU. The GPU test (KernelsGpuTest) checks the same on hardware.
#include "HostEmulation.h"

// The kernel templates themselves, as NVRTC sees them (minus inline PTX).
#include "codegen/cuda/kernels/common.cuh"
#include "codegen/cuda/kernels/gemm.cuh"
#include "codegen/cuda/kernels/norm.cuh"
#include "codegen/cuda/kernels/elementwise.cuh"
#include "codegen/cuda/kernels/attention.cuh"

#include "codegen/cuda/Kernels.h"
#include "runtime/cuda/Packing.h"
#include "runtime/formats/Formats.h"
#include "KernelTestData.h"

#include <gtest/gtest.h>

#include <random>

namespace fm = qcc::formats;
using qcc::cuda::GemmFormat;
using qcc::cuda::GemmTile;

namespace {

using qcc::cuda::testing::fromBf16;
using qcc::cuda::testing::randomFloats;
using qcc::cuda::testing::relError;
using qcc::cuda::testing::toBf16;

template <int FMT, int N, int K, int MT, int NT, int WN, int KS, bool RES, bool WG, int GROUP>
void runGemm(int M, const void *A, const void *W, const float *ts, const float *cs, const uint16_t *res,
             uint16_t *out) {
  if constexpr (WG) { // Hopper kernel: 64 x 128 blocks of one warpgroup
    qcc_emu::launch(EmuDim3{unsigned((N + 127) / 128), unsigned((M + 63) / 64), 1}, 128,
                    [&] { qcc_gemm_wgmma<FMT, N, K, GROUP, RES>(A, W, ts, cs, res, out, M); });
    return;
  }
  const GemmTile tile{MT, NT, WN, KS};
  qcc_emu::launch(EmuDim3{unsigned((N + tile.blockN() - 1) / tile.blockN()), unsigned((M + tile.blockM() - 1) / tile.blockM()), 1},
                  unsigned(tile.threads()),
                  [&] { qcc_gemm<FMT, N, K, GROUP, MT, NT, WN, KS, RES>(A, W, ts, cs, res, out, M); });
}

// One GEMM case: random data, formats-library quantisation, kernel vs reference.
template <int FMT, int N, int K, int MT, int NT, int WN, int KS, bool RES, bool WG = false, int GROUP = 128>
void checkGemm(int M) {
  SCOPED_TRACE("fmt " + std::to_string(FMT) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" +
               std::to_string(K) + " group " + std::to_string(GROUP) + " tile " + std::to_string(MT) + "," + std::to_string(NT) + "," +
               std::to_string(WN) + "," + std::to_string(KS) + (WG ? " wgmma" : "") + (RES ? " +res" : ""));
  std::vector<float> a = randomFloats(size_t(M) * K), w = randomFloats(size_t(N) * K, -0.5f, 0.5f);
  std::vector<uint16_t> a16 = toBf16(a);
  std::vector<float> af = fromBf16(a16);
  std::vector<double> ref(size_t(M) * N, 0.0);
  std::vector<float> tok(size_t(M), 1.f), cs;
  std::vector<uint8_t> aBytes, wBytes;
  auto bytesOf = [](const std::vector<uint16_t> &v) {
    std::vector<uint8_t> b(v.size() * 2);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  };
  if (FMT == QCC_FMT_BF16) {
    std::vector<uint16_t> w16 = toBf16(w);
    std::vector<float> wf = fromBf16(w16);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += double(af[size_t(m) * K + k]) * wf[size_t(n) * K + k];
        ref[size_t(m) * N + n] = s;
      }
    aBytes = bytesOf(a16);
    wBytes = bytesOf(w16);
  } else if (FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8) {
    const bool i8 = FMT == QCC_FMT_INT8;
    qcc::Expected<fm::QuantizedLinear> q =
        fm::quantizeLinear(w.data(), N, K, fm::FormatSpec{i8 ? fm::Format::INT8 : fm::Format::FP8, 128});
    ASSERT_TRUE(q) << q.message();
    aBytes.resize(size_t(M) * K);
    for (int m = 0; m < M; ++m)
      tok[size_t(m)] = i8 ? fm::quantizeTokenInt8(&af[size_t(m) * K], K, reinterpret_cast<int8_t *>(&aBytes[size_t(m) * K]))
                          : fm::quantizeTokenFp8(&af[size_t(m) * K], K, &aBytes[size_t(m) * K]);
    auto val = [&](uint8_t c) { return i8 ? double(int8_t(c)) : double(fm::e4m3ToFloat(c)); };
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += val(aBytes[size_t(m) * K + k]) * val(q->weights[size_t(n) * K + k]);
        ref[size_t(m) * N + n] = s * tok[size_t(m)] * q->scales[size_t(n)];
      }
    wBytes = q->weights;
    cs = q->scales;
  } else if (FMT == QCC_FMT_FP8W) {
    qcc::Expected<fm::QuantizedLinear> q = fm::quantizeLinear(w.data(), N, K, fm::FormatSpec{fm::Format::FP8, 128});
    ASSERT_TRUE(q) << q.message();
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += double(af[size_t(m) * K + k]) * fm::e4m3ToFloat(q->weights[size_t(n) * K + k]);
        ref[size_t(m) * N + n] = s * q->scales[size_t(n)];
      }
    aBytes = bytesOf(a16);
    wBytes = q->weights;
    cs = q->scales;
  } else { // W4A16
    qcc::Expected<fm::QuantizedLinear> q =
        fm::quantizeLinear(w.data(), N, K, fm::FormatSpec{fm::Format::W4A16, GROUP});
    ASSERT_TRUE(q) << q.message();
    std::vector<int8_t> codes = fm::integerCodes(*q);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k)
          s += double(af[size_t(m) * K + k]) * codes[size_t(n) * K + k] *
               q->scales[size_t(n) * (K / GROUP) + k / GROUP];
        ref[size_t(m) * N + n] = s;
      }
    qcc::Expected<qcc::cuda::W4A16KernelWeights> p = qcc::cuda::packW4A16ForKernel(*q);
    ASSERT_TRUE(p) << p.message();
    aBytes = bytesOf(a16);
    wBytes = p->weights;
    cs = p->scales;
  }
  std::vector<uint16_t> res;
  if (RES) {
    res = toBf16(randomFloats(size_t(M) * N, -4.f, 4.f));
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += fm::bf16ToFloat(res[i]);
  }
  std::vector<uint16_t> out(size_t(M) * N, 0xffff); // poisoned: NaN
  runGemm<FMT, N, K, MT, NT, WN, KS, RES, WG, GROUP>(M, aBytes.data(), wBytes.data(), tok.data(), cs.data(),
                                          RES ? res.data() : nullptr, out.data());
  const double err = relError(fromBf16(out), ref);
  EXPECT_LT(err, 4e-3) << "relative error " << err;
}

template <int FMT> void gemmSuite() {
  // N = 136 is 17 n8 tiles (a partial block), K = 256 gives several k chunks.
  for (int M : {1, 7, 16, 45}) {
    checkGemm<FMT, 136, 256, 1, 4, 1, 1, false>(M);
    checkGemm<FMT, 136, 256, 1, 4, 1, 2, true>(M);  // k split over 2 warps
    checkGemm<FMT, 136, 256, 2, 2, 2, 1, true>(M);  // 2 m tiles, 2 warps across N
  }
  checkGemm<FMT, 64, 512, 1, 8, 1, 4, false>(3);    // 4-way k split, 8 n tiles
  if (FMT == QCC_FMT_W4A16) checkGemm<FMT, 136, 512, 2, 2, 2, 2, true, false, 256>(19); // groups of 256
}

} // namespace

template <int FMT> void wgmmaSuite() {
  for (int M : {1, 45, 70}) { // 70: two 64-row blocks, the second partial
    checkGemm<FMT, 136, 512, 1, 1, 1, 1, false, true>(M);
    checkGemm<FMT, 136, 512, 1, 1, 1, 1, true, true>(M);
  }
  // w4a16: groups spanning two stages, and N = 264 (a third block with one real n8 tile)
  if (FMT == QCC_FMT_W4A16) {
    checkGemm<FMT, 136, 512, 1, 1, 1, 1, false, true, 256>(70);
    checkGemm<FMT, 264, 256, 1, 1, 1, 1, true, true, 128>(33);
  }
}

TEST(CudaHostEmulation, GemmBf16) { gemmSuite<QCC_FMT_BF16>(); }
TEST(CudaHostEmulation, WgmmaBf16) { wgmmaSuite<QCC_FMT_BF16>(); }
TEST(CudaHostEmulation, WgmmaInt8) { wgmmaSuite<QCC_FMT_INT8>(); }
TEST(CudaHostEmulation, WgmmaFp8) { wgmmaSuite<QCC_FMT_FP8>(); }
TEST(CudaHostEmulation, WgmmaW4A16) { wgmmaSuite<QCC_FMT_W4A16>(); }
TEST(CudaHostEmulation, GemmInt8) { gemmSuite<QCC_FMT_INT8>(); }
TEST(CudaHostEmulation, GemmFp8) { gemmSuite<QCC_FMT_FP8>(); }
TEST(CudaHostEmulation, GemmW4A16) { gemmSuite<QCC_FMT_W4A16>(); }
TEST(CudaHostEmulation, GemmFp8WeightOnly) { gemmSuite<QCC_FMT_FP8W>(); }

TEST(CudaHostEmulation, RmsNormAndQuantize) {
  const int M = 5, H = 512;
  std::vector<uint16_t> x16 = toBf16(randomFloats(size_t(M) * H, -3.f, 3.f)), w16 = toBf16(randomFloats(H, 0.5f, 1.5f));
  std::vector<float> x = fromBf16(x16), w = fromBf16(w16);
  std::vector<float> y(size_t(M) * H);
  for (int m = 0; m < M; ++m) {
    double ss = 0;
    for (int i = 0; i < H; ++i) ss += double(x[size_t(m) * H + i]) * x[size_t(m) * H + i];
    const float inv = 1.0f / std::sqrt(float(ss / H) + 1e-5f);
    for (int i = 0; i < H; ++i) y[size_t(m) * H + i] = fm::roundToBf16(x[size_t(m) * H + i] * inv * w[size_t(i)]);
  }
  std::vector<uint16_t> out16(size_t(M) * H, 0xffff);
  std::vector<float> scale(M, NAN);
  qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_rmsnorm<H, 128, 0>(x16.data(), w16.data(), 1e-5f, out16.data(), scale.data()); });
  std::vector<double> yd(y.begin(), y.end());
  EXPECT_LT(relError(fromBf16(out16), yd), 4e-3);
  for (int qo : {1, 2}) {
    std::vector<uint8_t> codes(size_t(M) * H, 0xee);
    if (qo == 1)
      qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_rmsnorm<H, 128, 1>(x16.data(), w16.data(), 1e-5f, codes.data(), scale.data()); });
    else
      qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_rmsnorm<H, 128, 2>(x16.data(), w16.data(), 1e-5f, codes.data(), scale.data()); });
    int64_t same = 0;
    for (int m = 0; m < M; ++m) {
      std::vector<uint8_t> rc(static_cast<size_t>(H));
      const float rs = qo == 1 ? fm::quantizeTokenInt8(&y[size_t(m) * H], H, reinterpret_cast<int8_t *>(rc.data()))
                               : fm::quantizeTokenFp8(&y[size_t(m) * H], H, rc.data());
      EXPECT_NEAR(scale[size_t(m)], rs, 1e-5 * rs);
      for (int i = 0; i < H; ++i) same += rc[size_t(i)] == codes[size_t(m) * H + i];
    }
    EXPECT_GE(double(same), 0.99 * M * H) << "quant " << qo;
  }
  // Standalone per-token quantisation of exact bf16 input: identical to formats.
  for (int qo : {1, 2}) {
    std::vector<uint8_t> codes(size_t(M) * H, 0xee);
    if (qo == 1) qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_quantize<H, 128, 1>(x16.data(), codes.data(), scale.data()); });
    else qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_quantize<H, 128, 2>(x16.data(), codes.data(), scale.data()); });
    for (int m = 0; m < M; ++m) {
      std::vector<uint8_t> rc(static_cast<size_t>(H));
      const float rs = qo == 1 ? fm::quantizeTokenInt8(&x[size_t(m) * H], H, reinterpret_cast<int8_t *>(rc.data()))
                               : fm::quantizeTokenFp8(&x[size_t(m) * H], H, rc.data());
      EXPECT_EQ(scale[size_t(m)], rs);
      EXPECT_TRUE(std::equal(rc.begin(), rc.end(), codes.begin() + m * H)) << "quant " << qo << " row " << m;
    }
  }
}

TEST(CudaHostEmulation, SoftwareE4m3MatchesFormats) {
  // The sm_80/86 conversion path (no cvt to e4m3 there) against formats::floatToE4m3.
  std::vector<float> xs = randomFloats(20000, -500.f, 500.f);
  for (float v : {0.f, -0.f, 448.f, 449.f, 464.f, 465.f, 1e9f, -1e9f, 0.0009765625f, 0.00146484375f, 0.015625f,
                  0.01513671875f, 240.f, 248.f, 232.f, 1e-30f})
    xs.push_back(v);
  for (float x : randomFloats(5000, -0.03f, 0.03f)) xs.push_back(x);
  for (float x : xs) ASSERT_EQ(f32_to_e4m3(x), fm::floatToE4m3(x)) << x;
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    ASSERT_EQ(e4m3_to_f32(uint8_t(c)), fm::e4m3ToFloat(uint8_t(c))) << c;
  }
}

TEST(CudaHostEmulation, SwiGluAttentionRope) {
  // SwiGLU on fused gate|up rows.
  const int M = 3, I = 300;
  std::vector<uint16_t> gu = toBf16(randomFloats(size_t(M) * 2 * I, -4.f, 4.f));
  std::vector<uint16_t> out(size_t(M) * I, 0xffff);
  std::vector<float> sc(M);
  qcc_emu::launch(EmuDim3{M, 1, 1}, 128, [&] { qcc_swiglu<I, 2 * I, 2 * I, 128, 0>(gu.data(), gu.data() + I, out.data(), sc.data()); });
  std::vector<double> ref(out.size());
  for (int m = 0; m < M; ++m)
    for (int i = 0; i < I; ++i) {
      const double g = fm::bf16ToFloat(gu[size_t(m) * 2 * I + i]), u = fm::bf16ToFloat(gu[size_t(m) * 2 * I + I + i]);
      ref[size_t(m) * I + i] = g / (1 + std::exp(-g)) * u;
    }
  EXPECT_LT(relError(fromBf16(out), ref), 4e-3);

  // Causal GQA attention on fused qkv rows after kv_store: T = 6 tokens at 0..5.
  const int HQ = 4, HKV = 2, D = 64, S = 16, T = 6, QKV = (HQ + 2 * HKV) * D;
  std::vector<uint16_t> qkv = toBf16(randomFloats(size_t(T) * QKV, -2.f, 2.f));
  std::vector<uint16_t> kc(size_t(HKV) * S * D, 0), vc(size_t(HKV) * S * D, 0), ao(size_t(T) * HQ * D, 0xffff);
  std::vector<int> pos = {0, 1, 2, 3, 4, 5};
  qcc_emu::launch(EmuDim3{T, 1, 1}, 64, [&] {
    qcc_kv_store<HKV, D, S, QKV, QKV>(qkv.data() + HQ * D, qkv.data() + (HQ + HKV) * D, pos.data(), kc.data(), vc.data());
  });
  qcc_emu::launch(EmuDim3{T * HQ, 1, 1}, 128, [&] {
    qcc_attention<HQ, HKV, D, S, 4, QKV>(qkv.data(), kc.data(), vc.data(), pos.data(), ao.data());
  });
  std::vector<double> aref(ao.size());
  auto at = [&](int t, int off) { return double(fm::bf16ToFloat(qkv[size_t(t) * QKV + off])); };
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < HQ; ++h) {
      const int kvh = h / (HQ / HKV);
      std::vector<double> s(size_t(t + 1));
      double mx = -1e300, l = 0;
      for (int j = 0; j <= t; ++j) {
        double d = 0;
        for (int e = 0; e < D; ++e) d += at(t, h * D + e) * at(j, HQ * D + kvh * D + e);
        s[size_t(j)] = d / std::sqrt(double(D));
        mx = std::max(mx, s[size_t(j)]);
      }
      for (double &v : s) l += (v = std::exp(v - mx));
      for (int e = 0; e < D; ++e) {
        double o = 0;
        for (int j = 0; j <= t; ++j) o += s[size_t(j)] * at(j, (HQ + HKV) * D + kvh * D + e);
        aref[size_t((t * HQ + h) * D + e)] = o / l;
      }
    }
  EXPECT_LT(relError(fromBf16(ao), aref), 1e-2);

  // RoPE in place on the fused rows; v untouched.
  qcc::ModelConfig c;
  c.headDim = D;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  const std::vector<float> invFreq = qcc::cuda::llamaInvFreq(c);
  std::vector<uint16_t> before = qkv;
  std::vector<int> rpos = {0, 7, 100, 5000, 65000, 3};
  qcc_emu::launch(EmuDim3{T, 1, 1}, 64, [&] { qcc_rope<HQ, HKV, D, QKV, QKV>(qkv.data(), qkv.data() + HQ * D, rpos.data(), invFreq.data()); });
  std::vector<double> rref;
  std::vector<float> got;
  for (int t = 0; t < T; ++t) {
    for (int hd = 0; hd < HQ + HKV; ++hd)
      for (int i = 0; i < D; ++i) {
        const int base = t * QKV + hd * D;
        const int j = i % (D / 2);
        const double ang = double(rpos[size_t(t)]) * double(invFreq[size_t(j)]);
        const double x1 = fm::bf16ToFloat(before[size_t(base + j)]), x2 = fm::bf16ToFloat(before[size_t(base + j + D / 2)]);
        rref.push_back(i < D / 2 ? x1 * std::cos(ang) - x2 * std::sin(ang) : x2 * std::cos(ang) + x1 * std::sin(ang));
        got.push_back(fm::bf16ToFloat(qkv[size_t(base + i)]));
      }
    for (int i = (HQ + HKV) * D; i < QKV; ++i) ASSERT_EQ(qkv[size_t(t * QKV + i)], before[size_t(t * QKV + i)]);
  }
  EXPECT_LT(relError(got, rref), 1e-2);
}

// The strides and shapes the lowering produces besides the fused layouts:
// SwiGLU over two separate GEMM outputs (LDG = LDU = I) and over a gate and
// an up with different strides, a residual add over M rows of W, RoPE on
// queries alone (HKV = 0), and a KV store whose k and v rows have different
// strides.
TEST(CudaHostEmulation, SeparateStridesAddAndQueryOnlyRope) {
  const int M = 4, I = 200;
  {
    // gate [M][I] packed, up: the second half of [M][3I] rows (stride 3I).
    std::vector<uint16_t> gate = toBf16(randomFloats(size_t(M) * I, -4.f, 4.f));
    std::vector<uint16_t> wide = toBf16(randomFloats(size_t(M) * 3 * I, -4.f, 4.f));
    std::vector<double> ref(size_t(M) * I);
    for (int m = 0; m < M; ++m)
      for (int i = 0; i < I; ++i) {
        const double g = fm::bf16ToFloat(gate[size_t(m) * I + i]), u = fm::bf16ToFloat(wide[size_t(m) * 3 * I + I + i]);
        ref[size_t(m) * I + i] = g / (1 + std::exp(-g)) * u;
      }
    std::vector<uint16_t> out(size_t(M) * I, 0xffff);
    std::vector<float> sc(M);
    qcc_emu::launch(EmuDim3{M, 1, 1}, 64,
                    [&] { qcc_swiglu<I, I, 3 * I, 64, 0>(gate.data(), wide.data() + I, out.data(), sc.data()); });
    EXPECT_LT(relError(fromBf16(out), ref), 4e-3);
    // Both packed (two separate GEMM outputs), int8 codes out.
    std::vector<uint16_t> up(size_t(M) * I);
    for (int m = 0; m < M; ++m) std::copy_n(&wide[size_t(m) * 3 * I + I], I, &up[size_t(m) * I]);
    std::vector<uint8_t> codes(size_t(M) * I, 0xee);
    qcc_emu::launch(EmuDim3{M, 1, 1}, 64, [&] { qcc_swiglu<I, I, I, 64, 1>(gate.data(), up.data(), codes.data(), sc.data()); });
    std::vector<float> got;
    for (int m = 0; m < M; ++m)
      for (int i = 0; i < I; ++i) got.push_back(float(int8_t(codes[size_t(m) * I + i])) * sc[size_t(m)]);
    EXPECT_LT(relError(got, ref), 1.5e-2);
  }
  {
    // qcc_add<W> over M rows: grid-stride over M * W elements, exact.
    const int W = 96, rows = 7;
    std::vector<uint16_t> a = toBf16(randomFloats(size_t(rows) * W, -8, 8)), b = toBf16(randomFloats(size_t(rows) * W, -8, 8));
    std::vector<uint16_t> out(size_t(rows) * W + 5, 0xffff); // 5 past the end stay untouched
    qcc_emu::launch(EmuDim3{2, 1, 1}, 128, [&] { qcc_add<W>(a.data(), b.data(), out.data(), rows); });
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(out[i], fm::floatToBf16(fm::bf16ToFloat(a[i]) + fm::bf16ToFloat(b[i]))) << i;
    for (size_t i = a.size(); i < out.size(); ++i) ASSERT_EQ(out[i], 0xffff) << i;
  }
  {
    // RoPE on q alone (HKV = 0) in rows of stride QS > HQ * D; k is never read.
    const int HQ = 2, D = 64, T = 3, QS = 3 * D;
    qcc::ModelConfig c;
    c.headDim = D;
    c.ropeTheta = 10000.0;
    const std::vector<float> invFreq = qcc::cuda::llamaInvFreq(c);
    std::vector<uint16_t> q = toBf16(randomFloats(size_t(T) * QS)), before = q;
    std::vector<int> pos = {3, 0, 41};
    qcc_emu::launch(EmuDim3{T, 1, 1}, 64, [&] { qcc_rope<HQ, 0, D, QS, 1>(q.data(), nullptr, pos.data(), invFreq.data()); });
    std::vector<double> ref;
    std::vector<float> got;
    for (int t = 0; t < T; ++t) {
      for (int h = 0; h < HQ; ++h)
        for (int i = 0; i < D; ++i) {
          const int base = t * QS + h * D, j = i % (D / 2);
          const double ang = double(pos[size_t(t)]) * double(invFreq[size_t(j)]);
          const double x1 = fm::bf16ToFloat(before[size_t(base + j)]), x2 = fm::bf16ToFloat(before[size_t(base + j + D / 2)]);
          ref.push_back(i < D / 2 ? x1 * std::cos(ang) - x2 * std::sin(ang) : x2 * std::cos(ang) + x1 * std::sin(ang));
          got.push_back(fm::bf16ToFloat(q[size_t(base + i)]));
        }
      for (int i = HQ * D; i < QS; ++i) ASSERT_EQ(q[size_t(t * QS + i)], before[size_t(t * QS + i)]);
    }
    EXPECT_LT(relError(got, ref), 1e-2);
  }
  {
    // KV store: k rows of stride KS, v rows of stride VS (different buffers).
    const int HKV = 2, D = 32, S = 8, T = 3, KS = 5 * D, VS = 2 * D;
    std::vector<uint16_t> k = toBf16(randomFloats(size_t(T) * KS)), v = toBf16(randomFloats(size_t(T) * VS));
    std::vector<uint16_t> kc(size_t(HKV) * S * D, 0x1234), vc(size_t(HKV) * S * D, 0x1234);
    std::vector<int> pos = {6, 2, 9}; // 9 is past the cache: skipped
    qcc_emu::launch(EmuDim3{T, 1, 1}, 64, [&] { qcc_kv_store<HKV, D, S, KS, VS>(k.data(), v.data(), pos.data(), kc.data(), vc.data()); });
    std::vector<uint16_t> wantK(kc.size(), 0x1234), wantV(vc.size(), 0x1234);
    for (int t = 0; t < 2; ++t)
      for (int h = 0; h < HKV; ++h)
        for (int d = 0; d < D; ++d) {
          wantK[size_t((h * S + pos[size_t(t)]) * D + d)] = k[size_t(t * KS + h * D + d)];
          wantV[size_t((h * S + pos[size_t(t)]) * D + d)] = v[size_t(t * VS + h * D + d)];
        }
    EXPECT_EQ(kc, wantK);
    EXPECT_EQ(vc, wantV);
  }
}
