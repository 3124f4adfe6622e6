#include "runtime/cpu/Interpreter.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qcc::cpu {

using formats::Format;
using program::Op;
using program::OpKind;
using program::ValueKind;

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

std::vector<float> ropeInvFrequencies(int64_t Dh, double theta, const RopeScaling &scaling) {
  std::vector<float> inv(static_cast<size_t>(Dh / 2));
  // inv_freq = 1 / base^(2i / dim), all in fp32 like transformers.
  for (int64_t i = 0; i < Dh / 2; ++i)
    inv[i] = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / static_cast<float>(Dh));
  if (!scaling.enabled) return inv;
  // Llama-3.1: long wavelengths divided by `factor`, short ones kept, the
  // band between low_freq_wavelen and high_freq_wavelen interpolated.
  const float factor = static_cast<float>(scaling.factor);
  const float lowF = static_cast<float>(scaling.lowFreqFactor);
  const float highF = static_cast<float>(scaling.highFreqFactor);
  const float oldLen = static_cast<float>(scaling.originalMaxPositionEmbeddings);
  const float lowWavelen = static_cast<float>(scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor);
  const float highWavelen = static_cast<float>(scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor);
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

//===----------------------------------------------------------------------===//
// Weight loading
//===----------------------------------------------------------------------===//

// A dense tensor as fp32 values.
static Expected<std::vector<float>> denseValues(const WeightData &w) {
  const TensorRef &t = w.dense;
  if (!t.data && t.numel() > 0) return Status::error("tensor '" + w.name + "' has no data");
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  switch (t.dtype) {
  case DType::F32: std::memcpy(out.data(), p, static_cast<size_t>(n) * 4); break;
  case DType::BF16:
  case DType::F16:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t b = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)); // little-endian
      out[i] = t.dtype == DType::BF16 ? formats::bf16ToFloat(b) : formats::f16ToFloat(b);
    }
    break;
  default:
    return Status::error("tensor '" + w.name + "' has dtype " + dtypeName(t.dtype) +
                         ", which the cpu executor does not load (expected F32, BF16 or F16)");
  }
  return out;
}

static void roundAll(std::vector<float> &v) {
  for (float &x : v) x = formats::roundToBf16(x);
}

Interpreter::Interpreter(program::Program program, ActDType act, int numThreads, int64_t maxSeqLen, bool checkFinite)
    : program_(std::move(program)), act_(act), maxSeqLen_(maxSeqLen), checkFinite_(checkFinite),
      pool_(std::make_unique<ThreadPool>(numThreads)) {}

int64_t Interpreter::vocabSize() const { return program_.values[program_.logits].cols; }

Expected<std::unique_ptr<Interpreter>> Interpreter::create(program::Program program, const WeightSource &weights,
                                                           const ExecutorOptions &options) {
  // Shapes first, so that the program is checked before any conversion.
  std::vector<program::WeightShape> shapes(weights.count());
  std::vector<std::optional<WeightData>> data(weights.count());
  std::vector<bool> used(weights.count(), false);
  for (const Op &op : program.ops)
    for (uint32_t w : op.weights)
      if (w < used.size()) used[w] = true;
  for (uint32_t i = 0; i < weights.count(); ++i) {
    if (!used[i]) continue;
    auto w = weights.weight(i);
    if (!w) return w.status();
    if (w->quantized) shapes[i] = {{w->quantized->outFeatures, w->quantized->inFeatures}, true};
    else shapes[i] = {w->dense.shape, false};
    data[i] = std::move(*w);
  }
  QCC_RETURN_IF_ERROR(program::validate(program, shapes));

  ActDType act = options.actDtype ? *options.actDtype
                 : program.precision == program::Precision::BF16 ? ActDType::BF16
                                                                  : ActDType::F32;
  int64_t maxSeq = options.maxSeqLen;
  if (maxSeq <= 0) maxSeq = program.maxPositions > 0 ? std::min<int64_t>(program.maxPositions, 8192) : 2048;
  if (maxSeq > (int64_t(1) << 24))
    return Status::error("maximum sequence length " + std::to_string(maxSeq) + " exceeds 16777216");
  std::unique_ptr<Interpreter> m(new Interpreter(std::move(program), act, options.numThreads, maxSeq,
                                                 options.checkFinite));
  const program::Program &p = m->program_;

  auto dense = [&](uint32_t t) -> Expected<std::vector<float>> {
    if (data[t]->quantized)
      return Status::error("tensor '" + data[t]->name + "' is quantized; this op needs a dense tensor");
    auto v = denseValues(*data[t]);
    if (!v) return v.status();
    if (act == ActDType::BF16) roundAll(*v);
    return v;
  };
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op &op = p.ops[i];
    const std::string where = "op " + std::to_string(i) + " (" + program::opKindName(op.kind) +
                              (op.name.empty() ? "" : " " + op.name) + ")";
    for (uint32_t t : op.weights) {
      switch (op.kind) {
      case OpKind::Embedding: {
        if (m->embeddings_.count(t)) break;
        auto v = dense(t);
        if (!v) return v.status().withContext(where);
        m->embeddings_[t] = std::move(*v);
        break;
      }
      case OpKind::RmsNorm: {
        if (m->norms_.count(t)) break;
        auto v = dense(t);
        if (!v) return v.status().withContext(where);
        m->norms_[t] = std::move(*v);
        break;
      }
      case OpKind::Linear:
      case OpKind::Logits: {
        if (m->linears_.count(t)) break;
        if (data[t]->quantized) {
          QCC_RETURN_IF_ERROR(formats::validate(*data[t]->quantized).withContext("tensor '" + data[t]->name + "'"));
          m->linears_[t] = Linear::fromQuantized(*data[t]->quantized);
        } else {
          auto v = dense(t);
          if (!v) return v.status().withContext(where);
          m->linears_[t] = Linear::fromDense(std::move(*v), shapes[t].shape[0], shapes[t].shape[1]);
        }
        break;
      }
      default: break;
      }
    }
    // A W8A8 weight reads codes of its own format; other weights read activations.
    if (op.kind == OpKind::Linear && program::isQuantizedActivation(p.values[op.inputs[0]].kind)) {
      const Format want = p.values[op.inputs[0]].kind == ValueKind::Int8Activation ? Format::INT8 : Format::FP8;
      for (uint32_t t : op.weights)
        if (m->linears_.at(t).format != want)
          return Status::error(where + ": weight '" + data[t]->name + "' is " +
                               formats::formatName(m->linears_.at(t).format) + " but its input is " +
                               program::valueKindName(p.values[op.inputs[0]].kind) + " codes");
    }
  }

  // RoPE tables, one per distinct (head_dim, theta, scaling).
  m->ropeTableOf_.assign(p.ops.size(), -1);
  std::vector<std::tuple<int64_t, double, double, double, double, int64_t, bool>> keys;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op &op = p.ops[i];
    if (op.kind != OpKind::Rope) continue;
    const RopeScaling &s = op.ropeScaling;
    auto key = std::make_tuple(op.headDim, op.ropeTheta, s.factor, s.lowFreqFactor, s.highFreqFactor,
                               s.originalMaxPositionEmbeddings, s.enabled);
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it != keys.end()) {
      m->ropeTableOf_[i] = int(it - keys.begin());
      continue;
    }
    keys.push_back(key);
    m->ropeTableOf_[i] = int(m->ropeTables_.size());
    RopeTable table;
    table.half = op.headDim / 2;
    std::vector<float> inv = ropeInvFrequencies(op.headDim, op.ropeTheta, op.ropeScaling);
    table.cos.resize(static_cast<size_t>(maxSeq * table.half));
    table.sin.resize(table.cos.size());
    for (int64_t pos = 0; pos < maxSeq; ++pos)
      for (int64_t j = 0; j < table.half; ++j) {
        float angle = inv[j] * static_cast<float>(pos); // fp32 like transformers
        table.cos[pos * table.half + j] = m->round(std::cos(angle));
        table.sin[pos * table.half + j] = m->round(std::sin(angle));
      }
    m->ropeTables_.push_back(std::move(table));
  }
  m->lastUse_ = program::lastUses(p);
  return m;
}

//===----------------------------------------------------------------------===//
// Weight replacement (calibration)
//===----------------------------------------------------------------------===//

const Linear *Interpreter::linear(uint32_t tensor) const {
  auto it = linears_.find(tensor);
  return it == linears_.end() ? nullptr : &it->second;
}

Status Interpreter::setLinear(uint32_t tensor, formats::QuantizedLinear q) {
  auto it = linears_.find(tensor);
  if (it == linears_.end()) return Status::error("tensor " + std::to_string(tensor) + " is not a linear weight");
  QCC_RETURN_IF_ERROR(formats::validate(q).withContext("linear weight " + std::to_string(tensor)));
  if (q.outFeatures != it->second.N || q.inFeatures != it->second.K)
    return Status::error("linear weight " + std::to_string(tensor) + ": quantized shape [" +
                         std::to_string(q.outFeatures) + ", " + std::to_string(q.inFeatures) +
                         "] does not match [" + std::to_string(it->second.N) + ", " + std::to_string(it->second.K) +
                         "]");
  it->second = Linear::fromQuantized(std::move(q));
  return Status::ok();
}

Status Interpreter::swapLinear(uint32_t tensor, Linear &other) {
  auto it = linears_.find(tensor);
  if (it == linears_.end()) return Status::error("tensor " + std::to_string(tensor) + " is not a linear weight");
  if (other.N != it->second.N || other.K != it->second.K)
    return Status::error("linear weight " + std::to_string(tensor) + ": [" + std::to_string(other.N) + ", " +
                         std::to_string(other.K) + "] does not match [" + std::to_string(it->second.N) + ", " +
                         std::to_string(it->second.K) + "]");
  std::swap(it->second, other);
  return Status::ok();
}

Status Interpreter::setDenseLinear(uint32_t tensor, std::vector<float> w) {
  auto it = linears_.find(tensor);
  if (it == linears_.end()) return Status::error("tensor " + std::to_string(tensor) + " is not a linear weight");
  if (static_cast<int64_t>(w.size()) != it->second.N * it->second.K)
    return Status::error("linear weight " + std::to_string(tensor) + ": " + std::to_string(w.size()) +
                         " values given, expected " + std::to_string(it->second.N * it->second.K));
  if (act_ == ActDType::BF16) roundAll(w);
  it->second = Linear::fromDense(std::move(w), it->second.N, it->second.K);
  return Status::ok();
}

std::vector<float> Interpreter::denseLinearWeights(uint32_t tensor) const {
  const Linear *l = linear(tensor);
  return l ? l->weights() : std::vector<float>();
}

const std::vector<float> *Interpreter::normWeight(uint32_t tensor) const {
  auto it = norms_.find(tensor);
  return it == norms_.end() ? nullptr : &it->second;
}

Status Interpreter::setNormWeight(uint32_t tensor, std::vector<float> w) {
  auto it = norms_.find(tensor);
  if (it == norms_.end()) return Status::error("tensor " + std::to_string(tensor) + " is not a norm weight");
  if (w.size() != it->second.size())
    return Status::error("norm weight " + std::to_string(tensor) + ": " + std::to_string(w.size()) +
                         " values given, expected " + std::to_string(it->second.size()));
  if (act_ == ActDType::BF16) roundAll(w);
  it->second = std::move(w);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

Expected<Frame> Interpreter::newFrame(const std::vector<int64_t> &ids, int64_t pos0) const {
  if (ids.empty()) return Status::error("no tokens to run");
  const int64_t V = program_.ops.empty() ? 0 : vocabSize();
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= V)
      return Status::error("token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " + std::to_string(V) + ")");
  const int64_t T = static_cast<int64_t>(ids.size());
  if (pos0 < 0 || pos0 + T > maxSeqLen_)
    return Status::error("sequence of " + std::to_string(pos0 + T) + " tokens exceeds the maximum length " +
                         std::to_string(maxSeqLen_));
  Frame f;
  f.T = T;
  f.ids = ids;
  f.positions.resize(ids.size());
  for (int64_t t = 0; t < T; ++t) f.positions[t] = pos0 + t;
  f.data.resize(program_.values.size());
  f.scales.resize(program_.values.size());
  return f;
}

KvCaches Interpreter::newCaches(int64_t capacity, size_t first, size_t last) const {
  KvCaches c;
  c.capacity = capacity;
  c.k.resize(size_t(program_.numCaches));
  c.v.resize(size_t(program_.numCaches));
  for (size_t i = first; i < std::min(last, program_.ops.size()); ++i)
    if (const Op &op = program_.ops[i]; op.kind == OpKind::Attention) {
      c.k[op.cache].assign(static_cast<size_t>(capacity * op.numKvHeads * op.headDim), 0.0f);
      c.v[op.cache].assign(c.k[op.cache].size(), 0.0f);
    }
  return c;
}

void Interpreter::rmsNorm(const float *x, const std::vector<float> &w, double eps, int64_t T, int64_t D,
                          float *y) const {
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + t * D;
    double ss = 0.0;
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xt[i]) * xt[i];
    float inv = 1.0f / std::sqrt(static_cast<float>(ss / D) + static_cast<float>(eps));
    for (int64_t i = 0; i < D; ++i) y[t * D + i] = round(w[i] * round(xt[i] * inv));
  }
}

Status Interpreter::run(size_t first, size_t last, Frame &f, KvCaches &caches, const LinearObserver *observer) const {
  last = std::min(last, program_.ops.size());
  for (size_t i = first; i < last; ++i) {
    QCC_RETURN_IF_ERROR(runOp(i, f, caches, observer));
    if (checkFinite_) QCC_RETURN_IF_ERROR(checkFinite(i, f));
    for (uint32_t v : program_.ops[i].inputs)
      if (lastUse_[v] == int64_t(i)) {
        std::vector<float>().swap(f.data[v]);
        std::vector<float>().swap(f.scales[v]);
      }
  }
  return Status::ok();
}

// Whether every element is finite: an exponent of all ones marks inf and nan.
// No early exit, so the loop vectorizes (it runs after every op).
static bool allFinite(const std::vector<float> &d) {
  uint32_t nonFinite = 0;
  for (float x : d) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    nonFinite |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return nonFinite == 0;
}

Status Interpreter::checkFinite(size_t index, const Frame &f) const {
  const Op &op = program_.ops[index];
  for (uint32_t v : op.outputs) {
    for (const std::vector<float> *d : {&f.data[v], &f.scales[v]}) {
      if (allFinite(*d)) continue;
      for (float x : *d)
        if (!std::isfinite(x))
          return Status::error(std::string("non-finite value (") + (std::isnan(x) ? "nan" : "inf") +
                               ") in the output of op " + std::to_string(index) + " (" +
                               program::opKindName(op.kind) + (op.name.empty() ? "" : " " + op.name) + ")");
    }
  }
  return Status::ok();
}

// Writes quantized codes of `kind` for x [T, K] into the value's data and scales.
static void quantizeValue(ValueKind kind, const float *x, int64_t T, int64_t K, std::vector<float> &codes,
                          std::vector<float> &scales) {
  codes.resize(static_cast<size_t>(T * K));
  scales.resize(static_cast<size_t>(T));
  quantizeActivations(kind == ValueKind::Int8Activation ? Format::INT8 : Format::FP8, x, T, K, codes.data(),
                      scales.data());
}

Status Interpreter::runOp(size_t index, Frame &f, KvCaches &caches, const LinearObserver *observer) const {
  const Op &op = program_.ops[index];
  const int64_t T = f.T;
  auto cols = [&](uint32_t v) { return program_.values[v].cols; };
  auto kind = [&](uint32_t v) { return program_.values[v].kind; };
  auto out = [&](size_t j) -> std::vector<float> & {
    std::vector<float> &o = f.data[op.outputs[j]];
    o.resize(static_cast<size_t>(T * cols(op.outputs[j])));
    return o;
  };
  switch (op.kind) {
  case OpKind::Embedding: {
    const std::vector<float> &table = embeddings_.at(op.weights[0]);
    const int64_t D = cols(op.outputs[0]);
    std::vector<float> &h = out(0); // [T, D]
    for (int64_t t = 0; t < T; ++t) std::memcpy(&h[t * D], &table[f.ids[t] * D], D * sizeof(float));
    break;
  }
  case OpKind::RmsNorm: {
    const uint32_t x = op.inputs[0], y = op.outputs[0];
    const int64_t D = cols(x);
    if (kind(y) == ValueKind::Activation) {
      rmsNorm(f.data[x].data(), norms_.at(op.weights[0]), op.epsilon, T, D, out(0).data());
    } else {
      std::vector<float> n(static_cast<size_t>(T * D)); // [T, D] normalised, then quantized
      rmsNorm(f.data[x].data(), norms_.at(op.weights[0]), op.epsilon, T, D, n.data());
      quantizeValue(kind(y), n.data(), T, D, f.data[y], f.scales[y]);
    }
    break;
  }
  case OpKind::Linear: {
    const uint32_t x = op.inputs[0];
    const bool codes = program::isQuantizedActivation(kind(x));
    if (observer && !codes) (*observer)(op, index, f.data[x].data(), T, cols(x));
    for (size_t j = 0; j < op.weights.size(); ++j) {
      const Linear &l = linears_.at(op.weights[j]);
      std::vector<float> &y = out(j); // [T, N]
      if (codes) linearForwardCodes(l, f.data[x].data(), f.scales[x].data(), T, y.data(), act_, *pool_);
      else linearForward(l, f.data[x].data(), T, y.data(), act_, *pool_);
    }
    if (op.residual) {
      std::vector<float> &y = f.data[op.outputs[0]];
      const std::vector<float> &r = f.data[op.inputs[1]];
      for (size_t i = 0; i < y.size(); ++i) y[i] = round(r[i] + y[i]);
    }
    break;
  }
  case OpKind::Rope: {
    const RopeTable &table = ropeTables_[size_t(ropeTableOf_[index])];
    const int64_t Dh = op.headDim, half = Dh / 2;
    for (size_t j = 0; j < op.outputs.size(); ++j) {
      const int64_t heads = op.heads[j];
      const std::vector<float> &in = f.data[op.inputs[j + 1]];
      std::vector<float> &x = out(j); // [T, heads * Dh]
      std::copy(in.begin(), in.end(), x.begin());
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = f.positions[t];
        const float *c = &table.cos[pos * half];
        const float *s = &table.sin[pos * half];
        for (int64_t h = 0; h < heads; ++h) {
          float *x1 = x.data() + t * heads * Dh + h * Dh, *x2 = x1 + half;
          for (int64_t i = 0; i < half; ++i) {
            float a = x1[i], b = x2[i];
            x1[i] = round(round(a * c[i]) - round(b * s[i]));
            x2[i] = round(round(b * c[i]) + round(a * s[i]));
          }
        }
      }
    }
    break;
  }
  case OpKind::Attention: {
    const int64_t H = op.numHeads, Hkv = op.numKvHeads, Dh = op.headDim, group = H / Hkv;
    const int64_t qDim = H * Dh, kvDim = Hkv * Dh;
    const std::vector<float> &q = f.data[op.inputs[1]], &k = f.data[op.inputs[2]], &v = f.data[op.inputs[3]];
    float *kCache = caches.k[op.cache].data(), *vCache = caches.v[op.cache].data();
    int64_t maxPos = 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t pos = f.positions[t];
      if (pos < 0 || pos >= caches.capacity)
        return Status::error("position " + std::to_string(pos) + " is outside the KV cache of " +
                             std::to_string(caches.capacity));
      std::memcpy(kCache + pos * kvDim, &k[t * kvDim], kvDim * sizeof(float));
      std::memcpy(vCache + pos * kvDim, &v[t * kvDim], kvDim * sizeof(float));
      maxPos = std::max(maxPos, pos);
    }
    std::vector<float> &att = out(0); // [T, H*Dh]
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dh)));
    auto attend = [&](int64_t i0, int64_t i1) {
      std::vector<float> p(static_cast<size_t>(maxPos + 1)); // scores over keys [S]
      std::vector<float> acc(static_cast<size_t>(Dh));
      for (int64_t i = i0; i < i1; ++i) {
        int64_t t = i / H, h = i % H, kvh = h / group; // query head h reads kv head h / group
        int64_t S = f.positions[t] + 1;               // causal: keys 0..pos
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
    if (T * H * (maxPos + 1) * Dh < (int64_t(1) << 18)) attend(0, T * H); // small: not worth waking the pool
    else pool_->parallelFor(T * H, attend);
    break;
  }
  case OpKind::SwiGLU: {
    const std::vector<float> &g = f.data[op.inputs[0]], &u = f.data[op.inputs[1]];
    const uint32_t y = op.outputs[0];
    const int64_t F = cols(y);
    std::vector<float> a(static_cast<size_t>(T * F)); // [T, F]
    for (int64_t i = 0; i < T * F; ++i) {
      float silu = g[i] / (1.0f + std::exp(-g[i]));
      a[i] = round(round(silu) * u[i]);
    }
    if (kind(y) == ValueKind::Activation) f.data[y] = std::move(a);
    else quantizeValue(kind(y), a.data(), T, F, f.data[y], f.scales[y]);
    break;
  }
  case OpKind::Add: {
    const std::vector<float> &a = f.data[op.inputs[0]], &b = f.data[op.inputs[1]];
    std::vector<float> &y = out(0);
    for (size_t i = 0; i < y.size(); ++i) y[i] = round(a[i] + b[i]);
    break;
  }
  case OpKind::Quantize: {
    const uint32_t x = op.inputs[0], y = op.outputs[0];
    quantizeValue(kind(y), f.data[x].data(), T, cols(x), f.data[y], f.scales[y]);
    break;
  }
  case OpKind::Logits: {
    const uint32_t x = op.inputs[0];
    std::vector<float> &y = out(0); // [T, V]
    linearForward(linears_.at(op.weights[0]), f.data[x].data(), T, y.data(), act_, *pool_);
    break;
  }
  }
  return Status::ok();
}

Expected<std::vector<float>> Interpreter::forward(const std::vector<int64_t> &tokens) const {
  Session s(*this);
  return s.prefill(tokens);
}

//===----------------------------------------------------------------------===//
// Session
//===----------------------------------------------------------------------===//

Session::Session(const Interpreter &interpreter)
    : interpreter_(&interpreter), caches_(interpreter.newCaches(interpreter.maxSeqLen())) {}

Expected<std::vector<float>> Session::prefill(const std::vector<int64_t> &tokens) {
  if (tokens.empty()) return Status::error("prefill needs at least one token");
  auto frame = interpreter_->newFrame(tokens, pos_);
  if (!frame) return frame.status();
  QCC_RETURN_IF_ERROR(interpreter_->run(0, interpreter_->program().ops.size(), *frame, caches_));
  pos_ += static_cast<int64_t>(tokens.size());
  return std::move(frame->data[interpreter_->program().logits]);
}

Expected<std::vector<float>> Session::decode(int64_t token) { return prefill({token}); }

} // namespace qcc::cpu
