// Parsing a Hugging Face Llama config.json into qcc::ModelConfig.
//
// Accepted: model_type "llama" and/or architectures containing
// "LlamaForCausalLM" (at least one must be present; neither may disagree).
// Required: hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, vocab_size (positive integers).
// Optional, with Hugging Face LlamaConfig's defaults when absent:
//   num_key_value_heads (= num_attention_heads; must divide it),
//   head_dim (absent or null: hidden_size / num_attention_heads, which must
//   divide), rms_norm_eps (1e-6), rope_theta (10000), max_position_embeddings
//   (2048), tie_word_embeddings (false), bos_token_id (1), eos_token_id (2;
//   an integer or a list), torch_dtype or dtype ("float32"; also "bfloat16",
//   "float16").
//   rope_scaling: null, {"rope_type": "default"}, or {"rope_type"|"type":
//   "llama3", factor > 0, low_freq_factor > 0, high_freq_factor >
//   low_freq_factor, original_max_position_embeddings > 0}; other rope types
//   are an error.
// An explicit null bos_token_id / eos_token_id means "none" (-1 / empty).
// Rejected as unsupported: hidden_act other than "silu", attention_bias or
// mlp_bias true. Every integer is at most 2^31 - 1 so that products of two
// fit; then every value must lie in its range (checkModelConfig,
// runtime/ModelConfig.h), before anything is built from the sizes.
// Limits: the file is at most kMaxConfigJsonBytes, which bounds every string
// and list in it (real configs are about 1 KiB).
#pragma once

#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include <cstdint>
#include <string>

namespace qcc {

constexpr uint64_t kMaxConfigJsonBytes = uint64_t(1) << 20;

Expected<ModelConfig> parseLlamaConfig(const std::string &jsonText,
                                       const std::string &fileNameForErrors);

// Reads and parses the file at `path` (errors name the path).
Expected<ModelConfig> loadLlamaConfig(const std::string &path);

// "float32", "bfloat16", "float16".
const char *torchDtypeName(ModelConfig::TorchDtype t);

} // namespace qcc
