// Accuracy of a (quantized) model against its bf16 reference, the measures of
// the study qcc follows (arXiv 2411.02355), at our scale:
//   perplexity        exp(mean NLL) over every predicted token of the data
//   top-1 agreement   fraction of predicted positions where both argmaxes agree
//   mean KL           mean over those positions of KL(p_ref || p_model), nats
//   continuation      greedy continuation token match rate: for the first
//                     `continuationPrompts` sequences, both models continue the
//                     first `promptTokens` ids greedily for `continuationTokens`
//                     steps; the rate is the fraction of positions whose ids are
//                     equal (a stand-in for the study's text-similarity scores)
// Windows: each sequence (line of the token-id file) is cut into
// non-overlapping windows of seqLen ids, each run from an empty KV cache; a
// window of n ids predicts n - 1 (the first id is only context).
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace qcc::cli {

// What evaluation needs from a model.
struct EvalModel {
  int64_t vocabSize = 0;
  // Logits [T, V] of `ids` from an empty cache.
  std::function<Expected<std::vector<float>>(const std::vector<int64_t> &ids)> forward;
  // `n` greedy ids after `prompt`.
  std::function<Expected<std::vector<int64_t>>(const std::vector<int64_t> &prompt, int64_t n)> greedy;
};

struct EvalSettings {
  int64_t seqLen = 256;
  int64_t continuationPrompts = 8;
  int64_t promptTokens = 32;
  int64_t continuationTokens = 32;
};

struct EvalResult {
  double meanNll = 0, perplexity = 0;
  int64_t tokens = 0, windows = 0;
  // Only with a reference:
  std::optional<double> refPerplexity, top1Agreement, meanKl, continuationMatch;
};

Expected<EvalResult> evaluate(const EvalModel &model, const EvalModel *reference,
                              const std::vector<std::vector<int64_t>> &sequences, const EvalSettings &settings);

// Prints the result as `key value` lines (machine-readable, one per measure),
// with recovery = reference perplexity / perplexity when a reference is given.
void printEvalResult(const EvalResult &result);

} // namespace qcc::cli
