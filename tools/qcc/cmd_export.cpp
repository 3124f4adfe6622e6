// qcc export MODEL_DIR -o OUT_DIR [quantization options]: a compressed-tensors
// folder (what vLLM and transformers load) of the model quantized as
// `qcc compile` quantizes it.
#include "tools/qcc/Command.h"
#include "tools/qcc/OutputPath.h"
#include "tools/qcc/PipelineProgress.h"
#include "tools/qcc/QuantOptions.h"
#include "tools/qcc/SizeChecks.h"

#include "codegen/export/CompressedTensorsExport.h"
#include "frontends/llama/LlamaConfig.h"
#include "passes/Pipelines.h"
#include "passes/ToProgram.h"
#include "support/Printable.h"
#include "support/Progress.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace {

using namespace qcc::cli;

const char *kUsage =
    "usage: qcc export MODEL_DIR -o OUT_DIR [options]\n"
    "  Quantizes a Llama-3.1 checkpoint as `qcc compile` does (the same passes and\n"
    "  options) and writes it as a compressed-tensors folder, what vLLM and\n"
    "  transformers load: config.json with its quantization_config, safetensors\n"
    "  shards of at most 5 GB (with model.safetensors.index.json when there are\n"
    "  several), the tokenizer files the import recorded and the checkpoint's\n"
    "  generation_config.json when it has one. w4a16 becomes\n"
    "  pack-quantized, int8 int-quantized, fp8 float-quantized, bf16 layers stay\n"
    "  dense (listed in `ignore`). The folder is written next to OUT_DIR under a\n"
    "  hidden name and renamed into place at the end: nothing is written on failure.\n"
    "  vLLM fuses q|k|v and gate|up, so each set must share one format, and it\n"
    "  serves only an unquantized lm_head: both are checked before calibration\n"
    "  (--format auto chooses one format per such set).\n"
    "  --overwrite         replace an existing OUT_DIR (atomically)\n"
    "  --max-shard-bytes N largest safetensors shard, in bytes (default 5000000000)\n"
    "  --dtype f32|bf16    activation precision of calibration (default: the checkpoint's)\n"
    "  --dump-pass-pipeline  print the pass pipeline (as `qcc-opt --pass-pipeline=` takes it), then export\n"
    "  --quiet             no progress lines\n";

// With --overwrite the existing output folder is replaced as a whole: it must
// not be (or hold) the checkpoint folder or any other input of the export.
qcc::Status checkNotAnInputFolder(const std::string &output, const std::vector<std::string> &inputs) {
  char resolved[PATH_MAX];
  if (!::realpath(output.c_str(), resolved)) return qcc::Status::ok(); // nothing there yet
  const std::string folder = resolved;
  for (const std::string &input : inputs) {
    char in[PATH_MAX];
    if (!::realpath(input.c_str(), in)) continue;
    const std::string path = in;
    if (path == folder || (path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
                           path[folder.size()] == '/'))
      return qcc::Status::error(output + ": holds the input " + input +
                                ", which replacing the folder would delete; choose another output");
  }
  return qcc::Status::ok();
}

// "28 w4a16:g128, 1 bf16" for the linears of a plan.
std::string formatCounts(const qcc::CompressedTensorsPlan &plan) {
  std::map<std::string, int> counts;
  std::vector<std::string> order;
  for (const auto &e : plan.entries) {
    if (e.kind != qcc::compressed_tensors::ExportEntry::Kind::Linear) continue;
    std::string name = qcc::formats::formatSpecName(e.format);
    if (counts[name]++ == 0) order.push_back(name);
  }
  std::string out;
  for (const std::string &name : order) out += (out.empty() ? "" : ", ") + std::to_string(counts[name]) + " " + name;
  return out.empty() ? "none" : out;
}

int runExport(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("export", m); };
  std::string modelDir, output, dtype;
  qcc::QuantizationOptions options;
  qcc::ExportTranslateOptions translate;
  bool calibGiven = false, dumpPipeline = false;
  Progress progress;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    std::string error;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(kQuantOptionsHelp, stdout);
      return 0;
    }
    if (parseQuantOption(args, i, options, calibGiven, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    if ((a == "-o" || a == "--dtype" || a == "--max-shard-bytes") && i + 1 >= args.size())
      return fail("option " + a + " needs a value");
    if (a == "-o") {
      output = args[++i];
    } else if (a == "--dtype") {
      dtype = args[++i];
    } else if (a == "--max-shard-bytes") {
      int64_t n = 0;
      if (!parseIntArg(args[++i], 1, int64_t(1) << 50, n))
        return fail("--max-shard-bytes expects a positive integer, got '" + args[i] + "'");
      translate.maxShardBytes = static_cast<uint64_t>(n);
    } else if (a == "--overwrite") {
      translate.overwrite = true;
    } else if (a == "--dump-pass-pipeline") {
      dumpPipeline = true;
    } else if (a == "--quiet") {
      progress.quiet = true;
    } else if (a == "--target" || a == "--fp8-weight-only" || a == "--no-kernels" || a == "--tiles") {
      return fail(a + " is an option of `qcc compile`: an export has no GPU target (vLLM chooses its own kernels)");
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option '" + a + "'");
    } else if (modelDir.empty()) {
      modelDir = a;
    } else {
      return fail("unexpected argument '" + a + "'");
    }
  }
  if (modelDir.empty() || output.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (dtype != "" && dtype != "f32" && dtype != "bf16") return fail("--dtype expects f32 or bf16, got '" + dtype + "'");
  translate.outputDir = output;
  // The output folder is checked before any work (and again when it is written).
  if (qcc::Status s = qcc::compressed_tensors::checkExportOutput(output, translate.overwrite); !s) {
    const bool exists = llvm::StringRef(s.message()).ends_with("already exists");
    return fail(s.message() + (exists ? " (--overwrite replaces it)" : ""));
  }
  std::vector<std::string> inputs = checkpointInputs(modelDir);
  for (const std::string *p : {&options.calibSource, &options.layerFormatsFile})
    if (!p->empty() && *p != "random") inputs.push_back(*p);
  if (qcc::Status s = checkNotAnInputFolder(output, inputs); !s) return fail(s.message());
  if (qcc::Status s = checkAutoOptions(options); !s) return fail(s.message());
  if (qcc::Status s = checkQuantOptions(options); !s) return fail(s.message());
  options.uniformGroups = true; // --format auto: vLLM fuses q|k|v and gate|up
  if (!calibGiven) {
    std::string note = defaultCalibration(options, modelDir);
    if (!note.empty()) progress.line(note);
  }
  // The calibration's memory, from the config alone (cheap), before any work.
  auto sourceConfig = qcc::loadLlamaConfig(modelDir + "/config.json");
  if (!sourceConfig) return fail(sourceConfig.message());
  if (options.needsCalibration())
    if (qcc::Status s = checkCalibrationMemory(*sourceConfig, options.calibSamples, options.calibSeqLen); !s)
      return fail(s.message());

  const auto start = Clock::now();
  std::vector<std::pair<std::string, double>> stages;
  auto t0 = Clock::now();
  auto imported = importModel(modelDir, dtype, /*paramDir=*/true);
  if (!imported) return fail(imported.message());
  mlir::MLIRContext &context = *imported->context;
  mlir::OwningOpRef<mlir::ModuleOp> &module = imported->module;
  stages.push_back({"import", secondsSince(t0)});
  auto config = qcc::modelConfigOf(*module);
  if (!config) return fail(config.message());
  progress.line("imported " + qcc::printable(modelDir) + " (" + std::to_string(config->numLayers) + " layers)");
  qcc::setProgressReporter([&](const std::string &stage, int64_t done, int64_t total) {
    progress.layer(stage, done - 1, total);
  });
  mlir::ScopedDiagnosticHandler diagnostics(&context, passDiagnostics("export", progress));
  if (qcc::Status s = prepareAutoFormats(*module, options, {}, [&](const std::string &l) { progress.line(l); }); !s)
    return fail(s.message());

  // The formats, chosen on a copy with round to nearest (lazy: no weight is
  // read), must be ones vLLM serves before any calibration runs.
  {
    mlir::OwningOpRef<mlir::ModuleOp> probe = (*module).clone();
    qcc::QuantizationOptions chooseOnly = options;
    chooseOnly.method = "rtn";
    chooseOnly.smoothQuantAlpha.reset();
    mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
    qcc::buildQuantizationPipeline(pm, chooseOnly);
    const bool quiet = progress.quiet;
    progress.quiet = true; // the real run reports the passes' notes
    const bool ok = mlir::succeeded(pm.run(*probe));
    progress.quiet = quiet;
    if (!ok) return 1; // the pass reported why
    auto plan = qcc::planCompressedTensorsExport(*probe, /*requireQuantized=*/true);
    if (!plan) return fail(plan.message());
    if (qcc::Status s = qcc::compressed_tensors::checkExportPlan(plan->config, plan->entries); !s)
      return fail(s.message() + " (choose the formats with --format / --layer-formats accordingly)");
    progress.line("formats for vLLM: " + formatCounts(*plan) +
                  (config->tieWordEmbeddings ? " (lm_head tied to the embeddings)" : ""));
  }

  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  pm.addInstrumentation(std::make_unique<StageTimer>(progress, stages));
  qcc::buildQuantizationPipeline(pm, options);
  if (dumpPipeline) {
    std::string text;
    llvm::raw_string_ostream os(text);
    pm.printAsTextualPipeline(os);
    std::printf("%s\n", os.str().c_str());
  }
  if (mlir::failed(pm.run(*module))) return 1; // the pass reported why

  t0 = Clock::now();
  translate.onEntryWritten = [&](int64_t done, int64_t total) {
    if (done == total || done % 16 == 0) progress.layer("write tensors", done - 1, total);
  };
  auto summary = qcc::translateToCompressedTensors(*module, translate);
  if (!summary) return fail(summary.message());
  stages.push_back({"write", secondsSince(t0)});

  if (!progress.quiet) {
    std::fprintf(stderr, "[qcc] wrote %s: %.2f MiB of tensors in %zu shard%s, %zu linears (%zu quantized)%s\n",
                 qcc::printable(output).c_str(), summary->tensorBytes / 1048576.0, summary->shards.size(),
                 summary->shards.size() == 1 ? "" : "s", summary->linears, summary->quantizedLinears,
                 summary->files.empty() ? ", no tokenizer files" : "");
    qcc::cli::printStageSummary(stages, summary->bytesByFormat, start);
  }
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(exportCommand, "export", "quantize a checkpoint into a compressed-tensors folder (vLLM, transformers)",
                     runExport);
