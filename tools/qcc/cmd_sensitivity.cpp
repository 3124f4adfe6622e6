// qcc sensitivity MODEL_DIR -o DIR: per-layer, per-format damage (KL against
// the unquantized model), the chosen assignment for a budget, and plots.
#include "tools/qcc/Command.h"
#include "tools/qcc/QuantOptions.h"
#include "tools/qcc/SensitivityReport.h"

#include "passes/AutoFormats.h"
#include "passes/Sensitivity.h"
#include "support/MappedFile.h"
#include "support/Targets.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace {

const char *kUsage =
    "usage: qcc sensitivity MODEL_DIR -o DIR [--calib FILE] [--candidates bf16,fp8,int8,w4a16]\n"
    "                       [--method rtn|gptq] [--mse-clip] [--act-order] [--budget B]\n"
    "                       [--target T]... [--fp8-weight-only] [--tiles FILE] [options]\n"
    "  Measures, for every linear layer (and lm_head with --include-lm-head) and every\n"
    "  candidate format, the mean KL divergence (nats per predicted position) of the\n"
    "  model's next-token distribution from the unquantized model's over the calibration\n"
    "  ids, with that layer alone quantized (the quantized weights are those of a uniform\n"
    "  compile with the same method). Writes into DIR:\n"
    "    sensitivity.json  per layer, per format: KL, weight bytes, estimated decode and\n"
    "                      prefill time on A6000, A100, L40S, H100, H200; the uniform formats;\n"
    "                      the Pareto curve; the chosen assignment (with --budget)\n"
    "    rules.yaml        the assignment --format auto chooses for --budget (with --budget;\n"
    "                      `qcc compile --layer-formats DIR/rules.yaml` compiles it)\n"
    "    heatmap.svg       layers x formats, coloured by KL\n"
    "    pareto.svg        effective bits and estimated decode latency against KL: the\n"
    "                      solver's optimum per bit budget (predicted and measured), the\n"
    "                      uniform formats, the chosen budget\n"
    "  --candidates L      formats to measure (default bf16,fp8,int8,w4a16; w4a16:G for a group)\n"
    "  --budget B          bits=B, size=BYTES or latency=US@GPU: the assignment for rules.yaml\n"
    "  --target T          the legality the assignment respects (sm80, ..., a100, h100; repeatable)\n"
    "  --fp8-weight-only   fp8 is legal on targets without fp8 tensor cores\n"
    "  --tiles FILE        measured GEMM times (`qcc tune`) replace the latency estimates\n"
    "  --pareto-points N   bit budgets on the curve (default 16); their KL is measured too\n"
    "  --dtype f32|bf16    activation precision of the measurement (default f32: bf16 rounding\n"
    "                      puts a noise floor under every layer's KL)\n"
    "  --threads N         interpreter threads (default: all)\n"
    "  --quiet             no progress lines\n";

std::string formatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

qcc::Status writeFile(const std::string &path, const std::string &text) {
  auto w = qcc::AtomicFileWriter::create(path);
  if (!w) return w.status();
  QCC_RETURN_IF_ERROR((*w)->write(text.data(), text.size()));
  return (*w)->commit();
}

int runSensitivity(const std::vector<std::string> &args) {
  auto fail = [](const std::string &m) { return qcc::cli::fail("sensitivity", m); };
  std::string modelDir, outDir, dtype, targetList, tilesPath, candidates = "bf16,fp8,int8,w4a16";
  qcc::QuantizationOptions options;
  bool calibGiven = false, quiet = false, fp8WeightOnly = false;
  int64_t threads = 0, paretoPoints = 16;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    std::string error;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(qcc::cli::kQuantOptionsHelp, stdout);
      return 0;
    }
    if (a == "--format" || a == "--sensitivity" || a == "--layer-formats")
      return fail(a + " does not apply: sensitivity measures every --candidates format on every layer");
    if (a == "--candidates") {
      if (i + 1 >= args.size()) return fail("option --candidates needs a value");
      candidates = args[++i];
      continue;
    }
    if (qcc::cli::parseQuantOption(args, i, options, calibGiven, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    const bool takesValue = a == "-o" || a == "--target" || a == "--dtype" || a == "--tiles" || a == "--threads" ||
                            a == "--pareto-points";
    if (takesValue && i + 1 >= args.size()) return fail("option " + a + " needs a value");
    if (a == "-o") outDir = args[++i];
    else if (a == "--target") targetList += (targetList.empty() ? "" : ",") + args[++i];
    else if (a == "--dtype") dtype = args[++i];
    else if (a == "--tiles") tilesPath = args[++i];
    else if (a == "--threads") {
      if (!qcc::cli::parseIntArg(args[++i], 1, 1024, threads))
        return fail("--threads expects an integer in [1, 1024], got '" + args[i] + "'");
    } else if (a == "--pareto-points") {
      if (!qcc::cli::parseIntArg(args[++i], 0, 1000, paretoPoints))
        return fail("--pareto-points expects an integer in [0, 1000], got '" + args[i] + "'");
    } else if (a == "--fp8-weight-only") fp8WeightOnly = true;
    else if (a == "--quiet") quiet = true;
    else if (!a.empty() && a[0] == '-') return fail("unknown option '" + a + "'");
    else if (modelDir.empty()) modelDir = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (modelDir.empty() || outDir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto progress = [&](const std::string &line) {
    if (!quiet) std::fprintf(stderr, "[qcc] %s\n", line.c_str());
  };
  // Everything that can be checked is checked before the measurement.
  std::optional<qcc::Budget> budget;
  if (!options.budget.empty()) budget = *qcc::parseBudget(options.budget); // parseQuantOption checked it
  qcc::AutoFormatOptions autoOptions;
  if (!targetList.empty()) {
    auto targets = qcc::parseTargetList(targetList);
    if (!targets) return fail(targets.message());
    autoOptions.targets = *targets;
  }
  autoOptions.allowFp8WeightOnly = fp8WeightOnly;
  autoOptions.includeLmHead = options.includeLmHead;
  autoOptions.groupSize = options.groupSize;
  autoOptions.tilesFile = tilesPath;
  qcc::cpu::ExecutorOptions exec;
  exec.numThreads = int(threads);
  if (dtype == "f32") exec.actDtype = qcc::cpu::ActDType::F32;
  else if (dtype == "bf16") exec.actDtype = qcc::cpu::ActDType::BF16;
  else if (!dtype.empty()) return fail("--dtype expects f32 or bf16, got '" + dtype + "'");
  if (options.method == "awq" || options.smoothQuantAlpha)
    return fail(std::string(options.method == "awq" ? "--method awq" : "--smoothquant") +
                " folds scales into layers shared with others, so a layer cannot be quantized alone: "
                "use --method rtn or gptq");
  struct stat st;
  if (::stat(outDir.c_str(), &st) != 0) {
    if (::mkdir(outDir.c_str(), 0755) != 0)
      return fail(outDir + ": cannot create the output folder: " + std::strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return fail(outDir + ": exists and is not a folder");
  }
  if (!calibGiven) {
    options.format = "auto"; // defaultCalibration: the model's calib.ids when present
    progress(qcc::cli::defaultCalibration(options, modelDir));
    options.format = "bf16";
  }

  const auto start = std::chrono::steady_clock::now();
  auto imported = qcc::cli::importModel(modelDir, dtype, /*paramDir=*/true);
  if (!imported) return fail(imported.message());
  mlir::ModuleOp module = *imported->module;
  progress("imported " + modelDir);

  qcc::SensitivityOptions sensitivityOptions;
  sensitivityOptions.quant = options;
  sensitivityOptions.candidates = qcc::cli::splitList(candidates);
  sensitivityOptions.exec = exec;
  sensitivityOptions.progress = progress;
  auto run = qcc::SensitivityRun::measure(module, sensitivityOptions);
  if (!run) return fail(run.message());
  const qcc::SensitivityResult &result = (*run)->result();

  auto problem = qcc::AutoProblem::build(module, result.table(), autoOptions);
  if (!problem) return fail(problem.message());
  qcc::cli::SensitivityReport report;
  report.result = &result;
  report.problem = problem->get();
  report.model = modelDir.substr(modelDir.find_last_of('/', modelDir.size() - 2) + 1);
  report.method = options.method + (options.mseClip ? "+mse-clip" : "") + (options.actOrder ? "+act-order" : "");
  report.budget = options.budget;
  report.latencyGpu = 3; // h100
  if (budget && budget->kind == qcc::Budget::Kind::Latency)
    report.latencyGpu = size_t(budget->gpu - qcc::quant::gpuSpecs().data());
  else if (!autoOptions.targets.empty())
    if (auto gpu = qcc::quant::lookupGpu(autoOptions.targets.front().name))
      report.latencyGpu = size_t(*gpu - qcc::quant::gpuSpecs().data());

  auto measure = [&](const qcc::FormatAssignment &a) -> qcc::Expected<double> {
    std::map<std::string, std::string> formatOf;
    for (size_t i = 0; i < a.formats.size(); ++i) formatOf[(*problem)->layers()[i].name] = a.formats[i];
    return (*run)->measureAssignment(formatOf);
  };
  // The uniform formats (their measured KL is the uniform compile's own).
  for (const std::string &f : result.candidates) {
    auto a = (*problem)->evaluate((*problem)->uniform(f));
    if (!a) return fail(a.message());
    qcc::cli::ParetoPoint p{f, *a, std::nullopt};
    const bool everywhere = std::all_of(a->formats.begin(), a->formats.end(), [&](const std::string &x) { return x == f; });
    if (everywhere && result.uniformKl.count(f)) {
      p.measuredKl = result.uniformKl.at(f);
    } else { // some layers cannot take f (group, target): what a uniform compile for the targets gives
      auto kl = measure(*a);
      if (!kl) return fail(kl.message());
      p.measuredKl = *kl;
    }
    report.uniform.push_back(std::move(p));
  }
  // The curve: the optimum at evenly spaced bit budgets, each measured.
  const double lo = (*problem)->minBits(), hi = (*problem)->maxBits();
  std::set<std::vector<std::string>> seen;
  for (int64_t i = 0; i < paretoPoints; ++i) {
    qcc::Budget b;
    b.kind = qcc::Budget::Kind::Bits;
    b.value = paretoPoints == 1 ? hi : lo + (hi - lo) * double(i) / double(paretoPoints - 1);
    b.value = std::max(b.value, lo) * (1 + 1e-12);
    b.text = "bits=" + std::to_string(b.value);
    auto a = (*problem)->solve(b);
    if (!a) return fail(a.message());
    if (!seen.insert(a->formats).second) continue;
    qcc::cli::ParetoPoint p{"", *a, std::nullopt};
    auto kl = measure(*a);
    if (!kl) return fail(kl.message());
    p.measuredKl = *kl;
    char buf[160];
    std::snprintf(buf, sizeof buf, "pareto: %.3f bits, predicted KL %.4g, measured %.4g", a->effectiveBits,
                  a->predictedKl, *kl);
    progress(buf);
    report.curve.push_back(std::move(p));
  }
  if (budget) {
    auto a = (*problem)->solve(*budget);
    if (!a) return fail(a.message());
    qcc::cli::ParetoPoint p{"", *a, std::nullopt};
    auto kl = measure(*a);
    if (!kl) return fail(kl.message());
    p.measuredKl = *kl;
    report.chosen = std::move(p);
    progress("budget " + options.budget + ": " + qcc::describeAssignment(*a));
    char buf[96];
    std::snprintf(buf, sizeof buf, "budget %s: measured KL %.6g", options.budget.c_str(), *kl);
    progress(buf);
  }

  const std::string dir = outDir + "/";
  if (qcc::Status s = writeFile(dir + "sensitivity.json", qcc::cli::sensitivityJson(report)); !s) return fail(s.message());
  if (qcc::Status s = writeFile(dir + "heatmap.svg", qcc::cli::heatmapSvg(report)); !s) return fail(s.message());
  if (qcc::Status s = writeFile(dir + "pareto.svg", qcc::cli::paretoSvg(report)); !s) return fail(s.message());
  if (report.chosen) {
    std::string header = "qcc sensitivity " + report.model + ": the --format auto choice for --budget " +
                         options.budget + "\n" + qcc::describeAssignment(report.chosen->assignment) +
                         "\ncompile it with: qcc compile MODEL_DIR --layer-formats rules.yaml (same method options)";
    if (!autoOptions.targets.empty()) header += "\nlegal on targets: " + targetList;
    if (qcc::Status s = writeFile(dir + "rules.yaml", qcc::assignmentRulesYaml(**problem, report.chosen->assignment, header));
        !s)
      return fail(s.message());
  } else {
    progress("no --budget: rules.yaml not written");
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "cost: reference forward %s; quantizing %zu formats %s; %lld layer runs %s, running %.1f%% of the linear "
                "multiply-adds full forwards would",
                formatSeconds(result.referenceSeconds).c_str(), result.candidates.size(),
                formatSeconds(result.quantizeSeconds).c_str(), (long long)result.layerRuns,
                formatSeconds(result.layerSeconds).c_str(),
                result.opsFull ? 100.0 * double(result.opsRun) / double(result.opsFull) : 0.0);
  progress(buf);
  progress("wrote " + dir + "sensitivity.json, heatmap.svg, pareto.svg" + (report.chosen ? ", rules.yaml" : "") + " (" +
           formatSeconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) + ")");
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(sensitivity, "sensitivity", "per-layer quantization sensitivity, plots, and --format auto rules",
                     runSensitivity);
