#include "passes/Pipelines.h"

#include "passes/Passes.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/Pass/PassRegistry.h"

namespace qcc {

void buildQuantizationPipeline(mlir::OpPassManager &pm, const QuantizationOptions &o) {
  QccSelectFormatsOptions select;
  select.defaultFormat = o.format;
  select.rulesFile = o.layerFormatsFile;
  select.groupSize = o.groupSize;
  select.includeLmHead = o.includeLmHead;
  if (o.format == "auto") {
    select.budget = o.budget;
    select.sensitivity = o.sensitivityFile;
    select.targets = o.targets;
    select.allowFp8WeightOnly = o.fp8WeightOnly;
    select.tilesFile = o.tilesFile;
    select.uniformGroups = o.uniformGroups;
  }
  pm.addPass(createQccSelectFormats(select));
  if (!o.targets.empty()) {
    QccLegalizeTargetOptions legalize;
    legalize.targets = o.targets;
    legalize.allowFp8WeightOnly = o.fp8WeightOnly;
    legalize.tilesFile = o.tilesFile;
    pm.addPass(createQccLegalizeTarget(legalize));
  }
  if (o.needsCalibration()) {
    QccCalibrateOptions calibrate;
    calibrate.source = o.calibSource;
    calibrate.samples = o.calibSamples;
    calibrate.seqLen = o.calibSeqLen;
    calibrate.seed = o.calibSeed;
    calibrate.collectRanges = o.smoothQuantAlpha.has_value();
    pm.addPass(createQccCalibrate(calibrate));
  }
  if (o.smoothQuantAlpha) {
    QccFoldSmoothQuantOptions smooth;
    smooth.alpha = *o.smoothQuantAlpha;
    pm.addPass(createQccFoldSmoothQuant(smooth));
  }
  QccQuantizeWeightsOptions quantize;
  quantize.method = o.method;
  quantize.mseClip = o.mseClip;
  quantize.actOrder = o.actOrder;
  pm.addPass(createQccQuantizeWeights(quantize));
}

void buildCompilePipeline(mlir::OpPassManager &pm, const QuantizationOptions &o) {
  buildQuantizationPipeline(pm, o);
  pm.addPass(createQccFuse());
  if (o.targets.empty()) return;
  QccLowerToKernelsOptions lower;
  lower.targets = o.targets;
  lower.allowFp8WeightOnly = o.fp8WeightOnly;
  lower.tilesFile = o.tilesFile;
  pm.addPass(createQccLowerToKernels(lower));
  pm.addPass(createQccPlanBuffers());
}

namespace {
// The options of `qcc compile`, spelled as its flags are.
struct PipelineOptions : mlir::PassPipelineOptions<PipelineOptions> {
  Option<std::string> format{*this, "format", llvm::cl::desc("default format: bf16, fp8, int8, w4a16[:G] or auto"),
                             llvm::cl::init("bf16")};
  Option<std::string> budget{*this, "budget", llvm::cl::desc("format=auto: bits=B, size=BYTES or latency=US@GPU"),
                             llvm::cl::init("")};
  Option<std::string> sensitivity{*this, "sensitivity", llvm::cl::desc("format=auto: a `qcc sensitivity` JSON table"),
                                  llvm::cl::init("")};
  Option<bool> uniformGroups{*this, "uniform-groups",
                             llvm::cl::desc("format=auto: q|k|v and gate|up share one format (for qcc export)"),
                             llvm::cl::init(false)};
  Option<std::string> layerFormats{*this, "layer-formats", llvm::cl::desc("YAML/JSON per-layer rules file"),
                                   llvm::cl::init("")};
  Option<bool> includeLmHead{*this, "include-lm-head", llvm::cl::desc("quantize lm_head too"),
                             llvm::cl::init(false)};
  Option<int64_t> groupSize{*this, "group-size", llvm::cl::desc("w4a16 group size"), llvm::cl::init(128)};
  Option<std::string> method{*this, "method", llvm::cl::desc("rtn, gptq or awq"), llvm::cl::init("rtn")};
  Option<bool> mseClip{*this, "mse-clip", llvm::cl::desc("MSE-optimal clipping"), llvm::cl::init(false)};
  Option<bool> actOrder{*this, "act-order", llvm::cl::desc("GPTQ static act order"), llvm::cl::init(false)};
  Option<double> smoothQuant{*this, "smoothquant", llvm::cl::desc("SmoothQuant alpha (< 0: off)"),
                             llvm::cl::init(-1.0)};
  Option<std::string> calib{*this, "calib", llvm::cl::desc("token-id file or random"), llvm::cl::init("random")};
  Option<int64_t> calibSamples{*this, "calib-samples", llvm::cl::desc("calibration sequences"), llvm::cl::init(32)};
  Option<int64_t> calibSeqLen{*this, "calib-seq-len", llvm::cl::desc("calibration sequence length"),
                              llvm::cl::init(128)};
  Option<int64_t> calibSeed{*this, "calib-seed", llvm::cl::desc("seed of random calibration tokens"),
                            llvm::cl::init(0)};
  Option<std::string> target{*this, "target", llvm::cl::desc("GPU targets, comma-separated (empty: CPU only)"),
                             llvm::cl::init("")};
  Option<bool> fp8WeightOnly{*this, "fp8-weight-only", llvm::cl::desc("fp8 as weights only where no fp8 MMA"),
                             llvm::cl::init(false)};
  Option<std::string> tiles{*this, "tiles", llvm::cl::desc("a `qcc tune` tile table"), llvm::cl::init("")};

  QuantizationOptions toOptions() const {
    QuantizationOptions o;
    o.format = format;
    o.layerFormatsFile = layerFormats;
    o.budget = budget;
    o.sensitivityFile = sensitivity;
    o.uniformGroups = uniformGroups;
    o.includeLmHead = includeLmHead;
    o.groupSize = groupSize;
    o.method = method;
    o.mseClip = mseClip;
    o.actOrder = actOrder;
    if (smoothQuant >= 0) o.smoothQuantAlpha = smoothQuant;
    o.calibSource = calib;
    o.calibSamples = calibSamples;
    o.calibSeqLen = calibSeqLen;
    o.calibSeed = uint64_t(int64_t(calibSeed));
    o.targets = target;
    o.fp8WeightOnly = fp8WeightOnly;
    o.tilesFile = tiles;
    return o;
  }
};
} // namespace

void registerQccPipelines() {
  mlir::PassPipelineRegistration<PipelineOptions>(
      "qcc-quantize-pipeline", "select formats, check targets, calibrate, smooth and quantize",
      [](mlir::OpPassManager &pm, const PipelineOptions &p) { buildQuantizationPipeline(pm, p.toOptions()); });
  mlir::PassPipelineRegistration<PipelineOptions>(
      "qcc-compile-pipeline", "what `qcc compile` runs: quantize, fuse, lower to kernels, plan buffers",
      [](mlir::OpPassManager &pm, const PipelineOptions &p) { buildCompilePipeline(pm, p.toOptions()); });
}

} // namespace qcc
