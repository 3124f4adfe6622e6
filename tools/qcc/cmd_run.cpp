// qcc run model.qcc|MODEL_DIR (--prompt "TEXT" | --prompt-ids "1 2 3") -n 64 [--device auto|cpu|cuda]
//                   [--temperature T] [--seed S] [--max-seq-len N] [--threads N]
//                   [--tokenizer tokenizer.json] [--ignore-eos] [--no-bos]
// Generates with the runtime API (qcc::rt). With --prompt, the text is
// encoded with the artifact's tokenizer and the continuation streamed as it
// is generated; with --prompt-ids, prints the ids, and the text when a
// tokenizer is known (embedded in the artifact or given).
#include "tools/qcc/Command.h"
#include "tools/qcc/Generation.h"
#include "tools/qcc/Jit.h"
#include "tools/qcc/ModelText.h"
#include "tools/qcc/SizeChecks.h"

#include "frontends/llama/TokenIds.h"
#include "frontends/llama/Tokenizer.h"
#include "runtime/cpu/Sampling.h"
#include "runtime/lib/Artifact.h"
#include "runtime/lib/Session.h"
#include "support/Limits.h"
#include "support/Printable.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace {

const char *kUsage =
    "usage: qcc run MODEL.qcc|MODEL_DIR (--prompt \"TEXT\" | --prompt-ids \"1 2 3\") [-n 64]\n"
    "               [--device auto|cpu|cuda] [--temperature T] [--seed S] [--max-seq-len N]\n"
    "               [--threads N] [--tokenizer tokenizer.json] [--ignore-eos] [--no-bos]\n"
    "               [MODEL_DIR only: --format F and qcc compile's other quantization options]\n"
    "  Runs the artifact: prefill of the prompt, then -n decode steps (greedy\n"
    "  unless --temperature > 0), stopping at an end-of-sequence id unless\n"
    "  --ignore-eos. --device auto (default) uses CUDA when a GPU and kernels for\n"
    "  it exist, else the CPU, and says why on stderr.\n"
    "  --prompt: the text is encoded with the tokenizer the artifact embeds (or\n"
    "  --tokenizer), BOS first (--no-bos: no special tokens); prints the prompt and\n"
    "  streams the continuation as it is generated.\n"
    "  --prompt-ids: prints the generated ids, and the text of prompt and\n"
    "  continuation when a tokenizer is embedded or given.\n"
    "  A checkpoint folder is compiled just in time, in memory, for the device\n"
    "  found (the GPU's own kernels, from the kernel cache when built before; or\n"
    "  the CPU), with the quantization options of qcc compile; nothing is written.\n";


int runRun(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("run", m); };
  std::string path, promptText, deviceText = "auto", tokenizerPath;
  qcc::cli::GenerationFlags gen;
  bool havePrompt = false, haveText = false, ignoreEos = false, noBos = false;
  bool compileOptions = false; // quantization options: a folder is compiled just in time
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
    const bool takesValue = a == "--prompt-ids" || a == "--prompt" || a == "--device" || a == "--tokenizer";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--prompt-ids" || a == "--prompt") {
      if (havePrompt) return fail("give one of --prompt and --prompt-ids, once");
      promptText = args[++i], havePrompt = true, haveText = a == "--prompt";
    }
    else if (a == "--device") deviceText = args[++i];
    else if (a == "--tokenizer") tokenizerPath = args[++i];
    else if (std::string error; qcc::cli::jitCompiler() && qcc::cli::jitCompiler()->parseOption(args, i, error)) {
      if (!error.empty()) return fail(error);
      compileOptions = true;
    } else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (path.empty()) path = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!havePrompt) return fail("--prompt or --prompt-ids is required");
  if (noBos && !haveText) return fail("--no-bos applies to --prompt (--prompt-ids are used as given)");
  auto device = qcc::rt::parseDevice(deviceText);
  if (!device) return fail(device.message());

  auto artifact = qcc::cli::openModel(path, *device, compileOptions, "run");
  if (!artifact) return fail(artifact.message());
  const qcc::ModelConfig &config = (*artifact)->config();
  // The tokenizer is optional for ids: without one only ids are printed.
  auto text = qcc::cli::modelTextFromArtifact(**artifact, path, tokenizerPath);
  if (!text) return fail(text.message());
  const std::optional<qcc::Tokenizer> &tokenizer = text->tokenizer;
  qcc::Expected<std::vector<int64_t>> prompt = std::vector<int64_t>();
  if (haveText) {
    auto encoder = text->encoder();
    if (!encoder) return fail(encoder.message());
    prompt = qcc::cli::encodePrompt(**encoder, promptText, config, noBos, "run");
  } else {
    prompt = qcc::parseTokenIds(promptText, "--prompt-ids", config.vocabSize);
    if (prompt && prompt->empty()) return fail("--prompt-ids holds no ids");
  }
  if (!prompt) return fail(prompt.message());

  qcc::rt::SessionOptions options;
  options.device = *device;
  options.numThreads = int(gen.threads);
  options.maxSeqLen = gen.maxSeqLen > 0 ? gen.maxSeqLen : int64_t(prompt->size()) + gen.steps;
  if (int64_t(prompt->size()) + gen.steps > options.maxSeqLen)
    return fail("prompt (" + std::to_string(prompt->size()) + " ids) + -n " + std::to_string(gen.steps) +
                " exceeds --max-seq-len " + std::to_string(options.maxSeqLen));
  if (options.maxSeqLen > qcc::limits::kMaxSequenceTokens)
    return fail("prompt (" + std::to_string(prompt->size()) + " ids) + -n " + std::to_string(gen.steps) +
                " exceeds the limit of " + std::to_string(qcc::limits::kMaxSequenceTokens) + " positions");
  qcc::cli::warnBeyondMaxPositions("run", config, int64_t(prompt->size()) + gen.steps);
  // Host memory of a CPU session (auto may fall back to the CPU); the CUDA
  // executor's allocations are on the device and fail with a message there.
  if (*device != qcc::rt::Device::Cuda)
    if (qcc::Status s = qcc::cli::checkSessionMemory(config, options.maxSeqLen, int64_t(prompt->size()), 1,
                                                     "a session of " + std::to_string(options.maxSeqLen) + " positions");
        !s)
      return fail(s.message());
  auto session = qcc::rt::Session::create(**artifact, options);
  if (!session) return fail(session.message());
  std::fprintf(stderr, "qcc run: device %s (%s)\n", qcc::rt::deviceName((*session)->device()),
               qcc::printable((*session)->deviceReason()).c_str());

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
  auto result = qcc::cli::generateTokens(
      *prompt, config.vocabSize, sampling, [&](const std::vector<int64_t> &p) { return (*session)->prefill(p); },
      [&](int64_t id) { return (*session)->decode(id); }, {},
      [&](int64_t id) {
        if (stream) qcc::cli::printNow(stream->push(id));
      });
  if (stream) qcc::cli::printNow(stream->finish() + "\n");
  if (!result) return fail(result.message());
  const std::vector<int64_t> &generated = *result;
  if (haveText) {
    (*session)->close();
    return 0;
  }

  std::string ids;
  for (int64_t id : generated) ids += (ids.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", ids.c_str());
  if (tokenizer) {
    std::vector<int64_t> all = *prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    std::printf("%s\n", tokenizer->decode(all, /*skipSpecial=*/true).c_str());
  }
  (*session)->close();
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(run, "run", "generate with a compiled artifact (prompt ids in, ids and text out)", runRun);
