#include "ReferenceLlama.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qcc::test {
using namespace qcc::cpu;

using formats::Format;

//===----------------------------------------------------------------------===//
// Weight loading
//===----------------------------------------------------------------------===//

static std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// The tensor `name` as fp32, checked against the expected shape.
static Expected<std::vector<float>> loadTensor(const WeightProvider &weights,
                                               const std::string &name,
                                               const std::vector<int64_t> &shape) {
  const TensorRef *t = weights.find(name);
  if (!t) return Status::error("tensor '" + name + "' is missing");
  if (t->shape != shape)
    return Status::error("tensor '" + name + "' has shape " + shapeStr(t->shape) +
                         ", expected " + shapeStr(shape));
  int64_t n = t->numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t *p = static_cast<const uint8_t *>(t->data);
  switch (t->dtype) {
  case DType::F32: std::memcpy(out.data(), p, static_cast<size_t>(n) * 4); break;
  case DType::BF16:
  case DType::F16:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t b = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)); // little-endian
      out[i] = t->dtype == DType::BF16 ? formats::bf16ToFloat(b) : formats::f16ToFloat(b);
    }
    break;
  default:
    return Status::error("tensor '" + name + "' has dtype " + dtypeName(t->dtype) +
                         ", which the cpu executor does not load (expected F32, BF16 or F16)");
  }
  return out;
}

static void roundAll(std::vector<float> &v) {
  for (float &x : v) x = formats::roundToBf16(x);
}

static Status checkConfig(const ModelConfig &c) {
  auto bad = [](const std::string &m) { return Status::error("model config: " + m); };
  if (c.hiddenSize <= 0 || c.intermediateSize <= 0 || c.numLayers <= 0 || c.numHeads <= 0 ||
      c.numKvHeads <= 0 || c.headDim <= 0 || c.vocabSize <= 0)
    return bad("sizes must be positive");
  if (c.numHeads % c.numKvHeads != 0)
    return bad(std::to_string(c.numHeads) + " attention heads are not a multiple of " +
               std::to_string(c.numKvHeads) + " key/value heads");
  if (c.headDim % 2 != 0) return bad("head_dim " + std::to_string(c.headDim) + " is odd");
  if (!(c.rmsNormEps > 0) || !(c.ropeTheta > 0)) return bad("rms_norm_eps and rope_theta must be positive");
  if (c.ropeScaling.enabled &&
      !(c.ropeScaling.factor > 0 && c.ropeScaling.highFreqFactor > c.ropeScaling.lowFreqFactor &&
        c.ropeScaling.lowFreqFactor > 0 && c.ropeScaling.originalMaxPositionEmbeddings > 0))
    return bad("rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0");
  return Status::ok();
}

ReferenceLlama::ReferenceLlama(const ModelConfig &config, ActDType act, int numThreads, int64_t maxSeqLen)
    : config_(config), act_(act), maxSeqLen_(maxSeqLen),
      pool_(std::make_unique<ThreadPool>(numThreads)) {}

Expected<std::unique_ptr<ReferenceLlama>> ReferenceLlama::create(const ModelConfig &config,
                                                         const WeightProvider &weights,
                                                         const ExecutorOptions &options) {
  QCC_RETURN_IF_ERROR(checkConfig(config));
  ActDType act = options.actDtype ? *options.actDtype
                 : config.torchDtype == ModelConfig::TorchDtype::BFloat16 ? ActDType::BF16
                                                                          : ActDType::F32;
  int64_t maxSeq = options.maxSeqLen;
  if (maxSeq <= 0)
    maxSeq = config.maxPositionEmbeddings > 0 ? std::min<int64_t>(config.maxPositionEmbeddings, 8192)
                                              : 2048;
  std::unique_ptr<ReferenceLlama> m(new ReferenceLlama(config, act, options.numThreads, maxSeq));
  const int64_t D = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize;
  const int64_t qDim = config.numHeads * config.headDim, kvDim = config.numKvHeads * config.headDim;

  auto load = [&](const std::string &name, std::vector<int64_t> shape,
                  std::vector<float> &out) -> Status {
    Expected<std::vector<float>> t = loadTensor(weights, name, shape);
    if (!t) return t.status();
    out = std::move(*t);
    if (act == ActDType::BF16) roundAll(out);
    return Status::ok();
  };
  auto loadLinear = [&](const std::string &name, int64_t N, int64_t K, Linear &out) -> Status {
    std::vector<float> w;
    QCC_RETURN_IF_ERROR(load(name + ".weight", {N, K}, w));
    out = Linear::fromDense(std::move(w), N, K);
    return Status::ok();
  };

  QCC_RETURN_IF_ERROR(load("model.embed_tokens.weight", {V, D}, m->embedding_));
  m->layers_.resize(static_cast<size_t>(config.numLayers));
  for (int64_t i = 0; i < config.numLayers; ++i) {
    Layer &L = m->layers_[i];
    std::string p = "model.layers." + std::to_string(i) + ".";
    QCC_RETURN_IF_ERROR(load(p + "input_layernorm.weight", {D}, L.inputNorm));
    QCC_RETURN_IF_ERROR(load(p + "post_attention_layernorm.weight", {D}, L.postNorm));
    QCC_RETURN_IF_ERROR(loadLinear(p + "self_attn.q_proj", qDim, D, L.q));
    QCC_RETURN_IF_ERROR(loadLinear(p + "self_attn.k_proj", kvDim, D, L.k));
    QCC_RETURN_IF_ERROR(loadLinear(p + "self_attn.v_proj", kvDim, D, L.v));
    QCC_RETURN_IF_ERROR(loadLinear(p + "self_attn.o_proj", D, qDim, L.o));
    QCC_RETURN_IF_ERROR(loadLinear(p + "mlp.gate_proj", F, D, L.gate));
    QCC_RETURN_IF_ERROR(loadLinear(p + "mlp.up_proj", F, D, L.up));
    QCC_RETURN_IF_ERROR(loadLinear(p + "mlp.down_proj", D, F, L.down));
  }
  QCC_RETURN_IF_ERROR(load("model.norm.weight", {D}, m->finalNorm_));
  if (config.tieWordEmbeddings && !weights.find("lm_head.weight"))
    m->lmHead_ = Linear::fromDense(m->embedding_, V, D);
  else
    QCC_RETURN_IF_ERROR(loadLinear("lm_head", V, D, m->lmHead_));
  m->buildIndex();
  m->buildRope();
  return m;
}

//===----------------------------------------------------------------------===//
// Names and weight replacement
//===----------------------------------------------------------------------===//

void ReferenceLlama::buildIndex() {
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer &L = layers_[i];
    std::string p = "model.layers." + std::to_string(i) + ".";
    std::pair<const char *, Linear *> lins[] = {
        {"self_attn.q_proj", &L.q},  {"self_attn.k_proj", &L.k}, {"self_attn.v_proj", &L.v},
        {"self_attn.o_proj", &L.o},  {"mlp.gate_proj", &L.gate}, {"mlp.up_proj", &L.up},
        {"mlp.down_proj", &L.down}};
    for (auto &[n, l] : lins) {
      linearIndex_[p + n] = l;
      linearOrder_.push_back(p + n);
    }
    normIndex_[p + "input_layernorm"] = &L.inputNorm;
    normIndex_[p + "post_attention_layernorm"] = &L.postNorm;
  }
  linearIndex_["lm_head"] = &lmHead_;
  linearOrder_.push_back("lm_head");
  normIndex_["model.norm"] = &finalNorm_;
}

static std::string stripWeight(const std::string &name) {
  const std::string suffix = ".weight";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size());
  return name;
}

Linear *ReferenceLlama::findLinear(const std::string &name) {
  auto it = linearIndex_.find(stripWeight(name));
  return it == linearIndex_.end() ? nullptr : it->second;
}
const Linear *ReferenceLlama::findLinear(const std::string &name) const {
  auto it = linearIndex_.find(stripWeight(name));
  return it == linearIndex_.end() ? nullptr : it->second;
}
std::vector<float> *ReferenceLlama::findNorm(const std::string &name) {
  auto it = normIndex_.find(stripWeight(name));
  return it == normIndex_.end() ? nullptr : it->second;
}

std::vector<std::string> ReferenceLlama::linearNames() const { return linearOrder_; }

std::vector<std::string> ReferenceLlama::normNames() const {
  std::vector<std::string> r;
  for (size_t i = 0; i < layers_.size(); ++i) {
    r.push_back("model.layers." + std::to_string(i) + ".input_layernorm");
    r.push_back("model.layers." + std::to_string(i) + ".post_attention_layernorm");
  }
  r.push_back("model.norm");
  return r;
}

std::optional<std::pair<int64_t, int64_t>> ReferenceLlama::linearShape(const std::string &name) const {
  const Linear *l = findLinear(name);
  if (!l) return std::nullopt;
  return std::make_pair(l->N, l->K);
}

std::optional<Format> ReferenceLlama::linearFormat(const std::string &name) const {
  const Linear *l = findLinear(name);
  if (!l) return std::nullopt;
  return l->format;
}

Status ReferenceLlama::setLinear(const std::string &name, formats::QuantizedLinear q) {
  Linear *l = findLinear(name);
  if (!l) return Status::error("no linear layer named '" + name + "'");
  QCC_RETURN_IF_ERROR(formats::validate(q).withContext("linear '" + name + "'"));
  if (q.outFeatures != l->N || q.inFeatures != l->K)
    return Status::error("linear '" + name + "': quantized shape [" + std::to_string(q.outFeatures) +
                         ", " + std::to_string(q.inFeatures) + "] does not match [" +
                         std::to_string(l->N) + ", " + std::to_string(l->K) + "]");
  *l = Linear::fromQuantized(std::move(q));
  return Status::ok();
}

Status ReferenceLlama::setDenseLinear(const std::string &name, std::vector<float> w) {
  Linear *l = findLinear(name);
  if (!l) return Status::error("no linear layer named '" + name + "'");
  if (static_cast<int64_t>(w.size()) != l->N * l->K)
    return Status::error("linear '" + name + "': " + std::to_string(w.size()) +
                         " weights given, expected " + std::to_string(l->N * l->K));
  if (act_ == ActDType::BF16) roundAll(w);
  *l = Linear::fromDense(std::move(w), l->N, l->K);
  return Status::ok();
}

Status ReferenceLlama::setNormWeight(const std::string &name, std::vector<float> w) {
  std::vector<float> *n = findNorm(name);
  if (!n) return Status::error("no norm named '" + name + "'");
  if (w.size() != n->size())
    return Status::error("norm '" + name + "': " + std::to_string(w.size()) +
                         " weights given, expected " + std::to_string(n->size()));
  if (act_ == ActDType::BF16) roundAll(w);
  *n = std::move(w);
  return Status::ok();
}

std::vector<float> ReferenceLlama::denseLinearWeights(const std::string &name) const {
  const Linear *l = findLinear(name);
  return l ? l->weights() : std::vector<float>();
}

std::vector<float> ReferenceLlama::normWeight(const std::string &name) const {
  auto it = normIndex_.find(stripWeight(name));
  return it == normIndex_.end() ? std::vector<float>() : *it->second;
}

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

std::vector<float> referenceRopeInvFrequencies(const ModelConfig &c) {
  const int64_t Dh = c.headDim;
  std::vector<float> inv(static_cast<size_t>(Dh / 2));
  // inv_freq = 1 / base^(2i / dim), all in fp32 like transformers.
  for (int64_t i = 0; i < Dh / 2; ++i)
    inv[i] = 1.0f / std::pow(static_cast<float>(c.ropeTheta),
                             static_cast<float>(2 * i) / static_cast<float>(Dh));
  if (!c.ropeScaling.enabled) return inv;
  // Llama-3.1: long wavelengths divided by `factor`, short ones kept, the
  // band between low_freq_wavelen and high_freq_wavelen interpolated.
  const float factor = static_cast<float>(c.ropeScaling.factor);
  const float lowF = static_cast<float>(c.ropeScaling.lowFreqFactor);
  const float highF = static_cast<float>(c.ropeScaling.highFreqFactor);
  const float oldLen = static_cast<float>(c.ropeScaling.originalMaxPositionEmbeddings);
  const float lowWavelen = static_cast<float>(c.ropeScaling.originalMaxPositionEmbeddings /
                                              c.ropeScaling.lowFreqFactor);
  const float highWavelen = static_cast<float>(c.ropeScaling.originalMaxPositionEmbeddings /
                                               c.ropeScaling.highFreqFactor);
  const float twoPi = static_cast<float>(2 * M_PI);
  for (float &f : inv) {
    float wavelen = twoPi / f;
    float scaled = wavelen > lowWavelen ? f / factor : f;
    if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
      float smooth = (oldLen / wavelen - lowF) / (highF - lowF);
      scaled = (1 - smooth) * scaled / factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv;
}

void ReferenceLlama::buildRope() {
  const int64_t half = config_.headDim / 2;
  std::vector<float> inv = referenceRopeInvFrequencies(config_);
  ropeCos_.resize(static_cast<size_t>(maxSeqLen_ * half));
  ropeSin_.resize(ropeCos_.size());
  for (int64_t p = 0; p < maxSeqLen_; ++p)
    for (int64_t i = 0; i < half; ++i) {
      float angle = inv[i] * static_cast<float>(p); // fp32 like transformers
      ropeCos_[p * half + i] = round(std::cos(angle));
      ropeSin_[p * half + i] = round(std::sin(angle));
    }
}

// x [T, nHeads * Dh]: out1 = x1*cos - x2*sin, out2 = x2*cos + x1*sin per head,
// where x1/x2 are the first/second halves of the head (rotate-half layout).
void ReferenceLlama::applyRope(float *x, int64_t T, int64_t nHeads, int64_t pos0) const {
  const int64_t Dh = config_.headDim, half = Dh / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float *c = &ropeCos_[(pos0 + t) * half];
    const float *s = &ropeSin_[(pos0 + t) * half];
    for (int64_t h = 0; h < nHeads; ++h) {
      float *x1 = x + t * nHeads * Dh + h * Dh, *x2 = x1 + half;
      for (int64_t i = 0; i < half; ++i) {
        float a = x1[i], b = x2[i];
        x1[i] = round(round(a * c[i]) - round(b * s[i]));
        x2[i] = round(round(b * c[i]) + round(a * s[i]));
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

void ReferenceLlama::rmsNorm(const float *x, const std::vector<float> &w, int64_t T, float *y) const {
  const int64_t D = config_.hiddenSize;
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + t * D;
    double ss = 0.0;
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xt[i]) * xt[i];
    float inv = 1.0f / std::sqrt(static_cast<float>(ss / D) + static_cast<float>(config_.rmsNormEps));
    for (int64_t i = 0; i < D; ++i) y[t * D + i] = round(w[i] * round(xt[i] * inv));
  }
}

void ReferenceLlama::forwardLayer(int layer, float *hidden, int64_t T, int64_t pos0, float *kCache,
                              float *vCache, const LayerObserver *observer) const {
  const Layer &L = layers_[layer];
  const int64_t D = config_.hiddenSize, F = config_.intermediateSize, Dh = config_.headDim;
  const int64_t H = config_.numHeads, Hkv = config_.numKvHeads, group = H / Hkv;
  const int64_t qDim = H * Dh, kvDim = Hkv * Dh;
  ThreadPool &pool = *pool_;
  std::string prefix;
  auto observe = [&](const char *n, const float *x, int64_t cols) {
    if (!observer) return;
    if (prefix.empty()) prefix = "model.layers." + std::to_string(layer) + ".";
    (*observer)(prefix + n, x, T, cols);
  };

  // Attention block.
  std::vector<float> x(static_cast<size_t>(T * D));      // [T, D]
  std::vector<float> q(static_cast<size_t>(T * qDim));   // [T, H*Dh]
  std::vector<float> k(static_cast<size_t>(T * kvDim));  // [T, Hkv*Dh]
  std::vector<float> v(static_cast<size_t>(T * kvDim));  // [T, Hkv*Dh]
  rmsNorm(hidden, L.inputNorm, T, x.data());
  observe("self_attn.q_proj", x.data(), D);
  observe("self_attn.k_proj", x.data(), D);
  observe("self_attn.v_proj", x.data(), D);
  linearForward(L.q, x.data(), T, q.data(), act_, pool);
  linearForward(L.k, x.data(), T, k.data(), act_, pool);
  linearForward(L.v, x.data(), T, v.data(), act_, pool);
  applyRope(q.data(), T, H, pos0);
  applyRope(k.data(), T, Hkv, pos0);
  std::memcpy(kCache + pos0 * kvDim, k.data(), k.size() * sizeof(float));
  std::memcpy(vCache + pos0 * kvDim, v.data(), v.size() * sizeof(float));

  std::vector<float> att(static_cast<size_t>(T * qDim)); // [T, H*Dh]
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dh)));
  auto attend = [&](int64_t i0, int64_t i1) {
    std::vector<float> p(static_cast<size_t>(pos0 + T)); // scores over keys [S]
    std::vector<float> acc(static_cast<size_t>(Dh));
    for (int64_t i = i0; i < i1; ++i) {
      int64_t t = i / H, h = i % H, kvh = h / group; // query head h reads kv head h / group
      int64_t S = pos0 + t + 1;                     // causal: keys 0..pos0+t
      const float *qh = &q[t * qDim + h * Dh];
      float mx = -INFINITY;
      for (int64_t s = 0; s < S; ++s) {
        const float *ks = kCache + s * kvDim + kvh * Dh;
        float d = 0.0f;
        for (int64_t j = 0; j < Dh; ++j) d += qh[j] * ks[j];
        p[s] = d * scale;
        mx = std::max(mx, p[s]);
      }
      float sum = 0.0f;
      for (int64_t s = 0; s < S; ++s) sum += (p[s] = std::exp(p[s] - mx));
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t s = 0; s < S; ++s) {
        const float *vs = vCache + s * kvDim + kvh * Dh;
        for (int64_t j = 0; j < Dh; ++j) acc[j] += p[s] * vs[j];
      }
      for (int64_t j = 0; j < Dh; ++j) att[t * qDim + h * Dh + j] = round(acc[j] / sum);
    }
  };
  if (T * H * (pos0 + T) * Dh < (int64_t(1) << 18)) attend(0, T * H); // small: not worth waking the pool
  else pool.parallelFor(T * H, attend);

  std::vector<float> o(static_cast<size_t>(T * D)); // [T, D]
  observe("self_attn.o_proj", att.data(), qDim);
  linearForward(L.o, att.data(), T, o.data(), act_, pool);
  for (int64_t i = 0; i < T * D; ++i) hidden[i] = round(hidden[i] + o[i]);

  // MLP block (SwiGLU).
  std::vector<float> g(static_cast<size_t>(T * F)), u(static_cast<size_t>(T * F)); // [T, F]
  rmsNorm(hidden, L.postNorm, T, x.data());
  observe("mlp.gate_proj", x.data(), D);
  observe("mlp.up_proj", x.data(), D);
  linearForward(L.gate, x.data(), T, g.data(), act_, pool);
  linearForward(L.up, x.data(), T, u.data(), act_, pool);
  for (int64_t i = 0; i < T * F; ++i) {
    float silu = g[i] / (1.0f + std::exp(-g[i]));
    g[i] = round(round(silu) * u[i]);
  }
  observe("mlp.down_proj", g.data(), F);
  linearForward(L.down, g.data(), T, o.data(), act_, pool);
  for (int64_t i = 0; i < T * D; ++i) hidden[i] = round(hidden[i] + o[i]);
}

Status ReferenceLlama::checkTokens(const std::vector<int64_t> &tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= config_.vocabSize)
      return Status::error("token id " + std::to_string(tokens[i]) + " at index " +
                           std::to_string(i) + " is outside the vocabulary [0, " +
                           std::to_string(config_.vocabSize) + ")");
  return Status::ok();
}

Expected<std::vector<float>> ReferenceLlama::embed(const std::vector<int64_t> &tokens) const {
  QCC_RETURN_IF_ERROR(checkTokens(tokens));
  const int64_t D = config_.hiddenSize;
  std::vector<float> h(tokens.size() * D); // [T, D]
  for (size_t t = 0; t < tokens.size(); ++t)
    std::memcpy(&h[t * D], &embedding_[tokens[t] * D], D * sizeof(float));
  return h;
}

Status ReferenceLlama::runLayer(int layer, std::vector<float> &hidden,
                            const LayerObserver *observer) const {
  const int64_t D = config_.hiddenSize, kvDim = config_.numKvHeads * config_.headDim;
  if (layer < 0 || layer >= config_.numLayers)
    return Status::error("layer " + std::to_string(layer) + " is outside [0, " +
                         std::to_string(config_.numLayers) + ")");
  if (hidden.empty() || hidden.size() % D != 0)
    return Status::error("hidden state of " + std::to_string(hidden.size()) +
                         " values is not a non-empty [T, " + std::to_string(D) + "]");
  int64_t T = static_cast<int64_t>(hidden.size()) / D;
  if (T > maxSeqLen_)
    return Status::error("sequence of " + std::to_string(T) + " tokens exceeds the maximum " +
                         std::to_string(maxSeqLen_));
  std::vector<float> kc(static_cast<size_t>(T * kvDim)), vc(kc.size()); // [T, Hkv*Dh]
  forwardLayer(layer, hidden.data(), T, 0, kc.data(), vc.data(), observer);
  return Status::ok();
}

Expected<std::vector<float>> ReferenceLlama::finalLogits(const std::vector<float> &hidden) const {
  const int64_t D = config_.hiddenSize;
  if (hidden.empty() || hidden.size() % D != 0)
    return Status::error("hidden state of " + std::to_string(hidden.size()) +
                         " values is not a non-empty [T, " + std::to_string(D) + "]");
  int64_t T = static_cast<int64_t>(hidden.size()) / D;
  std::vector<float> x(hidden.size());                                  // [T, D]
  std::vector<float> logits(static_cast<size_t>(T * config_.vocabSize)); // [T, V]
  rmsNorm(hidden.data(), finalNorm_, T, x.data());
  linearForward(lmHead_, x.data(), T, logits.data(), act_, *pool_);
  return logits;
}

Expected<std::vector<float>> ReferenceLlama::forward(const std::vector<int64_t> &tokens) const {
  ReferenceSession s(*this);
  return s.prefill(tokens);
}

//===----------------------------------------------------------------------===//
// Session
//===----------------------------------------------------------------------===//

ReferenceSession::ReferenceSession(const ReferenceLlama &model) : model_(&model) {
  const ModelConfig &c = model.config();
  size_t n = static_cast<size_t>(c.numLayers * model.maxSeqLen() * c.numKvHeads * c.headDim);
  kCache_.resize(n);
  vCache_.resize(n);
}

Expected<std::vector<float>> ReferenceSession::prefill(const std::vector<int64_t> &tokens) {
  const ReferenceLlama &m = *model_;
  if (tokens.empty()) return Status::error("prefill needs at least one token");
  int64_t T = static_cast<int64_t>(tokens.size());
  if (pos_ + T > m.maxSeqLen())
    return Status::error("sequence of " + std::to_string(pos_ + T) +
                         " tokens exceeds the maximum length " + std::to_string(m.maxSeqLen()));
  Expected<std::vector<float>> h = m.embed(tokens); // [T, D]
  if (!h) return h.status();
  const ModelConfig &c = m.config();
  int64_t layerCache = m.maxSeqLen() * c.numKvHeads * c.headDim;
  for (int64_t l = 0; l < c.numLayers; ++l)
    m.forwardLayer(static_cast<int>(l), h->data(), T, pos_, kCache_.data() + l * layerCache,
                   vCache_.data() + l * layerCache, nullptr);
  pos_ += T;
  return m.finalLogits(*h);
}

Expected<std::vector<float>> ReferenceSession::decode(int64_t token) { return prefill({token}); }

} // namespace qcc::test
