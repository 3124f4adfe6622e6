// qcc generate MODEL_DIR [--prompt "TEXT" | --prompt-ids "1 2 3"] [-n 64] [--temperature T] [--seed S]
//                        [--max-seq-len N] [--dtype f32|bf16] [--threads N] [--ignore-eos] [--no-bos]
// Imports a Hugging Face checkpoint folder and runs its graph on the CPU
// interpreter: prefill of the prompt, then decode steps. With --prompt, the
// text is encoded with the folder's tokenizer.json and the continuation
// streamed; otherwise prints the generated ids, and the text (prompt +
// generation) when the folder has a tokenizer.json.
#include "tools/qcc/Command.h"
#include "tools/qcc/Generation.h"
#include "tools/qcc/ModelText.h"
#include "tools/qcc/SizeChecks.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/TokenIds.h"
#include "frontends/llama/Tokenizer.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"
#include "tools/qcc/QuantOptions.h"
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
    "usage: qcc generate MODEL_DIR [--prompt \"TEXT\" | --prompt-ids \"1 2 3\"] [-n 64] [--temperature T]\n"
    "                    [--seed S] [--max-seq-len N] [--dtype f32|bf16] [--threads N] [--ignore-eos] [--no-bos]\n"
    "  Generates with the CPU reference executor from a Hugging Face checkpoint\n"
    "  folder (config.json + safetensors). The prompt defaults to the BOS id.\n"
    "  --prompt: the text is encoded with MODEL_DIR/tokenizer.json, BOS first\n"
    "  (--no-bos: no special tokens); prints the prompt and streams the\n"
    "  continuation as it is generated.\n"
    "  Greedy unless --temperature > 0 (then sampled with --seed, default 0).\n"
    "  Stops after -n ids or at an end-of-sequence id (unless --ignore-eos).\n"
    "  --dtype defaults to the checkpoint's (bf16 for bfloat16, else f32).\n"
    "  --max-seq-len sizes the session (default: the prompt plus -n).\n"
    "  Prints the generated ids, and the text when MODEL_DIR/tokenizer.json exists;\n"
    "  speed goes to stderr.\n";


int runGenerate(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("generate", m); };
  std::string dir, promptText, dtypeText;
  qcc::cli::GenerationFlags gen;
  bool havePrompt = false, haveText = false, ignoreEos = false, noBos = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--ignore-eos" || a == "--no-bos") {
      (a == "--no-bos" ? noBos : ignoreEos) = true;
      continue;
    }
    if (std::string error; qcc::cli::parseGenerationFlag(args, i, gen, /*minSteps=*/0, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    const bool takesValue = a == "--prompt-ids" || a == "--prompt" || a == "--dtype";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--prompt-ids" || a == "--prompt") {
      if (havePrompt) return fail("give one of --prompt and --prompt-ids, once");
      promptText = args[++i], havePrompt = true, haveText = a == "--prompt";
    }
    else if (a == "--dtype") dtypeText = args[++i];
    else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (dir.empty()) dir = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  qcc::cpu::ExecutorOptions options;
  options.numThreads = static_cast<int>(gen.threads);
  if (dtypeText == "f32") options.actDtype = qcc::cpu::ActDType::F32;
  else if (dtypeText == "bf16") options.actDtype = qcc::cpu::ActDType::BF16;
  else if (!dtypeText.empty()) return fail("--dtype expects f32 or bf16, got '" + dtypeText + "'");

  if (noBos && !haveText) return fail("--no-bos applies to --prompt (--prompt-ids are used as given)");
  auto imported = qcc::cli::importModel(dir, "", /*paramDir=*/false);
  if (!imported) return fail(imported.message());
  auto configOr = qcc::modelConfigOf(*imported->module);
  if (!configOr) return fail(configOr.message());
  const qcc::ModelConfig &config = *configOr;
  auto text = qcc::cli::modelTextFromDir(dir);
  if (!text) return fail(text.message());
  const std::optional<qcc::Tokenizer> &tokenizer = text->tokenizer;
  std::vector<int64_t> prompt;
  if (haveText) {
    auto encoder = text->encoder();
    if (!encoder) return fail(encoder.message());
    auto p = qcc::cli::encodePrompt(**encoder, promptText, config, noBos, "generate");
    if (!p) return fail(p.message());
    prompt = std::move(*p);
  } else if (havePrompt) {
    auto p = qcc::parseTokenIds(promptText, "--prompt-ids", config.vocabSize);
    if (!p) return fail(p.message());
    prompt = std::move(*p);
    if (prompt.empty()) return fail("--prompt-ids holds no ids");
  } else {
    if (config.bosTokenId < 0) return fail("the model has no bos_token_id: give --prompt-ids");
    prompt = {config.bosTokenId};
  }
  int64_t total = static_cast<int64_t>(prompt.size()) + gen.steps;
  if (gen.maxSeqLen > 0 && total > gen.maxSeqLen)
    return fail("prompt (" + std::to_string(prompt.size()) + " ids) + -n " + std::to_string(gen.steps) +
                " exceeds --max-seq-len " + std::to_string(gen.maxSeqLen));
  options.maxSeqLen = gen.maxSeqLen > 0 ? gen.maxSeqLen : total;
  qcc::cli::warnBeyondMaxPositions("generate", config, total);
  if (qcc::Status s = qcc::cli::checkSessionMemory(config, options.maxSeqLen, int64_t(prompt.size()), 1,
                                                   "a session of " + std::to_string(options.maxSeqLen) + " positions");
      !s)
    return fail(s.message());
  auto model = qcc::interpretModule(*imported->module, options);
  if (!model) return fail(dir + ": " + model.message());

  using Clock = std::chrono::steady_clock;
  qcc::cpu::Session session(**model);
  qcc::cli::SamplingOptions sampling;
  sampling.steps = gen.steps;
  sampling.temperature = gen.temperature;
  sampling.seed = static_cast<uint64_t>(gen.seed);
  if (!ignoreEos) sampling.stopIds = config.eosTokenIds;
  // --prompt: the prompt as given, then each new character as soon as it is complete.
  std::optional<qcc::DecodeStream> stream;
  if (haveText) {
    stream.emplace(*tokenizer, /*skipSpecial=*/true);
    qcc::cli::printNow(promptText);
  }
  auto t0 = Clock::now(), t1 = t0;
  auto result = qcc::cli::generateTokens(
      prompt, (*model)->vocabSize(), sampling, [&](const std::vector<int64_t> &p) { return session.prefill(p); },
      [&](int64_t id) { return session.decode(id); }, [&] { t1 = Clock::now(); },
      [&](int64_t id) {
        if (stream) qcc::cli::printNow(stream->push(id));
      });
  if (stream) qcc::cli::printNow(stream->finish() + "\n");
  if (!result) return fail(result.message());
  auto t2 = Clock::now();
  const std::vector<int64_t> &generated = *result;
  const int64_t decodeSteps = generated.empty() ? 0 : int64_t(generated.size()) - 1;

  if (!haveText) {
    std::string ids;
    for (int64_t id : generated) ids += (ids.empty() ? "" : " ") + std::to_string(id);
    std::printf("%s\n", ids.c_str());
    if (tokenizer) {
      std::vector<int64_t> all = prompt;
      all.insert(all.end(), generated.begin(), generated.end());
      std::printf("%s\n", tokenizer->decode(all, /*skipSpecial=*/true).c_str());
    }
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
