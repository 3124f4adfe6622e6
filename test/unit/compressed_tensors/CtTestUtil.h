// Helpers for the compressed-tensors tests: a tiny Llama with random quantized
// linears exported through ExportWriter, and in-place edits of the folder
// (config.json text, tensors) that make the bad-folder cases.
#pragma once

#include "frontends/compressed_tensors/Layout.h"
#include "frontends/compressed_tensors/Writer.h"
#include "frontends/llama/LlamaConfig.h"
#include "frontends/llama/Safetensors.h"

#include "../frontend/FrontendTestUtil.h"

#include <cstring>
#include <functional>
#include <map>
#include <random>

namespace qcc::testing {

// D 64, F 128, 1 layer, 4 heads, 2 kv heads, head_dim 16, vocab 96, untied.
inline std::string tinyConfigJson(int layers = 1) {
  return std::string(R"({"architectures":["LlamaForCausalLM"],"model_type":"llama",)"
                     R"("hidden_size":64,"intermediate_size":128,"num_hidden_layers":)") +
         std::to_string(layers) +
         R"(,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,"vocab_size":96,)"
         R"("rms_norm_eps":1e-5,"rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3",)"
         R"("factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,)"
         R"("original_max_position_embeddings":64},"max_position_embeddings":256,)"
         R"("tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":[2,3],"torch_dtype":"bfloat16"})";
}

inline ModelConfig tinyConfig(int layers = 1) {
  Expected<ModelConfig> c = parseLlamaConfig(tinyConfigJson(layers), "tiny");
  EXPECT_TRUE(c.isOk());
  return *c;
}

// A random QuantizedLinear of `spec` (codes over the whole range, scales in
// [1e-3, 1e-1), bf16 weights of modest size).
inline formats::QuantizedLinear randomLinear(const formats::FormatSpec &spec, int64_t N, int64_t K,
                                             uint32_t seed) {
  std::mt19937 rng(seed);
  formats::QuantizedLinear q;
  q.format = spec.format;
  q.outFeatures = N;
  q.inFeatures = K;
  q.groupSize = spec.format == formats::Format::W4A16 ? spec.groupSize : 0;
  std::uniform_real_distribution<float> scale(1e-3f, 1e-1f);
  switch (spec.format) {
  case formats::Format::BF16:
    q.weights.resize(size_t(2 * N * K));
    for (int64_t i = 0; i < N * K; ++i) {
      uint16_t b = formats::floatToBf16(std::normal_distribution<float>(0.0f, 0.05f)(rng));
      q.weights[2 * i] = uint8_t(b & 0xFF);
      q.weights[2 * i + 1] = uint8_t(b >> 8);
    }
    break;
  case formats::Format::INT8:
    for (int64_t i = 0; i < N * K; ++i) q.weights.push_back(uint8_t(rng() & 0xFF));
    for (int64_t n = 0; n < N; ++n) q.scales.push_back(scale(rng));
    break;
  case formats::Format::FP8:
    for (int64_t i = 0; i < N * K; ++i) {
      uint8_t c = uint8_t(rng() & 0xFF);
      if ((c & 0x7F) == 0x7F) c ^= 1; // not NaN
      q.weights.push_back(c);
    }
    for (int64_t n = 0; n < N; ++n) q.scales.push_back(scale(rng));
    break;
  case formats::Format::W4A16:
    for (int64_t i = 0; i < N * K / 2; ++i) q.weights.push_back(uint8_t(rng() & 0xFF));
    for (int64_t i = 0; i < N * (K / spec.groupSize); ++i) q.scales.push_back(scale(rng));
    break;
  }
  return q;
}

// The whole model as a plan plus its data, one format per linear chosen by `formatOf`.
struct TinyModel {
  ModelConfig config;
  std::vector<compressed_tensors::ExportEntry> plan;
  std::map<std::string, std::vector<uint8_t>> dense;
  std::map<std::string, formats::QuantizedLinear> linears;
};

inline TinyModel makeTinyModel(const std::function<formats::FormatSpec(const std::string &)> &formatOf,
                               int layers = 1, uint32_t seed = 7) {
  TinyModel m;
  m.config = tinyConfig(layers);
  uint32_t s = seed;
  for (const auto &t : Checkpoint::expectedTensors(m.config)) {
    const std::string &name = t.first;
    bool linear = t.second.size() == 2 && name != "model.embed_tokens.weight";
    if (!linear) {
      m.plan.push_back(compressed_tensors::ExportEntry::dense(name, DType::BF16, t.second));
      int64_t n = 1;
      for (int64_t d : t.second) n *= d;
      std::mt19937 rng(++s);
      std::vector<uint8_t> bytes(size_t(2 * n));
      for (auto &b : bytes) b = uint8_t(rng() & 0x7F); // finite bf16 values
      m.dense[name] = bytes;
      continue;
    }
    std::string module = name.substr(0, name.size() - 7);
    formats::FormatSpec spec = formatOf(module);
    m.plan.push_back(compressed_tensors::ExportEntry::linear(module, spec, t.second[0], t.second[1]));
    m.linears[module] = randomLinear(spec, t.second[0], t.second[1], ++s);
  }
  return m;
}

// Exports `m` to `dir` (which must not exist) and returns the status.
inline Status exportTiny(const TinyModel &m, const std::string &dir, const std::string &sourceDir = "",
                         compressed_tensors::ExportOptions options = {}) {
  auto w = compressed_tensors::ExportWriter::create(dir, m.config, sourceDir, m.plan, options);
  if (!w) return w.status();
  for (const auto &e : m.plan) {
    if (e.kind == compressed_tensors::ExportEntry::Kind::Dense) {
      const auto &b = m.dense.at(e.name);
      QCC_RETURN_IF_ERROR((*w)->writeDense(e.name, b.data(), b.size()));
    } else {
      QCC_RETURN_IF_ERROR((*w)->writeLinear(e.name, m.linears.at(e.name)));
    }
  }
  return (*w)->finish();
}

struct OwnedTensor {
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Rewrites `dir`/model.safetensors through `edit` (single-file folders).
inline void editTensors(const std::string &dir,
                        const std::function<void(std::map<std::string, OwnedTensor> &)> &edit) {
  std::map<std::string, OwnedTensor> tensors;
  {
    auto f = SafetensorsFile::open(dir + "/model.safetensors");
    ASSERT_TRUE(f.isOk()) << f.message();
    for (const std::string &n : (*f)->names()) {
      const TensorRef *t = (*f)->find(n);
      const uint8_t *p = static_cast<const uint8_t *>(t->data);
      tensors[n] = OwnedTensor{t->dtype, t->shape, std::vector<uint8_t>(p, p + t->byteSize())};
    }
  }
  edit(tensors);
  std::vector<SafetensorsEntry> entries;
  for (const auto &t : tensors) entries.push_back({t.first, t.second.dtype, t.second.shape, t.second.bytes.data()});
  ASSERT_TRUE(writeSafetensors(dir + "/model.safetensors", entries, {{"format", "pt"}}).isOk());
}

// Replaces occurrence `nth` (0: the first) of `from` in `dir`/config.json.
inline void editConfig(const std::string &dir, const std::string &from, const std::string &to, int nth = 0) {
  std::string text = readFile(dir + "/config.json");
  size_t at = text.find(from);
  for (int i = 0; i < nth && at != std::string::npos; ++i) at = text.find(from, at + 1);
  ASSERT_NE(at, std::string::npos) << "config.json has no '" << from << "' #" << nth;
  text.replace(at, from.size(), to);
  writeFile(dir + "/config.json", text);
}

inline bool sameLinear(const formats::QuantizedLinear &a, const formats::QuantizedLinear &b) {
  if (a.format != b.format || a.outFeatures != b.outFeatures || a.inFeatures != b.inFeatures ||
      a.groupSize != b.groupSize || a.weights != b.weights || a.scales.size() != b.scales.size())
    return false;
  return std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * sizeof(float)) == 0; // bit for bit
}

} // namespace qcc::testing
