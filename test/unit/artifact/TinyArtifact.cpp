#include "TinyArtifact.h"

#include "runtime/artifact/ArtifactWriter.h"
#include "../cpu/LlamaProgram.h"

#include <cmath>
#include <cstring>
#include <random>

namespace qcc::artifact::testing {

static std::vector<std::string> llamaLinearNames(int64_t layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  return {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight",
          p + "self_attn.o_proj.weight", p + "mlp.gate_proj.weight",    p + "mlp.up_proj.weight",
          p + "mlp.down_proj.weight"};
}


void MemoryWeights::add(const std::string &name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  auto &slot = store_[name];
  slot.second = std::move(bytes);
  slot.first.dtype = dtype;
  slot.first.shape = std::move(shape);
  slot.first.data = slot.second.data();
  order_.push_back(name);
}

const TensorRef *MemoryWeights::find(const std::string &name) const {
  auto it = store_.find(name);
  return it == store_.end() ? nullptr : &it->second.first;
}

std::vector<std::string> MemoryWeights::names() const { return order_; }

static std::vector<uint8_t> toBf16Bytes(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t b = formats::floatToBf16(v[i]);
    std::memcpy(&out[2 * i], &b, 2);
  }
  return out;
}

TinyModel makeTinyModel(const TinyOptions &o) {
  TinyModel m;
  ModelConfig &c = m.config;
  c.hiddenSize = o.hidden;
  c.intermediateSize = o.intermediate;
  c.numLayers = o.layers;
  c.numHeads = o.heads;
  c.numKvHeads = o.kvHeads;
  c.headDim = o.hidden / o.heads;
  c.vocabSize = o.vocab;
  c.maxPositionEmbeddings = 256;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = o.ropeScaling;
  c.ropeScaling.factor = 8.0;
  c.ropeScaling.originalMaxPositionEmbeddings = 64;
  c.tieWordEmbeddings = o.tied;
  c.bosTokenId = 1;
  c.eosTokenIds = {2};
  c.torchDtype = ModelConfig::TorchDtype::BFloat16;

  std::mt19937 rng(o.seed);
  auto random = [&](int64_t n, float scale, float offset) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float &x : v) x = formats::roundToBf16(offset + dist(rng));
    return v;
  };
  const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, Dh = c.headDim;
  auto dense = [&](const std::string &name, std::vector<int64_t> shape, float scale, float offset) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    m.weights.add(name, DType::BF16, shape, toBf16Bytes(random(n, scale, offset)));
  };
  auto linear = [&](const std::string &name, int64_t N, int64_t K) {
    std::vector<float> w = random(N * K, 1.0f / std::sqrt(float(K)), 0.0f);
    m.weights.add(name, DType::BF16, {N, K}, toBf16Bytes(w));
    m.linearValues[name] = std::move(w);
  };
  dense("model.embed_tokens.weight", {V, D}, 1.0f, 0.0f);
  for (int64_t l = 0; l < c.numLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const auto names = llamaLinearNames(l);
    dense(p + "input_layernorm.weight", {D}, 0.1f, 1.0f);
    linear(names[0], c.numHeads * Dh, D);
    linear(names[1], c.numKvHeads * Dh, D);
    linear(names[2], c.numKvHeads * Dh, D);
    linear(names[3], D, c.numHeads * Dh);
    dense(p + "post_attention_layernorm.weight", {D}, 0.1f, 1.0f);
    linear(names[4], F, D);
    linear(names[5], F, D);
    linear(names[6], D, F);
  }
  dense("model.norm.weight", {D}, 0.1f, 1.0f);
  if (!o.tied) linear("lm_head.weight", V, D);
  return m;
}

std::vector<std::string> llamaTensorNames(const ModelConfig &c) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (int64_t l = 0; l < c.numLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const auto lin = llamaLinearNames(l);
    names.push_back(p + "input_layernorm.weight");
    names.insert(names.end(), lin.begin(), lin.begin() + 4);
    names.push_back(p + "post_attention_layernorm.weight");
    names.insert(names.end(), lin.begin() + 4, lin.end());
  }
  names.push_back("model.norm.weight");
  if (!c.tieWordEmbeddings) names.push_back("lm_head.weight");
  return names;
}

static bool isLinearName(const std::string &name) {
  return name == "lm_head.weight" || name.find("_proj.weight") != std::string::npos;
}

static WeightFormat toWeightFormat(formats::Format f) {
  switch (f) {
  case formats::Format::BF16: return WeightFormat::BF16;
  case formats::Format::FP8: return WeightFormat::FP8;
  case formats::Format::INT8: return WeightFormat::INT8;
  case formats::Format::W4A16: return WeightFormat::W4A16;
  }
  return WeightFormat::Dense;
}

// A tensor's values as fp32 (F32, BF16 or F16 sources).
static Expected<std::vector<float>> toFloats(const std::string &name, const TensorRef &t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h;
    switch (t.dtype) {
    case DType::F32: std::memcpy(&out[i], p + 4 * i, 4); break;
    case DType::BF16: std::memcpy(&h, p + 2 * i, 2), out[i] = formats::bf16ToFloat(h); break;
    case DType::F16: std::memcpy(&h, p + 2 * i, 2), out[i] = formats::f16ToFloat(h); break;
    default: return Status::error("tensor '" + name + "' has dtype " + dtypeName(t.dtype));
    }
  }
  return out;
}

Expected<ArtifactSpec> llamaSpec(const ModelConfig &config, const WeightProvider &weights,
                                 std::optional<formats::FormatSpec> format, const std::vector<TargetDecl> &targets,
                                 const std::string &tokenizerJson) {
  ArtifactSpec spec;
  spec.config = config;
  // The program (test/unit/cpu/LlamaProgram.h) names the tensors in the order
  // it first reads them: that is the tensor table.
  qcc::test::NamedWeights named(weights);
  spec.program = qcc::test::llamaProgram(config, named,
                                         config.torchDtype == ModelConfig::TorchDtype::Float32 ? program::Precision::F32
                                                                                                : program::Precision::BF16);
  for (uint32_t i = 0; i < named.count(); ++i) {
    auto w = named.weight(i);
    if (!w) return w.status();
    const std::string &name = w->name;
    const TensorRef *t = weights.find(name);
    TensorDecl d;
    d.name = name;
    d.shape = t->shape;
    d.dtype = t->dtype;
    if (isLinearName(name)) {
      d.role = name == "lm_head.weight" ? TensorRole::LmHead : TensorRole::Linear;
      if (format) {
        d.format = toWeightFormat(format->format);
        if (d.format == WeightFormat::W4A16) d.groupSize = format->groupSize;
        d.method = d.format == WeightFormat::BF16 ? QuantMethod::None : QuantMethod::RTN;
      }
    } else {
      d.role = name == "model.embed_tokens.weight" ? TensorRole::Embedding : TensorRole::Norm;
    }
    spec.tensors.push_back(std::move(d));
  }
  if (!tokenizerJson.empty()) {
    TensorDecl d;
    d.name = "tokenizer.json";
    d.role = TensorRole::Tokenizer;
    d.dtype = DType::U8;
    d.shape = {int64_t(tokenizerJson.size())};
    spec.tensors.push_back(std::move(d));
  }
  spec.targets = targets;
  spec.provenance = {"qcc 0.2.0 (test builder)", format ? "--format " + formats::formatSpecName(*format) : "dense",
                     "sha256:test", "tiny"};
  return spec;
}

Status writeLlamaArtifact(const std::string &path, const ModelConfig &config, const WeightProvider &weights,
                          std::optional<formats::FormatSpec> format,
                          std::map<std::string, formats::QuantizedLinear> *quantized,
                          const std::vector<TargetDecl> &targets, const std::string &tokenizerJson) {
  auto spec = llamaSpec(config, weights, format, targets, tokenizerJson);
  if (!spec) return spec.status();
  auto w = ArtifactWriter::create(path, *spec);
  if (!w) return w.status();
  // One tensor in memory at a time (what the compiler does per layer).
  for (const TensorDecl &d : spec->tensors) {
    if (d.role == TensorRole::Tokenizer) {
      QCC_RETURN_IF_ERROR((*w)->writeTensor(d.name, tokenizerJson.data(), tokenizerJson.size()));
      continue;
    }
    const TensorRef &t = *weights.find(d.name);
    if (d.format == WeightFormat::Dense) {
      QCC_RETURN_IF_ERROR((*w)->writeTensor(d.name, t.data, t.byteSize()));
      continue;
    }
    auto values = toFloats(d.name, t);
    if (!values) return values.status();
    auto q = formats::quantizeLinear(values->data(), d.shape[0], d.shape[1], *format);
    if (!q) return q.status().withContext(d.name);
    QCC_RETURN_IF_ERROR((*w)->writeTensor(d.name, q->weights.data(), q->weights.size(),
                                          q->scales.empty() ? nullptr : q->scales.data(),
                                          q->scales.size() * sizeof(float)));
    if (quantized) (*quantized)[d.name] = std::move(*q);
  }
  return (*w)->finish();
}

TargetDecl fakeTarget(const std::string &target, int64_t vocab) {
  TargetDecl t;
  t.target = target;
  KernelDecl k;
  k.name = "qcc_linear_fp8_test";
  k.sourceHash = "0123456789abcdef";
  k.ptx = "// fake ptx for " + target + "\n.version 8.0\n";
  k.cubin = {0x7f, 'E', 'L', 'F', 1, 2, 3};
  k.grid = {4, 1, 1};
  k.block = {128, 1, 1};
  k.sharedMemBytes = 16384;
  t.kernels.push_back(k);
  if (target == "sm_90a") t.tileTable = "{\"qcc_tile_table\": 1, \"entries\": []}\n"; // stored as given
  // A one-launch list: the kernel writes bf16 logits into buffer 0.
  t.bufferBytesPerRow = {uint64_t(vocab) * 2};
  t.weights = {{{0}, DeviceWeightLayout::Bf16}};
  t.caches = {{2, 16}};
  t.maxSeq = 64;
  LaunchDecl l;
  l.name = "test";
  KernelVariant v;
  v.kernel = 0;
  v.grid = {GridDim{1, 1, 1}, GridDim{1, 0, 0}, GridDim{1, 0, 0}};
  v.grid[0] = {0, 1, 1};
  v.block = 128;
  l.variants = {v};
  l.args = {LaunchArg{ArgKind::TokenIds, 0, 0, 0}, LaunchArg{ArgKind::Weight, 0, 0, 0},
            LaunchArg{ArgKind::Buffer, 0, 0, 0}, LaunchArg{ArgKind::Rows, 0, 0, 0}};
  t.launches = {l};
  t.logits = {ArgKind::Buffer, 0, 0, 0};
  return t;
}

} // namespace qcc::artifact::testing
