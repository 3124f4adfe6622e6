// qcc eval MODEL_DIR|model.qcc --data-ids FILE [...]: perplexity, and accuracy
// against the bf16 model (see Evaluate.h for the measures).
#include "tools/qcc/Command.h"
#include "tools/qcc/Evaluate.h"
#include "tools/qcc/Generation.h"
#include "tools/qcc/ModelText.h"
#include "tools/qcc/QuantOptions.h"
#include "tools/qcc/SizeChecks.h"

#include "frontends/llama/LlamaConfig.h"
#include "frontends/llama/TextData.h"
#include "frontends/llama/TokenIds.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Sampling.h"
#include "runtime/lib/Session.h"
#include "support/Limits.h"
#include "support/Printable.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <sys/stat.h>

namespace {

using qcc::cli::EvalModel;

const char *kUsage =
    "usage: qcc eval MODEL_DIR|model.qcc (--data FILE | --data-ids FILE) [--seq-len N]\n"
    "                [--max-windows N] [--ref MODEL_DIR] [--dtype f32|bf16] [--threads N]\n"
    "                [--prompts N] [--device auto|cpu|cuda] [quantization options]\n"
    "  Perplexity on a data file, cut into windows of --seq-len ids (default 256),\n"
    "  each run from an empty cache; --max-windows evaluates the first N only.\n"
    "  --data FILE.txt is text: encoded with the model's tokenizer (MODEL_DIR's\n"
    "  tokenizer.json or the one the artifact embeds) and cut into consecutive\n"
    "  windows of BOS + seq-len - 1 tokens; any other --data file, and --data-ids,\n"
    "  hold token ids (one sequence per line). With quantization\n"
    "  options MODEL_DIR is quantized in memory exactly as `qcc compile` does and\n"
    "  compared with its unquantized self; an artifact is compared with --ref.\n"
    "  Prints `key value` lines: perplexity, mean_nll, tokens, windows, and with a\n"
    "  reference ref_perplexity, recovery, top1_agreement, mean_kl,\n"
    "  continuation_match (greedy, --prompts prompts of 32 ids, 32 new ids each).\n";


bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// `n` greedy ids after `prompt` (end-of-sequence ids do not stop it).
qcc::Expected<std::vector<int64_t>> greedy(const std::vector<int64_t> &prompt, int64_t n, int64_t V,
                                           const qcc::cli::PrefillFn &prefill, const qcc::cli::DecodeFn &decode) {
  qcc::cli::SamplingOptions greedyOptions;
  greedyOptions.steps = n;
  return qcc::cli::generateTokens(prompt, V, greedyOptions, prefill, decode);
}

EvalModel fromExecutor(const qcc::cpu::Interpreter &model) {
  EvalModel m;
  m.vocabSize = model.vocabSize();
  m.forward = [&model](const std::vector<int64_t> &ids) { return model.forward(ids); };
  m.greedy = [&model](const std::vector<int64_t> &prompt, int64_t n) {
    auto session = std::make_shared<qcc::cpu::Session>(model);
    return greedy(
        prompt, n, model.vocabSize(), [&](const std::vector<int64_t> &p) { return session->prefill(p); },
        [&](int64_t token) { return session->decode(token); });
  };
  return m;
}

// A model folder imported and, with `quant`, run through the quantization
// passes in memory; then the CPU interpreter over its graph.
struct FolderModel {
  qcc::cli::ImportedModel imported;
  std::unique_ptr<qcc::cpu::Interpreter> model;
};
qcc::Expected<FolderModel> openFolder(const std::string &dir, const std::string &dtype,
                                      const qcc::QuantizationOptions *quant,
                                      const qcc::cpu::ExecutorOptions &execOptions) {
  FolderModel f;
  auto imported = qcc::cli::importModel(dir, dtype, /*paramDir=*/quant != nullptr);
  if (!imported) return imported.status();
  f.imported = std::move(*imported);
  if (quant) {
    qcc::QuantizationOptions autoOptions = *quant;
    qcc::Status prepared = qcc::cli::prepareAutoFormats(*f.imported.module, autoOptions, execOptions,
                                                        [](const std::string &line) {
                                                          std::fprintf(stderr, "qcc eval: %s\n", line.c_str());
                                                        });
    if (!prepared) return prepared;
    mlir::ScopedDiagnosticHandler diagnostics(f.imported.context.get(), [&](mlir::Diagnostic &d) {
      std::string text;
      llvm::raw_string_ostream os(text);
      d.print(os);
      std::fprintf(stderr, "qcc eval: %s: %s\n",
                   d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
                   : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                           : "note",
                   qcc::printable(os.str()).c_str());
      return mlir::success();
    });
    mlir::PassManager pm(f.imported.context.get());
    qcc::buildQuantizationPipeline(pm, *quant);
    if (mlir::failed(pm.run(*f.imported.module))) return qcc::Status::error("the quantization pipeline failed");
  }
  auto m = qcc::interpretModule(*f.imported.module, execOptions);
  if (!m) return m.status().withContext(dir);
  f.model = std::move(*m);
  return f;
}

EvalModel fromSession(qcc::rt::Session &session) {
  EvalModel m;
  m.vocabSize = session.vocabSize();
  m.forward = [&session](const std::vector<int64_t> &ids) {
    session.reset();
    return session.prefill(ids);
  };
  m.greedy = [&session](const std::vector<int64_t> &prompt, int64_t n) {
    session.reset();
    return greedy(
        prompt, n, session.vocabSize(), [&](const std::vector<int64_t> &p) { return session.prefill(p); },
        [&](int64_t token) { return session.decode(token); });
  };
  return m;
}

int runEval(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("eval", m); };
  std::string target, dataPath, dtypeText, refDir, deviceText = "auto";
  int64_t seqLen = 256, threads = 0, prompts = 8, maxWindows = 0;
  qcc::QuantizationOptions quant;
  bool quantGiven = false, calibGiven = false, dataIsText = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    std::string error;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(qcc::cli::kQuantOptionsHelp, stdout);
      return 0;
    }
    if (qcc::cli::parseQuantOption(args, i, quant, calibGiven, error)) {
      if (!error.empty()) return fail(error);
      quantGiven = true;
      continue;
    }
    const bool takesValue = a == "--data-ids" || a == "--data" || a == "--seq-len" || a == "--dtype" ||
                            a == "--threads" || a == "--ref" || a == "--prompts" || a == "--device" ||
                            a == "--max-windows";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "--data-ids" || a == "--data") {
      if (!dataPath.empty()) return fail("give one of --data and --data-ids, once");
      dataPath = args[++i];
      dataIsText = a == "--data" && qcc::isTextDataFile(dataPath);
      if (a == "--data-ids" && qcc::isTextDataFile(dataPath))
        return fail("--data-ids takes token ids, and " + dataPath + " is named as text (.txt): use --data");
    }
    else if (a == "--dtype") dtypeText = args[++i];
    else if (a == "--ref") refDir = args[++i];
    else if (a == "--device") deviceText = args[++i];
    else if (a == "--seq-len") {
      if (!qcc::cli::parseIntArg(args[++i], 2, qcc::limits::kMaxSequenceTokens, seqLen))
        return fail("--seq-len expects an integer in [2, " + std::to_string(qcc::limits::kMaxSequenceTokens) +
                    "], got '" + args[i] + "'");
    } else if (a == "--threads") {
      if (!qcc::cli::parseIntArg(args[++i], 1, 1024, threads)) return fail("--threads expects an integer in [1, 1024], got '" + args[i] + "'");
    } else if (a == "--max-windows") {
      if (!qcc::cli::parseIntArg(args[++i], 1, int64_t(1) << 40, maxWindows)) return fail("--max-windows expects a positive integer, got '" + args[i] + "'");
    } else if (a == "--prompts") {
      if (!qcc::cli::parseIntArg(args[++i], 0, 1 << 20, prompts)) return fail("--prompts expects a non-negative integer, got '" + args[i] + "'");
    } else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (target.empty()) target = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (target.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (dataPath.empty()) return fail("--data or --data-ids is required");
  if (qcc::Status s = qcc::cli::checkAutoOptions(quant); !s) return fail(s.message());
  if (quantGiven)
    if (qcc::Status s = qcc::cli::checkQuantOptions(quant); !s) return fail(s.message());
  // The windows' sessions (model and reference) against the memory available,
  // and the positions against the model's: one rule with run and generate.
  // (The CUDA executor's allocations are on the device and fail with a message
  // there; the host estimate is for CPU sessions, which auto may fall back to.)
  auto checkSizes = [&](const qcc::ModelConfig &config) -> qcc::Status {
    qcc::cli::warnBeyondMaxPositions("eval", config, seqLen);
    const bool artifactOnCuda = isRegularFile(target) && deviceText == "cuda";
    const int cpuSessions = (artifactOnCuda ? 0 : 1) + (refDir.empty() && !quantGiven ? 0 : 1);
    if (cpuSessions == 0) return qcc::Status::ok();
    return qcc::cli::checkSessionMemory(config, seqLen, seqLen, cpuSessions,
                                        "--seq-len " + std::to_string(seqLen) + " windows");
  };
  qcc::cpu::ExecutorOptions execOptions;
  execOptions.numThreads = static_cast<int>(threads);
  execOptions.maxSeqLen = seqLen;
  if (dtypeText == "f32") execOptions.actDtype = qcc::cpu::ActDType::F32;
  else if (dtypeText == "bf16") execOptions.actDtype = qcc::cpu::ActDType::BF16;
  else if (!dtypeText.empty()) return fail("--dtype expects f32 or bf16, got '" + dtypeText + "'");
  qcc::cli::EvalSettings settings;
  settings.seqLen = seqLen;
  settings.continuationPrompts = prompts;

  // The reference, when one is asked for (an artifact, or a quantized folder).
  std::optional<FolderModel> ref;
  auto openReference = [&](const std::string &dir) -> qcc::Status {
    auto r = openFolder(dir, dtypeText, nullptr, execOptions);
    if (!r) return r.status();
    ref = std::move(*r);
    return qcc::Status::ok();
  };

  const auto start = std::chrono::steady_clock::now();
  double quantizeSeconds = -1;
  std::unique_ptr<qcc::rt::Artifact> artifact;
  std::unique_ptr<qcc::rt::Session> session;
  std::optional<FolderModel> folder;
  int64_t vocab = 0;
  EvalModel evalModel;

  if (isRegularFile(target)) {
    if (quantGiven) return fail("quantization options apply to a model folder; " + target + " is compiled already");
    auto a = qcc::rt::Artifact::open(target);
    if (!a) return fail(a.message());
    artifact = std::move(*a);
    if (qcc::Status s = checkSizes(artifact->config()); !s) return fail(s.message());
    qcc::rt::SessionOptions so;
    auto device = qcc::rt::parseDevice(deviceText);
    if (!device) return fail(device.message());
    so.device = *device;
    so.maxSeqLen = seqLen;
    so.numThreads = static_cast<int>(threads);
    so.cpuPrecision = execOptions.actDtype; // --dtype holds for the artifact as for the reference
    if (execOptions.actDtype && so.device == qcc::rt::Device::Cuda)
      return fail("--dtype applies to the CPU executor; the CUDA kernels compute in bf16");
    if (execOptions.actDtype && so.device == qcc::rt::Device::Auto) so.device = qcc::rt::Device::Cpu;
    auto s = qcc::rt::Session::create(*artifact, so);
    if (!s) return fail(s.message());
    session = std::move(*s);
    std::fprintf(stderr, "qcc eval: device %s (%s)\n", qcc::rt::deviceName(session->device()),
                 qcc::printable(session->deviceReason()).c_str());
    vocab = artifact->vocabSize();
    evalModel = fromSession(*session);
  } else {
    if (quantGiven && !calibGiven) {
      std::string note = qcc::cli::defaultCalibration(quant, target);
      if (!note.empty()) std::fprintf(stderr, "qcc eval: %s\n", qcc::printable(note).c_str());
    }
    {
      auto config = qcc::loadLlamaConfig(target + "/config.json");
      if (!config) return fail(config.message());
      if (qcc::Status s = checkSizes(*config); !s) return fail(s.message());
      if (quant.needsCalibration())
        if (qcc::Status s = qcc::cli::checkCalibrationMemory(*config, quant.calibSamples, quant.calibSeqLen); !s)
          return fail(s.message());
    }
    auto t0 = std::chrono::steady_clock::now();
    auto f = openFolder(target, dtypeText, quantGiven ? &quant : nullptr, execOptions);
    if (!f) return fail(f.message());
    if (quantGiven) quantizeSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    folder = std::move(*f);
    vocab = folder->model->vocabSize();
    evalModel = fromExecutor(*folder->model);
    if (quantGiven && refDir.empty()) refDir = target;
  }

  EvalModel refEval;
  if (!refDir.empty()) {
    qcc::Status s = openReference(refDir);
    if (!s) return fail(s.message());
    refEval = fromExecutor(*ref->model);
  }
  qcc::Expected<std::vector<std::vector<int64_t>>> lines = std::vector<std::vector<int64_t>>();
  if (dataIsText) {
    // The tokenizer travels with the model: the artifact's, else the folder's.
    auto text = artifact ? qcc::cli::modelTextFromArtifact(*artifact, target) : qcc::cli::modelTextFromDir(target);
    if (!text) return fail(text.message());
    auto encoder = text->encoder();
    if (!encoder) return fail(encoder.message());
    int64_t bos = -1;
    if (artifact) {
      bos = artifact->config().bosTokenId;
    } else {
      auto config = qcc::modelConfigOf(*folder->imported.module);
      if (!config) return fail(config.message());
      bos = config->bosTokenId;
    }
    lines = qcc::loadTextWindows(**encoder, dataPath, seqLen, /*maxWindows=*/0, bos);
    if (lines)
      for (const auto &w : *lines)
        for (int64_t id : w)
          if (id >= vocab)
            return fail(dataPath + ": encodes to id " + std::to_string(id) + ", outside the model's vocabulary [0, " +
                        std::to_string(vocab) + ")");
  } else {
    lines = qcc::readTokenIdLines(dataPath, vocab);
  }
  if (!lines) return fail(lines.message());
  if (maxWindows > 0) {
    // Keep the first maxWindows windows, as evaluate() cuts them (seqLen ids
    // apart, a window needs 2 ids).
    int64_t left = maxWindows;
    std::vector<std::vector<int64_t>> kept;
    for (std::vector<int64_t> &line : *lines) {
      if (left == 0) break;
      int64_t windows = 0;
      size_t start = 0;
      for (; start + 1 < line.size() && windows < left; start += size_t(seqLen)) ++windows;
      if (start < line.size()) line.resize(std::max(start, size_t(1)));
      left -= windows;
      kept.push_back(std::move(line));
    }
    *lines = std::move(kept);
  }
  auto result = qcc::cli::evaluate(evalModel, ref ? &refEval : nullptr, *lines, settings);
  if (!result) return fail(dataPath + ": " + result.message());
  qcc::cli::printEvalResult(*result);
  if (quantizeSeconds >= 0) std::printf("quantize_seconds %.3f\n", quantizeSeconds);
  std::fprintf(stderr, "qcc eval: %s, seq-len %lld, %.2f s\n",
               session ? ("artifact on " + std::string(qcc::rt::deviceName(session->device()))).c_str()
                       : qcc::cpu::actDTypeName(folder->model->actDtype()),
               (long long)seqLen,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(eval, "eval", "perplexity and accuracy against bf16 (a folder, quantized or not, or an artifact)",
                     runEval);
