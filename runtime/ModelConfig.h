// The Llama-3.1 model configuration as qcc uses it (parsed from config.json by
// frontends/llama, stored in the artifact, read by the executors).
#pragma once

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

} // namespace qcc
