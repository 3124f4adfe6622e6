#include "runtime/ModelConfig.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace qcc {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Status intInRange(const char *key, int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return Status::ok();
  return Status::error("'" + std::string(key) + "' " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                       ", " + std::to_string(hi) + "]");
}

// [lo, hi] or, with `hiOpen`, [lo, hi); NaN is never in range.
Status realInRange(const char *key, double v, double lo, double hi, bool hiOpen = false) {
  if (v >= lo && (hiOpen ? v < hi : v <= hi)) return Status::ok();
  return Status::error("'" + std::string(key) + "' " + number(v) + " is out of range [" + number(lo) + ", " +
                       number(hi) + (hiOpen ? ")" : "]"));
}

} // namespace

Status checkModelConfig(const ModelConfig &c) {
  QCC_RETURN_IF_ERROR(intInRange("hidden_size", c.hiddenSize, 1, int64_t(1) << 20));
  QCC_RETURN_IF_ERROR(intInRange("intermediate_size", c.intermediateSize, 1, int64_t(1) << 22));
  QCC_RETURN_IF_ERROR(intInRange("num_hidden_layers", c.numLayers, 1, 4096));
  QCC_RETURN_IF_ERROR(intInRange("num_attention_heads", c.numHeads, 1, 4096));
  QCC_RETURN_IF_ERROR(intInRange("num_key_value_heads", c.numKvHeads, 1, c.numHeads));
  if (c.numHeads % c.numKvHeads != 0)
    return Status::error("'num_attention_heads' (" + std::to_string(c.numHeads) +
                         ") is not a multiple of 'num_key_value_heads' (" + std::to_string(c.numKvHeads) + ")");
  QCC_RETURN_IF_ERROR(intInRange("head_dim", c.headDim, 2, 4096));
  if (c.headDim % 2 != 0) return Status::error("'head_dim' " + std::to_string(c.headDim) + " is odd (RoPE rotates pairs)");
  QCC_RETURN_IF_ERROR(intInRange("vocab_size", c.vocabSize, 1, int64_t(1) << 24));
  QCC_RETURN_IF_ERROR(intInRange("max_position_embeddings", c.maxPositionEmbeddings, 1, int64_t(1) << 32));
  QCC_RETURN_IF_ERROR(realInRange("rms_norm_eps", c.rmsNormEps, 1e-37, 1.0, /*hiOpen=*/true));
  QCC_RETURN_IF_ERROR(realInRange("rope_theta", c.ropeTheta, 1.0, 1e38));
  if (c.ropeScaling.enabled) {
    const RopeScaling &r = c.ropeScaling;
    QCC_RETURN_IF_ERROR(realInRange("rope_scaling.factor", r.factor, 1.0, 1e6));
    QCC_RETURN_IF_ERROR(realInRange("rope_scaling.low_freq_factor", r.lowFreqFactor, 1e-3, 1e3));
    QCC_RETURN_IF_ERROR(realInRange("rope_scaling.high_freq_factor", r.highFreqFactor, 1e-3, 1e3));
    if (!(r.highFreqFactor - r.lowFreqFactor >= 1e-3))
      return Status::error("'rope_scaling.high_freq_factor' (" + number(r.highFreqFactor) +
                           ") must exceed 'low_freq_factor' (" + number(r.lowFreqFactor) + ") by at least 0.001");
    QCC_RETURN_IF_ERROR(intInRange("rope_scaling.original_max_position_embeddings", r.originalMaxPositionEmbeddings,
                                   1, 2147483647));
  }
  if (c.bosTokenId != -1) QCC_RETURN_IF_ERROR(intInRange("bos_token_id", c.bosTokenId, 0, c.vocabSize - 1));
  for (int64_t e : c.eosTokenIds) QCC_RETURN_IF_ERROR(intInRange("eos_token_id", e, 0, c.vocabSize - 1));
  return Status::ok();
}

} // namespace qcc
