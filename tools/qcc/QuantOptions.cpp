#include "tools/qcc/QuantOptions.h"

#include "tools/qcc/Command.h"

#include "frontends/compressed_tensors/Layout.h"
#include "frontends/llama/Importer.h"
#include "passes/AutoFormats.h"
#include "passes/FormatRules.h"
#include "passes/Passes.h"
#include "passes/Sensitivity.h"
#include "support/Limits.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <unistd.h>
#include <cstdlib>
#include <sys/stat.h>

namespace qcc::cli {

const char *kQuantOptionsHelp =
    "  --format F          default format of the linear layers: bf16, fp8, int8, w4a16[:G], or\n"
    "                      auto: each layer's format chosen under --budget from measured sensitivities\n"
    "  --budget B          with --format auto: bits=B (effective bits of the linears), size=BYTES\n"
    "                      (all weights; K/M/G or KiB/MiB/GiB) or latency=US@GPU (estimated decode time\n"
    "                      of the linears on a6000, a100, l40s, h100 or h200)\n"
    "  --sensitivity F     with --format auto: the sensitivity.json of `qcc sensitivity` (default:\n"
    "                      measured now on the calibration data, as `qcc sensitivity` does)\n"
    "  --candidates L      with --format auto and no --sensitivity: formats to measure and choose from\n"
    "                      (default bf16,fp8,int8,w4a16)\n"
    "  --layer-formats F   YAML/JSON file of ordered `pattern: format` rules (first match wins)\n"
    "  --include-lm-head   quantize lm_head with the default format too\n"
    "  --group-size G      w4a16 group size when a format names none (default 128)\n"
    "  --method M          rtn | gptq | awq (default rtn; fp8 is always rtn)\n"
    "  --mse-clip          MSE-optimal clipping of the scales\n"
    "  --act-order         GPTQ static act order\n"
    "  --smoothquant A     fold SmoothQuant with alpha A\n"
    "  --calib SRC         calibration data: a text file (name ending in .txt: encoded with\n"
    "                      MODEL_DIR/tokenizer.json, cut into windows of BOS + seq-len - 1\n"
    "                      tokens), a token-id file (one sequence per line), or `random`\n"
    "                      (default: MODEL_DIR/calib.ids when present, else random)\n"
    "  --calib-samples N   calibration sequences (default 32, at most 1048576)\n"
    "  --calib-seq-len N   tokens per calibration sequence (default 128, at most 1048576)\n"
    "  --calib-seed N      seed of random calibration tokens (default 0)\n";


bool parseQuantOption(const std::vector<std::string> &args, size_t &i, QuantizationOptions &o, bool &calibGiven,
                      std::string &error) {
  const std::string &a = args[i];
  if (a == "--include-lm-head") return o.includeLmHead = true, true;
  if (a == "--mse-clip") return o.mseClip = true, true;
  if (a == "--act-order") return o.actOrder = true, true;
  static const char *valued[] = {"--format", "--layer-formats", "--group-size", "--method", "--smoothquant",
                                 "--calib", "--calib-samples", "--calib-seq-len", "--calib-seed",
                                 "--budget", "--sensitivity", "--candidates"};
  bool known = false;
  for (const char *v : valued) known |= a == v;
  if (!known) return false;
  if (i + 1 >= args.size()) {
    error = "option " + a + " needs a value";
    return true;
  }
  const std::string &v = args[++i];
  int64_t n = 0;
  if (a == "--format") o.format = v;
  else if (a == "--budget") {
    auto budget = parseBudget(v);
    if (!budget) error = "--budget: " + budget.message();
    o.budget = v;
  } else if (a == "--sensitivity") o.sensitivityFile = v;
  else if (a == "--candidates") o.autoCandidates = v;
  else if (a == "--layer-formats") o.layerFormatsFile = v;
  else if (a == "--method") {
    if (v != "rtn" && v != "gptq" && v != "awq") error = "--method expects rtn, gptq or awq, got '" + v + "'";
    o.method = v;
  } else if (a == "--calib") {
    o.calibSource = v;
    calibGiven = true;
  } else if (a == "--smoothquant") {
    char *end = nullptr;
    double alpha = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(alpha >= 0.0 && alpha <= 1.0))
      error = "--smoothquant expects an alpha in [0, 1], got '" + v + "'";
    o.smoothQuantAlpha = alpha;
  } else {
    // Each integer flag with its stated range (support/Limits.h, FormatRules.h).
    int64_t lo = 1, hi = int64_t(1) << 40;
    if (a == "--calib-samples") hi = limits::kMaxCalibrationSamples;
    else if (a == "--calib-seq-len") lo = 2, hi = limits::kMaxSequenceTokens;
    else if (a == "--calib-seed") lo = 0;
    else if (a == "--group-size") hi = kMaxGroupSize;
    if (!qcc::cli::parseIntArg(v, lo, hi, n))
      error = a + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'";
    else if (a == "--group-size") {
      if (Status g = checkGroupSize(n); !g) error = "--group-size: " + g.message();
      o.groupSize = n;
    } else if (a == "--calib-samples") o.calibSamples = n;
    else if (a == "--calib-seq-len") o.calibSeqLen = n;
    else if (a == "--calib-seed") o.calibSeed = static_cast<uint64_t>(n);
  }
  return true;
}

Status checkQuantOptions(const QuantizationOptions &o) {
  if (Status g = checkGroupSize(o.groupSize); !g) return g.withContext("--group-size");
  if (o.format != "auto") { // auto: checkAutoOptions
    auto format = parseFormatChoice(o.format, o.groupSize);
    if (!format) return format.status().withContext("--format");
  }
  if (!o.layerFormatsFile.empty()) {
    auto rules = readFormatRules(o.layerFormatsFile, o.groupSize);
    if (!rules) return rules.status();
  }
  return Status::ok();
}

Expected<std::unique_ptr<TempDir>> TempDir::create(const std::string &prefix) {
  const char *base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return Status::error(pattern + ": cannot create a temporary folder: " + std::strerror(errno));
  std::unique_ptr<TempDir> d(new TempDir());
  d->path_ = buf.data();
  return d;
}

TempDir::~TempDir() {
  if (DIR *dir = ::opendir(path_.c_str())) {
    while (struct dirent *e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
    }
    ::closedir(dir);
  }
  ::rmdir(path_.c_str());
}

Expected<ImportedModel> importModel(const std::string &modelDir, const std::string &activationDtype, bool paramDir) {
  auto checkpoint = compressed_tensors::openCheckpoint(modelDir); // dense or compressed-tensors
  if (!checkpoint) return checkpoint.status();
  ImportedModel m;
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  m.context = std::make_unique<mlir::MLIRContext>(registry);
  ImportOptions options;
  options.activationDtype = activationDtype;
  auto module = importLlama(*m.context, **checkpoint, options);
  if (!module) return module.status();
  m.module = std::move(*module);
  if (paramDir) {
    auto dir = TempDir::create("qcc-params");
    if (!dir) return dir.status();
    m.paramDir = std::move(*dir);
    (*m.module)->setAttr("qcc.param_dir", mlir::StringAttr::get(m.context.get(), m.paramDir->path()));
  }
  return m;
}

std::string defaultCalibration(QuantizationOptions &o, const std::string &modelDir) {
  if (!o.needsCalibration() && o.format != "auto") return "";
  struct stat st;
  std::string ids = modelDir + "/calib.ids";
  if (::stat(ids.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    o.calibSource = ids;
    return "calibrating on " + ids;
  }
  o.calibSource = "random";
  return "no calib.ids in " + modelDir + ": calibrating on random tokens (--calib FILE to choose)";
}

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Status checkAutoOptions(const QuantizationOptions &o) {
  const bool autoFormat = o.format == "auto";
  if (autoFormat && o.budget.empty())
    return Status::error("--format auto needs --budget bits=B, size=BYTES or latency=US@GPU");
  if (!autoFormat && !o.budget.empty()) return Status::error("--budget applies to --format auto only");
  if (!autoFormat && !o.sensitivityFile.empty()) return Status::error("--sensitivity applies to --format auto only");
  if (!autoFormat && !o.autoCandidates.empty()) return Status::error("--candidates applies to --format auto only");
  if (autoFormat && !o.layerFormatsFile.empty())
    return Status::error("--format auto chooses every layer's format; it cannot be combined with --layer-formats");
  if (!o.sensitivityFile.empty() && !o.autoCandidates.empty())
    return Status::error("--candidates chooses what to measure; with --sensitivity the table's formats are used");
  return Status::ok();
}

Status prepareAutoFormats(mlir::ModuleOp module, QuantizationOptions &o, const cpu::ExecutorOptions &exec,
                          const std::function<void(const std::string &)> &progress) {
  if (o.format != "auto" || !o.sensitivityFile.empty()) return Status::ok();
  SensitivityOptions s;
  s.quant = o;
  if (!o.autoCandidates.empty()) s.candidates = splitList(o.autoCandidates);
  s.exec = exec;
  s.progress = progress;
  if (progress) progress("measuring per-layer sensitivity (write it once with `qcc sensitivity`, reuse it with --sensitivity)");
  auto run = SensitivityRun::measure(module, s);
  if (!run) return run.status().withContext("sensitivity");
  setSensitivityAttr(module, (*run)->result().table());
  return Status::ok();
}

} // namespace qcc::cli
