#include "CompiledModel.h"

#include "codegen/artifact/EmitArtifact.h"
#include "codegen/cuda/KernelOps.h"
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/Safetensors.h"
#include "passes/Passes.h"
#include "runtime/formats/Formats.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <random>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc::test {

static std::string jsonConfig(const ModelConfig &c) {
  std::string s = "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n";
  auto i64 = [&](const char *k, int64_t v) { s += std::string("  \"") + k + "\": " + std::to_string(v) + ",\n"; };
  auto f64 = [&](const char *k, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s += std::string("  \"") + k + "\": " + buf + ",\n";
  };
  i64("hidden_size", c.hiddenSize);
  i64("intermediate_size", c.intermediateSize);
  i64("num_hidden_layers", c.numLayers);
  i64("num_attention_heads", c.numHeads);
  i64("num_key_value_heads", c.numKvHeads);
  i64("head_dim", c.headDim);
  i64("vocab_size", c.vocabSize);
  i64("max_position_embeddings", c.maxPositionEmbeddings);
  i64("bos_token_id", c.bosTokenId);
  i64("eos_token_id", c.eosTokenIds.empty() ? 1 : c.eosTokenIds.front());
  f64("rms_norm_eps", c.rmsNormEps);
  f64("rope_theta", c.ropeTheta);
  if (c.ropeScaling.enabled) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                  "\"high_freq_factor\": %.17g, \"original_max_position_embeddings\": %lld},\n",
                  c.ropeScaling.factor, c.ropeScaling.lowFreqFactor, c.ropeScaling.highFreqFactor,
                  (long long)c.ropeScaling.originalMaxPositionEmbeddings);
    s += buf;
  }
  s += std::string("  \"tie_word_embeddings\": ") + (c.tieWordEmbeddings ? "true" : "false") + ",\n";
  s += "  \"torch_dtype\": \"bfloat16\"\n}\n";
  return s;
}

Status writeRandomCheckpoint(const std::string &dir, const ModelConfig &c, unsigned seed,
                             const RandomWeightScales &scales) {
  ::mkdir(dir.c_str(), 0755);
  {
    FILE *f = std::fopen((dir + "/config.json").c_str(), "wb");
    if (!f) return Status::error(dir + "/config.json: " + std::strerror(errno));
    const std::string text = jsonConfig(c);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  std::mt19937 rng(seed);
  std::vector<std::vector<uint16_t>> storage;
  std::vector<SafetensorsEntry> entries;
  auto add = [&](const std::string &name, std::vector<int64_t> shape, float mean, float sd) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<float> dist(mean, sd);
    std::vector<uint16_t> v(static_cast<size_t>(n));
    for (uint16_t &x : v) x = formats::floatToBf16(dist(rng));
    storage.push_back(std::move(v));
    entries.push_back({name, DType::BF16, shape, nullptr});
  };
  const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
  const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  const float sd = 1.0f / std::sqrt(float(D));
  add("model.embed_tokens.weight", {V, D}, 0, 1);
  for (int64_t i = 0; i < c.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {D}, 1, 0.1f);
    add(p + "self_attn.q_proj.weight", {q, D}, 0, scales.qk * sd);
    add(p + "self_attn.k_proj.weight", {kv, D}, 0, scales.qk * sd);
    add(p + "self_attn.v_proj.weight", {kv, D}, 0, sd);
    add(p + "self_attn.o_proj.weight", {D, q}, 0, 1.0f / std::sqrt(float(q)));
    add(p + "post_attention_layernorm.weight", {D}, 1, 0.1f);
    add(p + "mlp.gate_proj.weight", {F, D}, 0, sd);
    add(p + "mlp.up_proj.weight", {F, D}, 0, sd);
    add(p + "mlp.down_proj.weight", {D, F}, 0, 1.0f / std::sqrt(float(F)));
  }
  add("model.norm.weight", {D}, 1, 0.1f);
  if (!c.tieWordEmbeddings) add("lm_head.weight", {V, D}, 0, scales.lmHead);
  for (size_t i = 0; i < entries.size(); ++i) entries[i].data = storage[i].data();
  return writeSafetensors(dir + "/model.safetensors", entries);
}

namespace {
// Removes a folder of parameter archives (flat) on destruction.
struct ScratchDir {
  std::string path;
  ~ScratchDir() {
    if (path.empty()) return;
    if (DIR *d = ::opendir(path.c_str())) {
      while (struct dirent *e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ::unlink((path + "/" + e->d_name).c_str());
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
};
} // namespace

Expected<CompiledModel> compileCheckpoint(const std::string &dir, const QuantizationOptions &options,
                                          const std::string &artifactPath,
                                          const std::function<Status(mlir::ModuleOp)> &mutate) {
  auto checkpoint = Checkpoint::open(dir);
  if (!checkpoint) return checkpoint.status();
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = importLlama(context, **checkpoint, {});
  if (!module) return module.status();
  ScratchDir params;
  char pattern[] = "/tmp/qcc-test-params-XXXXXX";
  if (!::mkdtemp(pattern)) return Status::error(std::string("mkdtemp: ") + std::strerror(errno));
  params.path = pattern;
  (**module)->setAttr("qcc.param_dir", mlir::StringAttr::get(&context, params.path));
  if (mutate)
    if (Status s = mutate(**module); !s) return s;

  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    llvm::raw_string_ostream os(diagnostics);
    d.print(os);
    os << "\n";
    return mlir::success();
  });
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  buildCompilePipeline(pm, options);
  if (mlir::failed(pm.run(**module))) return Status::error("the compile pipeline failed: " + diagnostics);

  CompiledModel out;
  out.artifactPath = artifactPath;
  llvm::raw_string_ostream os(out.loweredMlir);
  (*module)->print(os);
  os.flush();
  std::set<std::string> seen;
  for (auto program : (**module).getOps<qcck::ProgramOp>()) {
    auto gpu = cuda::findTarget(program.getTarget().str());
    if (!gpu) return gpu.status();
    for (mlir::Operation &op : program.getBody().front()) {
      auto variants = op.getAttrOfType<mlir::ArrayAttr>("variants");
      if (!variants) continue;
      for (mlir::Attribute v : variants) {
        auto spec = cuda::kernelSpecOf(&op, mlir::cast<qcck::VariantAttr>(v), program.getMaxSeq());
        if (!spec) return spec.status();
        auto g = cuda::generateKernel(*spec, **gpu);
        if (!g) return g.status();
        if (seen.insert(g->name).second) out.kernels.push_back(*g);
      }
    }
  }
  TranslateOptions translate;
  translate.outputPath = artifactPath;
  auto summary = translateToArtifact(**module, translate);
  if (!summary) return summary.status();
  return out;
}

} // namespace qcc::test
