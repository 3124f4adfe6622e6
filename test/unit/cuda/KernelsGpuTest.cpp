// GPU checks (ctest label `gpu`): every kernel runs on random inputs and is
// compared with a CPU reference built on runtime/formats. Outputs are poisoned
// (0xff bytes: NaN for bf16/f32) before each launch so a kernel that skips an
// element fails. Skipped cleanly when there is no driver or no device. Runs
// on the emulated driver as well (scripts/gpu-check.sh --emulated).
#include "codegen/cuda/Compile.h"
#include "codegen/cuda/Kernels.h"
#include "runtime/cuda/Packing.h"
#include "runtime/cuda/CudaDevice.h"
#include "runtime/formats/Formats.h"
#include "HostKernels.h"
#include "KernelTestData.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
namespace fm = qcc::formats;

namespace {

struct Gpu {
  std::unique_ptr<CudaDevice> dev;
  GpuTarget target{};
  std::string arch;
  std::vector<std::unique_ptr<CudaModule>> modules; // kept loaded for the whole run
  std::string cacheDir;
};

// The device, or null with the reason in *why.
Gpu *gpu(std::string *why) {
  static std::unique_ptr<Gpu> g;
  static std::string reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    Expected<std::unique_ptr<CudaDevice>> d = CudaDevice::open(0);
    if (!d) {
      reason = d.message();
    } else if (!Nvrtc::get()) {
      reason = Nvrtc::get().message();
    } else {
      g = std::make_unique<Gpu>();
      g->dev = std::move(*d);
      g->arch = g->dev->archName();
      if (const GpuTarget *t = targetForComputeCapability(g->dev->ccMajor(), g->dev->ccMinor())) {
        g->target = *t;
      } else { // a newer GPU: compile for its own architecture
        g->target = allTargets().back();
        g->target.name = g->arch.c_str();
        g->target.hasFp8Mma = g->dev->ccMajor() * 10 + g->dev->ccMinor() >= 89;
        g->target.hasWgmma = false;
      }
      g->target.smCount = g->dev->smCount();
      char tmpl[] = "/tmp/qcc-gpu-test-XXXXXX";
      const char *dir = mkdtemp(tmpl);
      g->cacheDir = dir ? dir : "";
    }
  }
  if (why) *why = reason;
  return g.get();
}

#define REQUIRE_GPU()                                                                                        \
  std::string why_;                                                                                          \
  Gpu *G = gpu(&why_);                                                                                       \
  if (!G) {                                                                                                  \
    GTEST_SKIP() << "no GPU: " << why_;                                                                      \
  }

CUfunction build(Gpu *g, const KernelSpec &spec) {
  Expected<GeneratedKernel> gen = generateKernel(spec, g->target);
  EXPECT_TRUE(gen) << gen.message();
  if (!gen) return nullptr;
  Status host = qcc::cuda::testing::buildHostKernelsIfEmulated({*gen}); // on the emulated driver
  EXPECT_TRUE(host.isOk()) << host.message();
  CompileOptions opts;
  opts.cacheDir = g->cacheDir;
  Expected<CompiledKernel> k = compileKernel(*gen, g->target, opts);
  EXPECT_TRUE(k) << k.message();
  if (!k) return nullptr;
  Expected<CudaModule> m = g->dev->loadModule(k->cubin.data(), k->name);
  EXPECT_TRUE(m) << m.message();
  if (!m) return nullptr;
  g->modules.push_back(std::make_unique<CudaModule>(std::move(*m)));
  Expected<CUfunction> f = g->dev->function(*g->modules.back(), k->name);
  EXPECT_TRUE(f) << f.message();
  return f ? *f : nullptr;
}

// Device buffer holding a host vector.
template <typename T> DeviceBuffer upload(Gpu *g, const std::vector<T> &v) {
  Expected<DeviceBuffer> b = g->dev->alloc(std::max<size_t>(1, v.size() * sizeof(T)));
  EXPECT_TRUE(b) << b.message();
  if (!b) return DeviceBuffer();
  if (!v.empty()) {
    EXPECT_TRUE(g->dev->upload(*b, v.data(), v.size() * sizeof(T)).isOk());
  }
  return std::move(*b);
}
DeviceBuffer poisoned(Gpu *g, size_t bytes) {
  Expected<DeviceBuffer> b = g->dev->alloc(bytes);
  EXPECT_TRUE(b) << b.message();
  if (!b) return DeviceBuffer();
  EXPECT_TRUE(g->dev->fill(*b, 0xff).isOk());
  return std::move(*b);
}
template <typename T> std::vector<T> download(Gpu *g, const DeviceBuffer &b, size_t n) {
  std::vector<T> v(n);
  EXPECT_TRUE(g->dev->download(v.data(), b, n * sizeof(T)).isOk());
  return v;
}

void run(Gpu *g, CUfunction f, const KernelSpec &spec, int64_t rows, std::vector<void *> args) {
  ASSERT_NE(f, nullptr);
  LaunchDims d = launchDims(spec, rows);
  ASSERT_TRUE(g->dev->launch(f, d.grid, d.block, 0, args.data()).isOk());
  Status s = g->dev->synchronize();
  ASSERT_TRUE(s.isOk()) << s.message();
}

using qcc::cuda::testing::fromBf16;
using qcc::cuda::testing::randomFloats;
using qcc::cuda::testing::relError;
using qcc::cuda::testing::toBf16;

//===----------------------------------------------------------------------===//
// GEMMs
//===----------------------------------------------------------------------===//

struct GemmCase {
  GemmFormat format;
  int64_t M, N, K;
  bool residual;
  GemmTile tile;
};

KernelSpec gemmSpec(const GemmCase &c) {
  KernelSpec spec;
  spec.kind = KernelKind::Gemm;
  spec.format = c.format;
  spec.n = c.N;
  spec.k = c.K;
  spec.group = 128;
  spec.residual = c.residual;
  spec.tile = c.tile;
  return spec;
}

void checkGemm(Gpu *g, const GemmCase &c) {
  SCOPED_TRACE(std::string(gemmFormatName(c.format)) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
               " K=" + std::to_string(c.K) + " tile m" + std::to_string(c.tile.mTiles) + "n" +
               std::to_string(c.tile.nTiles) + "w" + std::to_string(c.tile.warpsN) + "s" +
               std::to_string(c.tile.kSplit) + (c.tile.wgmma ? " wgmma" : "") + (c.residual ? " +residual" : ""));
  const int64_t M = c.M, N = c.N, K = c.K;
  const KernelSpec spec = gemmSpec(c);
  CUfunction f = build(g, spec);
  ASSERT_NE(f, nullptr);

  std::vector<float> a = randomFloats(size_t(M * K)), w = randomFloats(size_t(N * K), -0.5f, 0.5f);
  std::vector<uint16_t> a16 = toBf16(a);
  std::vector<float> af = fromBf16(a16); // the bf16 activations as floats
  std::vector<double> ref(size_t(M * N), 0.0);
  std::vector<float> tok(size_t(M), 1.f);
  DeviceBuffer dA, dW, dTok, dCh;
  if (c.format == GemmFormat::BF16) {
    std::vector<uint16_t> w16 = toBf16(w);
    std::vector<float> wf = fromBf16(w16);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(af[m * K + k]) * wf[n * K + k];
        ref[m * N + n] = s;
      }
    dA = upload(g, a16);
    dW = upload(g, w16);
  } else if (c.format == GemmFormat::INT8 || c.format == GemmFormat::FP8) {
    const bool i8 = c.format == GemmFormat::INT8;
    fm::FormatSpec fs{i8 ? fm::Format::INT8 : fm::Format::FP8, 128};
    Expected<fm::QuantizedLinear> q = fm::quantizeLinear(w.data(), N, K, fs);
    ASSERT_TRUE(q) << q.message();
    std::vector<uint8_t> qa(size_t(M * K));
    for (int64_t m = 0; m < M; ++m)
      tok[m] = i8 ? fm::quantizeTokenInt8(&af[m * K], K, reinterpret_cast<int8_t *>(&qa[m * K]))
                  : fm::quantizeTokenFp8(&af[m * K], K, &qa[m * K]);
    auto val = [&](uint8_t code) { return i8 ? double(int8_t(code)) : double(fm::e4m3ToFloat(code)); };
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += val(qa[m * K + k]) * val(q->weights[n * K + k]);
        ref[m * N + n] = s * tok[m] * q->scales[n];
      }
    dA = upload(g, qa);
    dW = upload(g, q->weights);
    dTok = upload(g, tok);
    dCh = upload(g, q->scales);
  } else if (c.format == GemmFormat::FP8WeightOnly) {
    fm::FormatSpec fs{fm::Format::FP8, 128};
    Expected<fm::QuantizedLinear> q = fm::quantizeLinear(w.data(), N, K, fs);
    ASSERT_TRUE(q) << q.message();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(af[m * K + k]) * fm::e4m3ToFloat(q->weights[n * K + k]);
        ref[m * N + n] = s * q->scales[n];
      }
    dA = upload(g, a16);
    dW = upload(g, q->weights);
    dCh = upload(g, q->scales);
  } else { // W4A16
    fm::FormatSpec fs{fm::Format::W4A16, 128};
    Expected<fm::QuantizedLinear> q = fm::quantizeLinear(w.data(), N, K, fs);
    ASSERT_TRUE(q) << q.message();
    std::vector<int8_t> codes = fm::integerCodes(*q);
    const int64_t groups = K / 128;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += double(af[m * K + k]) * codes[n * K + k] * q->scales[n * groups + k / 128];
        ref[m * N + n] = s;
      }
    Expected<W4A16KernelWeights> p = packW4A16ForKernel(*q);
    ASSERT_TRUE(p) << p.message();
    dA = upload(g, a16);
    dW = upload(g, p->weights);
    dCh = upload(g, p->scales);
  }
  std::vector<uint16_t> res16;
  DeviceBuffer dRes;
  if (c.residual) {
    res16 = toBf16(randomFloats(size_t(M * N), -4.f, 4.f));
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += fm::bf16ToFloat(res16[i]);
    dRes = upload(g, res16);
  }
  DeviceBuffer dOut = poisoned(g, size_t(M * N) * 2);
  CUdeviceptr pa = dA.ptr(), pw = dW.ptr(), pt = dTok.ptr(), pc = dCh.ptr(), pr = dRes.ptr(), po = dOut.ptr();
  int m32 = int(M);
  run(g, f, spec, M, {&pa, &pw, &pt, &pc, &pr, &po, &m32});
  std::vector<float> out = fromBf16(download<uint16_t>(g, dOut, size_t(M * N)));
  const double err = relError(out, ref);
  EXPECT_LT(err, 4e-3) << "relative error " << err;
  double maxRef = 0, maxErr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    maxRef = std::max(maxRef, std::fabs(ref[i]));
    maxErr = std::max(maxErr, std::fabs(out[i] - ref[i]));
  }
  EXPECT_LT(maxErr, 1e-2 * maxRef) << "max abs error " << maxErr << " of max " << maxRef;
}

std::vector<GemmTile> tilesFor(Gpu *g, GemmFormat f, int64_t M, int64_t N, int64_t K) {
  std::vector<GemmTile> tiles = {chooseGemmTile(g->target, f, M, N, K)};
  for (GemmTile t : {GemmTile{1, 4, 1, 4}, GemmTile{2, 4, 4, 1}, GemmTile{1, 8, 2, 2}, GemmTile{2, 2, 1, 1}})
    if (!(t == tiles[0])) tiles.push_back(t);
  if (g->target.hasWgmma && wgmmaSupports(f, K)) { // the wgmma kernel at every M, not only where chosen
    GemmTile w;
    w.wgmma = true;
    if (!(w == tiles[0])) tiles.push_back(w);
  }
  return tiles;
}

// Compiles (NVRTC, into the test's cache) and, on the emulated driver, builds
// for the host every kernel of `specs` at once, on all cores, so that the
// suite's one-by-one builds find them ready.
void prebuild(Gpu *g, const std::vector<KernelSpec> &specs) {
  std::vector<GeneratedKernel> gen;
  for (const KernelSpec &s : specs) {
    Expected<GeneratedKernel> k = generateKernel(s, g->target);
    ASSERT_TRUE(k) << k.message();
    gen.push_back(*k);
  }
  CompileOptions opts;
  opts.cacheDir = g->cacheDir;
  Expected<std::vector<CompiledKernel>> compiled = compileKernels(gen, g->target, opts);
  ASSERT_TRUE(compiled) << compiled.message();
  Status host = qcc::cuda::testing::buildHostKernelsIfEmulated(gen);
  ASSERT_TRUE(host.isOk()) << host.message();
}

void gemmSuite(GemmFormat f) {
  REQUIRE_GPU();
  if (f == GemmFormat::FP8 && !G->target.hasFp8Mma) GTEST_SKIP() << "fp8 mma needs sm_89+, device is " << G->arch;
  std::vector<GemmCase> cases;
  for (int64_t M : {1, 7, 16, 45, 130})
    for (auto [N, K] : {std::pair<int64_t, int64_t>{136, 256}, {512, 1024}})
      for (const GemmTile &t : tilesFor(G, f, M, N, K)) cases.push_back({f, M, N, K, M % 2 == 1, t});
  std::vector<KernelSpec> specs;
  for (const GemmCase &c : cases) specs.push_back(gemmSpec(c));
  prebuild(G, specs);
  for (const GemmCase &c : cases) checkGemm(G, c);
}

} // namespace

TEST(CudaKernelsGpu, GemmBf16) { gemmSuite(GemmFormat::BF16); }
TEST(CudaKernelsGpu, GemmInt8) { gemmSuite(GemmFormat::INT8); }
TEST(CudaKernelsGpu, GemmFp8) { gemmSuite(GemmFormat::FP8); }
TEST(CudaKernelsGpu, GemmW4A16) { gemmSuite(GemmFormat::W4A16); }
TEST(CudaKernelsGpu, GemmFp8WeightOnly) { gemmSuite(GemmFormat::FP8WeightOnly); }

//===----------------------------------------------------------------------===//
// RMSNorm / SwiGLU with quantisation
//===----------------------------------------------------------------------===//

namespace {

// Compares a quantised row output with the formats reference: scales to 1e-5,
// codes identical for >= 99% of elements and dequantised values close.
void checkQuantRows(const std::vector<float> &y /*[M][W] reference values*/, int64_t M, int64_t W, QuantOut q,
                    const std::vector<uint8_t> &codes, const std::vector<float> &scales) {
  int64_t same = 0;
  std::vector<double> want;
  std::vector<float> got;
  for (int64_t m = 0; m < M; ++m) {
    std::vector<uint8_t> rc(static_cast<size_t>(W));
    const float rs = q == QuantOut::Int8 ? fm::quantizeTokenInt8(&y[m * W], W, reinterpret_cast<int8_t *>(rc.data()))
                                         : fm::quantizeTokenFp8(&y[m * W], W, rc.data());
    EXPECT_NEAR(scales[m], rs, 1e-5 * rs) << "row " << m;
    for (int64_t i = 0; i < W; ++i) {
      same += codes[m * W + i] == rc[i];
      const double v = q == QuantOut::Int8 ? double(int8_t(codes[m * W + i])) : double(fm::e4m3ToFloat(codes[m * W + i]));
      got.push_back(float(v * scales[m]));
      want.push_back(y[m * W + i]);
    }
  }
  EXPECT_GE(double(same), 0.99 * double(M * W)) << same << " of " << M * W << " codes identical";
  EXPECT_LT(relError(got, want), q == QuantOut::Int8 ? 1.5e-2 : 4e-2);
}

} // namespace

TEST(CudaKernelsGpu, RmsNormWithQuantisation) {
  REQUIRE_GPU();
  const int64_t M = 19, H = 1024;
  for (QuantOut q : {QuantOut::None, QuantOut::Int8, QuantOut::Fp8}) {
    SCOPED_TRACE(int(q));
    KernelSpec spec;
    spec.kind = KernelKind::RmsNorm;
    spec.width = H;
    spec.threads = 256;
    spec.quant = q;
    CUfunction f = build(G, spec);
    std::vector<uint16_t> x16 = toBf16(randomFloats(size_t(M * H), -3.f, 3.f));
    std::vector<uint16_t> w16 = toBf16(randomFloats(size_t(H), 0.5f, 1.5f));
    std::vector<float> x = fromBf16(x16), w = fromBf16(w16);
    const float eps = 1e-5f;
    std::vector<float> y(size_t(M * H));
    std::vector<double> yd(y.size());
    for (int64_t m = 0; m < M; ++m) {
      double ss = 0;
      for (int64_t i = 0; i < H; ++i) ss += double(x[m * H + i]) * x[m * H + i];
      const double inv = 1.0 / std::sqrt(ss / double(H) + eps);
      for (int64_t i = 0; i < H; ++i) {
        y[m * H + i] = fm::roundToBf16(float(x[m * H + i] * inv * w[i]));
        yd[m * H + i] = y[m * H + i];
      }
    }
    DeviceBuffer dx = upload(G, x16), dw = upload(G, w16);
    const size_t outBytes = size_t(M * H) * (q == QuantOut::None ? 2 : 1);
    DeviceBuffer dOut = poisoned(G, outBytes), dScale = poisoned(G, size_t(M) * 4);
    CUdeviceptr px = dx.ptr(), pw = dw.ptr(), po = dOut.ptr(), ps = dScale.ptr();
    float e = eps;
    run(G, f, spec, M, {&px, &pw, &e, &po, &ps});
    if (q == QuantOut::None) {
      std::vector<float> out = fromBf16(download<uint16_t>(G, dOut, size_t(M * H)));
      EXPECT_LT(relError(out, yd), 4e-3);
    } else {
      checkQuantRows(y, M, H, q, download<uint8_t>(G, dOut, size_t(M * H)), download<float>(G, dScale, size_t(M)));
    }
  }
}

TEST(CudaKernelsGpu, SwiGluWithQuantisation) {
  REQUIRE_GPU();
  const int64_t M = 9, I = 1000; // I not a multiple of the block: tail handling
  // gate | up as halves of fused [M][2I] rows, or gate [M][I] packed and up
  // the middle third of [M][3I] rows (separate GEMM outputs).
  for (bool separate : {false, true})
    for (QuantOut q : {QuantOut::None, QuantOut::Int8, QuantOut::Fp8}) {
      SCOPED_TRACE(std::string(separate ? "separate gate, up" : "fused gate|up") + " quant " + std::to_string(int(q)));
      KernelSpec spec;
      spec.kind = KernelKind::SwiGlu;
      spec.width = I;
      spec.ld = separate ? I : 2 * I;
      spec.ld2 = separate ? 3 * I : 2 * I;
      spec.threads = 256;
      spec.quant = q;
      CUfunction f = build(G, spec);
      std::vector<uint16_t> g16 = toBf16(randomFloats(size_t(M * spec.ld), -4.f, 4.f));
      std::vector<uint16_t> u16 = separate ? toBf16(randomFloats(size_t(M * spec.ld2), -4.f, 4.f)) : g16;
      const int64_t upOffset = I; // the up half (fused) or third (separate) starts at column I
      std::vector<float> y(size_t(M * I));
      std::vector<double> yd(y.size());
      for (int64_t m = 0; m < M; ++m)
        for (int64_t i = 0; i < I; ++i) {
          const double gv = fm::bf16ToFloat(g16[size_t(m * spec.ld + i)]);
          const double uv = fm::bf16ToFloat(u16[size_t(m * spec.ld2 + upOffset + i)]);
          y[m * I + i] = fm::roundToBf16(float(gv / (1.0 + std::exp(-gv)) * uv));
          yd[m * I + i] = y[m * I + i];
        }
      DeviceBuffer dg = upload(G, g16), du = separate ? upload(G, u16) : DeviceBuffer();
      DeviceBuffer dOut = poisoned(G, size_t(M * I) * (q == QuantOut::None ? 2 : 1)), dScale = poisoned(G, size_t(M) * 4);
      CUdeviceptr pg = dg.ptr(), pu = (separate ? du.ptr() : dg.ptr()) + size_t(upOffset) * 2, po = dOut.ptr(),
                  ps = dScale.ptr();
      run(G, f, spec, M, {&pg, &pu, &po, &ps});
      if (q == QuantOut::None) {
        EXPECT_LT(relError(fromBf16(download<uint16_t>(G, dOut, size_t(M * I))), yd), 4e-3);
      } else {
        checkQuantRows(y, M, I, q, download<uint8_t>(G, dOut, size_t(M * I)), download<float>(G, dScale, size_t(M)));
      }
    }
}

TEST(CudaKernelsGpu, PerTokenQuantisation) {
  REQUIRE_GPU();
  const int64_t M = 11, H = 4096;
  for (QuantOut q : {QuantOut::Int8, QuantOut::Fp8}) {
    SCOPED_TRACE(int(q));
    KernelSpec spec;
    spec.kind = KernelKind::Quantize;
    spec.width = H;
    spec.threads = 256;
    spec.quant = q;
    CUfunction f = build(G, spec);
    std::vector<uint16_t> x16 = toBf16(randomFloats(size_t(M * H), -2.f, 2.f));
    for (int64_t i = 0; i < H; ++i) x16[size_t(3 * H + i)] = 0; // an all-zero token: scale 1, zero codes
    std::vector<float> x = fromBf16(x16);
    DeviceBuffer dx = upload(G, x16), dOut = poisoned(G, size_t(M * H)), dScale = poisoned(G, size_t(M) * 4);
    CUdeviceptr px = dx.ptr(), po = dOut.ptr(), ps = dScale.ptr();
    run(G, f, spec, M, {&px, &po, &ps});
    std::vector<uint8_t> codes = download<uint8_t>(G, dOut, size_t(M * H));
    std::vector<float> scales = download<float>(G, dScale, size_t(M));
    // The input is exact bf16, so codes and scales must match the formats library exactly.
    for (int64_t m = 0; m < M; ++m) {
      std::vector<uint8_t> rc(static_cast<size_t>(H));
      const float rs = q == QuantOut::Int8 ? fm::quantizeTokenInt8(&x[size_t(m * H)], H, reinterpret_cast<int8_t *>(rc.data()))
                                           : fm::quantizeTokenFp8(&x[size_t(m * H)], H, rc.data());
      EXPECT_EQ(scales[size_t(m)], rs) << "row " << m;
      EXPECT_TRUE(std::equal(rc.begin(), rc.end(), codes.begin() + m * H)) << "row " << m;
    }
    EXPECT_EQ(scales[3], 1.0f);
  }
}

//===----------------------------------------------------------------------===//
// Add, embedding, RoPE, KV store + attention
//===----------------------------------------------------------------------===//

TEST(CudaKernelsGpu, ResidualAddIsExact) {
  REQUIRE_GPU();
  KernelSpec spec;
  spec.kind = KernelKind::Add;
  spec.width = 1003; // rows of W elements; M x W not a multiple of the block
  CUfunction f = build(G, spec);
  const int64_t M = 97, n = M * spec.width;
  std::vector<uint16_t> a = toBf16(randomFloats(size_t(n), -8, 8)), b = toBf16(randomFloats(size_t(n), -8, 8));
  // One row more than M: the kernel must leave it alone.
  DeviceBuffer da = upload(G, a), db = upload(G, b), dout = poisoned(G, size_t(n + spec.width) * 2);
  CUdeviceptr pa = da.ptr(), pb = db.ptr(), po = dout.ptr();
  int m32 = int(M);
  run(G, f, spec, M, {&pa, &pb, &po, &m32});
  std::vector<uint16_t> out = download<uint16_t>(G, dout, size_t(n + spec.width));
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += out[i] != fm::floatToBf16(fm::bf16ToFloat(a[i]) + fm::bf16ToFloat(b[i]));
  EXPECT_EQ(bad, 0);
  for (int64_t i = n; i < n + spec.width; ++i) ASSERT_EQ(out[size_t(i)], 0xffff) << "row M written at " << i;
}

TEST(CudaKernelsGpu, EmbeddingLookup) {
  REQUIRE_GPU();
  KernelSpec spec;
  spec.kind = KernelKind::Embed;
  spec.vocab = 1000;
  spec.width = 256;
  CUfunction f = build(G, spec);
  std::vector<uint16_t> table = toBf16(randomFloats(size_t(1000 * 256)));
  std::vector<int> ids = {0, 999, 17, 17, -1, 1000, 512};
  DeviceBuffer dt = upload(G, table), di = upload(G, ids), dout = poisoned(G, ids.size() * 256 * 2);
  CUdeviceptr pi = di.ptr(), pt = dt.ptr(), po = dout.ptr();
  run(G, f, spec, int64_t(ids.size()), {&pi, &pt, &po});
  std::vector<uint16_t> out = download<uint16_t>(G, dout, ids.size() * 256);
  for (size_t m = 0; m < ids.size(); ++m)
    for (int c = 0; c < 256; ++c) {
      const bool ok = ids[m] >= 0 && ids[m] < 1000;
      ASSERT_EQ(out[m * 256 + c], ok ? table[size_t(ids[m]) * 256 + c] : uint16_t(0)) << m << " " << c;
    }
}

TEST(CudaKernelsGpu, RopeLlama3) {
  REQUIRE_GPU();
  ModelConfig c;
  c.headDim = 128;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  KernelSpec spec;
  spec.kind = KernelKind::Rope;
  spec.heads = 8;
  spec.kvHeads = 2;
  spec.headDim = 128;
  spec.invFreq = llamaInvFreq(c);
  CUfunction f = build(G, spec);
  const int64_t T = 5, D = 128;
  std::vector<int> pos = {0, 1, 77, 4095, 70000};
  std::vector<uint16_t> q16 = toBf16(randomFloats(size_t(T * 8 * D))), k16 = toBf16(randomFloats(size_t(T * 2 * D)));
  auto rotate = [&](const std::vector<uint16_t> &x16, int64_t heads) {
    std::vector<double> r(x16.size());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < D / 2; ++i) {
          const size_t base = size_t((t * heads + h) * D);
          const double ang = double(pos[t]) * double(spec.invFreq[i]);
          const double x1 = fm::bf16ToFloat(x16[base + i]), x2 = fm::bf16ToFloat(x16[base + i + D / 2]);
          r[base + i] = x1 * std::cos(ang) - x2 * std::sin(ang);
          r[base + i + D / 2] = x2 * std::cos(ang) + x1 * std::sin(ang);
        }
    return r;
  };
  std::vector<double> qr = rotate(q16, 8), kr = rotate(k16, 2);
  DeviceBuffer dq = upload(G, q16), dk = upload(G, k16), dp = upload(G, pos);
  CUdeviceptr pq = dq.ptr(), pk = dk.ptr(), pp = dp.ptr();
  run(G, f, spec, T, {&pq, &pk, &pp});
  // f32 angles at position 70000 lose ~1e-2 rad; the bound covers it.
  EXPECT_LT(relError(fromBf16(download<uint16_t>(G, dq, q16.size())), qr), 1e-2);
  EXPECT_LT(relError(fromBf16(download<uint16_t>(G, dk, k16.size())), kr), 1e-2);

  // The same on fused qkv rows [T][(8 + 2*2) * D]; v must stay untouched.
  const int64_t QKV = 12 * D;
  spec.ld = QKV;
  CUfunction ff = build(G, spec);
  std::vector<uint16_t> qkv = toBf16(randomFloats(size_t(T * QKV)));
  for (int64_t t = 0; t < T; ++t) {
    std::copy_n(&q16[size_t(t * 8 * D)], 8 * D, &qkv[size_t(t * QKV)]);
    std::copy_n(&k16[size_t(t * 2 * D)], 2 * D, &qkv[size_t(t * QKV + 8 * D)]);
  }
  DeviceBuffer dqkv = upload(G, qkv);
  CUdeviceptr pqf = dqkv.ptr(), pkf = dqkv.ptr() + size_t(8 * D) * 2;
  run(G, ff, spec, T, {&pqf, &pkf, &pp});
  std::vector<uint16_t> got = download<uint16_t>(G, dqkv, qkv.size());
  std::vector<float> gq, gk;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < 8 * D; ++i) gq.push_back(fm::bf16ToFloat(got[size_t(t * QKV + i)]));
    for (int64_t i = 0; i < 2 * D; ++i) gk.push_back(fm::bf16ToFloat(got[size_t(t * QKV + 8 * D + i)]));
    for (int64_t i = 10 * D; i < QKV; ++i) ASSERT_EQ(got[size_t(t * QKV + i)], qkv[size_t(t * QKV + i)]);
  }
  EXPECT_LT(relError(gq, qr), 1e-2);
  EXPECT_LT(relError(gk, kr), 1e-2);

  // Queries alone (no kv heads: k is never read or written) on the same rows.
  KernelSpec qonly = spec;
  qonly.kvHeads = 0;
  qonly.ld2 = 0;
  CUfunction fq = build(G, qonly);
  DeviceBuffer dq2 = upload(G, qkv);
  CUdeviceptr pq2 = dq2.ptr(), none = 0;
  run(G, fq, qonly, T, {&pq2, &none, &pp});
  got = download<uint16_t>(G, dq2, qkv.size());
  gq.clear();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < 8 * D; ++i) gq.push_back(fm::bf16ToFloat(got[size_t(t * QKV + i)]));
    for (int64_t i = 8 * D; i < QKV; ++i) ASSERT_EQ(got[size_t(t * QKV + i)], qkv[size_t(t * QKV + i)]);
  }
  EXPECT_LT(relError(gq, qr), 1e-2);
}

TEST(CudaKernelsGpu, KvStoreThenCausalGqaAttention) {
  REQUIRE_GPU();
  const int64_t HQ = 8, HKV = 2, D = 128, S = 512, QKV = (HQ + 2 * HKV) * D;
  // packed q [T][HQ][D], k/v [T][HKV][D]; slices of fused qkv rows [T][QKV];
  // or q and k slices of fused rows with v packed apart (different strides).
  enum Layout { Packed, Fused, FusedQkPackedV };
  for (Layout layout : {Packed, Fused, FusedQkPackedV}) {
    const bool fused = layout != Packed;
    SCOPED_TRACE(layout == Packed ? "packed q, k, v" : layout == Fused ? "fused qkv rows" : "fused q, k; packed v");
    KernelSpec kv;
    kv.kind = KernelKind::KvStore;
    kv.kvHeads = HKV;
    kv.headDim = D;
    kv.maxSeq = S;
    kv.ld = fused ? QKV : 0;
    kv.ld2 = layout == FusedQkPackedV ? HKV * D : 0;
    KernelSpec at = kv;
    at.kind = KernelKind::Attention;
    at.heads = HQ;
    at.ld2 = 0;
    CUfunction fkv = build(G, kv), fat = build(G, at);
    // Prefill of 37 tokens at positions 0..36, then one decode step at 300
    // over a cache whose other positions hold random history.
    for (auto [T, start] : {std::pair<int64_t, int>{37, 0}, {1, 300}}) {
      SCOPED_TRACE("T=" + std::to_string(T));
      std::vector<uint16_t> kc = toBf16(randomFloats(size_t(HKV * S * D))), vc = toBf16(randomFloats(size_t(HKV * S * D)));
      std::vector<uint16_t> kn = toBf16(randomFloats(size_t(T * HKV * D))), vn = toBf16(randomFloats(size_t(T * HKV * D)));
      std::vector<uint16_t> q = toBf16(randomFloats(size_t(T * HQ * D), -3, 3)); // peaky softmax
      std::vector<int> pos(static_cast<size_t>(T));
      for (int64_t t = 0; t < T; ++t) pos[t] = start + int(t);
      DeviceBuffer dkc = upload(G, kc), dvc = upload(G, vc), dp = upload(G, pos), dout = poisoned(G, q.size() * 2);
      DeviceBuffer dq, dkn, dvn, dqkv;
      CUdeviceptr pq, pkn, pvn;
      if (fused) {
        std::vector<uint16_t> qkv(size_t(T * QKV));
        for (int64_t t = 0; t < T; ++t) {
          std::copy_n(&q[size_t(t * HQ * D)], HQ * D, &qkv[size_t(t * QKV)]);
          std::copy_n(&kn[size_t(t * HKV * D)], HKV * D, &qkv[size_t(t * QKV + HQ * D)]);
          if (layout == Fused) // FusedQkPackedV: the v slot holds other values
            std::copy_n(&vn[size_t(t * HKV * D)], HKV * D, &qkv[size_t(t * QKV + (HQ + HKV) * D)]);
        }
        dqkv = upload(G, qkv);
        pq = dqkv.ptr();
        pkn = dqkv.ptr() + size_t(HQ * D) * 2;
        pvn = dqkv.ptr() + size_t((HQ + HKV) * D) * 2;
        if (layout == FusedQkPackedV) {
          dvn = upload(G, vn);
          pvn = dvn.ptr();
        }
      } else {
        dq = upload(G, q);
        dkn = upload(G, kn);
        dvn = upload(G, vn);
        pq = dq.ptr();
        pkn = dkn.ptr();
        pvn = dvn.ptr();
      }
      CUdeviceptr pp = dp.ptr(), pkc = dkc.ptr(), pvc = dvc.ptr(), po = dout.ptr();
      run(G, fkv, kv, T, {&pkn, &pvn, &pp, &pkc, &pvc});
      for (int64_t t = 0; t < T; ++t) // the reference cache after the store
        for (int64_t h = 0; h < HKV; ++h)
          for (int64_t d = 0; d < D; ++d) {
            kc[size_t((h * S + pos[t]) * D + d)] = kn[size_t((t * HKV + h) * D + d)];
            vc[size_t((h * S + pos[t]) * D + d)] = vn[size_t((t * HKV + h) * D + d)];
          }
      EXPECT_EQ(download<uint16_t>(G, dkc, kc.size()), kc);
      EXPECT_EQ(download<uint16_t>(G, dvc, vc.size()), vc);
      run(G, fat, at, T, {&pq, &pkc, &pvc, &pp, &po});
      std::vector<double> ref(q.size());
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < HQ; ++h) {
          const int64_t kvh = h / (HQ / HKV);
          std::vector<double> sc(size_t(pos[t] + 1));
          double mx = -1e300;
          for (int j = 0; j <= pos[t]; ++j) {
            double s = 0;
            for (int64_t d = 0; d < D; ++d)
              s += double(fm::bf16ToFloat(q[size_t((t * HQ + h) * D + d)])) *
                   fm::bf16ToFloat(kc[size_t((kvh * S + j) * D + d)]);
            sc[j] = s / std::sqrt(double(D));
            mx = std::max(mx, sc[j]);
          }
          double l = 0;
          for (double &s : sc) l += (s = std::exp(s - mx));
          for (int64_t d = 0; d < D; ++d) {
            double o = 0;
            for (int j = 0; j <= pos[t]; ++j) o += sc[j] * fm::bf16ToFloat(vc[size_t((kvh * S + j) * D + d)]);
            ref[size_t((t * HQ + h) * D + d)] = o / l;
          }
        }
      EXPECT_LT(relError(fromBf16(download<uint16_t>(G, dout, q.size())), ref), 1e-2);
    }
  }
}
