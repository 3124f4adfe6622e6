#include "BenchDevice.h"

#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelSources.h"
#include "codegen/cuda/Nvrtc.h"
#include "runtime/cuda/CudaDriver.h"
#ifdef QCC_HOST_KERNEL_BUILDS
#include "HostKernels.h"
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

namespace qcc::bench {

void die(const std::string &tool, const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), message.c_str());
  std::exit(1);
}

BenchDevice BenchDevice::open(const char *tool) {
  BenchDevice b;
  b.tool = tool;
  const char *emu = std::getenv("QCC_EMU_KERNELS");
  b.emulated = emu && *emu;
#ifndef QCC_HOST_KERNEL_BUILDS
  if (b.emulated) die(tool, "QCC_EMU_KERNELS is set but this build cannot make host kernels for the emulated driver");
#endif
  b.dev = orDie(tool, cuda::CudaDevice::open(0));
  if (const cuda::GpuTarget *t = cuda::targetForComputeCapability(b.dev->ccMajor(), b.dev->ccMinor())) {
    b.target = *t;
  } else {
    die(tool, b.dev->name() + " (" + b.dev->archName() + ") is not a qcc target");
  }
  b.target.smCount = b.dev->smCount();
  b.l2Bytes = orDie(tool, b.dev->attribute(38)); // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
  return b;
}

std::string BenchDevice::describe() const {
  const int v = dev->driver().version();
  auto nvrtc = cuda::Nvrtc::get();
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::ostringstream s;
  s << dev->name() << " (" << dev->archName() << ", " << dev->smCount() << " SMs, "
    << dev->totalMemory() / (1024 * 1024) << " MiB), CUDA driver " << v / 1000 << "." << (v % 1000) / 10
    << ", NVRTC " << (nvrtc ? (*nvrtc)->version() : std::string("unavailable")) << ", " << date;
  if (emulated)
    s << " -- EMULATED: the emulated CUDA driver runs host builds of the kernels; every time below is the host's "
         "time of the emulation and says nothing about a GPU; sizes are scaled down";
  return s.str();
}

void BenchDevice::prebuild(const std::vector<cuda::KernelSpec> &specs) {
  std::vector<cuda::GeneratedKernel> gen;
  std::set<std::string> seen;
  for (const cuda::KernelSpec &s : specs) {
    cuda::GeneratedKernel g = orDie(tool, cuda::generateKernel(s, target));
    if (seen.insert(g.name).second) gen.push_back(std::move(g));
  }
  orDie(tool, cuda::compileKernels(gen, target));
#ifdef QCC_HOST_KERNEL_BUILDS
  if (emulated) checkOrDie(tool, cuda::testing::buildHostKernelsIfEmulated(gen));
#endif
}

CUfunction BenchDevice::load(const cuda::GeneratedKernel &g) {
#ifdef QCC_HOST_KERNEL_BUILDS
  if (emulated) checkOrDie(tool, cuda::testing::buildHostKernelsIfEmulated({g}));
#endif
  cuda::CompiledKernel k = orDie(tool, cuda::compileKernel(g, target));
  modules.push_back(std::make_unique<cuda::CudaModule>(orDie(tool, dev->loadModule(k.cubin.data(), g.name))));
  return orDie(tool, dev->function(*modules.back(), g.name));
}

CUfunction BenchDevice::load(const cuda::KernelSpec &spec) {
  return load(orDie(tool, cuda::generateKernel(spec, target)));
}

void BenchDevice::launch(CUfunction f, const cuda::KernelSpec &spec, int64_t rows, std::vector<void *> args) {
  const cuda::LaunchDims d = cuda::launchDims(spec, rows);
  checkOrDie(tool, dev->launch(f, d.grid, d.block, 0, args.data()));
}

double BenchDevice::timeMs(const std::function<Status()> &body, int minIters) {
  if (emulated) { // launches run synchronously on the host
    const auto t0 = std::chrono::steady_clock::now();
    checkOrDie(tool, body());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  checkOrDie(tool, body()); // warm-up (module load, JIT, caches)
  checkOrDie(tool, dev->synchronize());
  const double first = orDie(tool, dev->timeMs(3, body));
  // About 50 ms of work per measurement, at least minIters runs.
  const int iters = std::clamp(int(50.0 / std::max(first, 1e-3)), minIters, 2000);
  return orDie(tool, dev->timeMs(iters, body));
}

cuda::DeviceBuffer BenchDevice::filled(size_t bytes, uint8_t byte) {
  cuda::DeviceBuffer d = orDie(tool, dev->alloc(std::max<size_t>(bytes, 1)));
  checkOrDie(tool, dev->fill(d, byte));
  return d;
}

namespace {

// The templates' text without `#pragma once` (one translation unit).
std::string templateText(const char *name) {
  std::string s = cuda::kernelSource(name) ? cuda::kernelSource(name) : "";
  if (size_t p = s.find("#pragma once"); p != std::string::npos) s.erase(p, 12);
  return s;
}

const char *kCopySource = R"(
extern "C" __global__ void qcc_bench_copy(const uint4 *src, uint4 *dst, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = src[i];
}
)";

// 8 independent mma.sync accumulators per thread over `iters` rounds, with
// the GEMMs' own helpers (gemm.cuh); the sum is stored so the math stays.
std::string mmaPeakSource(const std::string &name, const char *helper, bool intAcc) {
  const char *t = intAcc ? "int" : "float";
  std::ostringstream s;
  s << templateText("common.cuh") << templateText("gemm.cuh") << "extern \"C\" __global__ void " << name << "("
    << t << " *out, int iters) {\n"
    << "  " << t << " acc[8][4];\n"
    << "  for (int j = 0; j < 8; ++j) for (int i = 0; i < 4; ++i) acc[j][i] = 0;\n"
    << "  const u32 x = threadIdx.x;\n"
    << "  const u32 a[4] = {0x3f803f80u ^ (x & 7u), 0x3f803f80u ^ (x * 3u & 7u), 0x3f803f80u ^ (x * 5u & 7u), "
       "0x3f803f80u ^ (x * 7u & 7u)};\n"
    << "  const u32 b[2] = {0x3f803f80u ^ (x * 11u & 7u), 0x3f803f80u ^ (x * 13u & 7u)};\n"
    << "  for (int it = 0; it < iters; ++it)\n"
    << "#pragma unroll\n"
    << "    for (int j = 0; j < 8; ++j) " << helper << "(acc[j], a, b);\n"
    << "  " << t << " sum = 0;\n"
    << "  for (int j = 0; j < 8; ++j) sum += acc[j][0] + acc[j][1] + acc[j][2] + acc[j][3];\n"
    << "  out[blockIdx.x * blockDim.x + threadIdx.x] = sum;\n}\n";
  return s.str();
}

// One warpgroup per block issuing the GEMM's wgmma pattern: per round 4 k
// steps x 2 column halves of m64n64 from a shared W tile in its layout, then
// commit and wait (as qcc_gemm_wgmma does per stage).
std::string wgmmaPeakSource(const std::string &name, const char *helper, bool intAcc) {
  const char *t = intAcc ? "int" : "float";
  std::ostringstream s;
  s << templateText("common.cuh") << templateText("gemm.cuh") << "extern \"C\" __global__ void __launch_bounds__(128) "
    << name << "(" << t << " *out, int iters) {\n"
    << "  __shared__ __align__(128) u8 tile[4 * 128 * 32];\n"
    << "  for (int i = threadIdx.x; i < 4 * 128 * 32 / 4; i += 128)\n"
    << "    reinterpret_cast<u32 *>(tile)[i] = 0x3f803f80u ^ ((u32)i * 2654435761u & 0x00070007u);\n"
    << "  QCC_FENCE_PROXY_ASYNC();\n  __syncthreads();\n"
    << "  " << t << " d[2][32];\n"
    << "  for (int h = 0; h < 2; ++h) for (int i = 0; i < 32; ++i) d[h][i] = 0;\n"
    << "  const u32 x = threadIdx.x;\n"
    << "  const u32 a[4] = {0x3f803f80u ^ (x & 7u), 0x3f803f80u ^ (x * 3u & 7u), 0x3f803f80u ^ (x * 5u & 7u), "
       "0x3f803f80u ^ (x * 7u & 7u)};\n"
    << "  for (int it = 0; it < iters; ++it) {\n"
    << "    QCC_WGMMA_FENCE();\n"
    << "#pragma unroll\n"
    << "    for (int s = 0; s < 4; ++s)\n"
    << "#pragma unroll\n"
    << "      for (int h = 0; h < 2; ++h) " << helper << "(d[h], a, wg_desc(tile + s * 4096 + h * 8 * 256, 128, 256));\n"
    << "    QCC_WGMMA_COMMIT_AND_WAIT();\n  }\n"
    << "  " << t << " sum = 0;\n"
    << "  for (int h = 0; h < 2; ++h) for (int i = 0; i < 32; ++i) sum += d[h][i];\n"
    << "  out[blockIdx.x * blockDim.x + threadIdx.x] = sum;\n}\n";
  return s.str();
}

// Tensor throughput (TFLOP/s or TOP/s) of a peak kernel: `opsPerRound` per
// thread block and round.
double measurePeak(BenchDevice &b, const std::string &name, const std::string &source, unsigned threads,
                   double opsPerRound) {
  CUfunction f = b.load(cuda::GeneratedKernel{name, source, threads});
  const unsigned blocks = unsigned(b.dev->smCount()) * (b.emulated ? 1u : 4u) / (b.emulated ? 66u : 1u);
  cuda::DeviceBuffer out = b.filled(size_t(blocks) * threads * 4, 0);
  CUdeviceptr po = out.ptr();
  int iters = b.emulated ? 2 : 4096;
  void *args[] = {&po, &iters};
  const unsigned grid[3] = {blocks, 1, 1};
  const double ms = b.timeMs([&] { return b.dev->launch(f, grid, threads, 0, args); });
  return double(blocks) * iters * opsPerRound / (ms * 1e-3) / 1e12;
}

} // namespace

static std::string fmt4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

double Roofline::peakFor(cuda::GemmFormat f) const {
  switch (f) {
  case cuda::GemmFormat::INT8: return std::max(mmaS8, wgmmaS8);
  case cuda::GemmFormat::FP8: return std::max(mmaE4m3, wgmmaE4m3);
  default: return std::max(mmaBf16, wgmmaBf16); // bf16 math: bf16, w4a16, fp8 weight-only
  }
}

std::string Roofline::describe() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "copy bandwidth %.4g GB/s (read + write); tensor peaks in TFLOP/s (TOP/s for s8), mma.sync: bf16 %.4g, "
                "s8 %.4g, e4m3 %s",
                copyGBs, mmaBf16, mmaS8, mmaE4m3 > 0 ? fmt4(mmaE4m3).c_str() : "-");
  std::string s = buf;
  if (wgmmaBf16 > 0) {
    std::snprintf(buf, sizeof buf, "; wgmma m64n64 (the shape qcc's sm_90a GEMMs issue): bf16 %.4g, s8 %.4g, e4m3 %.4g",
                  wgmmaBf16, wgmmaS8, wgmmaE4m3);
    s += buf;
  }
  return s;
}

Roofline measureRoofline(BenchDevice &b) {
  Roofline r;
  {
    const size_t bytes = b.emulated ? size_t(8) << 20 : size_t(1) << 30;
    cuda::DeviceBuffer src = b.filled(bytes, 1), dst = b.filled(bytes, 0);
    CUfunction f = b.load(cuda::GeneratedKernel{"qcc_bench_copy", kCopySource, 256});
    CUdeviceptr ps = src.ptr(), pd = dst.ptr();
    long long n = (long long)(bytes / 16);
    void *args[] = {&ps, &pd, &n};
    const unsigned grid[3] = {unsigned(b.dev->smCount() * 8), 1, 1};
    const double ms = b.timeMs([&] { return b.dev->launch(f, grid, 256, 0, args); }, 10);
    r.copyGBs = 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
  }
  const double mmaBf16Ops = 8 * 8 * 2.0 * 16 * 8 * 16, mma8Ops = 8 * 8 * 2.0 * 16 * 8 * 32; // per block round: 8 warps x 8
  r.mmaBf16 = measurePeak(b, "qcc_peak_mma_bf16", mmaPeakSource("qcc_peak_mma_bf16", "mma_bf16", false), 256, mmaBf16Ops);
  r.mmaS8 = measurePeak(b, "qcc_peak_mma_s8", mmaPeakSource("qcc_peak_mma_s8", "mma_s8", true), 256, mma8Ops);
  if (b.target.hasFp8Mma)
    r.mmaE4m3 = measurePeak(b, "qcc_peak_mma_e4m3", mmaPeakSource("qcc_peak_mma_e4m3", "mma_e4m3", false), 256, mma8Ops);
  if (b.target.hasWgmma) {
    const double wgBf16Ops = 8 * 2.0 * 64 * 64 * 16, wg8Ops = 8 * 2.0 * 64 * 64 * 32; // per block round: 8 wgmmas
    r.wgmmaBf16 = measurePeak(b, "qcc_peak_wgmma_bf16", wgmmaPeakSource("qcc_peak_wgmma_bf16", "wgmma_bf16", false),
                              128, wgBf16Ops);
    r.wgmmaS8 = measurePeak(b, "qcc_peak_wgmma_s8", wgmmaPeakSource("qcc_peak_wgmma_s8", "wgmma_s8", true), 128, wg8Ops);
    r.wgmmaE4m3 = measurePeak(b, "qcc_peak_wgmma_e4m3", wgmmaPeakSource("qcc_peak_wgmma_e4m3", "wgmma_e4m3", false),
                              128, wg8Ops);
  }
  return r;
}

} // namespace qcc::bench
