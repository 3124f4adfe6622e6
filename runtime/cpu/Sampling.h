// Token selection and perplexity on top of the CPU executor.
#pragma once

#include "runtime/cpu/Interpreter.h"
#include "support/Status.h"

#include <cstdint>
#include <random>
#include <vector>

namespace qcc::cpu {

// Index of the largest logit (the first one on ties; NaN never wins).
int64_t argmax(const float *logits, int64_t V);

// temperature <= 0: argmax. Otherwise samples softmax(logits / temperature)
// (in double) with one uniform draw u = (rng() >> 11) * 2^-53, so a seed gives
// the same ids on every platform.
int64_t sampleToken(const float *logits, int64_t V, double temperature, std::mt19937_64 &rng);

// -log softmax(logits)[target], computed in double.
double tokenNll(const float *logits, int64_t V, int64_t target);

struct PerplexityResult {
  double meanNll = 0;   // nats per predicted token
  double perplexity = 0;
  int64_t tokens = 0;   // predicted tokens
  int64_t windows = 0;
};

// Perplexity over `ids` split into non-overlapping windows of seqLen tokens
// (the last one may be shorter; a 1-token tail predicts nothing and is
// dropped). Each window starts with an empty KV cache, no BOS is inserted, and
// the first token of a window is only context: a window of n tokens predicts
// n - 1. perplexity = exp(mean NLL over all predicted tokens).
Expected<PerplexityResult> perplexity(const Interpreter &model, const std::vector<int64_t> &ids,
                                      int64_t seqLen);
// The same over several sequences (e.g. the lines of a token-id file), each
// split into its own windows; the mean is over all predicted tokens.
Expected<PerplexityResult> perplexity(const Interpreter &model,
                                      const std::vector<std::vector<int64_t>> &sequences,
                                      int64_t seqLen);

} // namespace qcc::cpu
