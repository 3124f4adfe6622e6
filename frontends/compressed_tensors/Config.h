// The `quantization_config` of a compressed-tensors checkpoint (config.json,
// quant_method "compressed-tensors", as llm-compressor writes it and vLLM and
// transformers read it), parsed and checked; and which scheme applies to which
// Llama module.
//
// Accepted layout (compressed-tensors 0.19; unknown keys inside a scheme or its
// arguments are errors, as there):
//   quant_method "compressed-tensors"; format (the default compression format of
//   every group: "pack-quantized", "int-quantized", "float-quantized",
//   "naive-quantized", "dense", "mixed-precision", ...; absent or "fakequant",
//   compressed-tensors' default, is read as "dense"); config_groups: name ->
//   {targets: [...], weights, input_activations, output_activations: args or
//   null, format: optional per-group format}; ignore: [...]; kv_cache_scheme
//   (args or null); quantization_status; sparsity_config; transform_config;
//   version; global_compression_ratio.
//   args: num_bits (8), type "int"|"float" ("int"), symmetric (true),
//   group_size (null), strategy (null: inferred as compressed-tensors does:
//   no group size -> "tensor", > 0 -> "group", -1 -> "channel"),
//   block_structure, dynamic (false | true | "local"), actorder (null | false |
//   "weight" | "static" | "group" | "dynamic"), scale_dtype, zp_dtype, observer,
//   observer_kwargs.
//
// Matching (compressed-tensors' match_targets / is_match): a target or ignore
// entry matches a module when it equals the module's name, when it is
// "re:PATTERN" and PATTERN matches at the start of the name (Python re.match),
// or when it names the module's class ("Linear" for every projection and
// lm_head; "Embedding", "LlamaAttention", ... for the others). Among the
// targets that match, exact names come first, then regexes, each in sorted
// order, then class names; the first one's group applies (a target string that
// several groups list belongs to the last of them). A module matched by an
// ignore entry is not quantized.
//
// Regular expressions are Python syntax translated to POSIX extended ones
// (\d \w \s and their negations, (?:...), lazy quantifiers); lookarounds, named
// groups and backreferences are rejected with an error naming the pattern.
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qcc::json {
class Value;
}

namespace qcc::compressed_tensors {

// One QuantizationArgs.
struct QuantArgs {
  int numBits = 8;
  enum class Type { Int, Float } type = Type::Int;
  bool symmetric = true;
  std::optional<int64_t> groupSize;
  // "tensor", "channel", "group", "block", "token", "tensor_group", "attn_head".
  std::string strategy;
  std::vector<int64_t> blockStructure;
  std::string dynamic = "false"; // "false", "true" or "local"
  std::string actorder;          // "" (none), "weight" ("static"), "group" ("dynamic")

  bool isDynamic() const { return dynamic != "false"; }
  // "int4 symmetric group 128", "float8 channel dynamic", ...
  std::string describe() const;
};

struct QuantScheme {
  std::string groupName; // the key in config_groups
  std::vector<std::string> targets;
  std::optional<QuantArgs> weights, inputActivations, outputActivations;
  std::string format; // the group's own format, or the config's default

  // "group 'group_0' (weights int4 symmetric group 128, format pack-quantized)".
  std::string describe() const;
};

// How a module's weights are stored and which qcc format they become.
struct LinearPlan {
  const QuantScheme *scheme = nullptr; // nullptr: not quantized (dense weight)
  formats::FormatSpec spec;            // valid when scheme != nullptr
};

class Config {
public:
  // `quantizationConfig` is the value of config.json's "quantization_config";
  // `file` names config.json in errors.
  static Expected<Config> parse(const json::Value &quantizationConfig, const std::string &file);
  // nullopt when config.json has no (or a null) quantization_config. Errors:
  // invalid JSON, a quant_method other than "compressed-tensors".
  static Expected<std::optional<Config>> fromConfigJson(const std::string &configText,
                                                        const std::string &file);

  const std::string &format() const { return format_; }
  const std::string &quantizationStatus() const { return status_; }
  const std::string &version() const { return version_; }
  const std::vector<QuantScheme> &schemes() const { return schemes_; }
  const std::vector<std::string> &ignore() const { return ignore_; }
  const std::string &file() const { return file_; }

  // The scheme that applies to module `name` of class `className` ("Linear",
  // "Embedding", "LlamaAttention", ...), or nullptr. Errors: a bad regex.
  Expected<const QuantScheme *> schemeFor(const std::string &name,
                                          const std::string &className) const;

  // Decides every Llama module of `model`: which linears are quantized and
  // into which qcc format. Errors (each names the scheme and the module):
  // a quantized embedding or attention module, a kv_cache_scheme, 2:4 or
  // other sparsity, transforms, and every scheme qcc has no exact format for
  // (see mapScheme).
  Status checkModel(const ModelConfig &model) const;
  // The plan for one linear ("model.layers.0.self_attn.q_proj", "lm_head") whose
  // weight is [N, K].
  Expected<LinearPlan> planLinear(const std::string &module, int64_t N, int64_t K) const;

private:
  std::string file_, format_, status_, version_;
  std::vector<QuantScheme> schemes_;
  std::vector<std::string> ignore_;
  bool hasKvCacheScheme_ = false;
  std::string sparsityFormat_; // "" when no sparsity compression applies
  std::vector<std::string> sparsityTargets_;
  bool hasTransforms_ = false;
};

// The qcc format for `scheme` on a [N, K] linear, or an error that names the
// scheme and `module`. Accepted (the three exact equivalents):
//   w4a16:gG  weights int4 symmetric, strategy group (G even, dividing K) or
//             channel (G = K), static; no input or output activation scheme;
//             actorder none, "weight" or "group" (the g_idx is checked when read)
//   int8      weights int8 symmetric channel, static; input activations int8
//             symmetric token dynamic
//   fp8       weights float8 (e4m3) symmetric channel or tensor, static; input
//             activations float8 symmetric token dynamic
Expected<formats::FormatSpec> mapScheme(const QuantScheme &scheme, const std::string &module,
                                        int64_t N, int64_t K);

// Python `re.match(pattern, name)` through POSIX regex: true when the pattern
// matches at the start of `name`. Errors name the pattern.
Expected<bool> pythonRegexMatchesAtStart(const std::string &pattern, const std::string &name);

} // namespace qcc::compressed_tensors
