// A tiny random Llama model in memory for the executor tests, and a plain
// float64 reference forward pass written independently of the executor.
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace qcc::test {

// Owns fp32 tensors by name.
class MapWeights : public WeightProvider {
public:
  void add(const std::string &name, std::vector<int64_t> shape, std::vector<float> data) {
    auto e = std::make_unique<Entry>();
    e->data = std::move(data);
    e->ref.dtype = DType::F32;
    e->ref.shape = std::move(shape);
    e->ref.data = e->data.data();
    map_[name] = std::move(e);
  }
  const TensorRef *find(const std::string &name) const override {
    auto it = map_.find(name);
    return it == map_.end() ? nullptr : &it->second->ref;
  }
  const std::vector<float> &get(const std::string &name) const { return map_.at(name)->data; }

private:
  struct Entry {
    std::vector<float> data;
    TensorRef ref;
  };
  std::map<std::string, std::unique_ptr<Entry>> map_;
};

// GQA 4:2 heads, head_dim 16, llama3 rope scaling whose bands all occur
// (wavelengths 6.3 .. 4000 against low/high thresholds 64 and 16).
inline ModelConfig tinyConfig() {
  ModelConfig c;
  c.hiddenSize = 64;
  c.intermediateSize = 96;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 16;
  c.vocabSize = 97;
  c.maxPositionEmbeddings = 128;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 10000.0;
  c.ropeScaling.enabled = true;
  c.ropeScaling.factor = 8.0;
  c.ropeScaling.lowFreqFactor = 1.0;
  c.ropeScaling.highFreqFactor = 4.0;
  c.ropeScaling.originalMaxPositionEmbeddings = 64;
  c.tieWordEmbeddings = false;
  return c;
}

inline std::vector<float> randn(size_t n, float stddev, std::mt19937 &rng, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, stddev);
  std::vector<float> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}

inline void fillRandomWeights(const ModelConfig &c, MapWeights &w, unsigned seed) {
  std::mt19937 rng(seed);
  const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
  const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  w.add("model.embed_tokens.weight", {V, D}, randn(V * D, 1.0f, rng));
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    w.add(p + "input_layernorm.weight", {D}, randn(D, 0.1f, rng, 1.0f));
    w.add(p + "post_attention_layernorm.weight", {D}, randn(D, 0.1f, rng, 1.0f));
    float sd = 1.0f / std::sqrt(float(D));
    w.add(p + "self_attn.q_proj.weight", {q, D}, randn(q * D, 2 * sd, rng));
    w.add(p + "self_attn.k_proj.weight", {kv, D}, randn(kv * D, 2 * sd, rng));
    w.add(p + "self_attn.v_proj.weight", {kv, D}, randn(kv * D, sd, rng));
    w.add(p + "self_attn.o_proj.weight", {D, q}, randn(D * q, 1.0f / std::sqrt(float(q)), rng));
    w.add(p + "mlp.gate_proj.weight", {F, D}, randn(F * D, sd, rng));
    w.add(p + "mlp.up_proj.weight", {F, D}, randn(F * D, sd, rng));
    w.add(p + "mlp.down_proj.weight", {D, F}, randn(D * F, 1.0f / std::sqrt(float(F)), rng));
  }
  w.add("model.norm.weight", {D}, randn(D, 0.1f, rng, 1.0f));
  if (!c.tieWordEmbeddings) w.add("lm_head.weight", {V, D}, randn(V * D, 0.2f, rng));
}

// Straightforward float64 forward over the whole sequence: logits [T, V].
inline std::vector<double> referenceForward(const ModelConfig &c, const MapWeights &w,
                                            const std::vector<int64_t> &tokens) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, T = tokens.size();
  const int64_t H = c.numHeads, Hkv = c.numKvHeads, Dh = c.headDim, half = Dh / 2;
  auto linear = [](const std::vector<double> &x, int64_t T, const std::vector<float> &W,
                   int64_t N, int64_t K) {
    std::vector<double> y(T * N, 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) y[t * N + n] += x[t * K + k] * double(W[n * K + k]);
    return y;
  };
  auto norm = [&](const std::vector<double> &x, const std::vector<float> &g) {
    std::vector<double> y(x.size());
    for (int64_t t = 0; t < T; ++t) {
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += x[t * D + i] * x[t * D + i];
      double r = 1.0 / std::sqrt(ss / D + c.rmsNormEps);
      for (int64_t i = 0; i < D; ++i) y[t * D + i] = g[i] * x[t * D + i] * r;
    }
    return y;
  };
  // Llama-3.1 frequencies, written from the published recipe.
  std::vector<double> freq(half);
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(c.ropeTheta, -2.0 * i / Dh);
    if (c.ropeScaling.enabled) {
      const auto &s = c.ropeScaling;
      double wl = 2 * M_PI / f;
      double lowWl = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      double highWl = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      if (wl > lowWl) f = f / s.factor;
      else if (wl >= highWl) {
        double smooth = (s.originalMaxPositionEmbeddings / wl - s.lowFreqFactor) /
                        (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
    freq[i] = f;
  }
  auto rope = [&](std::vector<double> &x, int64_t heads) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        double *v = &x[(t * heads + h) * Dh];
        for (int64_t i = 0; i < half; ++i) {
          double a = v[i], b = v[i + half], cs = std::cos(t * freq[i]), sn = std::sin(t * freq[i]);
          v[i] = a * cs - b * sn;
          v[i + half] = b * cs + a * sn;
        }
      }
  };
  std::vector<double> h(T * D);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D; ++i) h[t * D + i] = w.get("model.embed_tokens.weight")[tokens[t] * D + i];
  for (int64_t l = 0; l < c.numLayers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    auto x = norm(h, w.get(p + "input_layernorm.weight"));
    auto q = linear(x, T, w.get(p + "self_attn.q_proj.weight"), H * Dh, D);
    auto k = linear(x, T, w.get(p + "self_attn.k_proj.weight"), Hkv * Dh, D);
    auto v = linear(x, T, w.get(p + "self_attn.v_proj.weight"), Hkv * Dh, D);
    rope(q, H);
    rope(k, Hkv);
    std::vector<double> att(T * H * Dh, 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t hh = 0; hh < H; ++hh) {
        int64_t kvh = hh / (H / Hkv);
        std::vector<double> s(t + 1);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double d = 0;
          for (int64_t e = 0; e < Dh; ++e) d += q[(t * H + hh) * Dh + e] * k[(j * Hkv + kvh) * Dh + e];
          s[j] = d / std::sqrt(double(Dh));
          mx = std::max(mx, s[j]);
        }
        for (auto &e : s) sum += (e = std::exp(e - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int64_t e = 0; e < Dh; ++e)
            att[(t * H + hh) * Dh + e] += s[j] / sum * v[(j * Hkv + kvh) * Dh + e];
      }
    auto o = linear(att, T, w.get(p + "self_attn.o_proj.weight"), D, H * Dh);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    x = norm(h, w.get(p + "post_attention_layernorm.weight"));
    auto g = linear(x, T, w.get(p + "mlp.gate_proj.weight"), F, D);
    auto u = linear(x, T, w.get(p + "mlp.up_proj.weight"), F, D);
    for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    auto d = linear(g, T, w.get(p + "mlp.down_proj.weight"), D, F);
    for (size_t i = 0; i < h.size(); ++i) h[i] += d[i];
  }
  auto x = norm(h, w.get("model.norm.weight"));
  return linear(x, T, w.get(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"), V, D);
}

// max |a - b| / max |b|.
template <typename A, typename B> double relError(const A &a, const B &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - double(b[i])));
    den = std::max(den, std::fabs(double(b[i])));
  }
  return num / den;
}

} // namespace qcc::test
