// qcc-gpu-bench: times qcc's GEMM kernels (M = 1, 16, 128, 2048 on the
// Llama-3.1-8B linear shapes) and one decode step, against cuBLAS bf16 and
// against a roofline measured first on the same GPU:
//   bandwidth: a 16-byte copy kernel over 2 x 1 GiB
//   tensor throughput: a register-only loop of mma.sync (bf16, s8, e4m3), i.e.
//   the instruction these kernels use (on Hopper wgmma peaks higher).
// Prints a Markdown table; `--out FILE` also writes it there.
// Weights are filled with a constant byte (speed does not depend on values),
// and rotated over several copies so that they cannot live in L2.
#include "codegen/cuda/Compile.h"
#include "codegen/cuda/Kernels.h"
#include "runtime/cuda/CudaDevice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace qcc;
using namespace qcc::cuda;

namespace {

#define CHECK_OR_DIE(expr)                                                                                   \
  do {                                                                                                       \
    ::qcc::Status s_ = (expr);                                                                               \
    if (!s_.isOk()) {                                                                                        \
      std::fprintf(stderr, "qcc-gpu-bench: %s\n", s_.message().c_str());                                    \
      std::exit(1);                                                                                          \
    }                                                                                                        \
  } while (0)

template <typename T> T orDie(Expected<T> e) {
  if (!e) {
    std::fprintf(stderr, "qcc-gpu-bench: %s\n", e.message().c_str());
    std::exit(1);
  }
  return std::move(*e);
}

struct Bench {
  std::unique_ptr<CudaDevice> dev;
  GpuTarget target{};
  std::vector<std::unique_ptr<CudaModule>> modules;
  int l2Bytes = 0;
};

CUfunction load(Bench &b, const std::string &name, const std::string &source) {
  GeneratedKernel g{name, source, 0};
  CompiledKernel k = orDie(compileKernel(g, b.target));
  b.modules.push_back(std::make_unique<CudaModule>(orDie(b.dev->loadModule(k.cubin.data(), name))));
  return orDie(b.dev->function(*b.modules.back(), name));
}

CUfunction load(Bench &b, const KernelSpec &spec) {
  GeneratedKernel g = orDie(generateKernel(spec, b.target));
  return load(b, g.name, g.source);
}

// --- roofline kernels -------------------------------------------------------

const char *kCopySource = R"(
extern "C" __global__ void bench_copy(const uint4 *src, uint4 *dst, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = src[i];
}
)";

// 8 independent accumulators per thread; `iters` rounds; result stored so the
// compiler keeps the math.
std::string mmaPeakSource(const std::string &name, const std::string &instr, bool intAcc) {
  const char *t = intAcc ? "int" : "float";
  const char *c = intAcc ? "r" : "f";
  std::ostringstream s;
  s << "extern \"C\" __global__ void " << name << "(" << t << " *out, int iters) {\n"
    << "  " << t << " acc[8][4] = {};\n"
    << "  unsigned a0 = threadIdx.x, a1 = a0 * 3u, a2 = a0 * 5u, a3 = a0 * 7u, b0 = a0 ^ 0x1234u, b1 = a0 ^ 0x4321u;\n"
    << "  for (int it = 0; it < iters; ++it) {\n"
    << "#pragma unroll\n"
    << "    for (int j = 0; j < 8; ++j)\n"
    << "      asm volatile(\"" << instr << " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\"\n"
    << "          : \"+" << c << "\"(acc[j][0]), \"+" << c << "\"(acc[j][1]), \"+" << c << "\"(acc[j][2]), \"+" << c
    << "\"(acc[j][3])\n"
    << "          : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"
    << "  }\n"
    << "  " << t << " s = 0;\n"
    << "  for (int j = 0; j < 8; ++j) s += acc[j][0] + acc[j][1] + acc[j][2] + acc[j][3];\n"
    << "  out[blockIdx.x * blockDim.x + threadIdx.x] = s;\n}\n";
  return s.str();
}

double measureBandwidth(Bench &b) {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer src = orDie(b.dev->alloc(bytes)), dst = orDie(b.dev->alloc(bytes));
  CHECK_OR_DIE(b.dev->fill(src, 1));
  CUfunction f = load(b, "bench_copy", kCopySource);
  CUdeviceptr ps = src.ptr(), pd = dst.ptr();
  long long n = (long long)(bytes / 16);
  void *args[] = {&ps, &pd, &n};
  const unsigned grid[3] = {unsigned(b.dev->smCount() * 8), 1, 1};
  auto body = [&] { return b.dev->launch(f, grid, 256, 0, args); };
  CHECK_OR_DIE(body());
  float ms = orDie(b.dev->timeMs(10, body));
  return 2.0 * double(bytes) / (ms * 1e-3) / 1e9; // GB/s, read + write
}

// Tensor throughput in TFLOP/s (or TOP/s) of one mma.sync shape.
double measureMmaPeak(Bench &b, const std::string &name, const std::string &instr, bool intAcc, double opsPerMma) {
  CUfunction f = load(b, name, mmaPeakSource(name, instr, intAcc));
  const unsigned blocks = unsigned(b.dev->smCount() * 4), threads = 256;
  DeviceBuffer out = orDie(b.dev->alloc(size_t(blocks) * threads * 4));
  CUdeviceptr po = out.ptr();
  int iters = 4096;
  void *args[] = {&po, &iters};
  const unsigned grid[3] = {blocks, 1, 1};
  auto body = [&] { return b.dev->launch(f, grid, threads, 0, args); };
  CHECK_OR_DIE(body());
  float ms = orDie(b.dev->timeMs(5, body));
  const double mmas = double(blocks) * (threads / 32) * iters * 8;
  return mmas * opsPerMma / (ms * 1e-3) / 1e12;
}

// --- cuBLAS (dlopen'ed) -----------------------------------------------------

struct Cublas {
  void *h = nullptr, *handle = nullptr;
  int (*create)(void **) = nullptr;
  int (*gemmEx)(void *, int, int, int, int, int, const void *, const void *, int, int, const void *, int, int,
                const void *, void *, int, int, int, int) = nullptr;
  bool ok() const { return handle != nullptr; }
};

Cublas openCublas(std::string *why) {
  Cublas c;
  for (const char *lib : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"})
    if ((c.h = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) break;
  if (!c.h) {
    *why = "libcublas could not be loaded";
    return c;
  }
  c.create = reinterpret_cast<int (*)(void **)>(dlsym(c.h, "cublasCreate_v2"));
  c.gemmEx = reinterpret_cast<decltype(c.gemmEx)>(dlsym(c.h, "cublasGemmEx"));
  if (!c.create || !c.gemmEx || c.create(&c.handle) != 0) {
    *why = "cublasCreate failed";
    c.handle = nullptr;
  }
  return c;
}

// out[M][N] (row-major) = A[M][K] . W[N][K]^T, bf16 in, bf16 out, f32 compute.
Status cublasGemm(const Cublas &c, CUdeviceptr A, CUdeviceptr W, CUdeviceptr out, int M, int N, int K) {
  const float alpha = 1.f, beta = 0.f;
  const int kBf16 = 14, kCompute32F = 68, kOpN = 0, kOpT = 1, kDefaultAlgo = -1;
  int r = c.gemmEx(c.handle, kOpT, kOpN, N, M, K, &alpha, reinterpret_cast<void *>(W), kBf16, K,
                   reinterpret_cast<void *>(A), kBf16, K, &beta, reinterpret_cast<void *>(out), kBf16, N,
                   kCompute32F, kDefaultAlgo);
  return r == 0 ? Status::ok() : Status::error("cublasGemmEx failed with status " + std::to_string(r));
}

// --- GEMM timing --------------------------------------------------------------

struct Shape {
  const char *name;
  int64_t n, k;
};
const Shape kShapes[] = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 28672, 4096}, {"down", 4096, 14336}};

size_t weightBytes(GemmFormat f, int64_t n, int64_t k) {
  switch (f) {
  case GemmFormat::BF16: return size_t(n * k * 2);
  case GemmFormat::W4A16: return size_t((n + 7) / 8 * 8 * k / 2);
  default: return size_t(n * k);
  }
}
size_t activationBytes(GemmFormat f, int64_t m, int64_t k) {
  return size_t(m * k) * (f == GemmFormat::INT8 || f == GemmFormat::FP8 ? 1 : 2);
}
size_t scaleBytes(GemmFormat f, int64_t n, int64_t k) {
  return f == GemmFormat::W4A16 ? size_t(k / 128 * ((n + 7) / 8 * 8) * 4) : size_t(n * 4);
}

// Time `body(copy)` rotating over `copies` weight buffers.
template <typename F> double timeRotating(Bench &b, int copies, F body) {
  for (int i = 0; i < copies; ++i) CHECK_OR_DIE(body(i)); // warm up + JIT
  CHECK_OR_DIE(b.dev->synchronize());
  int iters = 0;
  auto run = [&] { return body(iters++ % copies); };
  float ms = orDie(b.dev->timeMs(3, run));
  const int n = std::clamp(int(50.0 / std::max(ms, 1e-3f)), 5, 200);
  return double(orDie(b.dev->timeMs(n, run)));
}


// One decode step (M = 1) of Llama-3.1-8B in `mf` at position `pos`: per
// layer rmsnorm(+quant) -> qkv -> rope -> kv store -> attention -> o (+res) ->
// rmsnorm(+quant) -> gate_up -> swiglu(+quant) -> down (+res), 32 layers with
// their own weights, then the final norm and the bf16 lm_head. Returns ms per
// step and the bytes a step must read at least (weights + KV cache).
struct DecodeResult {
  double ms = 0, bytes = 0;
};
DecodeResult timeDecodeStep(Bench &b, ModelFormat mf, int pos) {
  ModelConfig c;
  c.hiddenSize = 4096;
  c.intermediateSize = 14336;
  c.numLayers = 32;
  c.numHeads = 32;
  c.numKvHeads = 8;
  c.headDim = 128;
  c.vocabSize = 128256;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  const int64_t H = 4096, I = 14336, QKV = 6144, S = 4096, V = 128256, L = 32;
  GemmFormat gf = GemmFormat::BF16;
  QuantOut q = QuantOut::None;
  if (mf == ModelFormat::INT8) { gf = GemmFormat::INT8; q = QuantOut::Int8; }
  if (mf == ModelFormat::W4A16) gf = GemmFormat::W4A16;
  if (mf == ModelFormat::FP8) {
    gf = b.target.hasFp8Mma ? GemmFormat::FP8 : GemmFormat::FP8WeightOnly;
    q = b.target.hasFp8Mma ? QuantOut::Fp8 : QuantOut::None;
  }
  auto gemmSpec = [&](GemmFormat f, int64_t n, int64_t k, bool res) {
    KernelSpec s;
    s.kind = KernelKind::Gemm;
    s.format = f;
    s.n = n;
    s.k = k;
    s.residual = res;
    s.tile = chooseGemmTile(b.target, f, 1, n, k);
    return s;
  };
  const KernelSpec sQkv = gemmSpec(gf, QKV, H, false), sO = gemmSpec(gf, H, H, true),
                   sGu = gemmSpec(gf, 2 * I, H, false), sDown = gemmSpec(gf, H, I, true),
                   sHead = gemmSpec(GemmFormat::BF16, V, H, false);
  KernelSpec sNorm;
  sNorm.kind = KernelKind::RmsNorm;
  sNorm.width = H;
  sNorm.quant = q;
  KernelSpec sFinal = sNorm;
  sFinal.quant = QuantOut::None;
  KernelSpec sSw;
  sSw.kind = KernelKind::SwiGlu;
  sSw.width = I;
  sSw.ld = 2 * I;
  sSw.quant = q;
  KernelSpec sRope;
  sRope.kind = KernelKind::Rope;
  sRope.heads = 32;
  sRope.kvHeads = 8;
  sRope.headDim = 128;
  sRope.invFreq = llamaInvFreq(c);
  sRope.ld = QKV;
  KernelSpec sKv;
  sKv.kind = KernelKind::KvStore;
  sKv.kvHeads = 8;
  sKv.headDim = 128;
  sKv.maxSeq = S;
  sKv.ld = QKV;
  KernelSpec sAt = sKv;
  sAt.kind = KernelKind::Attention;
  sAt.heads = 32;
  KernelSpec sQuant;
  sQuant.kind = KernelKind::Quantize;
  sQuant.width = H;
  sQuant.quant = q == QuantOut::None ? QuantOut::Int8 : q;
  CUfunction fQuant = load(b, sQuant);
  CUfunction fQkv = load(b, sQkv), fO = load(b, sO), fGu = load(b, sGu), fDown = load(b, sDown),
             fHead = load(b, sHead), fNorm = load(b, sNorm), fFinal = load(b, sFinal), fSw = load(b, sSw),
             fRope = load(b, sRope), fKv = load(b, sKv), fAt = load(b, sAt);

  auto filled = [&](size_t bytes, uint8_t v) {
    DeviceBuffer d = orDie(b.dev->alloc(bytes));
    CHECK_OR_DIE(b.dev->fill(d, v));
    return d;
  };
  struct Layer {
    DeviceBuffer wqkv, wo, wgu, wdown, sqkv, so, sgu, sdown, n1, n2, kc, vc;
  };
  std::vector<Layer> layers(static_cast<size_t>(L));
  double bytes = 0;
  for (Layer &l : layers) {
    l.wqkv = filled(weightBytes(gf, QKV, H), 0x11);
    l.wo = filled(weightBytes(gf, H, H), 0x11);
    l.wgu = filled(weightBytes(gf, 2 * I, H), 0x11);
    l.wdown = filled(weightBytes(gf, H, I), 0x11);
    l.sqkv = filled(scaleBytes(gf, QKV, H), 0x3c);
    l.so = filled(scaleBytes(gf, H, H), 0x3c);
    l.sgu = filled(scaleBytes(gf, 2 * I, H), 0x3c);
    l.sdown = filled(scaleBytes(gf, H, I), 0x3c);
    l.n1 = filled(size_t(H) * 2, 0x3f);
    l.n2 = filled(size_t(H) * 2, 0x3f);
    l.kc = filled(size_t(8 * S * 128) * 2, 0x11);
    l.vc = filled(size_t(8 * S * 128) * 2, 0x11);
    bytes += double(weightBytes(gf, QKV, H) + weightBytes(gf, H, H) + weightBytes(gf, 2 * I, H) +
                    weightBytes(gf, H, I)) + 2.0 * 8 * (pos + 1) * 128 * 2;
  }
  DeviceBuffer head = filled(size_t(V * H) * 2, 0x11), finalNorm = filled(size_t(H) * 2, 0x3f);
  bytes += double(V * H) * 2;
  DeviceBuffer x = filled(size_t(H) * 2, 0x3c), xq = filled(size_t(I) * 2, 0), scale = filled(4, 0x3c);
  DeviceBuffer qkv = filled(size_t(QKV) * 2, 0), att = filled(size_t(H) * 2, 0), gu = filled(size_t(2 * I) * 2, 0);
  DeviceBuffer logits = filled(size_t(V) * 2, 0), posBuf = filled(4, 0), tok = filled(4, 0x3c);
  CHECK_OR_DIE(b.dev->upload(posBuf, &pos, 4));
  int one = 1;
  float eps = 1e-5f;
  CUdeviceptr px = x.ptr(), pxq = xq.ptr(), ps = scale.ptr(), pqkv = qkv.ptr(), patt = att.ptr(), pgu = gu.ptr();
  CUdeviceptr pk = qkv.ptr() + 4096 * 2, pv = qkv.ptr() + 5120 * 2, pup = gu.ptr() + size_t(I) * 2;
  CUdeviceptr ppos = posBuf.ptr(), plog = logits.ptr(), zero = 0;
  // Quantised formats feed the GEMMs codes + the per-token scale; others bf16.
  CUdeviceptr ptok = q == QuantOut::None ? tok.ptr() : scale.ptr();
  auto launch = [&](CUfunction f, const KernelSpec &s, std::vector<void *> args) {
    const LaunchDims d = launchDims(s, 1, 0);
    return b.dev->launch(f, d.grid, d.block, 0, args.data());
  };
  auto step = [&]() -> Status {
    for (Layer &l : layers) {
      CUdeviceptr n1 = l.n1.ptr(), n2 = l.n2.ptr(), kc = l.kc.ptr(), vc = l.vc.ptr();
      CUdeviceptr wqkv = l.wqkv.ptr(), wo = l.wo.ptr(), wgu = l.wgu.ptr(), wdown = l.wdown.ptr();
      CUdeviceptr sqkv = l.sqkv.ptr(), so = l.so.ptr(), sgu = l.sgu.ptr(), sdown = l.sdown.ptr();
      CUdeviceptr normIn = pxq; // normalised activations (codes or bf16)
      QCC_RETURN_IF_ERROR(launch(fNorm, sNorm, {&px, &n1, &eps, &normIn, &ps}));
      QCC_RETURN_IF_ERROR(launch(fQkv, sQkv, {&normIn, &wqkv, &ptok, &sqkv, &zero, &pqkv, &one}));
      QCC_RETURN_IF_ERROR(launch(fRope, sRope, {&pqkv, &pk, &ppos}));
      QCC_RETURN_IF_ERROR(launch(fKv, sKv, {&pk, &pv, &ppos, &kc, &vc}));
      QCC_RETURN_IF_ERROR(launch(fAt, sAt, {&pqkv, &kc, &vc, &ppos, &patt}));
      if (q != QuantOut::None) { // the attention output becomes o_proj's codes + token scale
        QCC_RETURN_IF_ERROR(launch(fQuant, sQuant, {&patt, &pxq, &ps}));
        QCC_RETURN_IF_ERROR(launch(fO, sO, {&pxq, &wo, &ptok, &so, &px, &px, &one}));
      } else {
        QCC_RETURN_IF_ERROR(launch(fO, sO, {&patt, &wo, &ptok, &so, &px, &px, &one}));
      }
      QCC_RETURN_IF_ERROR(launch(fNorm, sNorm, {&px, &n2, &eps, &normIn, &ps}));
      QCC_RETURN_IF_ERROR(launch(fGu, sGu, {&normIn, &wgu, &ptok, &sgu, &zero, &pgu, &one}));
      QCC_RETURN_IF_ERROR(launch(fSw, sSw, {&pgu, &pup, &pxq, &ps}));
      QCC_RETURN_IF_ERROR(launch(fDown, sDown, {&pxq, &wdown, &ptok, &sdown, &px, &px, &one}));
    }
    CUdeviceptr fn = finalNorm.ptr(), ph = head.ptr();
    QCC_RETURN_IF_ERROR(launch(fFinal, sFinal, {&px, &fn, &eps, &pxq, &ps}));
    return launch(fHead, sHead, {&pxq, &ph, &ptok, &zero, &zero, &plog, &one});
  };
  CHECK_OR_DIE(step());
  CHECK_OR_DIE(b.dev->synchronize());
  DecodeResult r;
  r.ms = double(orDie(b.dev->timeMs(5, step)));
  r.bytes = bytes;
  return r;
}

} // namespace

int main(int argc, char **argv) {
  std::string outPath;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--out" && i + 1 < argc) outPath = argv[++i];
    else if (std::string(argv[i]) == "--quick") quick = true;
    else {
      std::fprintf(stderr, "usage: qcc-gpu-bench [--out FILE] [--quick]\n");
      return 2;
    }
  }
  Bench b;
  b.dev = orDie(CudaDevice::open(0));
  if (const GpuTarget *t = targetForComputeCapability(b.dev->ccMajor(), b.dev->ccMinor())) {
    b.target = *t;
  } else {
    std::fprintf(stderr, "qcc-gpu-bench: %s (%s) is not a qcc target; using the sm_90a table row\n",
                 b.dev->name().c_str(), b.dev->archName().c_str());
    b.target = allTargets().back();
  }
  b.target.smCount = b.dev->smCount();
  b.l2Bytes = orDie(b.dev->attribute(kAttrL2CacheSize));

  std::ostringstream md;
  md << "# qcc GEMM benchmark on " << b.dev->name() << " (" << b.dev->archName() << ", " << b.dev->smCount()
     << " SMs)\n\n";
  const double bw = measureBandwidth(b);
  const double bf16Peak = measureMmaPeak(b, "peak_bf16", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
                                         false, 2.0 * 16 * 8 * 16);
  const double s8Peak =
      measureMmaPeak(b, "peak_s8", "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", true, 2.0 * 16 * 8 * 32);
  double fp8Peak = 0;
  if (b.target.hasFp8Mma)
    fp8Peak = measureMmaPeak(b, "peak_e4m3", "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32", false,
                             2.0 * 16 * 8 * 32);
  md << "Measured roofline: copy bandwidth " << std::lround(bw) << " GB/s; mma.sync peak bf16 " << bf16Peak
     << " TFLOP/s, s8 " << s8Peak << " TOP/s";
  if (fp8Peak > 0) md << ", e4m3 " << fp8Peak << " TFLOP/s";
  md << ".\n\n";

  std::string whyNoCublas;
  Cublas cublas = openCublas(&whyNoCublas);
  if (!cublas.ok()) md << "cuBLAS unavailable: " << whyNoCublas << ".\n\n";

  md << "| format | shape (N x K) | M | qcc us | roofline us | % of roofline | cuBLAS bf16 us | speedup vs cuBLAS |\n";
  md << "|---|---|---|---|---|---|---|---|\n";
  std::vector<GemmFormat> formats = {GemmFormat::BF16, GemmFormat::INT8, GemmFormat::W4A16};
  if (b.target.hasFp8Mma) formats.insert(formats.begin() + 1, GemmFormat::FP8);
  else formats.push_back(GemmFormat::FP8WeightOnly);
  std::vector<int64_t> ms = quick ? std::vector<int64_t>{1, 128} : std::vector<int64_t>{1, 16, 128, 2048};
  double decodeQcc[5] = {0, 0, 0, 0, 0}; // per format index, sum over shapes at M = 1
  double decodeCublas = 0;
  std::map<std::string, double> cublasCache; // cuBLAS bf16 us per (shape, M)
  for (size_t fi = 0; fi < formats.size(); ++fi) {
    const GemmFormat f = formats[fi];
    for (const Shape &sh : kShapes) {
      const size_t wBytes = weightBytes(f, sh.n, sh.k);
      const int copies = int(std::clamp<size_t>(size_t(2 * int64_t(b.l2Bytes)) / wBytes + 1, 1, 8));
      std::vector<DeviceBuffer> w;
      for (int c = 0; c < copies; ++c) {
        w.push_back(orDie(b.dev->alloc(wBytes)));
        CHECK_OR_DIE(b.dev->fill(w.back(), 0x11));
      }
      DeviceBuffer scales = orDie(b.dev->alloc(scaleBytes(f, sh.n, sh.k)));
      CHECK_OR_DIE(b.dev->fill(scales, 0x3c));
      for (int64_t M : ms) {
        KernelSpec spec;
        spec.kind = KernelKind::Gemm;
        spec.format = f;
        spec.n = sh.n;
        spec.k = sh.k;
        spec.tile = chooseGemmTile(b.target, f, M, sh.n, sh.k);
        CUfunction fn = load(b, spec);
        DeviceBuffer a = orDie(b.dev->alloc(activationBytes(f, M, sh.k)));
        CHECK_OR_DIE(b.dev->fill(a, 0x11));
        DeviceBuffer tok = orDie(b.dev->alloc(size_t(M) * 4));
        CHECK_OR_DIE(b.dev->fill(tok, 0x3c));
        DeviceBuffer out = orDie(b.dev->alloc(size_t(M * sh.n) * 2));
        CUdeviceptr pa = a.ptr(), pt = tok.ptr(), pc = scales.ptr(), pr = 0, po = out.ptr(), pw = 0;
        int m32 = int(M);
        void *args[] = {&pa, &pw, &pt, &pc, &pr, &po, &m32};
        const LaunchDims d = launchDims(spec, M);
        const double us = 1e3 * timeRotating(b, copies, [&](int c) {
          pw = w[size_t(c)].ptr();
          return b.dev->launch(fn, d.grid, d.block, 0, args);
        });
        const double flops = 2.0 * double(M) * double(sh.n) * double(sh.k);
        const double bytes = double(wBytes + activationBytes(f, M, sh.k) + size_t(M * sh.n) * 2);
        const double peak = f == GemmFormat::INT8 ? s8Peak : f == GemmFormat::FP8 ? fp8Peak : bf16Peak;
        const double roofUs = 1e6 * std::max(bytes / (bw * 1e9), flops / (peak * 1e12));
        double &cublasUs = cublasCache[std::string(sh.name) + "/" + std::to_string(M)]; // same for every format
        if (cublas.ok() && cublasUs == 0) {
          // cuBLAS bf16 on the same shape (bf16 weights, rotated the same way).
          const size_t bfBytes = size_t(sh.n * sh.k * 2);
          const int bc = int(std::clamp<size_t>(size_t(2 * int64_t(b.l2Bytes)) / bfBytes + 1, 1, 8));
          std::vector<DeviceBuffer> wb;
          for (int c = 0; c < bc; ++c) {
            wb.push_back(orDie(b.dev->alloc(bfBytes)));
            CHECK_OR_DIE(b.dev->fill(wb.back(), 0x11));
          }
          DeviceBuffer ab = orDie(b.dev->alloc(size_t(M * sh.k) * 2));
          CHECK_OR_DIE(b.dev->fill(ab, 0x11));
          cublasUs = 1e3 * timeRotating(b, bc, [&](int c) {
            return cublasGemm(cublas, ab.ptr(), wb[size_t(c)].ptr(), out.ptr(), int(M), int(sh.n), int(sh.k));
          });
        }
        if (M == 1) {
          decodeQcc[fi] += us;
          if (fi == 0) decodeCublas += cublasUs;
        }
        char line[512];
        std::snprintf(line, sizeof line, "| %s | %s %lldx%lld | %lld | %.1f | %.1f | %.0f%% | %s | %s |\n",
                      gemmFormatName(f), sh.name, (long long)sh.n, (long long)sh.k, (long long)M, us, roofUs,
                      100.0 * roofUs / us, cublas.ok() ? std::to_string(int(std::lround(cublasUs))).c_str() : "-",
                      cublas.ok() ? (std::to_string(cublasUs / us).substr(0, 4) + "x").c_str() : "-");
        md << line;
        std::fputs(line, stdout);
        std::fflush(stdout);
      }
    }
  }
  md << "\n## Decode step of Llama-3.1-8B (M = 1, position 1023, 32 layers + lm_head, every kernel)\n\n";
  md << "| format | qcc ms/step | bytes read (GB) | roofline ms | % of roofline |\n|---|---|---|---|---|\n";
  for (ModelFormat mf : {ModelFormat::BF16, ModelFormat::FP8, ModelFormat::INT8, ModelFormat::W4A16}) {
    const DecodeResult r = timeDecodeStep(b, mf, 1023);
    const double roofMs = r.bytes / (bw * 1e9) * 1e3;
    const char *names[] = {"bf16", "fp8", "int8", "w4a16"};
    char line[256];
    std::snprintf(line, sizeof line, "| %s%s | %.2f | %.2f | %.2f | %.0f%% |\n", names[int(mf)],
                  mf == ModelFormat::FP8 && !b.target.hasFp8Mma ? " (weight-only)" : "", r.ms, r.bytes / 1e9,
                  roofMs, 100.0 * roofMs / r.ms);
    md << line;
    std::fputs(line, stdout);
    std::fflush(stdout);
  }
  md << "\n## Linear layers of one decoder layer at M = 1 (qkv + o + gate_up + down)\n\n";
  md << "| format | qcc us/layer | x 32 layers ms | cuBLAS bf16 us/layer |\n|---|---|---|---|\n";
  for (size_t fi = 0; fi < formats.size(); ++fi) {
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %.1f | %.2f | %s |\n", gemmFormatName(formats[fi]), decodeQcc[fi],
                  decodeQcc[fi] * 32 / 1e3, cublas.ok() ? std::to_string(int(std::lround(decodeCublas))).c_str() : "-");
    md << line;
  }
  std::printf("\n%s", md.str().c_str());
  if (!outPath.empty()) {
    std::ofstream o(outPath);
    o << md.str();
  }
  return 0;
}
