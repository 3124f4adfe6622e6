#include "tools/qcc/Evaluate.h"
#include "tools/qcc/Generation.h"

#include "runtime/cpu/Sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qcc::cli {

namespace {

// log-softmax of one row, in double.
std::vector<double> logSoftmax(const float *logits, int64_t V) {
  double maxv = -INFINITY;
  for (int64_t i = 0; i < V; ++i) maxv = std::max(maxv, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(double(logits[i]) - maxv);
  double lse = maxv + std::log(sum);
  std::vector<double> out(V);
  for (int64_t i = 0; i < V; ++i) out[i] = double(logits[i]) - lse;
  return out;
}

} // namespace

Expected<EvalResult> evaluate(const EvalModel &model, const EvalModel *ref,
                              const std::vector<std::vector<int64_t>> &sequences, const EvalSettings &s) {
  if (s.seqLen < 2) return Status::error("the window length must be at least 2");
  const int64_t V = model.vocabSize;
  if (ref && ref->vocabSize != V)
    return Status::error("the reference has a vocabulary of " + std::to_string(ref->vocabSize) + ", the model " +
                         std::to_string(V));
  EvalResult r;
  double nll = 0, refNll = 0, kl = 0;
  int64_t agree = 0;
  for (size_t line = 0; line < sequences.size(); ++line) {
    const std::vector<int64_t> &seq = sequences[line];
    for (size_t start = 0; start + 1 < seq.size(); start += size_t(s.seqLen)) {
      const std::string where = "sequence " + std::to_string(line + 1) + ", window at id " + std::to_string(start);
      std::vector<int64_t> window(seq.begin() + start, seq.begin() + std::min(seq.size(), start + size_t(s.seqLen)));
      if (window.size() < 2) break;
      auto logits = model.forward(window); // [T, V]
      if (!logits) return logits.status().withContext(where);
      std::optional<std::vector<float>> refLogits;
      if (ref) {
        auto rl = ref->forward(window);
        if (!rl) return rl.status().withContext("reference: " + where);
        refLogits = std::move(*rl);
      }
      for (size_t t = 0; t + 1 < window.size(); ++t) {
        const float *row = logits->data() + t * V;
        QCC_RETURN_IF_ERROR(checkFiniteLogits(row, V, int64_t(t)).withContext(where));
        if (ref) QCC_RETURN_IF_ERROR(checkFiniteLogits(refLogits->data() + t * V, V, int64_t(t)).withContext("reference: " + where));
        std::vector<double> lp = logSoftmax(row, V);
        nll -= lp[window[t + 1]];
        if (ref) {
          const float *refRow = refLogits->data() + t * V;
          std::vector<double> rlp = logSoftmax(refRow, V);
          refNll -= rlp[window[t + 1]];
          double d = 0;
          for (int64_t i = 0; i < V; ++i) d += std::exp(rlp[i]) * (rlp[i] - lp[i]);
          kl += d;
          agree += cpu::argmax(row, V) == cpu::argmax(refRow, V);
        }
        ++r.tokens;
      }
      ++r.windows;
    }
  }
  if (r.tokens == 0) return Status::error("the data predicts no tokens (every sequence is shorter than 2 ids)");
  r.meanNll = nll / r.tokens;
  r.perplexity = std::exp(r.meanNll);
  if (!ref) return r;
  r.refPerplexity = std::exp(refNll / r.tokens);
  r.top1Agreement = double(agree) / r.tokens;
  r.meanKl = kl / r.tokens;

  int64_t matched = 0, total = 0;
  for (const std::vector<int64_t> &seq : sequences) {
    if (total / std::max<int64_t>(1, s.continuationTokens) >= s.continuationPrompts) break;
    if (int64_t(seq.size()) < s.promptTokens) continue;
    std::vector<int64_t> prompt(seq.begin(), seq.begin() + s.promptTokens);
    auto a = model.greedy(prompt, s.continuationTokens);
    if (!a) return a.status();
    auto b = ref->greedy(prompt, s.continuationTokens);
    if (!b) return b.status().withContext("reference");
    for (int64_t i = 0; i < s.continuationTokens; ++i) matched += (*a)[i] == (*b)[i];
    total += s.continuationTokens;
  }
  if (total > 0) r.continuationMatch = double(matched) / total;
  return r;
}

void printEvalResult(const EvalResult &r) {
  std::printf("perplexity %.6f\n", r.perplexity);
  std::printf("mean_nll %.6f\n", r.meanNll);
  std::printf("tokens %lld\n", (long long)r.tokens);
  std::printf("windows %lld\n", (long long)r.windows);
  if (r.refPerplexity) {
    std::printf("ref_perplexity %.6f\n", *r.refPerplexity);
    std::printf("recovery %.6f\n", *r.refPerplexity / r.perplexity);
    std::printf("top1_agreement %.6f\n", *r.top1Agreement);
    std::printf("mean_kl %.6f\n", *r.meanKl);
  }
  if (r.continuationMatch) std::printf("continuation_match %.6f\n", *r.continuationMatch);
}

} // namespace qcc::cli
