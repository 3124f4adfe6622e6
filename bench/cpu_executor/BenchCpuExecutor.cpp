// qcc-bench-cpu MODEL_DIR [--threads N] [--prompt-len P] [--decode D] [--repeats R]
//               [--dtype f32|bf16] [--format bf16|fp8|int8|w4a16[:gN]]
// Measures the CPU executor: prefill of P fixed pseudo-random ids (tokens/s),
// then D greedy decode steps (tokens/s). The best of R repeats is reported,
// one JSON object on stdout.
#include "frontends/llama/Checkpoint.h"
#include "runtime/cpu/LlamaModel.h"
#include "runtime/cpu/Sampling.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using Clock = std::chrono::steady_clock;

static int usage() {
  std::fputs("usage: qcc-bench-cpu MODEL_DIR [--threads N] [--prompt-len P] [--decode D] "
             "[--repeats R] [--dtype f32|bf16] [--format F]\n",
             stderr);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  std::string dir = argv[1], dtype, format;
  int threads = 0;
  int64_t promptLen = 128, decodeSteps = 128, repeats = 3;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--threads") threads = std::atoi(v.c_str());
    else if (a == "--prompt-len") promptLen = std::atoll(v.c_str());
    else if (a == "--decode") decodeSteps = std::atoll(v.c_str());
    else if (a == "--repeats") repeats = std::atoll(v.c_str());
    else if (a == "--dtype") dtype = v;
    else if (a == "--format") format = v;
    else return usage();
  }
  if (promptLen < 1 || decodeSteps < 1 || repeats < 1) return usage();
  auto ckpt = qcc::Checkpoint::open(dir);
  if (!ckpt) {
    std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", ckpt.message().c_str());
    return 1;
  }
  const qcc::ModelConfig &config = (*ckpt)->config();
  qcc::cpu::ExecutorOptions opts;
  opts.numThreads = threads;
  opts.maxSeqLen = promptLen + decodeSteps;
  if (dtype == "f32") opts.actDtype = qcc::cpu::ActDType::F32;
  else if (dtype == "bf16") opts.actDtype = qcc::cpu::ActDType::BF16;
  auto model = qcc::cpu::LlamaModel::create(config, **ckpt, opts);
  if (!model) {
    std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", model.message().c_str());
    return 1;
  }
  std::string formatName = "bf16";
  if (!format.empty()) {
    auto spec = qcc::formats::parseFormatSpec(format);
    if (!spec) {
      std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", spec.message().c_str());
      return 1;
    }
    formatName = qcc::formats::formatSpecName(*spec);
    for (const std::string &name : (*model)->linearNames()) {
      if (name == "lm_head" || spec->format == qcc::formats::Format::BF16) continue;
      auto [N, K] = *(*model)->linearShape(name);
      std::vector<float> w = (*model)->denseLinearWeights(name);
      auto q = qcc::formats::quantizeLinear(w.data(), N, K, *spec);
      if (q) (void)(*model)->setLinear(name, std::move(*q));
    }
  }

  std::mt19937 rng(1234);
  std::vector<int64_t> prompt(static_cast<size_t>(promptLen));
  for (auto &t : prompt) t = static_cast<int64_t>(rng() % config.vocabSize);
  const int64_t V = config.vocabSize;
  double bestPrefill = 1e30, bestDecode = 1e30;
  qcc::cpu::LlamaSession session(**model);
  for (int64_t r = 0; r < repeats; ++r) {
    session.reset();
    auto t0 = Clock::now();
    auto logits = session.prefill(prompt);
    auto t1 = Clock::now();
    if (!logits) {
      std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", logits.message().c_str());
      return 1;
    }
    int64_t next = qcc::cpu::argmax(logits->data() + (promptLen - 1) * V, V);
    auto t2 = Clock::now();
    for (int64_t s = 0; s < decodeSteps; ++s) {
      auto out = session.decode(next);
      if (!out) {
        std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", out.message().c_str());
        return 1;
      }
      next = qcc::cpu::argmax(out->data(), V);
    }
    auto t3 = Clock::now();
    bestPrefill = std::min(bestPrefill, std::chrono::duration<double>(t1 - t0).count());
    bestDecode = std::min(bestDecode, std::chrono::duration<double>(t3 - t2).count());
  }
  std::printf("{\"engine\": \"qcc-cpu\", \"model\": \"%s\", \"threads\": %d, \"act_dtype\": \"%s\", "
              "\"format\": \"%s\", \"prompt_len\": %lld, \"decode_steps\": %lld, "
              "\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.1f}\n",
              dir.c_str(), (*model)->numThreads(), qcc::cpu::actDTypeName((*model)->actDtype()),
              formatName.c_str(), static_cast<long long>(promptLen),
              static_cast<long long>(decodeSteps), promptLen / bestPrefill, decodeSteps / bestDecode);
  return 0;
}
