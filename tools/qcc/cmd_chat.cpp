// qcc chat model.qcc|MODEL_DIR [--system "TEXT"] [-n 512] [--temperature T] [--seed S]
//                    [--max-seq-len N] [--device auto|cpu|cuda] [--threads N] [--show-ids]
// A conversation with an Instruct model in its Llama 3 chat format: each
// line read from stdin is a user turn, each reply is streamed to stdout. The
// KV cache is kept between turns, so a turn costs only its own tokens.
#include "tools/qcc/Command.h"
#include "tools/qcc/Generation.h"
#include "tools/qcc/Jit.h"
#include "tools/qcc/ModelText.h"

#include "runtime/lib/Artifact.h"
#include "runtime/lib/Session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <unistd.h>

namespace {

const char *kUsage =
    "usage: qcc chat MODEL.qcc|MODEL_DIR [--system \"TEXT\"] [-n 512] [--temperature T] [--seed S]\n"
    "                [--max-seq-len N] [--device auto|cpu|cuda] [--threads N] [--show-ids]\n"
    "                [MODEL_DIR only: --format F and qcc compile's other quantization options]\n"
    "  Chats with an Instruct model in its chat format (Llama 3.1's, from the chat\n"
    "  template the artifact embeds): every line of stdin is a user message, the\n"
    "  reply is streamed to stdout, one line per reply (end of input or /exit ends,\n"
    "  /reset starts a new conversation). The KV cache is kept between turns. A reply\n"
    "  ends at <|eot_id|> (or another end-of-sequence id) or after -n tokens.\n"
    "  --system sets the system prompt. Greedy unless --temperature > 0.\n"
    "  --max-seq-len bounds the whole conversation (default: the model's context,\n"
    "  at most 8192). --show-ids prints on stderr the ids each turn feeds the model\n"
    "  and the ids of each reply.\n"
    "  A checkpoint folder is compiled just in time, in memory, as `qcc run` does.\n";

int runChat(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("chat", m); };
  std::string path, system, deviceText = "auto";
  qcc::cli::GenerationFlags gen;
  gen.steps = 512;
  bool showIds = false;
  bool compileOptions = false; // quantization options: a folder is compiled just in time
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--show-ids") {
      showIds = true;
      continue;
    }
    if (std::string error; qcc::cli::parseGenerationFlag(args, i, gen, /*minSteps=*/1, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    const bool takesValue = a == "--system" || a == "--device";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--system") system = args[++i];
    else if (a == "--device") deviceText = args[++i];
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
  auto device = qcc::rt::parseDevice(deviceText);
  if (!device) return fail(device.message());
  auto artifact = qcc::cli::openModel(path, *device, compileOptions, "chat");
  if (!artifact) return fail(artifact.message());
  const qcc::ModelConfig &config = (*artifact)->config();
  auto text = qcc::cli::modelTextFromArtifact(**artifact, path);
  if (!text) return fail(text.message());
  auto encoder = text->encoder();
  if (!encoder) return fail(encoder.message());
  const qcc::Tokenizer &tokenizer = **encoder;
  auto format = text->chatFormat();
  if (!format) return fail(format.message());
  const int64_t eot = *tokenizer.idOf("<|eot_id|>");
  auto encode = [&](const std::string &s) -> qcc::Expected<std::vector<int64_t>> {
    auto ids = tokenizer.encode(s, /*addSpecialTokens=*/false);
    if (!ids) return ids.status();
    for (int64_t id : *ids)
      if (id >= config.vocabSize)
        return qcc::Status::error("the chat text encodes to id " + std::to_string(id) +
                                  ", outside the model's vocabulary [0, " + std::to_string(config.vocabSize) + ")");
    return ids;
  };

  qcc::rt::SessionOptions options;
  options.device = *device;
  options.numThreads = int(gen.threads);
  options.maxSeqLen = gen.maxSeqLen;
  auto session = qcc::rt::Session::create(**artifact, options);
  if (!session) return fail(session.message());
  std::fprintf(stderr, "qcc chat: device %s (%s), context %lld tokens\n", qcc::rt::deviceName((*session)->device()),
               (*session)->deviceReason().c_str(), (long long)(*session)->maxSeqLen());

  qcc::cli::SamplingOptions sampling;
  sampling.steps = gen.steps;
  sampling.temperature = gen.temperature;
  sampling.seed = static_cast<uint64_t>(gen.seed);
  sampling.stopIds = config.eosTokenIds;
  for (const char *stop : {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"})
    if (auto id = tokenizer.idOf(stop)) sampling.stopIds.push_back(*id);

  auto show = [&](const char *what, const std::vector<int64_t> &ids) {
    if (!showIds) return;
    std::string line;
    for (int64_t id : ids) line += " " + std::to_string(id);
    std::fprintf(stderr, "qcc chat: %s:%s\n", what, line.c_str());
  };

  // Ids owed to the cache before the next turn: the end of the last reply
  // (generateTokens does not run its last id) and the <|eot_id|> closing it.
  std::vector<int64_t> owed;
  bool fresh = true;
  const bool interactive = ::isatty(STDIN_FILENO);
  std::string line;
  for (int turn = 0;; ++turn) {
    if (interactive) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      (*session)->reset();
      owed.clear();
      fresh = true;
      continue;
    }
    if (line.empty()) continue;
    std::string turnText = (fresh ? format->prefix(system) : std::string()) + format->message({"user", line}) +
                           format->generationPrompt();
    auto turnIds = encode(turnText);
    if (!turnIds) return fail(turnIds.message());
    std::vector<int64_t> input = owed;
    input.insert(input.end(), turnIds->begin(), turnIds->end());
    const int64_t used = (*session)->position(), room = (*session)->maxSeqLen();
    if (used + int64_t(input.size()) + 1 > room)
      return fail("the conversation is " + std::to_string(used) + " tokens and this turn needs " +
                  std::to_string(input.size()) + " more, beyond the context of " + std::to_string(room) +
                  " (--max-seq-len; /reset starts over)");
    show("turn ids", input);
    // A reply may use what is left of the context, up to -n tokens.
    qcc::cli::SamplingOptions turnSampling = sampling;
    turnSampling.steps = std::min<int64_t>(gen.steps, room - used - int64_t(input.size()));
    turnSampling.seed = sampling.seed + uint64_t(turn);
    qcc::DecodeStream stream(tokenizer, /*skipSpecial=*/true);
    auto reply = qcc::cli::generateTokens(
        input, config.vocabSize, turnSampling,
        [&](const std::vector<int64_t> &p) { return (*session)->prefill(p); },
        [&](int64_t id) { return (*session)->decode(id); }, {},
        [&](int64_t id) { qcc::cli::printNow(stream.push(id)); });
    qcc::cli::printNow(stream.finish() + "\n");
    if (!reply) return fail(reply.message());
    show("reply ids", *reply);
    fresh = false;
    owed.clear();
    const bool stopped = !reply->empty() && std::find(sampling.stopIds.begin(), sampling.stopIds.end(),
                                                      reply->back()) != sampling.stopIds.end();
    if (!reply->empty() && !stopped) owed.push_back(reply->back());
    owed.push_back(eot); // the transcript's reply always ends with <|eot_id|>
  }
  (*session)->close();
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(chat, "chat", "chat with an Instruct model (Llama 3 chat format, streamed replies)", runChat);
