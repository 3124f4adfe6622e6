// qcc tune: times candidate GEMM tiles on the GPU for each (format, N, K, M
// bucket) and writes the fastest to a tile table (codegen/cuda/TileTable.h)
// that the kernel planner reads in place of its built-in choice.
#include "tools/qcc/Command.h"
#include "tools/qcc/OutputPath.h"

#include "codegen/cuda/Compile.h"
#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/TileTable.h"
#include "runtime/cuda/CudaDevice.h"

#include <cstdio>
#include <sstream>
#include <sys/stat.h>

namespace {

using namespace qcc;
using namespace qcc::cuda;

const char *kUsage =
    "usage: qcc tune [--target sm90] [--out tiles.json] [--formats bf16,int8,fp8,w4a16]\n"
    "                [--shapes N:K,...] [--iters 50]\n"
    "  On a GPU: for every format and GEMM shape (default: the Llama-3.1-8B linears,\n"
    "  q|k|v 6144:4096, o 4096:4096, gate|up 28672:4096, down 4096:14336, lm_head\n"
    "  128256:4096 in bf16) times candidate tiles at M = 1 (decode bucket) and\n"
    "  M = 512 (prefill bucket) and writes the winners to --out (merged into an\n"
    "  existing table). --target must be the GPU's own target. Use the table with\n"
    "  `qcc compile --tiles FILE`: the artifact stores it with the kernels and the\n"
    "  CUDA executor plans with it.\n";

struct Shape {
  int64_t n, k;
};

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The built-in choice first, then variations around it.
std::vector<GemmTile> candidates(const GpuTarget &t, GemmFormat f, int64_t M, int64_t N, int64_t K) {
  std::vector<GemmTile> out = {chooseGemmTile(t, f, M, N, K)};
  auto push = [&](GemmTile g) {
    for (const GemmTile &o : out)
      if (o == g) return;
    out.push_back(g);
  };
  if (M <= 16) {
    for (int nt : {2, 4, 8})
      for (int ks : {1, 2, 4, 8}) push(GemmTile{1, nt, 1, ks});
    push(GemmTile{1, 4, 2, 2});
  } else {
    for (GemmTile g : {GemmTile{2, 4, 4, 1}, GemmTile{2, 4, 4, 2}, GemmTile{1, 8, 2, 1}, GemmTile{2, 8, 2, 1},
                       GemmTile{2, 2, 4, 1}, GemmTile{4, 4, 2, 1}, GemmTile{1, 4, 4, 1}})
      push(g);
    if (t.hasWgmma && wgmmaSupports(f, K)) {
      GemmTile w;
      w.wgmma = true;
      push(w);
    }
  }
  return out;
}

int run(const std::vector<std::string> &args) {
  std::string targetName, out = "tiles.json";
  std::vector<std::string> formats = {"bf16", "int8", "fp8", "w4a16"};
  std::vector<Shape> shapes = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
  bool customShapes = false;
  int iters = 50;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto value = [&](std::string *dst) {
      if (i + 1 >= args.size()) return false;
      *dst = args[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--target") {
      if (!value(&targetName)) return cli::fail("tune", "--target needs a value");
    } else if (a == "--out") {
      if (!value(&out)) return cli::fail("tune", "--out needs a value");
    } else if (a == "--formats") {
      if (!value(&v)) return cli::fail("tune", "--formats needs a value");
      formats = split(v, ',');
    } else if (a == "--iters") {
      if (!value(&v)) return cli::fail("tune", "--iters needs a value");
      iters = std::atoi(v.c_str());
      if (iters < 1 || iters > 100000) return cli::fail("tune", "--iters must be in [1, 100000]");
    } else if (a == "--shapes") {
      if (!value(&v)) return cli::fail("tune", "--shapes needs a value");
      shapes.clear();
      customShapes = true;
      for (const std::string &s : split(v, ',')) {
        long long n = 0, k = 0;
        char tail = 0;
        if (std::sscanf(s.c_str(), "%lld:%lld%c", &n, &k, &tail) != 2 || n <= 0 || k <= 0 || n > (1 << 30) ||
            k > (1 << 30))
          return cli::fail("tune", "bad shape '" + s + "' (want N:K, e.g. 4096:14336)");
        shapes.push_back({n, k});
      }
    } else {
      return cli::fail("tune", "unexpected argument '" + a + "'\n" + kUsage);
    }
  }
  // --out before the GPU work (it is read too: an existing table is merged).
  if (Status os = cli::checkOutputPath(out, {}); !os) return cli::fail("tune", os.message());
  std::vector<GemmFormat> gemmFormats;
  for (const std::string &f : formats) {
    auto g = parseGemmFormat(f);
    if (!g) return cli::fail("tune", g.message());
    gemmFormats.push_back(*g);
  }

  // The device first: without one there is nothing to time.
  auto dev = CudaDevice::open(0);
  if (!dev) return cli::fail("tune", dev.message());
  const GpuTarget *target = targetForComputeCapability((*dev)->ccMajor(), (*dev)->ccMinor());
  if (!target) return cli::fail("tune", "qcc has no target for this " + (*dev)->name() + " (" + (*dev)->archName() + ")");
  if (!targetName.empty()) {
    auto t = findTarget(targetName);
    if (!t) return cli::fail("tune", t.message());
    if (std::string((*t)->name) != target->name)
      return cli::fail("tune", std::string("--target ") + (*t)->name + " is not this GPU's target " + target->name +
                                   "; tune on the GPU you compile for");
  }
  GpuTarget gpu = *target;
  gpu.smCount = (*dev)->smCount(); // the real SM count for the built-in choice

  TileTable table;
  struct stat st;
  if (::stat(out.c_str(), &st) == 0) {
    auto old = readTileTable(out);
    if (!old) return cli::fail("tune", old.message());
    table = std::move(*old);
  }

  std::printf("tuning on %s (%s), %d iterations per candidate\n", (*dev)->name().c_str(), target->name, iters);
  for (GemmFormat f : gemmFormats) {
    if (f == GemmFormat::FP8 && !target->hasFp8Mma) {
      std::printf("skipping fp8: %s has no fp8 tensor cores (fp8w is the fallback format)\n", target->name);
      continue;
    }
    std::vector<Shape> fs = shapes;
    if (!customShapes && f == GemmFormat::BF16) fs.push_back({128256, 4096}); // lm_head
    for (const Shape &s : fs)
      for (int64_t M : {int64_t(1), int64_t(512)}) {
        const bool decode = M <= 16;
        // Buffers sized for the largest operand of this shape: bf16 A/out, W as bf16.
        auto A = (*dev)->alloc(size_t(M * s.k * 2));
        auto W = (*dev)->alloc(size_t(s.n * s.k * 2));
        auto tok = (*dev)->alloc(size_t(M * 4));
        auto ch = (*dev)->alloc(size_t(s.n * (s.k / 128 + 8) * 4));
        auto O = (*dev)->alloc(size_t(M * s.n * 2));
        for (auto *b : {&A, &W, &tok, &ch, &O})
          if (!*b) return cli::fail("tune", b->message());
        // Small finite values in every format (0x11: bf16 ~1e-28, int8 17, e4m3 ~0.0088, f32 ~1e-28).
        for (auto *b : {&A, &W, &tok, &ch})
          if (Status fs2 = (*dev)->fill(**b, 0x11); !fs2) return cli::fail("tune", fs2.message());
        TileEntry best;
        best.ms = -1;
        for (const GemmTile &tile : candidates(gpu, f, M, s.n, s.k)) {
          KernelSpec spec;
          spec.kind = KernelKind::Gemm;
          spec.format = f;
          spec.n = s.n;
          spec.k = s.k;
          spec.group = 128;
          spec.tile = tile;
          auto gen = generateKernel(spec, gpu);
          if (!gen) continue; // a tile the template cannot take for this shape
          auto k = compileKernel(*gen, gpu);
          if (!k) return cli::fail("tune", k.message());
          auto mod = (*dev)->loadModule(k->cubin.data(), k->name);
          if (!mod) return cli::fail("tune", mod.message());
          auto fn = (*dev)->function(*mod, k->name);
          if (!fn) return cli::fail("tune", fn.message());
          CUdeviceptr pa = A->ptr(), pw = W->ptr(), pt = tok->ptr(), pc = ch->ptr(), pr = 0, po = O->ptr();
          int m32 = int(M);
          void *kargs[] = {&pa, &pw, &pt, &pc, &pr, &po, &m32};
          const LaunchDims d = launchDims(spec, M);
          auto body = [&]() { return (*dev)->launch(*fn, d.grid, d.block, 0, kargs); };
          for (int w = 0; w < 3; ++w)
            if (Status ls = body(); !ls) return cli::fail("tune", ls.message());
          auto ms = (*dev)->timeMs(iters, body);
          if (!ms) return cli::fail("tune", ms.message());
          std::printf("  %-6s N=%-6lld K=%-6lld M=%-4lld %-40s %.4f ms\n", gemmFormatName(f),
                      static_cast<long long>(s.n), static_cast<long long>(s.k), static_cast<long long>(M),
                      k->name.c_str(), double(*ms));
          if (best.ms < 0 || *ms < best.ms) {
            best.tile = tile;
            best.ms = *ms;
          }
        }
        if (best.ms < 0) continue;
        best.target = target->name;
        best.format = f;
        best.n = s.n;
        best.k = s.k;
        best.decode = decode;
        bool replaced = false;
        for (TileEntry &e : table.entries)
          if (e.target == best.target && e.format == f && e.n == s.n && e.k == s.k && e.decode == decode) {
            e = best;
            replaced = true;
          }
        if (!replaced) table.entries.push_back(best);
      }
  }
  if (Status ws = writeTileTable(out, table); !ws) return cli::fail("tune", ws.message());
  std::printf("wrote %zu tile entries to %s\n", table.entries.size(), out.c_str());
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(tune, "tune", "time GEMM tile candidates on the GPU and write a tile table", run);
