// qcc-bench-cpu ARTIFACT.qcc [--threads N] [--prompt-len P] [--decode D] [--repeats R]
//               [--dtype f32|bf16]
// Measures the CPU runtime on a compiled artifact (`qcc compile MODEL --no-kernels
// [--format F]`): prefill of P fixed pseudo-random ids (tokens/s), then D greedy
// decode steps (tokens/s). The best of R repeats is reported, one JSON object on
// stdout. It runs what `qcc run --device cpu` runs: the artifact's program.
#include "runtime/cpu/Sampling.h"
#include "runtime/lib/Artifact.h"
#include "runtime/lib/Session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using Clock = std::chrono::steady_clock;

static int usage() {
  std::fputs("usage: qcc-bench-cpu ARTIFACT.qcc [--threads N] [--prompt-len P] [--decode D] "
             "[--repeats R] [--dtype f32|bf16]\n",
             stderr);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  std::string path = argv[1], dtype;
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
    else return usage();
  }
  if (promptLen < 1 || decodeSteps < 1 || repeats < 1) return usage();
  auto artifact = qcc::rt::Artifact::open(path);
  if (!artifact) {
    std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", artifact.message().c_str());
    return 1;
  }
  qcc::rt::SessionOptions opts;
  opts.device = qcc::rt::Device::Cpu;
  opts.numThreads = threads;
  opts.maxSeqLen = promptLen + decodeSteps;
  if (dtype == "f32") opts.cpuPrecision = qcc::cpu::ActDType::F32;
  else if (dtype == "bf16") opts.cpuPrecision = qcc::cpu::ActDType::BF16;
  else if (!dtype.empty()) return usage();
  auto created = qcc::rt::Session::create(**artifact, opts);
  if (!created) {
    std::fprintf(stderr, "qcc-bench-cpu: error: %s\n", created.message().c_str());
    return 1;
  }
  qcc::rt::Session &session = **created;
  const int64_t V = session.vocabSize();
  // The linear formats present, e.g. "int8+dense".
  std::string formats;
  for (const auto &t : (*artifact)->file().spec().tensors) {
    if (t.role != qcc::artifact::TensorRole::Linear) continue;
    std::string f = qcc::artifact::formatName(t.format);
    if (formats.find(f) == std::string::npos) formats += (formats.empty() ? "" : "+") + f;
  }

  std::mt19937 rng(1234);
  std::vector<int64_t> prompt(static_cast<size_t>(promptLen));
  for (auto &t : prompt) t = static_cast<int64_t>(rng() % V);
  double bestPrefill = 1e30, bestDecode = 1e30;
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
  std::printf("{\"engine\": \"qcc-cpu\", \"artifact\": \"%s\", \"threads\": %d, \"act_dtype\": \"%s\", "
              "\"format\": \"%s\", \"prompt_len\": %lld, \"decode_steps\": %lld, "
              "\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.1f}\n",
              path.c_str(), session.cpuInterpreter()->numThreads(),
              qcc::cpu::actDTypeName(session.cpuInterpreter()->actDtype()), formats.c_str(), static_cast<long long>(promptLen),
              static_cast<long long>(decodeSteps), promptLen / bestPrefill, decodeSteps / bestDecode);
  return 0;
}
