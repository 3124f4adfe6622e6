// quantization_config parsing and compressed-tensors' target matching rules
// (exact names, then "re:" patterns in sorted order, then class names; ignore
// wins; a repeated target belongs to the last group), and the Python-regex
// translation.
#include "frontends/compressed_tensors/Config.h"
#include "frontends/compressed_tensors/PythonRegex.h"
#include "frontends/llama/StrictJson.h"

#include "../frontend/FrontendTestUtil.h"

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

std::string weights(int bits, const std::string &extra = "") {
  return R"({"num_bits": )" + std::to_string(bits) + R"(, "type": "int", "symmetric": true, "strategy": "group", "group_size": 128)" +
         extra + "}";
}

Expected<Config> parse(const std::string &qc) {
  auto v = json::parse(qc, "config.json");
  EXPECT_TRUE(v.isOk()) << v.message();
  return Config::parse(*v, "config.json");
}

TEST(ConfigTest, MatchingOrderFollowsCompressedTensors) {
  // group_a: class "Linear"; group_b: a regex on the MLP; group_c: one exact name.
  auto c = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
    "config_groups": {
      "group_a": {"targets": ["Linear"], "weights": )" + weights(4) + R"(},
      "group_b": {"targets": ["re:.*mlp\\..*_proj$"], "weights": )" + weights(4) + R"(},
      "group_c": {"targets": ["model.layers.0.mlp.up_proj"], "weights": )" + weights(4) + R"(}},
    "ignore": ["lm_head", "re:model\\.layers\\.1\\.self_attn\\.[qk]_proj"]})");
  ASSERT_TRUE(c.isOk()) << c.message();
  auto groupOf = [&](const std::string &name) -> std::string {
    auto s = c->schemeFor(name, "Linear");
    EXPECT_TRUE(s.isOk());
    return *s ? (*s)->groupName : "none";
  };
  EXPECT_EQ(groupOf("model.layers.0.mlp.up_proj"), "group_c");   // exact name first
  EXPECT_EQ(groupOf("model.layers.0.mlp.down_proj"), "group_b"); // then the regex
  EXPECT_EQ(groupOf("model.layers.0.self_attn.q_proj"), "group_a"); // then the class
  EXPECT_EQ(groupOf("lm_head"), "none");                          // ignored by name
  EXPECT_EQ(groupOf("model.layers.1.self_attn.k_proj"), "none");  // ignored by regex
  EXPECT_EQ(groupOf("model.layers.1.self_attn.v_proj"), "group_a");
  auto emb = c->schemeFor("model.embed_tokens", "Embedding");
  ASSERT_TRUE(emb.isOk());
  EXPECT_EQ(*emb, nullptr);
}

ModelConfig oneLayer() {
  ModelConfig c;
  c.hiddenSize = 256;
  c.intermediateSize = 512;
  c.numLayers = 1;
  c.numHeads = 2;
  c.numKvHeads = 1;
  c.headDim = 128;
  c.vocabSize = 64;
  return c;
}

// Attention modules are quantized only on a narrow match (compressed-tensors'
// is_narrow_match); the embedding whenever a target matches it.
TEST(ConfigTest, AttentionAndEmbeddingMatches) {
  auto wide = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
      "g": {"targets": ["re:model\\.layers\\..*"], "weights": )" + weights(4) + R"(}}})");
  ASSERT_TRUE(wide.isOk()) << wide.message();
  EXPECT_TRUE(wide->checkModel(oneLayer()).isOk()); // matches self_attn and its projections: not narrow
  auto narrow = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
      "g": {"targets": ["Linear"], "weights": )" + weights(4) + R"(},
      "kv": {"targets": ["re:.*self_attn$"], "input_activations": {"num_bits": 8, "type": "float", "strategy": "tensor"}}}})");
  ASSERT_TRUE(narrow.isOk()) << narrow.message();
  expectStatusError(narrow->checkModel(oneLayer()),
                    {"model.layers.0.self_attn", "config group 'kv'", "quantizes a LlamaAttention module"});
  auto all = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
      "g": {"targets": ["re:.*"], "weights": )" + weights(4) + R"(}}, "ignore": ["lm_head"]})");
  ASSERT_TRUE(all.isOk()) << all.message();
  expectStatusError(all->checkModel(oneLayer()), {"model.embed_tokens", "quantizes a Embedding module"});
}

TEST(ConfigTest, RepeatedTargetBelongsToTheLastGroup) {
  auto c = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
      "first": {"targets": ["Linear"], "weights": )" + weights(4) + R"(},
      "second": {"targets": ["Linear"], "weights": )" + weights(4) + R"(}}})");
  ASSERT_TRUE(c.isOk()) << c.message();
  auto s = c->schemeFor("model.layers.0.mlp.up_proj", "Linear");
  ASSERT_TRUE(s.isOk());
  ASSERT_NE(*s, nullptr);
  EXPECT_EQ((*s)->groupName, "second");
}

TEST(ConfigTest, ArgumentsAndDefaults) {
  auto c = parse(R"({"quant_method": "compressed-tensors", "format": "int-quantized", "config_groups": {
      "g": {"targets": ["Linear"], "weights": {"num_bits": 8, "group_size": -1, "actorder": "static"},
            "input_activations": {"num_bits": 8, "strategy": "TOKEN", "dynamic": true}}}})");
  ASSERT_TRUE(c.isOk()) << c.message();
  const QuantScheme &s = c->schemes()[0];
  EXPECT_EQ(s.weights->strategy, "channel"); // inferred from group_size -1
  EXPECT_EQ(s.weights->actorder, "weight");  // "static" is its alias
  EXPECT_TRUE(s.weights->symmetric);
  EXPECT_EQ(s.inputActivations->strategy, "token");
  EXPECT_EQ(s.format, "int-quantized"); // the config's default format
  auto spec = mapScheme(s, "model.layers.0.mlp.up_proj", 768, 256);
  ASSERT_TRUE(spec.isOk()) << spec.message();
  EXPECT_EQ(spec->format, formats::Format::INT8);

  auto w4 = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
      "g": {"targets": ["Linear"], "weights": {"num_bits": 4, "strategy": "channel"}}}})");
  ASSERT_TRUE(w4.isOk()) << w4.message();
  auto spec4 = mapScheme(w4->schemes()[0], "m", 768, 256);
  ASSERT_TRUE(spec4.isOk()) << spec4.message();
  EXPECT_EQ(spec4->format, formats::Format::W4A16);
  EXPECT_EQ(spec4->groupSize, 256); // channel strategy: one group spanning K
}

TEST(ConfigTest, BadArguments) {
  expectError(parse(R"({"quant_method": "compressed-tensors", "config_groups": {
      "g": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "posit"}}}})"),
              {"config.json", "config_groups.g.weights.type", "'posit' is unknown"});
  expectError(parse(R"({"quant_method": "compressed-tensors", "config_groups": {
      "g": {"targets": ["Linear"], "weights": {"num_bits": 4, "strategy": "group"}}}})"),
              {"config_groups.g.weights.group_size", "must be positive for strategy 'group'"});
  expectError(parse(R"({"quant_method": "compressed-tensors", "config_groups": {
      "g": {"targets": "Linear", "weights": null}}})"),
              {"config_groups.g.targets", "must be an array"});
  expectError(parse(R"J({"quant_method": "compressed-tensors", "config_groups": {
      "g": {"targets": ["re:model\\.(?P<x>\\d+)"], "weights": null}}})J"),
              {"config_groups.g.targets", "regular expression 'model\\.(?P<x>\\d+)'", "the group construct '(?P'"});
  expectError(parse(R"({"quant_method": "compressed-tensors"})"), {"quantization_config.config_groups is missing"});
}

TEST(ConfigTest, FromConfigJsonWithoutQuantization) {
  auto none = Config::fromConfigJson(R"({"model_type": "llama"})", "config.json");
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->has_value());
  auto nul = Config::fromConfigJson(R"({"quantization_config": null})", "config.json");
  ASSERT_TRUE(nul.isOk());
  EXPECT_FALSE(nul->has_value());
}

TEST(PythonRegexTest, TranslationAndMatchAtStart) {
  auto m = [](const std::string &p, const std::string &s) {
    auto r = pythonRegexMatchesAtStart(p, s);
    EXPECT_TRUE(r.isOk()) << r.message();
    return r.isOk() && *r;
  };
  EXPECT_TRUE(m(R"(.*lm_head)", "lm_head"));
  EXPECT_TRUE(m(R"(model\.layers\.\d+\.mlp)", "model.layers.12.mlp.up_proj")); // a prefix is enough (re.match)
  EXPECT_FALSE(m(R"(layers\.\d+)", "model.layers.1"));                          // anchored at the start
  EXPECT_FALSE(m(R"(.*mlp\.down_proj$)", "model.layers.0.mlp.down_proj_x"));
  EXPECT_TRUE(m(R"(.*self_attn\.(?:q|k)_proj$)", "model.layers.0.self_attn.k_proj"));
  EXPECT_FALSE(m(R"(.*self_attn\.(?:q|k)_proj$)", "model.layers.0.self_attn.v_proj"));
  EXPECT_TRUE(m(R"(.*?\.[\w]+_proj)", "model.layers.0.mlp.gate_proj"));
  EXPECT_TRUE(m(R"(model\.layers\.[0-2]\.)", "model.layers.2.self_attn"));
  EXPECT_FALSE(m(R"(model\.layers\.[^0-2]\.)", "model.layers.2.self_attn"));
  EXPECT_TRUE(m(R"(\S+\s?)", "x"));
  auto t = translatePythonRegex(R"(a\d+?b(?:c|d)\.)");
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(*t, R"(a[0-9]+b(c|d)\.)");
  expectError(translatePythonRegex(R"((?=a)b)"), {"'(?=a)b'", "not supported"});
  expectError(translatePythonRegex(R"((a)\1)"), {"a backreference"});
  expectError(PythonRegex::compile("a(b"), {"'a(b' is invalid"});
}

} // namespace
