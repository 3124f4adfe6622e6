#include "tools/qcc/Generation.h"

#include "runtime/cpu/Sampling.h"
#include "support/Limits.h"
#include "tools/qcc/Command.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
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

bool parseGenerationFlag(const std::vector<std::string> &args, size_t &i, GenerationFlags &flags, int64_t minSteps,
                         std::string &error) {
  const std::string &a = args[i];
  if (a != "-n" && a != "--seed" && a != "--max-seq-len" && a != "--threads" && a != "--temperature") return false;
  if (i + 1 >= args.size()) {
    error = "option " + a + " needs a value";
    return true;
  }
  const std::string &v = args[++i];
  auto integer = [&](int64_t lo, int64_t hi, int64_t &out, const std::string &range) {
    if (!parseIntArg(v, lo, hi, out)) error = a + " expects " + range + ", got '" + v + "'";
  };
  if (a == "-n") {
    integer(minSteps, 1 << 20, flags.steps, "an integer in [" + std::to_string(minSteps) + ", 1048576]");
  } else if (a == "--seed") {
    integer(0, INT64_MAX, flags.seed, "a non-negative integer");
  } else if (a == "--max-seq-len") {
    integer(1, limits::kMaxSequenceTokens, flags.maxSeqLen,
            "an integer in [1, " + std::to_string(limits::kMaxSequenceTokens) + "]");
  } else if (a == "--threads") {
    integer(1, 1024, flags.threads, "an integer in [1, 1024]");
  } else {
    char *end = nullptr;
    flags.temperature = std::strtod(v.c_str(), &end);
    if (*end != '\0' || v.empty() || !std::isfinite(flags.temperature) || flags.temperature < 0)
      error = "--temperature expects a non-negative number, got '" + v + "'";
  }
  return true;
}

} // namespace qcc::cli
