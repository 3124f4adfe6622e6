// qcc inspect model.qcc [--tensors]: what an artifact holds — config, formats
// and methods per layer, sizes by format, kernels per target, provenance.
#include "tools/qcc/Command.h"

#include "codegen/cuda/TileTable.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/program/Program.h"
#include "support/Printable.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace {

using namespace qcc::artifact;

const char *kUsage =
    "usage: qcc inspect MODEL.qcc [--verify] [--tensors] [--kernels]\n"
    "  Checks the artifact's header and prints its model config, the format and\n"
    "  method of every linear per layer, sizes by format, kernels per target and\n"
    "  provenance. --verify also hashes every tensor and kernel image against the\n"
    "  header (what `qcc run` and `qcc eval` do at load) and fails on a mismatch.\n"
    "  --tensors also lists every tensor with its byte ranges, --kernels every\n"
    "  kernel with its block, its grid (T: the rows of a call) and launches.\n";

std::string bytesText(uint64_t n) {
  char buf[64];
  if (n >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(n) / double(1 << 30));
  else if (n >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", double(n) / double(1 << 20));
  else if (n >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  return buf;
}

// "fp8 rtn", "w4a16/g128 gptq+mse sq0.50", "bf16".
// A grid dimension: a constant, or ceil(T * mul / div) of the rows T.
std::string gridText(const GridDim &d) {
  if (d.rowsDiv == 0) return std::to_string(d.constant);
  std::string t = d.rowsMul == 1 ? "T" : std::to_string(d.rowsMul) + "T";
  return d.rowsDiv == 1 ? t : "ceil(" + t + "/" + std::to_string(d.rowsDiv) + ")";
}

// "a.b.q_proj|a.b.k_proj" (a fused GEMM's parts) as "a.b.q_proj+k_proj".
std::string fusedName(const std::string &name) {
  std::vector<std::string> parts;
  for (size_t begin = 0;;) {
    size_t bar = name.find('|', begin);
    parts.push_back(name.substr(begin, bar - begin));
    if (bar == std::string::npos) break;
    begin = bar + 1;
  }
  if (parts.size() == 1) return name;
  const size_t dot = parts[0].rfind('.');
  const std::string prefix = dot == std::string::npos ? "" : parts[0].substr(0, dot + 1);
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i)
    out += "+" + (parts[i].compare(0, prefix.size(), prefix) == 0 ? parts[i].substr(prefix.size()) : parts[i]);
  return out;
}

std::string linearText(const TensorDecl &d) {
  std::string s = d.format == WeightFormat::Dense ? std::string("dense:") + qcc::dtypeName(d.dtype)
                                                  : std::string(formatName(d.format));
  if (d.format == WeightFormat::W4A16) s += "/g" + std::to_string(d.groupSize);
  if (d.method != QuantMethod::None) s += std::string(" ") + methodName(d.method);
  if (d.mseClip) s += "+mse";
  if (d.smoothquantAlpha >= 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " sq%.2f", double(d.smoothquantAlpha));
    s += buf;
  }
  return s;
}

int runInspect(const std::vector<std::string> &args) {
  std::string path;
  bool listTensors = false, listKernels = false, verify = false;
  for (const std::string &a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--tensors") listTensors = true;
    else if (a == "--verify") verify = true;
    else if (a == "--kernels") listKernels = true;
    else if (!a.empty() && a[0] == '-') return qcc::cli::fail("inspect", "unknown option '" + a + "'");
    else if (path.empty()) path = a;
    else return qcc::cli::fail("inspect", "unexpected argument '" + a + "'");
  }
  if (path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // The index only: a corrupt weight must not hide what the file claims to be.
  LoadLimits indexOnly;
  indexOnly.verifyContent = false;
  auto file = ArtifactFile::open(path, indexOnly);
  if (!file) return qcc::cli::fail("inspect", file.message());
  const ArtifactFile &f = **file;
  std::string contentLine = "not verified (--verify hashes every tensor and kernel image)";
  if (verify) {
    const auto t0 = std::chrono::steady_clock::now();
    auto checked = f.verifyContent();
    if (!checked) return qcc::cli::fail("inspect", checked.message());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char buf[160];
    std::snprintf(buf, sizeof buf, "verified: %zu tensors and %zu kernel images (%s) match their XXH3-128 hashes, %.2f s",
                  checked->tensors, checked->kernels, bytesText(checked->bytes).c_str(), seconds);
    contentLine = buf;
  }
  const ArtifactSpec &spec = f.spec();
  const qcc::ModelConfig &c = f.config();

  std::printf("%s: qcc artifact, format version %u, %s (header %s, raw section %s at offset %" PRIu64 ")\n",
              qcc::printable(path).c_str(), f.formatVersion(), bytesText(f.fileSize()).c_str(), bytesText(f.headerBytes()).c_str(),
              bytesText(f.rawSize()).c_str(), f.rawOffset());
  static const char *dtypes[] = {"float32", "bfloat16", "float16"};
  std::printf("config: layers %" PRId64 ", hidden %" PRId64 ", intermediate %" PRId64 ", heads %" PRId64
              " (kv %" PRId64 ", head_dim %" PRId64 "), vocab %" PRId64 ", max positions %" PRId64 "\n",
              c.numLayers, c.hiddenSize, c.intermediateSize, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize,
              c.maxPositionEmbeddings);
  std::printf("        rms_norm_eps %g, rope_theta %g%s, tied embeddings %s, checkpoint dtype %s\n", c.rmsNormEps,
              c.ropeTheta,
              c.ropeScaling.enabled ? (" (llama3 scaling x" + std::to_string(int(c.ropeScaling.factor)) + ")").c_str()
                                    : "",
              c.tieWordEmbeddings ? "yes" : "no", dtypes[int(c.torchDtype)]);

  // The CPU program, then every linear (and head) with its weights' formats.
  const qcc::program::Program &pg = spec.program;
  std::map<std::string, int> kinds;
  for (const qcc::program::Op &op : pg.ops) ++kinds[qcc::program::opKindName(op.kind)];
  std::string counts;
  for (const auto &[k, n] : kinds) counts += (counts.empty() ? "" : ", ") + k + " " + std::to_string(n);
  std::printf("program: %zu ops (%s), %d KV caches, %s activations\n", pg.ops.size(), counts.c_str(), pg.numCaches,
              pg.precision == qcc::program::Precision::BF16 ? "bf16" : "f32");
  std::printf("linears:\n");
  for (const qcc::program::Op &op : pg.ops) {
    if (op.kind != qcc::program::OpKind::Linear && op.kind != qcc::program::OpKind::Logits) continue;
    std::string formats;
    for (uint32_t w : op.weights) {
      std::string text = linearText(spec.tensors[w]);
      if (formats.find(text) == std::string::npos) formats += (formats.empty() ? "" : ", ") + text;
    }
    std::printf("  %-44s %s%s%s\n", fusedName(op.name).c_str(), formats.c_str(), op.weights.size() > 1 ? " (one fused GEMM)" : "",
                op.residual ? " (+ residual)" : "");
  }

  // Sizes by format (dense tensors by dtype).
  struct Size { int count = 0; uint64_t data = 0, scales = 0; };
  std::map<std::string, Size> sizes;
  std::string tokenizerFiles; // the embedded tokenizer's files, by name
  for (const LoadedTensor &t : f.tensors()) {
    std::string key = t.decl.role == TensorRole::Tokenizer ? "tokenizer"
                      : t.decl.format == WeightFormat::Dense ? std::string("dense ") + qcc::dtypeName(t.dataType)
                                                             : formatName(t.decl.format);
    if (t.decl.role == TensorRole::Tokenizer) tokenizerFiles += (tokenizerFiles.empty() ? "" : ", ") + t.decl.name;
    Size &s = sizes[key];
    ++s.count, s.data += t.dataRange.size, s.scales += t.scaleRange.size;
  }
  std::printf("sizes:\n");
  for (const auto &[key, s] : sizes)
    std::printf("  %-10s %4d tensors  %s%s\n", key.c_str(), s.count, bytesText(s.data).c_str(),
                s.scales ? (" + scales " + bytesText(s.scales)).c_str() : "");

  std::printf("kernels:");
  if (spec.targets.empty()) std::printf(" none (the CPU executor needs none)");
  std::printf("\n");
  for (const TargetDecl &t : spec.targets) {
    uint64_t ptx = 0, cubin = 0;
    for (const KernelDecl &k : t.kernels) ptx += k.ptx.size(), cubin += k.cubin.size();
    // Tuned tiles: the entries of the `qcc tune` table the kernels were planned with.
    std::string tiles = "built-in";
    if (!t.tileTable.empty()) {
      auto table = qcc::cuda::parseTileTable(t.tileTable, "stored tile table");
      const size_t n = table ? table->entries.size() : 0;
      tiles = table ? std::to_string(n) + (n == 1 ? " tuned entry" : " tuned entries") + ", built-in elsewhere"
                    : "unreadable (" + table.message() + ")";
    }
    std::printf("  %-7s %zu kernels (ptx %s, cubin %s), %zu launches per forward, %zu buffers, tiles: %s\n",
                t.target.c_str(), t.kernels.size(), bytesText(ptx).c_str(), bytesText(cubin).c_str(),
                t.launches.size(), t.bufferBytesPerRow.size(), tiles.c_str());
    if (listKernels) {
      // Per kernel: its block, its grid as a function of the rows T, and how
      // many launches of a forward may run it (decode and prefill variants).
      std::vector<const KernelVariant *> firstUse(t.kernels.size(), nullptr);
      std::vector<int> uses(t.kernels.size(), 0);
      for (const LaunchDecl &l : t.launches)
        for (const KernelVariant &v : l.variants)
          if (v.kernel < t.kernels.size()) {
            ++uses[v.kernel];
            if (!firstUse[v.kernel]) firstUse[v.kernel] = &v;
          }
      for (size_t i = 0; i < t.kernels.size(); ++i) {
        const KernelVariant *v = firstUse[i];
        std::string grid = "-";
        if (v) {
          grid.clear();
          for (const GridDim &d : v->grid)
            grid += (grid.empty() ? "" : ", ") + gridText(d);
          grid = "(" + grid + ")";
        }
        std::printf("    %s  block %u  grid %s  %d launch%s%s\n", qcc::printable(t.kernels[i].name).c_str(), v ? v->block : 0,
                    grid.c_str(), uses[i], uses[i] == 1 ? "" : "es",
                    v && v->maxRows ? (" (up to " + std::to_string(v->maxRows) + " rows)").c_str() : "");
      }
    }
  }
  std::printf("tokenizer: %s\n", tokenizerFiles.empty() ? "none" : ("embedded (" + tokenizerFiles + ")").c_str());
  const Provenance &p = spec.provenance;
  std::printf("provenance: %s; source %s; checkpoint %s\n", p.qccVersion.empty() ? "?" : qcc::printable(p.qccVersion).c_str(),
              p.source.empty() ? "?" : qcc::printable(p.source).c_str(),
              p.checkpointHash.empty() ? "?" : qcc::printable(p.checkpointHash).c_str());
  std::printf("options: %s\n", p.options.empty() ? "(none)" : qcc::printable(p.options).c_str());
  std::printf("content: %s\n", contentLine.c_str());

  if (listTensors) {
    std::printf("tensors (offsets relative to the raw section):\n");
    for (const LoadedTensor &t : f.tensors()) {
      std::string shape;
      for (int64_t d : t.decl.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      std::printf("  %-48s %-9s %-22s %-10s data [%" PRIu64 ", +%" PRIu64 ")", qcc::printable(t.decl.name).c_str(),
                  roleName(t.decl.role), linearText(t.decl).c_str(), shape.c_str(), t.dataRange.offset,
                  t.dataRange.size);
      if (t.scaleRange.size) std::printf(" scales [%" PRIu64 ", +%" PRIu64 ")", t.scaleRange.offset, t.scaleRange.size);
      std::printf("\n");
    }
  }
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(inspect, "inspect", "describe a compiled artifact (formats, kernels, sizes, provenance)",
                     runInspect);
