#include "passes/Pipelines.h"

#include "passes/Passes.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/Pass/PassRegistry.h"

#include <sstream>

namespace qcc {

// An input file as provenance names it: its base name and content hash,
// never its path, so the same compile in two checkouts gives the same bytes.
static std::string fileInput(const std::string &path) {
  const std::string base = path.substr(path.find_last_of('/') + 1);
  auto file = MappedFile::open(path);
  if (!file) return base + "#unreadable";
  return base + "#xxh3:" + contentHash((*file)->data(), (*file)->size());
}

std::string QuantizationOptions::canonical() const {
  std::ostringstream os;
  os << "format=" << format << " group-size=" << groupSize << " method=" << method
     << " mse-clip=" << (mseClip ? 1 : 0) << " act-order=" << (actOrder ? 1 : 0);
  if (smoothQuantAlpha) os << " smoothquant=" << *smoothQuantAlpha;
  if (needsCalibration())
    os << " calib=" << (calibSource == "random" ? calibSource : fileInput(calibSource)) << " calib-samples=" << calibSamples << " calib-seq-len=" << calibSeqLen
       << " calib-seed=" << calibSeed;
  if (!layerFormatsFile.empty()) os << " layer-formats=" << fileInput(layerFormatsFile);
  if (includeLmHead) os << " include-lm-head=1";
  if (!targets.empty()) os << " targets=" << targets;
  if (fp8WeightOnly) os << " fp8-weight-only=1";
  return os.str();
}

void buildQuantizationPipeline(mlir::OpPassManager &pm, const QuantizationOptions &o) {
  QccSelectFormatsOptions select;
  select.defaultFormat = o.format;
  select.rulesFile = o.layerFormatsFile;
  select.groupSize = o.groupSize;
  select.includeLmHead = o.includeLmHead;
  pm.addPass(createQccSelectFormats(select));
  if (!o.targets.empty())
    pm.addPass(createQccLegalizeTarget(QccLegalizeTargetOptions{o.targets, o.fp8WeightOnly}));
  if (o.needsCalibration())
    pm.addPass(createQccCalibrate(QccCalibrateOptions{o.calibSource, o.calibSamples, o.calibSeqLen, o.calibSeed,
                                                      /*collectRanges=*/o.smoothQuantAlpha.has_value()}));
  if (o.smoothQuantAlpha)
    pm.addPass(createQccFoldSmoothQuant(QccFoldSmoothQuantOptions{*o.smoothQuantAlpha}));
  QccQuantizeWeightsOptions quantize;
  quantize.method = o.method;
  quantize.mseClip = o.mseClip;
  quantize.actOrder = o.actOrder;
  pm.addPass(createQccQuantizeWeights(quantize));
}

namespace {
struct PipelineOptions : mlir::PassPipelineOptions<PipelineOptions> {
  Option<std::string> format{*this, "format", llvm::cl::desc("default format"), llvm::cl::init("bf16")};
  Option<std::string> method{*this, "method", llvm::cl::desc("rtn, gptq or awq"), llvm::cl::init("rtn")};
  Option<bool> mseClip{*this, "mse-clip", llvm::cl::desc("MSE-optimal clipping"), llvm::cl::init(false)};
  Option<double> smoothQuant{*this, "smoothquant", llvm::cl::desc("SmoothQuant alpha (< 0: off)"),
                             llvm::cl::init(-1.0)};
  Option<std::string> calib{*this, "calib", llvm::cl::desc("token-id file or random"), llvm::cl::init("random")};
  Option<int64_t> samples{*this, "samples", llvm::cl::desc("calibration sequences"), llvm::cl::init(32)};
  Option<int64_t> seqLen{*this, "seq-len", llvm::cl::desc("calibration sequence length"), llvm::cl::init(128)};
  Option<std::string> targets{*this, "targets", llvm::cl::desc("targets to check"), llvm::cl::init("")};
};
} // namespace

void registerQccPipelines() {
  mlir::PassPipelineRegistration<PipelineOptions>(
      "qcc-quantize-pipeline", "select formats, check targets, calibrate, smooth and quantize",
      [](mlir::OpPassManager &pm, const PipelineOptions &p) {
        QuantizationOptions o;
        o.format = p.format;
        o.method = p.method;
        o.mseClip = p.mseClip;
        if (p.smoothQuant >= 0) o.smoothQuantAlpha = p.smoothQuant;
        o.calibSource = p.calib;
        o.calibSamples = p.samples;
        o.calibSeqLen = p.seqLen;
        o.targets = p.targets;
        buildQuantizationPipeline(pm, o);
      });
}

} // namespace qcc
