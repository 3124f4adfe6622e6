// qcc generate MODEL_DIR --prompt-ids "1 2 3" [-n 64] [--temperature T] [--seed S]
//                        [--dtype f32|bf16] [--threads N] [--ignore-eos]
// Runs the CPU reference executor on a Hugging Face checkpoint folder: prefill
// of the prompt, then decode steps. Prints the generated ids, and the text
// (prompt + generation) when the folder has a tokenizer.json.
#include "tools/qcc/Command.h"
#include "tools/qcc/Generation.h"
#include "tools/qcc/SizeChecks.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/TokenIds.h"
#include "frontends/llama/Tokenizer.h"
#include "runtime/cpu/LlamaModel.h"
#include "runtime/cpu/Sampling.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sys/stat.h>

namespace {

const char *kUsage =
    "usage: qcc generate MODEL_DIR [--prompt-ids \"1 2 3\"] [-n 64] [--temperature T] [--seed S]\n"
    "                    [--dtype f32|bf16] [--threads N] [--ignore-eos]\n"
    "  Generates with the CPU reference executor from a Hugging Face checkpoint\n"
    "  folder (config.json + safetensors). The prompt defaults to the BOS id.\n"
    "  Greedy unless --temperature > 0 (then sampled with --seed, default 0).\n"
    "  Stops after -n ids or at an end-of-sequence id (unless --ignore-eos).\n"
    "  --dtype defaults to the checkpoint's (bf16 for bfloat16, else f32).\n"
    "  Prints the generated ids, and the text when MODEL_DIR/tokenizer.json exists;\n"
    "  speed goes to stderr.\n";


bool fileExists(const std::string &p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int runGenerate(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("generate", m); };
  std::string dir, promptText, dtypeText;
  int64_t steps = 64, seed = 0, threads = 0;
  double temperature = 0;
  bool havePrompt = false, ignoreEos = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--ignore-eos") {
      ignoreEos = true;
      continue;
    }
    const bool takesValue = a == "--prompt-ids" || a == "-n" || a == "--temperature" || a == "--seed" ||
                            a == "--dtype" || a == "--threads";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--prompt-ids") promptText = args[++i], havePrompt = true;
    else if (a == "--dtype") dtypeText = args[++i];
    else if (a == "-n") {
      if (!qcc::cli::parseIntArg(args[++i], 0, 1 << 20, steps)) return fail("-n expects an integer in [0, 1048576], got '" + args[i] + "'");
    } else if (a == "--seed") {
      if (!qcc::cli::parseIntArg(args[++i], 0, INT64_MAX, seed)) return fail("--seed expects a non-negative integer, got '" + args[i] + "'");
    } else if (a == "--threads") {
      if (!qcc::cli::parseIntArg(args[++i], 1, 1024, threads)) return fail("--threads expects an integer in [1, 1024], got '" + args[i] + "'");
    } else if (a == "--temperature") {
      char *end = nullptr;
      temperature = std::strtod(args[++i].c_str(), &end);
      if (*end != '\0' || args[i].empty() || !std::isfinite(temperature) || temperature < 0)
        return fail("--temperature expects a non-negative number, got '" + args[i] + "'");
    } else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (dir.empty()) dir = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  qcc::cpu::ExecutorOptions options;
  options.numThreads = static_cast<int>(threads);
  if (dtypeText == "f32") options.actDtype = qcc::cpu::ActDType::F32;
  else if (dtypeText == "bf16") options.actDtype = qcc::cpu::ActDType::BF16;
  else if (!dtypeText.empty()) return fail("--dtype expects f32 or bf16, got '" + dtypeText + "'");

  auto ckpt = qcc::Checkpoint::open(dir);
  if (!ckpt) return fail(ckpt.message());
  const qcc::ModelConfig &config = (*ckpt)->config();
  std::vector<int64_t> prompt;
  if (havePrompt) {
    auto p = qcc::parseTokenIds(promptText, "--prompt-ids", config.vocabSize);
    if (!p) return fail(p.message());
    prompt = std::move(*p);
    if (prompt.empty()) return fail("--prompt-ids holds no ids");
  } else {
    if (config.bosTokenId < 0) return fail("the model has no bos_token_id: give --prompt-ids");
    prompt = {config.bosTokenId};
  }
  std::optional<qcc::Tokenizer> tokenizer;
  if (std::string tp = dir + "/tokenizer.json"; fileExists(tp)) {
    auto t = qcc::loadTokenizer(tp);
    if (!t) return fail(t.message());
    tokenizer = std::move(*t);
  }
  int64_t total = static_cast<int64_t>(prompt.size()) + steps;
  options.maxSeqLen = total;
  qcc::cli::warnBeyondMaxPositions("generate", config, total);
  if (qcc::Status s = qcc::cli::checkSessionMemory(config, total, int64_t(prompt.size()), 1,
                                                   "a session of " + std::to_string(total) + " positions");
      !s)
    return fail(s.message());
  auto model = qcc::cpu::LlamaModel::create(config, **ckpt, options);
  if (!model) return fail(dir + ": " + model.message());

  using Clock = std::chrono::steady_clock;
  qcc::cpu::Session session(**model);
  qcc::cli::SamplingOptions sampling;
  sampling.steps = steps;
  sampling.temperature = temperature;
  sampling.seed = static_cast<uint64_t>(seed);
  if (!ignoreEos) sampling.stopIds = config.eosTokenIds;
  auto t0 = Clock::now(), t1 = t0;
  auto result = qcc::cli::generateTokens(
      prompt, config.vocabSize, sampling, [&](const std::vector<int64_t> &p) { return session.prefill(p); },
      [&](int64_t id) { return session.decode(id); }, [&] { t1 = Clock::now(); });
  if (!result) return fail(result.message());
  auto t2 = Clock::now();
  const std::vector<int64_t> &generated = *result;
  const int64_t decodeSteps = generated.empty() ? 0 : int64_t(generated.size()) - 1;

  std::string ids;
  for (int64_t id : generated) ids += (ids.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", ids.c_str());
  if (tokenizer) {
    std::vector<int64_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    std::printf("%s\n", tokenizer->decode(all, /*skipSpecial=*/true).c_str());
  }
  double pf = std::chrono::duration<double>(t1 - t0).count();
  double dc = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr,
               "qcc generate: %s activations, %d threads; prefill %zu ids %.1f ms, "
               "decode %lld steps %.1f ids/s\n",
               qcc::cpu::actDTypeName((*model)->actDtype()), (*model)->numThreads(), prompt.size(),
               pf * 1e3, static_cast<long long>(decodeSteps), decodeSteps > 0 ? decodeSteps / dc : 0.0);
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(generate, "generate",
                     "generate token ids with the CPU reference executor from a checkpoint folder",
                     runGenerate);
