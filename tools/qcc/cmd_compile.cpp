// qcc compile MODEL_DIR --format F --target T -o model.qcc: the whole pipeline.
#include "tools/qcc/Command.h"
#include "tools/qcc/ModelText.h"
#include "tools/qcc/OutputPath.h"
#include "tools/qcc/PipelineProgress.h"
#include "tools/qcc/QuantOptions.h"
#include "tools/qcc/SizeChecks.h"

#include "codegen/artifact/EmitArtifact.h"
#include "codegen/cuda/TileTable.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/LlamaConfig.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "passes/ToProgram.h"
#include "support/Printable.h"
#include "support/Progress.h"
#include "support/Targets.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace {

const char *kUsage =
    "usage: qcc compile MODEL_DIR -o FILE [--target T[,T...]]... [--fp8-weight-only] [options]\n"
    "  Compiles a Llama-3.1 checkpoint into one artifact: imports it as qcc IR,\n"
    "  runs the compile pipeline (formats, target legality on a lowered copy,\n"
    "  calibration, SmoothQuant, quantization, fusion, lowering to each target's\n"
    "  kernels, buffer planning) and translates the result into FILE atomically\n"
    "  (nothing is written on failure, even when killed). FILE is checked before\n"
    "  any work: a regular file or a new name in a writable folder (a character\n"
    "  device such as /dev/null is written through), and none of the inputs.\n"
    "  --target T          sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200; may be\n"
    "                      repeated or comma-separated (default sm90)\n"
    "  --fp8-weight-only   accept fp8 on targets without fp8 tensor cores (e4m3 weights, bf16 math)\n"
    "  --no-kernels        store no CUDA kernels: a CPU-only artifact (no NVRTC needed)\n"
    "  --tiles FILE        GEMM tiles from `qcc tune` (its JSON table) in place of the built-in\n"
    "                      choice where an entry matches; stored with the kernels for the runtime\n"
    "  --dtype f32|bf16    activation precision of the CPU program (and of calibration)\n"
    "  --no-tokenizer      embed no tokenizer (by default MODEL_DIR's tokenizer.json,\n"
    "                      tokenizer_config.json and chat_template.jinja are checked and\n"
    "                      embedded, so `qcc run --prompt` and `qcc chat` need nothing else)\n"
    "  --dump-pass-pipeline  print the pass pipeline (as `qcc-opt --pass-pipeline=` takes it), then compile\n"
    "  --quiet             no progress lines\n";

using qcc::cli::Clock;
using qcc::cli::Progress;
using qcc::cli::secondsSince;
using qcc::cli::StageTimer;

int runCompile(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("compile", m); };
  std::string modelDir, output, dtype, targetList, tilesPath;
  qcc::QuantizationOptions options;
  bool calibGiven = false, noKernels = false, dumpPipeline = false, noTokenizer = false, outputGiven = false;
  Progress progress;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    std::string error;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(qcc::cli::kQuantOptionsHelp, stdout);
      return 0;
    }
    if (qcc::cli::parseQuantOption(args, i, options, calibGiven, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    if ((a == "-o" || a == "--target" || a == "--dtype" || a == "--tiles") && i + 1 >= args.size())
      return fail("option " + a + " needs a value");
    if (a == "-o") output = args[++i], outputGiven = true;
    else if (a == "--target") {
      if (args[++i].empty()) return fail("--target needs a target (sm80, sm86, sm89, sm90 or a GPU name), got ''");
      targetList += (targetList.empty() ? "" : ",") + args[i];
    }
    else if (a == "--dtype") dtype = args[++i];
    else if (a == "--tiles") tilesPath = args[++i];
    else if (a == "--fp8-weight-only") options.fp8WeightOnly = true;
    else if (a == "--no-kernels") noKernels = true;
    else if (a == "--dump-pass-pipeline") dumpPipeline = true;
    else if (a == "--no-tokenizer") noTokenizer = true;
    else if (a == "--quiet") progress.quiet = true;
    else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (modelDir.empty()) modelDir = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (modelDir.empty() || !outputGiven) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // The output first: nothing is read, imported or quantized for a bad -o.
  std::vector<std::string> inputs = qcc::cli::checkpointInputs(modelDir);
  for (const std::string *p : {&options.calibSource, &options.layerFormatsFile, &tilesPath})
    if (!p->empty() && *p != "random") inputs.push_back(*p);
  if (qcc::Status s = qcc::cli::checkOutputPath(output, inputs); !s) return fail(s.message());
  if (qcc::Status s = qcc::cli::checkAutoOptions(options); !s) return fail(s.message());
  if (qcc::Status s = qcc::cli::checkQuantOptions(options); !s) return fail(s.message());
  if (targetList.empty()) targetList = "sm90";
  auto targets = qcc::parseTargetList(targetList);
  if (!targets) return fail(targets.message());
  // A CPU-only artifact needs no target legality (nothing runs on a GPU).
  if (!noKernels) options.targets = targetList;
  // The tile table is read before any work: a bad file fails fast.
  qcc::cuda::TileTable tiles;
  if (!tilesPath.empty()) {
    if (noKernels) return fail("--tiles has no effect with --no-kernels (no CUDA kernels are compiled)");
    auto t = qcc::cuda::readTileTable(tilesPath);
    if (!t) return fail(t.message());
    tiles = std::move(*t);
    options.tilesFile = tilesPath;
    for (const qcc::TargetInfo &target : *targets) {
      const size_t n = tiles.forTarget(target.gpuArch).entries.size();
      progress.line("tile table " + tilesPath + ": " + std::to_string(n) + " entr" + (n == 1 ? "y" : "ies") +
                    " for " + target.gpuArch + (n ? "" : " (built-in tiles)"));
    }
  }
  if (!calibGiven) {
    std::string note = qcc::cli::defaultCalibration(options, modelDir);
    if (!note.empty()) progress.line(note);
  }
  // Sizes the flags set, against the config (read alone: cheap) and memory.
  auto config = qcc::loadLlamaConfig(modelDir + "/config.json");
  if (!config) return fail(config.message());
  if (options.needsCalibration())
    if (qcc::Status s = qcc::cli::checkCalibrationMemory(*config, options.calibSamples, options.calibSeqLen); !s)
      return fail(s.message());
  // The tokenizer the artifact will carry (the files the importer records)
  // is checked before any work: it must load, encode, and fit the model's
  // vocabulary; --no-tokenizer drops it from the module.
  if (!noTokenizer) {
    const std::string hint = " (--no-tokenizer compiles without it)";
    auto text = qcc::cli::modelTextFromDir(modelDir);
    if (!text) return fail(text.message() + hint);
    if (text->tokenizer) {
      auto encoder = text->encoder();
      if (!encoder) return fail(encoder.message() + hint);
      const int64_t vocab = config->vocabSize;
      if ((*encoder)->size() > vocab)
        return fail(text->source + "tokenizer.json has ids up to " + std::to_string((*encoder)->size() - 1) +
                    ", beyond the model's vocabulary [0, " + std::to_string(vocab) + ")" + hint);
      // A malformed tokenizer_config.json fails here rather than in `qcc chat`.
      if (auto found = qcc::findChatTemplate(text->tokenizerConfigJson, text->chatTemplateJinja, text->source); !found)
        return fail(found.message() + hint);
      auto chat = text->chatFormat();
      progress.line("tokenizer: " + std::to_string((*encoder)->size()) + " ids; chat format: " +
                    (chat ? (chat->kind == qcc::ChatFormat::Kind::Llama31 ? "Llama 3.1" : "Llama 3.0")
                          : "none (" + chat.message() + ")"));
    } else {
      progress.line("note: " + text->source + "tokenizer.json is missing: the artifact takes token ids only");
    }
  }

  const auto start = Clock::now();
  std::vector<std::pair<std::string, double>> stages;

  auto t0 = Clock::now();
  auto imported = qcc::cli::importModel(modelDir, dtype, /*paramDir=*/true);
  if (!imported) return fail(imported.message());
  mlir::MLIRContext &context = *imported->context;
  mlir::OwningOpRef<mlir::ModuleOp> &module = imported->module;
  stages.push_back({"import", secondsSince(t0)});
  progress.line("imported " + qcc::printable(modelDir) + " (" + std::to_string(config->numLayers) + " layers)");
  qcc::setProgressReporter([&](const std::string &stage, int64_t done, int64_t total) {
    progress.layer(stage, done - 1, total);
  });

  if (noTokenizer) (*module)->removeAttr("qcc.tokenizer");

  if (qcc::Status s = qcc::cli::prepareAutoFormats(*module, options, {}, [&](const std::string &l) { progress.line(l); });
      !s)
    return fail(s.message());

  // Diagnostics of the passes (errors, remarks) go to stderr, prefixed.
  mlir::ScopedDiagnosticHandler diagnostics(&context, qcc::cli::passDiagnostics("compile", progress));

  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  auto timer = std::make_unique<StageTimer>(progress, stages);
  StageTimer *stageTimer = timer.get();
  pm.addInstrumentation(std::move(timer));
  qcc::buildCompilePipeline(pm, options);
  if (dumpPipeline) {
    std::string text;
    llvm::raw_string_ostream os(text);
    pm.printAsTextualPipeline(os);
    std::printf("%s\n", os.str().c_str());
  }
  if (mlir::failed(pm.run(*module))) { // the pass reported why
    if (stageTimer->failedPass == "qcc-legalize-target" || stageTimer->failedPass == "qcc-lower-to-kernels")
      std::fprintf(stderr, "qcc compile: note: compile with --no-kernels for an artifact that runs on the CPU only\n");
    return 1;
  }

  t0 = Clock::now();
  qcc::TranslateOptions translate;
  translate.outputPath = output;
  translate.onTensorWritten = [&](int64_t done, int64_t total) {
    if (done == total || done % 16 == 0) progress.layer("write tensors", done - 1, total);
  };
  auto summary = qcc::translateToArtifact(*module, translate);
  if (!summary) return fail(summary.message());
  stages.push_back({"write", secondsSince(t0)});
  if (!summary->targets.empty())
    progress.line("kernels for " + targetList + " (NVRTC, cached)");

  if (!progress.quiet) {
    std::fprintf(stderr, "[qcc] wrote %s: %.2f MiB, %zu tensors, %s\n", qcc::printable(output).c_str(), summary->fileSize / 1048576.0,
                 summary->tensors, noKernels ? "CPU only (no kernels)" : ("kernels for " + targetList).c_str());
    qcc::cli::printStageSummary(stages, summary->bytesByFormat, start);
  }
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(compile, "compile", "compile a checkpoint into a quantized artifact", runCompile);
