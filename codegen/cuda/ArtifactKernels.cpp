#include "codegen/cuda/ArtifactKernels.h"
#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelCache.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>

namespace qcc::cuda {

using artifact::ArtifactSpec;
using artifact::OpKind;
using artifact::TensorDecl;
using artifact::WeightFormat;

int64_t artifactMaxSeq(const ModelConfig &c) {
  const int64_t cap = 8192;
  return c.maxPositionEmbeddings > 0 ? std::min(c.maxPositionEmbeddings, cap) : cap;
}

std::vector<KernelSpec> ModelKernels::unique() const {
  std::map<std::string, KernelSpec> byName;
  auto put = [&](const KernelSpec &s) { byName.emplace(kernelName(s), s); };
  auto putGemm = [&](const GemmKernels &g) {
    put(g.decode);
    put(g.prefill);
  };
  put(embed);
  for (const LayerKernels &l : layers) {
    put(l.inputNorm);
    putGemm(l.qkv);
    put(l.rope);
    put(l.kvStore);
    put(l.attention);
    if (l.quantizeAttn) put(l.attnQuantize);
    putGemm(l.o);
    put(l.postNorm);
    putGemm(l.gateUp);
    put(l.swiglu);
    putGemm(l.down);
  }
  put(finalNorm);
  putGemm(lmHead);
  put(add);
  std::vector<KernelSpec> out;
  for (auto &[name, s] : byName) out.push_back(s);
  return out;
}

Expected<GemmFormat> gemmFormatFor(const TensorDecl &w, const GpuTarget &target, bool fp8WeightOnly) {
  switch (w.format) {
  case WeightFormat::Dense:
  case WeightFormat::BF16: return GemmFormat::BF16;
  case WeightFormat::INT8: return GemmFormat::INT8;
  case WeightFormat::W4A16: return GemmFormat::W4A16;
  case WeightFormat::FP8:
    if (target.hasFp8Mma) return GemmFormat::FP8;
    if (fp8WeightOnly) return GemmFormat::FP8WeightOnly;
    return Status::error(w.name + ": format fp8 needs sm_89 or newer for fp8 tensor cores; target " +
                         target.name + " supports it only with the weight-only fallback");
  }
  return Status::error(w.name + ": unknown weight format");
}

// The activation quantisation a GEMM format reads (int8 / e4m3 codes + scales).
static QuantOut quantFor(GemmFormat f) {
  return f == GemmFormat::INT8 ? QuantOut::Int8 : f == GemmFormat::FP8 ? QuantOut::Fp8 : QuantOut::None;
}

static int blockFor(int64_t width) {
  for (int t : {256, 128, 64, 32})
    if (width % t == 0) return t;
  return 32;
}

namespace {
// Builds the GEMMs of one linear (or fused group of linears sharing format).
struct GemmPlanner {
  const GpuTarget &target;
  bool fp8WeightOnly;
  const TileTable *tiles;

  // `where` names the layer for errors ("layer 3").
  Expected<GemmKernels> plan(const std::string &where, const std::vector<const TensorDecl *> &ws, int64_t n,
                             int64_t k, bool residual) const {
    std::string names;
    for (const TensorDecl *w : ws) names += (names.empty() ? "" : ", ") + w->name;
    const std::string ctx = where + " (" + names + ")";
    std::optional<GemmFormat> format;
    int64_t group = 0;
    for (const TensorDecl *w : ws) {
      auto f = gemmFormatFor(*w, target, fp8WeightOnly);
      if (!f) return f.status().withContext(where);
      const int64_t g = *f == GemmFormat::W4A16 ? w->groupSize : 0;
      if (format && (*format != *f || group != g))
        return Status::error(ctx + ": the fused kernel needs one format, got " + gemmFormatName(*format) +
                             (group ? " g" + std::to_string(group) : "") + " and " + gemmFormatName(*f) +
                             (g ? " g" + std::to_string(g) : ""));
      format = *f;
      group = g;
    }
    if (*format == GemmFormat::W4A16 && (group <= 0 || group % 128 != 0 || k % group != 0))
      return Status::error(ctx + ": w4a16 group size " + std::to_string(group) +
                           " is not supported by the CUDA kernels (needs a multiple of 128 dividing k = " +
                           std::to_string(k) + ")");
    const int kc = gemmKChunk(*format);
    if (k % kc != 0)
      return Status::error(ctx + ": k = " + std::to_string(k) + " is not a multiple of " + std::to_string(kc) +
                           " (the " + gemmFormatName(*format) + " kernel's k chunk)");
    GemmKernels g;
    for (int64_t m : {int64_t(1), int64_t(2048)}) {
      KernelSpec s;
      s.kind = KernelKind::Gemm;
      s.format = *format;
      s.n = n;
      s.k = k;
      s.group = *format == GemmFormat::W4A16 ? int(group) : 128;
      s.residual = residual;
      s.tile = chooseGemmTile(target, *format, m, n, k, tiles);
      // Any other template constraint, with the layer in the message.
      auto gen = generateKernel(s, target);
      if (!gen) return gen.status().withContext(ctx);
      (m == 1 ? g.decode : g.prefill) = s;
    }
    return g;
  }
};

KernelSpec normSpec(int64_t width, QuantOut q) {
  KernelSpec s;
  s.kind = KernelKind::RmsNorm;
  s.width = width;
  s.threads = blockFor(width);
  s.quant = q;
  return s;
}
} // namespace

Expected<ModelKernels> planModelKernels(const ArtifactSpec &spec, const GpuTarget &target, bool fp8WeightOnly,
                                        const TileTable *tiles) {
  const ModelConfig &c = spec.config;
  if (c.hiddenSize <= 0 || c.numHeads <= 0 || c.numKvHeads <= 0 || c.headDim <= 0 || c.intermediateSize <= 0 ||
      c.vocabSize <= 0 || c.numLayers <= 0)
    return Status::error("model config: sizes must be positive");
  const int64_t H = c.hiddenSize, D = c.headDim, HQ = c.numHeads, HKV = c.numKvHeads, I = c.intermediateSize;
  const int64_t qkvLd = (HQ + 2 * HKV) * D;

  // The schedule's weights: per layer its linears in schedule order, plus the
  // embedding and the lm_head.
  auto tensor = [&](uint32_t i) -> const TensorDecl * {
    return i < spec.tensors.size() ? &spec.tensors[i] : nullptr;
  };
  std::vector<std::vector<const TensorDecl *>> linears(size_t(c.numLayers));
  const TensorDecl *embedW = nullptr, *headW = nullptr;
  for (size_t i = 0; i < spec.schedule.size(); ++i) {
    const artifact::OpDecl &op = spec.schedule[i];
    if (op.kind != OpKind::Linear && op.kind != OpKind::Embed && op.kind != OpKind::LmHead) continue;
    const TensorDecl *w = op.weights.empty() ? nullptr : tensor(op.weights[0]);
    if (!w) return Status::error("schedule op " + std::to_string(i) + ": missing or bad weight index");
    if (op.kind == OpKind::Embed) embedW = w;
    if (op.kind == OpKind::LmHead) headW = w;
    if (op.kind == OpKind::Linear) {
      if (op.layer < 0 || op.layer >= c.numLayers)
        return Status::error("schedule op " + std::to_string(i) + ": linear outside the layers");
      linears[size_t(op.layer)].push_back(w);
    }
  }
  if (!embedW || !headW) return Status::error("schedule: no embedding or lm_head op (not a Llama schedule)");

  ModelKernels m;
  m.target = &target;
  m.maxSeq = artifactMaxSeq(c);
  m.embed.kind = KernelKind::Embed;
  m.embed.vocab = c.vocabSize;
  m.embed.width = H;
  GemmPlanner planner{target, fp8WeightOnly, tiles};

  for (int64_t l = 0; l < c.numLayers; ++l) {
    const auto &ws = linears[size_t(l)];
    const std::string where = "layer " + std::to_string(l);
    if (ws.size() != 7)
      return Status::error(where + ": the schedule has " + std::to_string(ws.size()) +
                           " linear ops; the CUDA kernels expect the Llama schedule's 7");
    LayerKernels k;
    auto qkv = planner.plan(where, {ws[0], ws[1], ws[2]}, qkvLd, H, false);
    if (!qkv) return qkv.status();
    auto o = planner.plan(where, {ws[3]}, H, HQ * D, true);
    if (!o) return o.status();
    auto gateUp = planner.plan(where, {ws[4], ws[5]}, 2 * I, H, false);
    if (!gateUp) return gateUp.status();
    auto down = planner.plan(where, {ws[6]}, H, I, true);
    if (!down) return down.status();
    k.qkv = *qkv;
    k.o = *o;
    k.gateUp = *gateUp;
    k.down = *down;

    k.inputNorm = normSpec(H, quantFor(k.qkv.decode.format));
    k.postNorm = normSpec(H, quantFor(k.gateUp.decode.format));
    k.rope.kind = KernelKind::Rope;
    k.rope.heads = HQ;
    k.rope.kvHeads = HKV;
    k.rope.headDim = D;
    k.rope.invFreq = llamaInvFreq(c);
    k.rope.ld = qkvLd;
    k.kvStore.kind = KernelKind::KvStore;
    k.kvStore.kvHeads = HKV;
    k.kvStore.headDim = D;
    k.kvStore.maxSeq = m.maxSeq;
    k.kvStore.ld = qkvLd;
    k.attention = k.kvStore;
    k.attention.kind = KernelKind::Attention;
    k.attention.heads = HQ;
    const QuantOut oq = quantFor(k.o.decode.format);
    k.quantizeAttn = oq != QuantOut::None;
    if (k.quantizeAttn) {
      k.attnQuantize.kind = KernelKind::Quantize;
      k.attnQuantize.width = HQ * D;
      k.attnQuantize.threads = blockFor(HQ * D);
      k.attnQuantize.quant = oq;
    }
    k.swiglu.kind = KernelKind::SwiGlu;
    k.swiglu.width = I;
    k.swiglu.ld = 2 * I;
    k.swiglu.threads = 256;
    k.swiglu.quant = quantFor(k.down.decode.format);
    for (const KernelSpec *s : {&k.inputNorm, &k.postNorm, &k.rope, &k.kvStore, &k.attention, &k.swiglu}) {
      auto gen = generateKernel(*s, target);
      if (!gen) return gen.status().withContext(where);
    }
    if (k.quantizeAttn) {
      auto gen = generateKernel(k.attnQuantize, target);
      if (!gen) return gen.status().withContext(where);
    }
    m.layers.push_back(std::move(k));
  }

  auto head = planner.plan("lm_head", {headW}, c.vocabSize, H, false);
  if (!head) return head.status();
  m.lmHead = *head;
  m.finalNorm = normSpec(H, quantFor(m.lmHead.decode.format));
  m.add.kind = KernelKind::Add;
  for (const KernelSpec *s : {&m.embed, &m.finalNorm, &m.add}) {
    auto gen = generateKernel(*s, target);
    if (!gen) return gen.status();
  }
  return m;
}

static std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Grid dimensions known without the token count (0 = depends on it).
static std::array<uint32_t, 3> staticGrid(const KernelSpec &s) {
  if (s.kind == KernelKind::Gemm) return {uint32_t((s.n + s.tile.blockN() - 1) / s.tile.blockN()), 0, 1};
  return {0, 1, 1};
}

Expected<std::vector<artifact::TargetDecl>> compileArtifactKernels(const ArtifactSpec &spec,
                                                                   const std::vector<std::string> &targets,
                                                                   bool fp8WeightOnly, const std::string &cacheDir,
                                                                   const TileTable *tiles) {
  if (targets.empty()) return Status::error("no CUDA target to compile kernels for");
  // Resolve targets and plan every target's kernel set first: shape errors
  // come before any NVRTC work.
  struct Job {
    size_t target;
    GeneratedKernel kernel;
    KernelSpec spec;
  };
  std::vector<const GpuTarget *> gpus;
  std::vector<Job> jobs;
  std::set<std::string> seen;
  for (const std::string &name : targets) {
    auto t = findTarget(name);
    if (!t) return t.status();
    if (!seen.insert((*t)->name).second)
      return Status::error(std::string("target ") + (*t)->name + " is listed twice");
    auto plan = planModelKernels(spec, **t, fp8WeightOnly, tiles);
    if (!plan) return plan.status().withContext(std::string("kernels for ") + (*t)->name);
    for (const KernelSpec &s : plan->unique()) {
      auto g = generateKernel(s, **t);
      if (!g) return g.status().withContext(std::string("kernels for ") + (*t)->name);
      jobs.push_back({gpus.size(), std::move(*g), s});
    }
    gpus.push_back(*t);
  }

  Expected<const Nvrtc *> nvrtc = Nvrtc::get(); // load once, before the threads
  if (!nvrtc) return nvrtc.status().withContext("cannot compile the artifact's CUDA kernels");

  // Every (target, kernel) pair in one pool: the targets compile in parallel too.
  CompileOptions options;
  options.cacheDir = cacheDir;
  std::vector<std::optional<Expected<CompiledKernel>>> results(jobs.size());
  std::atomic<size_t> next{0};
  unsigned n = std::max(1u, std::thread::hardware_concurrency());
  n = std::min<unsigned>(n, unsigned(jobs.size()));
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++)
      results[i] = compileKernel(jobs[i].kernel, *gpus[jobs[i].target], options);
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool) t.join();

  std::vector<artifact::TargetDecl> out(gpus.size());
  for (size_t t = 0; t < gpus.size(); ++t) {
    out[t].target = gpus[t]->name;
    // The executor plans with the same entries, so it finds the same names.
    if (tiles) {
      const TileTable mine = tiles->forTarget(gpus[t]->name);
      if (!mine.entries.empty()) out[t].tileTable = tileTableJson(mine);
    }
  }
  std::string errors;
  for (size_t i = 0; i < jobs.size(); ++i) {
    Expected<CompiledKernel> &r = *results[i];
    if (!r) {
      errors += (errors.empty() ? "" : "\n") + std::string(gpus[jobs[i].target]->name) + ": " + r.message();
      continue;
    }
    artifact::KernelDecl k;
    k.name = r->name;
    k.op = -1; // shared by every op (and layer) of the same shape
    k.sourceHash = hex64(fnv1a64(jobs[i].kernel.source.data(), jobs[i].kernel.source.size()));
    k.ptx = std::move(r->ptx);
    k.cubin = std::move(r->cubin);
    k.grid = staticGrid(jobs[i].spec);
    k.block = {jobs[i].kernel.threads, 1, 1};
    k.sharedMemBytes = 0;
    out[jobs[i].target].kernels.push_back(std::move(k));
  }
  if (!errors.empty()) return Status::error(errors);
  return out; // kernels are in unique()'s name order already
}

Expected<ModelKernels> planArtifactTarget(const ArtifactSpec &spec, const artifact::TargetDecl &decl,
                                          const TileTable *overrideTiles) {
  auto gpu = findTarget(decl.target);
  if (!gpu) return gpu.status();
  TileTable stored;
  if (!decl.tileTable.empty() && !overrideTiles) {
    auto t = parseTileTable(decl.tileTable, decl.target + " tile table");
    if (!t) return t.status();
    stored = std::move(*t);
  }
  const TileTable *tiles = overrideTiles ? overrideTiles : decl.tileTable.empty() ? nullptr : &stored;
  // fp8 weights on a target without fp8 mma can only have been compiled with the fallback.
  auto plan = planModelKernels(spec, **gpu, !(*gpu)->hasFp8Mma, tiles);
  if (!plan) return plan.status();
  std::set<std::string> names;
  for (const artifact::KernelDecl &k : decl.kernels) names.insert(k.name);
  for (const KernelSpec &s : plan->unique())
    if (!names.count(kernelName(s)))
      return Status::error("the " + decl.target + " kernels lack " + kernelName(s) +
                           " (compiled by another qcc version, or for other tiles than " +
                           (overrideTiles ? "the tile table given" : tiles ? "its stored tile table" : "the built-in ones") +
                           ")");
  return plan;
}

} // namespace qcc::cuda
