#include "runtime/cpu/Sampling.h"

#include <algorithm>
#include <cmath>

namespace qcc::cpu {

int64_t argmax(const float *logits, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; ++i)
    if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
  return best;
}

int64_t sampleToken(const float *logits, int64_t V, double temperature, std::mt19937_64 &rng) {
  if (!(temperature > 0)) return argmax(logits, V);
  double mx = logits[argmax(logits, V)];
  std::vector<double> p(static_cast<size_t>(V));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += (p[i] = std::exp((logits[i] - mx) / temperature));
  double u = static_cast<double>(rng() >> 11) * 0x1p-53 * sum;
  double c = 0;
  for (int64_t i = 0; i < V; ++i) {
    c += p[i];
    if (u < c) return i;
  }
  return V - 1;
}

double tokenNll(const float *logits, int64_t V, int64_t target) {
  double mx = logits[argmax(logits, V)];
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return std::log(sum) + mx - static_cast<double>(logits[target]);
}

Expected<PerplexityResult> perplexity(const Interpreter &model,
                                      const std::vector<std::vector<int64_t>> &sequences,
                                      int64_t seqLen) {
  if (seqLen < 2) return Status::error("perplexity needs a window of at least 2 tokens");
  if (seqLen > model.maxSeqLen())
    return Status::error("window of " + std::to_string(seqLen) + " tokens exceeds the maximum length " +
                         std::to_string(model.maxSeqLen()));
  const int64_t V = model.vocabSize();
  PerplexityResult r;
  double total = 0;
  Session session(model);
  for (const std::vector<int64_t> &ids : sequences)
    for (size_t start = 0; start + 1 < ids.size(); start += static_cast<size_t>(seqLen)) {
      size_t end = std::min(ids.size(), start + static_cast<size_t>(seqLen));
      std::vector<int64_t> window(ids.begin() + start, ids.begin() + end);
      session.reset();
      Expected<std::vector<float>> logits = session.prefill(window); // [n, V]
      if (!logits) return logits.status();
      for (size_t t = 0; t + 1 < window.size(); ++t)
        total += tokenNll(logits->data() + t * V, V, window[t + 1]);
      r.tokens += static_cast<int64_t>(window.size()) - 1;
      r.windows += 1;
    }
  if (r.tokens == 0) return Status::error("perplexity needs at least 2 token ids");
  r.meanNll = total / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.meanNll);
  return r;
}

Expected<PerplexityResult> perplexity(const Interpreter &model, const std::vector<int64_t> &ids,
                                      int64_t seqLen) {
  return perplexity(model, std::vector<std::vector<int64_t>>{ids}, seqLen);
}

} // namespace qcc::cpu
