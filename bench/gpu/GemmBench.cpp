// qcc-gpu-bench [--out FILE] [--quick] [--sections roofline,gemm,decode,nvrtc]
// What qcc's kernels achieve on this GPU, as Markdown tables (stdout, and FILE):
//   * the measured roofline: copy bandwidth and the tensor-core peaks of the
//     instructions qcc's GEMMs use (BenchDevice.h);
//   * every GEMM format at M = 1, 16, 128, 2048 on the Llama-3.1-8B linear
//     shapes against that roofline and against cuBLAS (bf16) and cuBLASLt
//     (bf16, e4m3 where the GPU has fp8, s8), same shapes and rotation;
//   * the decode step of an 8B-shaped model (2 layers, synthetic weights) per
//     format against its weight-bytes roofline (DecodeStep.h);
//   * NVRTC compiling every kernel of the 8B model per format, from an empty
//     kernel cache (cold) and again from it (warm);
//   * the issue-15 targets, met or not, from the numbers above.
// Weights are filled with a constant byte (speed does not depend on values)
// and rotated over copies that together exceed the L2 cache.
// On the emulated driver (QCC_EMU_KERNELS set: a rehearsal without a GPU)
// every size is scaled down, cuBLAS is absent and every time is the host's.
#include "BenchDevice.h"
#include "Cublas.h"
#include "DecodeStep.h"
#include "LlamaKernelSet.h"

#include "codegen/cuda/Compile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace qcc;
using namespace qcc::bench;
using cuda::GemmFormat;

namespace {

const char *kTool = "qcc-gpu-bench";

struct Shape {
  const char *name;
  int64_t n, k;
};

size_t weightBytes(GemmFormat f, int64_t n, int64_t k) {
  switch (f) {
  case GemmFormat::BF16: return size_t(n * k * 2);
  case GemmFormat::W4A16: return size_t((n + 7) / 8 * 8 * k / 2);
  default: return size_t(n * k);
  }
}
size_t scaleBytes(GemmFormat f, int64_t n, int64_t k) {
  return f == GemmFormat::W4A16 ? size_t(k / 128 * ((n + 7) / 8 * 8) * 4) : size_t(n * 4);
}
size_t activationBytes(GemmFormat f, int64_t m, int64_t k) {
  return size_t(m * k) * (f == GemmFormat::INT8 || f == GemmFormat::FP8 ? 1 : 2);
}

// Copies of `bytes` that together exceed twice the L2 (at most 8).
int rotationCopies(const BenchDevice &b, size_t bytes) {
  return int(std::clamp<size_t>(size_t(2 * int64_t(b.l2Bytes)) / std::max<size_t>(bytes, 1) + 1, 1, 8));
}

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The cuBLASLt input type that matches a qcc format's math.
Cublas::Lt ltFor(GemmFormat f) {
  return f == GemmFormat::FP8 ? Cublas::Lt::E4m3 : f == GemmFormat::INT8 ? Cublas::Lt::S8 : Cublas::Lt::Bf16;
}

struct GemmRow {
  GemmFormat format;
  Shape shape;
  int64_t m;
  double qccUs, roofUs, cublasUs, ltBf16Us, lt8Us; // < 0: not measured
};

std::vector<GemmRow> benchGemms(BenchDevice &b, const Roofline &roof, Cublas *cublas, const std::vector<Shape> &shapes,
                                const std::vector<int64_t> &ms, std::ostream &log) {
  std::vector<GemmFormat> formats = {GemmFormat::BF16, GemmFormat::INT8, GemmFormat::W4A16};
  formats.insert(formats.begin() + 1, b.target.hasFp8Mma ? GemmFormat::FP8 : GemmFormat::FP8WeightOnly);
  std::map<std::string, double> baseline; // cuBLAS times per (kind, shape, M), shared by the formats
  std::vector<GemmRow> rows;
  auto specOf = [&](GemmFormat f, const Shape &sh, int64_t M) {
    cuda::KernelSpec spec;
    spec.kind = cuda::KernelKind::Gemm;
    spec.format = f;
    spec.n = sh.n;
    spec.k = sh.k;
    spec.tile = cuda::chooseGemmTile(b.target, f, M, sh.n, sh.k);
    return spec;
  };
  std::vector<cuda::KernelSpec> all;
  for (GemmFormat f : formats)
    for (const Shape &sh : shapes)
      for (int64_t M : ms) all.push_back(specOf(f, sh, M));
  b.prebuild(all);
  for (GemmFormat f : formats)
    for (const Shape &sh : shapes) {
      const size_t wBytes = weightBytes(f, sh.n, sh.k);
      const int copies = rotationCopies(b, wBytes);
      std::vector<cuda::DeviceBuffer> w;
      for (int c = 0; c < copies; ++c) w.push_back(b.filled(wBytes, 0x11));
      cuda::DeviceBuffer scales = b.filled(scaleBytes(f, sh.n, sh.k), 0x3c);
      for (int64_t M : ms) {
        const cuda::KernelSpec spec = specOf(f, sh, M);
        CUfunction fn = b.load(spec);
        cuda::DeviceBuffer a = b.filled(activationBytes(f, M, sh.k), 0x11), tok = b.filled(size_t(M) * 4, 0x3c),
                           out = b.filled(size_t(M * sh.n) * 4, 0); // 4 bytes: cuBLASLt s8 writes int32
        CUdeviceptr pa = a.ptr(), pt = tok.ptr(), pc = scales.ptr(), pr = 0, po = out.ptr(), pw = 0;
        int m32 = int(M);
        void *args[] = {&pa, &pw, &pt, &pc, &pr, &po, &m32};
        const cuda::LaunchDims d = cuda::launchDims(spec, M);
        int rot = 0;
        GemmRow row{f, sh, M, 0, 0, -1, -1, -1};
        row.qccUs = 1e3 * b.timeMs([&] {
          pw = w[size_t(rot++ % copies)].ptr();
          return b.dev->launch(fn, d.grid, d.block, 0, args);
        });
        const double flops = 2.0 * double(M) * double(sh.n) * double(sh.k);
        const double bytes = double(wBytes + scaleBytes(f, sh.n, sh.k) + activationBytes(f, M, sh.k) + size_t(M * sh.n) * 2);
        row.roofUs = 1e6 * std::max(bytes / (roof.copyGBs * 1e9), flops / (roof.peakFor(f) * 1e12));
        if (cublas) {
          // The same shape in the library, weights rotated the same way.
          auto timeLib = [&](const std::string &kind, size_t elemBytes, const std::function<Status(CUdeviceptr, CUdeviceptr)> &call) {
            double &us = baseline[kind + "/" + sh.name + "/" + std::to_string(M)];
            if (us != 0) return us;
            const size_t libBytes = size_t(sh.n * sh.k) * elemBytes;
            const int libCopies = rotationCopies(b, libBytes);
            std::vector<cuda::DeviceBuffer> lw;
            for (int c = 0; c < libCopies; ++c) lw.push_back(b.filled(libBytes, 0x11));
            cuda::DeviceBuffer la = b.filled(size_t(M * sh.k) * elemBytes, 0x11);
            int lrot = 0;
            Status first = call(la.ptr(), lw[0].ptr());
            if (!first) {
              log << "- " << kind << " " << sh.name << " M=" << M << ": " << first.message() << "\n";
              return us = -1;
            }
            return us = 1e3 * b.timeMs([&] { return call(la.ptr(), lw[size_t(lrot++ % libCopies)].ptr()); });
          };
          row.cublasUs = timeLib("cublas-bf16", 2, [&](CUdeviceptr A, CUdeviceptr W) {
            return cublas->gemmBf16(A, W, po, int(M), int(sh.n), int(sh.k));
          });
          row.ltBf16Us = timeLib("cublaslt-bf16", 2, [&](CUdeviceptr A, CUdeviceptr W) {
            return cublas->lt(Cublas::Lt::Bf16, A, W, po, int(M), int(sh.n), int(sh.k));
          });
          const Cublas::Lt lt8 = ltFor(f);
          if (lt8 != Cublas::Lt::Bf16)
            row.lt8Us = timeLib(std::string("cublaslt-") + ltName(lt8), 1, [&](CUdeviceptr A, CUdeviceptr W) {
              return cublas->lt(lt8, A, W, po, int(M), int(sh.n), int(sh.k));
            });
        }
        rows.push_back(row);
        std::printf("gemm %s %s M=%lld: %.1f us\n", cuda::gemmFormatName(f), sh.name, (long long)M, row.qccUs);
        std::fflush(stdout);
      }
    }
  return rows;
}

std::string us(double v) { return v < 0 ? "-" : fmt(v < 100 ? "%.1f" : "%.0f", v); }
std::string ratio(double lib, double qcc) { return lib <= 0 || qcc <= 0 ? "-" : fmt("%.2fx", lib / qcc); }

} // namespace

int main(int argc, char **argv) {
  std::string outPath, sections = "roofline,gemm,decode,nvrtc";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) outPath = argv[++i];
    else if (a == "--sections" && i + 1 < argc) sections = argv[++i];
    else if (a == "--quick") quick = true;
    else die(kTool, "unexpected argument '" + a + "' (usage: qcc-gpu-bench [--out FILE] [--quick] [--sections ...])");
  }
  auto wants = [&](const char *s) { return ("," + sections + ",").find("," + std::string(s) + ",") != std::string::npos; };
  BenchDevice b = BenchDevice::open(kTool);
  std::ostringstream md, notes;
  md << "# qcc on " << b.dev->name() << "\n\n" << b.describe() << "\n\n";

  // The roofline is needed by the GEMM table and the decode step.
  const Roofline roof = measureRoofline(b);
  md << "## Measured roofline\n\n" << roof.describe() << ".\n\n";
  std::printf("%s\n", roof.describe().c_str());

  // Sizes: the Llama-3.1-8B linears; scaled down 16x on the emulated driver.
  const int64_t div = b.emulated ? 16 : 1;
  const std::vector<Shape> shapes = {{"qkv", 6144 / div, 4096 / div},
                                     {"o", 4096 / div, 4096 / div},
                                     {"gate_up", 28672 / div, 4096 / div},
                                     {"down", 4096 / div, 14336 / div}};
  std::vector<int64_t> ms = quick ? std::vector<int64_t>{1, 128} : std::vector<int64_t>{1, 16, 128, 2048};
  if (b.emulated) ms = quick ? std::vector<int64_t>{1, 16} : std::vector<int64_t>{1, 16, 128, 256};

  std::vector<GemmRow> gemms;
  if (wants("gemm")) {
    std::string whyNoCublas;
    std::unique_ptr<Cublas> cublas;
    cuda::DeviceBuffer workspace;
    if (b.emulated) {
      whyNoCublas = "the emulated driver runs no library kernels";
    } else {
      workspace = b.filled(size_t(32) << 20, 0);
      cublas = Cublas::open(workspace.ptr(), workspace.size(), &whyNoCublas);
    }
    gemms = benchGemms(b, roof, cublas.get(), shapes, ms, notes);
    md << "## GEMMs: out[M][N] = A[M][K] . W[N][K]^T on the Llama-3.1-8B shapes" << (b.emulated ? " (scaled 1/16)" : "")
       << "\n\n";
    if (!cublas) md << "cuBLAS / cuBLASLt: not measured (" << whyNoCublas << ").\n\n";
    md << "Roofline: max(bytes / copy bandwidth, flops / the format's tensor peak). cuBLASLt 8-bit: e4m3 for fp8 "
          "rows, s8 (int32 out) for int8 rows.\n\n";
    md << "| format | shape (N x K) | M | qcc us | roofline us | % of roofline | cuBLAS bf16 us | cuBLASLt bf16 us | "
          "cuBLASLt 8-bit us | qcc vs cuBLASLt bf16 | qcc vs cuBLASLt 8-bit |\n";
    md << "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const GemmRow &r : gemms)
      md << "| " << cuda::gemmFormatName(r.format) << " | " << r.shape.name << " " << r.shape.n << "x" << r.shape.k
         << " | " << r.m << " | " << us(r.qccUs) << " | " << us(r.roofUs) << " | "
         << fmt("%.0f%%", 100.0 * r.roofUs / r.qccUs) << " | " << us(r.cublasUs) << " | " << us(r.ltBf16Us) << " | "
         << us(r.lt8Us) << " | " << ratio(r.ltBf16Us, r.qccUs) << " | " << ratio(r.lt8Us, r.qccUs) << " |\n";
    md << "\n";
    if (!notes.str().empty()) md << "Library calls that failed:\n\n" << notes.str() << "\n";
  }

  std::map<std::string, std::pair<DecodeResult, double>> decodes; // format -> result, roofline ms
  if (wants("decode")) {
    DecodeShape shape;
    if (b.emulated) {
      shape.hidden = 512, shape.intermediate = 1792, shape.heads = 4, shape.kvHeads = 1, shape.vocab = 4096;
      shape.maxSeq = 512, shape.position = 255;
    }
    md << "## Decode step of an 8B-shaped model" << (b.emulated ? " (scaled down)" : "") << ": " << shape.name()
       << ", synthetic weights, one CUDA graph per step\n\n";
    md << "Roofline: the bytes a step must read (every weight it uses, one embedding row, the KV cache up to the "
          "position) at the measured copy bandwidth.\n\n";
    md << "| format | launches | qcc ms/step | bytes read (GB) | roofline ms | % of roofline |\n|---|---|---|---|---|---|\n";
    for (const char *f : {"bf16", "fp8", "int8", "w4a16"}) {
      const DecodeResult r = timeDecodeStep(b, shape, f);
      const double roofMs = r.bytes / (roof.copyGBs * 1e9) * 1e3;
      decodes[f] = {r, roofMs};
      md << "| " << f << (std::string(f) == "fp8" && !b.target.hasFp8Mma ? " (weight-only)" : "") << " | "
         << r.launches << " | " << fmt("%.3f", r.ms) << " | " << fmt("%.3f", r.bytes / 1e9) << " | "
         << fmt("%.3f", roofMs) << " | " << fmt("%.0f%%", 100.0 * roofMs / r.ms) << " |\n";
      std::printf("decode %s: %.3f ms/step\n", f, r.ms);
      std::fflush(stdout);
    }
    md << "\n";
  }

  if (wants("nvrtc")) {
    ModelConfig c;
    c.hiddenSize = 4096, c.intermediateSize = 14336, c.numLayers = 32, c.numHeads = 32, c.numKvHeads = 8;
    c.headDim = 128, c.vocabSize = 128256, c.maxPositionEmbeddings = 131072, c.ropeTheta = 500000.0;
    c.ropeScaling.enabled = true;
    md << "## NVRTC: every kernel of Llama-3.1-8B for " << b.target.name << " (the host's "
       << std::max(1u, std::thread::hardware_concurrency()) << " threads)\n\n";
    md << "| format | kernels | cold (empty cache) s | warm (cached) s |\n|---|---|---|---|\n";
    using cuda::testing::ModelFormat;
    for (ModelFormat f : {ModelFormat::BF16, ModelFormat::FP8, ModelFormat::INT8, ModelFormat::W4A16}) {
      auto specs = cuda::testing::llamaKernelSet(c, f, b.target, 8192, /*fp8WeightOnly=*/true);
      if (!specs) die(kTool, specs.message());
      std::vector<cuda::GeneratedKernel> gen;
      for (const cuda::KernelSpec &s : *specs) // (every residual add lives in a GEMM epilogue)
        if (s.kind != cuda::KernelKind::Add) gen.push_back(orDie(kTool, cuda::generateKernel(s, b.target)));
      char tmpl[] = "/tmp/qcc-bench-nvrtc-XXXXXX";
      const char *dir = mkdtemp(tmpl);
      if (!dir) die(kTool, "mkdtemp failed");
      cuda::CompileOptions o;
      o.cacheDir = dir;
      auto secs = [&] {
        const auto t0 = std::chrono::steady_clock::now();
        orDie(kTool, cuda::compileKernels(gen, b.target, o));
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      };
      const double cold = secs(), warm = secs();
      md << "| " << cuda::testing::modelFormatName(f) << " | " << gen.size() << " | " << fmt("%.2f", cold) << " | "
         << fmt("%.3f", warm) << " |\n";
      std::printf("nvrtc %s: %zu kernels, cold %.2f s, warm %.3f s\n", cuda::testing::modelFormatName(f), gen.size(),
                  cold, warm);
      std::fflush(stdout);
    }
    md << "\n";
  }

  // The targets of issue 15, from the numbers above.
  if (!gemms.empty() || !decodes.empty()) {
    md << "## Targets (issue 15)\n\n| target | measured | met |\n|---|---|---|\n";
    for (const GemmRow &r : gemms)
      if (r.format == GemmFormat::W4A16 && r.m == 1) {
        const double bytes = double(weightBytes(r.format, r.shape.n, r.shape.k) + scaleBytes(r.format, r.shape.n, r.shape.k));
        const double pct = 100.0 * bytes / (roof.copyGBs * 1e9) / (r.qccUs * 1e-6);
        md << "| w4a16 GEMV " << r.shape.name << ": >= 85% of copy bandwidth | " << fmt("%.0f%%", pct) << " | "
           << (pct >= 85 ? "yes" : "no") << " |\n";
      }
    for (const GemmRow &r : gemms)
      if ((r.format == GemmFormat::FP8 || r.format == GemmFormat::INT8) && r.m == ms.back()) { // 2048 on a GPU
        const bool have = r.lt8Us > 0;
        md << "| " << cuda::gemmFormatName(r.format) << " " << r.shape.name << " M=" << r.m
           << ": >= 0.9x cuBLASLt 8-bit | " << (have ? ratio(r.lt8Us, r.qccUs) : "-") << " | "
           << (have ? (r.lt8Us / r.qccUs >= 0.9 ? "yes" : "no") : "not measured") << " |\n";
      }
    for (const auto &[f, rr] : decodes) {
      const double frac = rr.second / rr.first.ms;
      md << "| decode step " << f << ": >= 0.8x its roofline | " << fmt("%.2fx", frac) << " | "
         << (frac >= 0.8 ? "yes" : "no") << " |\n";
    }
    md << "\n";
    if (b.emulated) md << "(EMULATED: these verdicts are about host times and mean nothing.)\n\n";
  }

  std::printf("\n%s", md.str().c_str());
  if (!outPath.empty()) {
    std::ofstream o(outPath);
    o << md.str();
    if (!o) die(kTool, outPath + ": cannot write");
  }
  return 0;
}
