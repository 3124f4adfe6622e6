// config.json parsing: the real Llama-3.1 configs, defaults, and bad values.
#include "frontends/llama/LlamaConfig.h"

#include "FrontendTestUtil.h"

using namespace qcc;
using namespace qcc::testing;

namespace {

// A small valid config; tests patch one key at a time with `with`.
const char kBase[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
  "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "max_position_embeddings": 131072, "tie_word_embeddings": false,
  "bos_token_id": 1, "eos_token_id": [2, 3], "torch_dtype": "bfloat16"
})";

// kBase with `key`'s value replaced by `value` (or the key removed when
// value is empty). Works on the flat top level, which is all the tests need.
std::string with(const std::string &key, const std::string &value,
                 const std::string &base = kBase) {
  std::string s = base;
  size_t k = s.find("\"" + key + "\":");
  if (k == std::string::npos) {
    if (value.empty()) return s;
    return "{\"" + key + "\": " + value + "," + s.substr(1);
  }
  // Find the end of the old value: depth-0 ',' or the final '}'.
  size_t v = k + key.size() + 3, e = v;
  int depth = 0;
  for (; e < s.size(); ++e) {
    char c = s[e];
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) break;
  }
  if (value.empty()) {
    if (s[e] == ',') return s.substr(0, k) + s.substr(e + 1);
    size_t comma = s.rfind(',', k); // the last key: drop the comma before it
    return s.substr(0, comma) + s.substr(e);
  }
  return s.substr(0, v) + " " + value + s.substr(e);
}

Expected<ModelConfig> parse(const std::string &text) { return parseLlamaConfig(text, "cfg.json"); }

void expectBad(const std::string &text, std::initializer_list<std::string> parts) {
  auto r = parse(text);
  expectError(r, {"cfg.json: "});
  expectError(r, parts);
}

} // namespace

TEST(LlamaConfig, Base) {
  auto r = parse(kBase);
  ASSERT_TRUE(r.isOk()) << r.message();
  const ModelConfig &c = *r;
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_EQ(c.intermediateSize, 128);
  EXPECT_EQ(c.numLayers, 2);
  EXPECT_EQ(c.numHeads, 4);
  EXPECT_EQ(c.numKvHeads, 2);
  EXPECT_EQ(c.headDim, 16); // derived
  EXPECT_EQ(c.vocabSize, 100);
  EXPECT_EQ(c.maxPositionEmbeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rmsNormEps, 1e-5);
  EXPECT_DOUBLE_EQ(c.ropeTheta, 500000.0);
  EXPECT_TRUE(c.ropeScaling.enabled);
  EXPECT_DOUBLE_EQ(c.ropeScaling.factor, 8.0);
  EXPECT_EQ(c.ropeScaling.originalMaxPositionEmbeddings, 8192);
  EXPECT_FALSE(c.tieWordEmbeddings);
  EXPECT_EQ(c.bosTokenId, 1);
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c.torchDtype, ModelConfig::TorchDtype::BFloat16);
}

TEST(LlamaConfig, RealLlama31Configs) {
  struct Want { const char *file; int64_t D, F, L, H, Hkv; };
  for (Want w : {Want{"Llama-3.1-8B-Instruct", 4096, 14336, 32, 32, 8},
                 Want{"Llama-3.1-70B-Instruct", 8192, 28672, 80, 64, 8},
                 Want{"Llama-3.1-405B-Instruct", 16384, 53248, 126, 128, 8}}) {
    SCOPED_TRACE(w.file);
    auto r = loadLlamaConfig(sharedDir() + "/models/llama-3.1-configs/" + w.file + ".config.json");
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->hiddenSize, w.D);
    EXPECT_EQ(r->intermediateSize, w.F);
    EXPECT_EQ(r->numLayers, w.L);
    EXPECT_EQ(r->numHeads, w.H);
    EXPECT_EQ(r->numKvHeads, w.Hkv);
    EXPECT_EQ(r->headDim, 128);
    EXPECT_EQ(r->vocabSize, 128256);
    EXPECT_EQ(r->bosTokenId, 128000);
    EXPECT_EQ(r->eosTokenIds, (std::vector<int64_t>{128001, 128008, 128009}));
    EXPECT_TRUE(r->ropeScaling.enabled);
    EXPECT_DOUBLE_EQ(r->ropeScaling.highFreqFactor, 4.0);
    EXPECT_EQ(r->torchDtype, ModelConfig::TorchDtype::BFloat16);
  }
}

TEST(LlamaConfig, Stories260K) {
  auto r = loadLlamaConfig(sharedDir() + "/models/stories260K/config.json");
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(r->numLayers, 5);
  EXPECT_EQ(r->numHeads, 8);
  EXPECT_EQ(r->numKvHeads, 4);
  EXPECT_EQ(r->headDim, 8);
  EXPECT_TRUE(r->tieWordEmbeddings);
  EXPECT_FALSE(r->ropeScaling.enabled);
  EXPECT_EQ(r->eosTokenIds, (std::vector<int64_t>{2}));
  EXPECT_EQ(r->torchDtype, ModelConfig::TorchDtype::Float32);
}

TEST(LlamaConfig, DefaultsAndAlternatives) {
  std::string minimal = R"({"model_type":"llama","hidden_size":32,"intermediate_size":64,
      "num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10})";
  auto r = parse(minimal);
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ(r->numKvHeads, 4);
  EXPECT_EQ(r->headDim, 8);
  EXPECT_DOUBLE_EQ(r->rmsNormEps, 1e-6);
  EXPECT_DOUBLE_EQ(r->ropeTheta, 10000.0);
  EXPECT_EQ(r->maxPositionEmbeddings, 2048);
  EXPECT_FALSE(r->ropeScaling.enabled);
  EXPECT_EQ(r->bosTokenId, 1);
  EXPECT_EQ(r->eosTokenIds, (std::vector<int64_t>{2}));
  EXPECT_EQ(r->torchDtype, ModelConfig::TorchDtype::Float32);

  // head_dim given explicitly (not hidden / heads), kv heads null -> heads.
  auto h = parse(with("num_key_value_heads", "null").insert(1, "\"head_dim\": 32,"));
  ASSERT_TRUE(h.isOk()) << h.message();
  EXPECT_EQ(h->headDim, 32);
  EXPECT_EQ(h->numKvHeads, 4);
  EXPECT_EQ(parse(with("head_dim", "null"))->headDim, 16);
  // Older "type" key, "default" rope type, "dtype" key, scalar eos, null ids.
  auto t = parse(with("rope_scaling", R"({"type":"llama3","factor":2,"low_freq_factor":1,
      "high_freq_factor":2,"original_max_position_embeddings":64})"));
  ASSERT_TRUE(t.isOk()) << t.message();
  EXPECT_DOUBLE_EQ(t->ropeScaling.factor, 2.0);
  EXPECT_FALSE(parse(with("rope_scaling", R"({"rope_type":"default"})"))->ropeScaling.enabled);
  EXPECT_EQ(parse(with("torch_dtype", "").insert(1, "\"dtype\":\"float16\",")) ->torchDtype,
            ModelConfig::TorchDtype::Float16);
  EXPECT_EQ(parse(with("eos_token_id", "7"))->eosTokenIds, (std::vector<int64_t>{7}));
  EXPECT_TRUE(parse(with("eos_token_id", "null"))->eosTokenIds.empty());
  EXPECT_EQ(parse(with("bos_token_id", "null"))->bosTokenId, -1);
  EXPECT_TRUE(parse(with("model_type", "")).isOk());
  EXPECT_TRUE(parse(with("architectures", "")).isOk());
}

TEST(LlamaConfigBad, NotLlama) {
  expectBad(with("model_type", "\"mistral\""), {"'model_type' must be \"llama\", got \"mistral\""});
  expectBad(with("architectures", "[\"MistralForCausalLM\"]"),
            {"'architectures' does not list LlamaForCausalLM"});
  expectBad(with("model_type", "", with("architectures", "")),
            {"neither 'model_type' nor 'architectures'"});
}

TEST(LlamaConfigBad, MissingOrWrongType) {
  expectBad(with("hidden_size", ""), {"missing required key 'hidden_size'"});
  expectBad(with("vocab_size", ""), {"missing required key 'vocab_size'"});
  expectBad(with("hidden_size", "\"64\""), {"'hidden_size' must be an integer, got a string"});
  expectBad(with("num_hidden_layers", "2.5"), {"'num_hidden_layers' must be an integer"});
  expectBad(with("tie_word_embeddings", "1"), {"'tie_word_embeddings' must be a boolean"});
  expectBad(with("rms_norm_eps", "\"x\""), {"'rms_norm_eps' must be a number"});
  expectBad("[1]", {"top level is an array, not an object"});
  expectBad("{", {"invalid JSON at byte 1"});
  expectBad(std::string(kBase).insert(1, "\"hidden_size\": 8,"), {"duplicate key 'hidden_size'"});
}

TEST(LlamaConfigBad, NonPositiveSizes) {
  expectBad(with("hidden_size", "0"), {"'hidden_size' must be in [1, 2147483647], got 0"});
  expectBad(with("intermediate_size", "-128"), {"'intermediate_size' must be in [1, 2147483647], got -128"});
  expectBad(with("num_attention_heads", "4294967296"), {"'num_attention_heads' must be in [1,"});
  expectBad(with("rms_norm_eps", "0"), {"'rms_norm_eps' must be positive"});
  expectBad(with("rope_theta", "-1"), {"'rope_theta' must be positive"});
  expectBad(with("max_position_embeddings", "0"), {"'max_position_embeddings' must be in [1,"});
}

TEST(LlamaConfigBad, HeadsAndHeadDim) {
  expectBad(with("num_key_value_heads", "3"),
            {"'num_attention_heads' (4) is not a multiple of 'num_key_value_heads' (3)"});
  expectBad(with("num_attention_heads", "5"),
            {"'num_attention_heads' (5) is not a multiple of 'num_key_value_heads' (2)"});
  expectBad(with("num_key_value_heads", "3", with("num_attention_heads", "6")),
            {"'hidden_size' (64) is not a multiple of 'num_attention_heads' (6)"});
  expectBad(with("head_dim", "0"), {"'head_dim' must be in [1,"});
}

TEST(LlamaConfigBad, RopeScaling) {
  expectBad(with("rope_scaling", R"({"rope_type":"yarn","factor":4.0})"),
            {"rope_scaling type 'yarn' is not supported"});
  expectBad(with("rope_scaling", R"({"factor":4.0})"), {"'rope_scaling' has no 'rope_type'"});
  expectBad(with("rope_scaling", "8"), {"'rope_scaling' must be an object or null"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","low_freq_factor":1,
      "high_freq_factor":4,"original_max_position_embeddings":8192})"),
            {"missing required key 'rope_scaling.factor'"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":0,"low_freq_factor":1,
      "high_freq_factor":4,"original_max_position_embeddings":8192})"),
            {"'rope_scaling.factor' must be positive"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":8,"low_freq_factor":4,
      "high_freq_factor":4,"original_max_position_embeddings":8192})"),
            {"'rope_scaling.high_freq_factor' (4.000000) must be greater than 'low_freq_factor'"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":8,"low_freq_factor":1,
      "high_freq_factor":4,"original_max_position_embeddings":0})"),
            {"'rope_scaling.original_max_position_embeddings' must be in [1,"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":8,"low_freq_factor":1,
      "high_freq_factor":4})"),
            {"missing required key 'rope_scaling.original_max_position_embeddings'"});
}

TEST(LlamaConfigBad, TokenIdsAndDtype) {
  expectBad(with("bos_token_id", "100"), {"'bos_token_id' 100 is outside the vocabulary [0, 100)"});
  expectBad(with("eos_token_id", "[2, -1]"), {"'eos_token_id[1]' -1 is outside the vocabulary"});
  expectBad(with("eos_token_id", "\"2\""), {"'eos_token_id' must be an integer, got a string"});
  expectBad(with("torch_dtype", "\"int8\""), {"'torch_dtype' \"int8\" is not supported"});
  expectBad(with("torch_dtype", "16"), {"'torch_dtype' must be a string"});
}

TEST(LlamaConfigBad, UnsupportedFeatures) {
  expectBad(with("hidden_act", "\"gelu\""), {"'hidden_act' must be \"silu\""});
  expectBad(with("attention_bias", "true"), {"'attention_bias': true is not supported"});
  expectBad(with("mlp_bias", "true"), {"'mlp_bias': true is not supported"});
}

TEST(LlamaConfigBad, MissingFile) {
  auto r = loadLlamaConfig("/nonexistent/config.json");
  expectError(r, {"/nonexistent/config.json", "cannot open"});
}

// Single-byte corruptions at every position parse or fail cleanly.
TEST(LlamaConfigBad, MutationsNeverCrash) {
  const std::string base = kBase;
  int failed = 0;
  for (size_t i = 0; i < base.size(); ++i)
    for (char c : {'\0', '"', '{', '}', '0', '-', ']', ',', '\xFF'}) {
      std::string m = base;
      m[i] = c;
      auto r = parse(m);
      if (!r.isOk()) {
        ++failed;
        EXPECT_EQ(r.message().rfind("cfg.json: ", 0), 0u) << r.message();
      } else {
        EXPECT_GT(r->hiddenSize, 0);
        EXPECT_EQ(r->numHeads % r->numKvHeads, 0);
      }
    }
  EXPECT_GT(failed, 1000);
}

// transformers >= 5 writes "rope_parameters" (rope_type, rope_theta and the
// llama3 factors) instead of "rope_scaling" + "rope_theta".
TEST(LlamaConfig, RopeParametersLayout) {
  const std::string params = R"({"rope_type": "llama3", "rope_theta": 250000.0, "factor": 32.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64})";
  auto c = parse(with("rope_parameters", params, with("rope_scaling", "", with("rope_theta", ""))));
  ASSERT_TRUE(c.isOk()) << c.message();
  EXPECT_TRUE(c->ropeScaling.enabled);
  EXPECT_EQ(c->ropeScaling.factor, 32.0);
  EXPECT_EQ(c->ropeScaling.originalMaxPositionEmbeddings, 64);
  EXPECT_EQ(c->ropeTheta, 250000.0);

  auto plain = parse(with("rope_parameters", R"({"rope_type": "default", "rope_theta": 10000.0})",
                          with("rope_scaling", "", with("rope_theta", ""))));
  ASSERT_TRUE(plain.isOk()) << plain.message();
  EXPECT_FALSE(plain->ropeScaling.enabled);
  EXPECT_EQ(plain->ropeTheta, 10000.0);

  // Both layouts, agreeing: fine.
  const std::string same = R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})";
  EXPECT_TRUE(parse(with("rope_parameters", same)).isOk());
}

TEST(LlamaConfigBad, RopeParameters) {
  expectBad(with("rope_parameters", R"({"rope_type": "yarn", "factor": 4.0})"),
            {"rope_parameters type 'yarn' is not supported"});
  expectBad(with("rope_parameters", R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 16.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"),
            {"'rope_scaling' and 'rope_parameters' describe different RoPE scaling"});
  expectBad(with("rope_parameters", R"({"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"),
            {"'rope_theta' and 'rope_parameters.rope_theta' differ"});
  expectBad(with("rope_parameters", R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0})", with("rope_scaling", "")),
            {"missing required key 'rope_parameters.original_max_position_embeddings'"});
}

// Values that parse but would make the math non-finite or the sizes absurd
// are rejected here, with their valid range (runtime/ModelConfig.h), before
// anything is built from them; the artifact loader applies the same ranges.
TEST(LlamaConfigBad, ValuesOutOfTheirRange) {
  expectBad(with("num_hidden_layers", "100000000"), {"'num_hidden_layers' 100000000 is out of range [1, 4096]"});
  expectBad(with("hidden_size", "2097152"), {"'hidden_size' 2097152 is out of range [1, 1048576]"});
  expectBad(with("vocab_size", "2147483647"), {"'vocab_size' 2147483647 is out of range [1, 16777216]"});
  expectBad(with("rope_theta", "1e-300"), {"'rope_theta' 1e-300 is out of range [1, 1e+38]"});
  expectBad(with("rope_theta", "1e300"), {"'rope_theta' 1e+300 is out of range [1, 1e+38]"});
  expectBad(with("rms_norm_eps", "1e308"), {"'rms_norm_eps' 1e+308 is out of range [1e-37, 1)"});
  expectBad(with("rms_norm_eps", "1e-300"), {"'rms_norm_eps' 1e-300 is out of range [1e-37, 1)"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":1e-300,"low_freq_factor":1,
      "high_freq_factor":4,"original_max_position_embeddings":8192})"),
            {"'rope_scaling.factor' 1e-300 is out of range [1, 1e+06]"});
  expectBad(with("rope_scaling", R"({"rope_type":"llama3","factor":8,"low_freq_factor":1,
      "high_freq_factor":1.0000001,"original_max_position_embeddings":8192})"),
            {"'rope_scaling.high_freq_factor' (1) must exceed 'low_freq_factor' (1) by at least 0.001"});
  expectBad(with("head_dim", "7"), {"'head_dim' 7 is odd (RoPE rotates pairs)"});
  EXPECT_TRUE(parse(with("rms_norm_eps", "1e-37")).isOk());
  EXPECT_TRUE(parse(with("rope_theta", "1")).isOk());
}

TEST(LlamaConfigBad, FileOverItsSizeLimit) {
  TempDir dir;
  // A 2 MiB string value: over the 1 MiB a config.json may have, refused
  // before it is read.
  std::string big = with("_name_or_path", "\"" + std::string(2 << 20, 'x') + "\"");
  writeFile(dir.file("config.json"), big);
  expectError(loadLlamaConfig(dir.file("config.json")),
              {dir.file("config.json") + ": config.json of " + std::to_string(big.size()) +
               " bytes is over the limit of 1048576 bytes"});
  expectBad(big, {"config.json of " + std::to_string(big.size()) + " bytes is over the limit"});
}
