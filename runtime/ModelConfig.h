// The Llama-3.1 model configuration as qcc uses it (parsed from config.json by
// frontends/llama, stored in the artifact, read by the executors).
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <vector>

namespace qcc {

// rope_scaling with rope_type "llama3" (Llama-3.1); absent means plain RoPE.
struct RopeScaling {
  bool enabled = false;
  double factor = 8.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositionEmbeddings = 8192;
};

struct ModelConfig {
  int64_t hiddenSize = 0;        // D
  int64_t intermediateSize = 0;  // F (SwiGLU width)
  int64_t numLayers = 0;         // L
  int64_t numHeads = 0;          // H (query heads)
  int64_t numKvHeads = 0;        // Hkv (GQA: H % Hkv == 0)
  int64_t headDim = 0;           // Dh (hidden_size / num_heads when absent)
  int64_t vocabSize = 0;         // V
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;
  int64_t bosTokenId = -1;
  std::vector<int64_t> eosTokenIds; // config.json's eos_token_id may be a list
  // The checkpoint's own dtype ("float32", "bfloat16", "float16"): the
  // unquantized baseline computes in it unless overridden.
  enum class TorchDtype { Float32, BFloat16, Float16 } torchDtype = TorchDtype::Float32;
};

// The valid range of every value, in one place: config.json parsing and the
// artifact loader both call this, before anything is built from the sizes.
// The ranges keep every size product far from overflow and every quantity
// the executors derive from the floats finite (they compute in fp32):
//   hidden_size [1, 2^20]        intermediate_size [1, 2^22]
//   num_hidden_layers [1, 4096]  num_attention_heads [1, 4096]
//   num_key_value_heads [1, num_attention_heads], dividing it
//   head_dim [2, 4096], even     vocab_size [1, 2^24]
//   max_position_embeddings [1, 2^32]
//   rms_norm_eps [1e-37, 1)      (smaller vanishes in fp32: an all-zero row divides by 0)
//   rope_theta [1, 1e38]         (below 1 the inverse frequencies overflow fp32)
//   rope_scaling: factor [1, 1e6], low_freq_factor and high_freq_factor in
//     [0.001, 1000] with high - low >= 0.001, original_max_position_embeddings [1, 2^31 - 1]
//   bos_token_id -1 (none) or in [0, vocab_size); every eos id in [0, vocab_size)
// Errors name the Hugging Face key and its range:
//   "'rope_theta' 1e-300 is out of range [1, 1e+38]"
Status checkModelConfig(const ModelConfig &config);

} // namespace qcc
