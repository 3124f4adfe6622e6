#include "tools/qcc/Generation.h"

#include "runtime/cpu/Sampling.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace qcc::cli {

Status checkFiniteLogits(const float *row, int64_t V, int64_t position) {
  for (int64_t i = 0; i < V; ++i)
    if (!std::isfinite(row[i]))
      return Status::error("non-finite logit at position " + std::to_string(position) + ": id " + std::to_string(i) +
                           " is " + (std::isnan(row[i]) ? "nan" : row[i] > 0 ? "inf" : "-inf"));
  return Status::ok();
}

Expected<std::vector<int64_t>> generateTokens(const std::vector<int64_t> &prompt, int64_t V,
                                              const SamplingOptions &o, const PrefillFn &prefill,
                                              const DecodeFn &decode, const std::function<void()> &afterPrefill,
                                              const std::function<void(int64_t)> &onToken) {
  std::vector<int64_t> generated;
  if (o.steps <= 0) return generated;
  auto logits = prefill(prompt); // [T, V]
  if (!logits) return logits.status();
  if (afterPrefill) afterPrefill();
  std::vector<float> last(logits->end() - V, logits->end()); // [V]
  std::mt19937_64 rng(o.seed);
  int64_t position = int64_t(prompt.size()) - 1; // of the token whose logits `last` are
  while (true) {
    QCC_RETURN_IF_ERROR(checkFiniteLogits(last.data(), V, position));
    int64_t next = cpu::sampleToken(last.data(), V, o.temperature, rng);
    generated.push_back(next);
    if (onToken) onToken(next);
    if (std::find(o.stopIds.begin(), o.stopIds.end(), next) != o.stopIds.end()) break;
    if (int64_t(generated.size()) == o.steps) break; // the last id needs no forward pass
    auto out = decode(next); // [V]
    if (!out) return out.status();
    last = std::move(*out);
    ++position;
  }
  return generated;
}

} // namespace qcc::cli
