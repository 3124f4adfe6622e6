// qcc run model.qcc --prompt-ids "1 2 3" -n 64 [--device auto|cpu|cuda]
//                   [--temperature T] [--seed S] [--max-seq-len N] [--threads N]
//                   [--tokenizer tokenizer.json] [--ignore-eos]
// Generates with the runtime API (qcc::rt); prints the ids, and the text when
// a tokenizer is known (embedded in the artifact or given).
#include "tools/qcc/Command.h"
#include "tools/qcc/Generation.h"
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
    "usage: qcc run MODEL.qcc --prompt-ids \"1 2 3\" [-n 64] [--device auto|cpu|cuda]\n"
    "               [--temperature T] [--seed S] [--max-seq-len N] [--threads N]\n"
    "               [--tokenizer tokenizer.json] [--ignore-eos]\n"
    "  Runs the artifact: prefill of the prompt, then -n decode steps (greedy\n"
    "  unless --temperature > 0), stopping at an end-of-sequence id unless\n"
    "  --ignore-eos. Prints the generated ids, and the text when a tokenizer is\n"
    "  embedded in the artifact or given. --device auto (default) uses CUDA when a\n"
    "  GPU and kernels for it exist, else the CPU, and says why on stderr.\n";


int runRun(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("run", m); };
  std::string path, promptText, deviceText = "auto", tokenizerPath;
  int64_t steps = 64, seed = 0, maxSeqLen = 0, threads = 0;
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
    const bool takesValue = a == "--prompt-ids" || a == "-n" || a == "--device" || a == "--temperature" ||
                            a == "--seed" || a == "--max-seq-len" || a == "--threads" || a == "--tokenizer";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--prompt-ids") promptText = args[++i], havePrompt = true;
    else if (a == "--device") deviceText = args[++i];
    else if (a == "--tokenizer") tokenizerPath = args[++i];
    else if (a == "-n") {
      if (!qcc::cli::parseIntArg(args[++i], 0, 1 << 20, steps)) return fail("-n expects an integer in [0, 1048576], got '" + args[i] + "'");
    } else if (a == "--seed") {
      if (!qcc::cli::parseIntArg(args[++i], 0, INT64_MAX, seed)) return fail("--seed expects a non-negative integer, got '" + args[i] + "'");
    } else if (a == "--max-seq-len") {
      if (!qcc::cli::parseIntArg(args[++i], 1, qcc::limits::kMaxSequenceTokens, maxSeqLen))
        return fail("--max-seq-len expects an integer in [1, " + std::to_string(qcc::limits::kMaxSequenceTokens) +
                    "], got '" + args[i] + "'");
    } else if (a == "--threads") {
      if (!qcc::cli::parseIntArg(args[++i], 1, 1024, threads)) return fail("--threads expects an integer in [1, 1024], got '" + args[i] + "'");
    } else if (a == "--temperature") {
      char *end = nullptr;
      temperature = std::strtod(args[++i].c_str(), &end);
      if (*end != '\0' || args[i].empty() || !std::isfinite(temperature) || temperature < 0)
        return fail("--temperature expects a non-negative number, got '" + args[i] + "'");
    } else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (path.empty()) path = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!havePrompt) return fail("--prompt-ids is required");
  auto device = qcc::rt::parseDevice(deviceText);
  if (!device) return fail(device.message());

  auto artifact = qcc::rt::Artifact::open(path);
  if (!artifact) return fail(artifact.message());
  const qcc::ModelConfig &config = (*artifact)->config();
  auto prompt = qcc::parseTokenIds(promptText, "--prompt-ids", config.vocabSize);
  if (!prompt) return fail(prompt.message());
  if (prompt->empty()) return fail("--prompt-ids holds no ids");

  // A tokenizer is optional: without one only ids are printed.
  std::optional<qcc::Tokenizer> tokenizer;
  if (!tokenizerPath.empty()) {
    auto t = qcc::loadTokenizer(tokenizerPath);
    if (!t) return fail(t.message());
    tokenizer = std::move(*t);
  } else if (std::string json = (*artifact)->tokenizerJson(); !json.empty()) {
    auto t = qcc::parseTokenizer(json, path + ": embedded tokenizer.json");
    if (!t) return fail(t.message());
    tokenizer = std::move(*t);
  }

  qcc::rt::SessionOptions options;
  options.device = *device;
  options.numThreads = int(threads);
  options.maxSeqLen = maxSeqLen > 0 ? maxSeqLen : int64_t(prompt->size()) + steps;
  if (int64_t(prompt->size()) + steps > options.maxSeqLen)
    return fail("prompt (" + std::to_string(prompt->size()) + " ids) + -n " + std::to_string(steps) +
                " exceeds --max-seq-len " + std::to_string(options.maxSeqLen));
  if (options.maxSeqLen > qcc::limits::kMaxSequenceTokens)
    return fail("prompt (" + std::to_string(prompt->size()) + " ids) + -n " + std::to_string(steps) +
                " exceeds the limit of " + std::to_string(qcc::limits::kMaxSequenceTokens) + " positions");
  qcc::cli::warnBeyondMaxPositions("run", config, int64_t(prompt->size()) + steps);
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
  sampling.steps = steps;
  sampling.temperature = temperature;
  sampling.seed = static_cast<uint64_t>(seed);
  if (!ignoreEos) sampling.stopIds = config.eosTokenIds;
  auto result = qcc::cli::generateTokens(
      *prompt, config.vocabSize, sampling, [&](const std::vector<int64_t> &p) { return (*session)->prefill(p); },
      [&](int64_t id) { return (*session)->decode(id); });
  if (!result) return fail(result.message());
  const std::vector<int64_t> &generated = *result;

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
