// qcc-calibrate: calibration data for the passes after it, and the activation
// ranges SmoothQuant needs (measured by running the graph on the CPU).
#include "passes/CalibrationData.h"
#include "passes/Params.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "quant/Stats.h"

#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "qcc-calibrate"

namespace qcc {
#define GEN_PASS_DEF_QCCCALIBRATE
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

struct CalibratePass : impl::QccCalibrateBase<CalibratePass> {
  using QccCalibrateBase::QccCalibrateBase;

  void runOnOperation() override {
    recordPass(getOperation(), *this);
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      mlir::emitError(module.getLoc(), "qcc-calibrate: ") << message;
      signalPassFailure();
    };
    auto config = modelConfigOf(module);
    if (!config) return fail(config.message());
    CalibrationSpec spec{source, samples, seqLen, seed};
    auto data = loadCalibrationSamples(spec, *config, module);
    if (!data) return fail(data.message());
    if (Status s = setCalibrationSpec(module, spec); !s) return fail(s.message());
    if (!collectRanges) return;
    Status s = collect(module, *data);
    if (!s) return fail(s.message());
  }

  // Per-channel absmax of every RMSNorm output that linears read.
  Status collect(ModuleOp module, const std::vector<std::vector<int64_t>> &data) {
    auto fn = forwardFunction(module);
    if (!fn) return fn.status();
    auto translated = translateToProgram(*fn);
    if (!translated) return translated.status();
    const program::Program &p = translated->program;
    std::vector<RMSNormOp> normOf(p.values.size()); // value -> the IR norm producing it
    for (size_t i = 0; i < p.ops.size(); ++i)
      if (auto n = dyn_cast<RMSNormOp>(translated->origin[i])) normOf[p.ops[i].outputs[0]] = n;
    IrWeightSource weights(*translated);
    auto model = cpu::Interpreter::create(p, weights, {});
    if (!model) return model.status();

    std::map<uint32_t, quant::ChannelStats> stats; // by norm output value
    Status observed = Status::ok();
    cpu::LinearObserver observer = [&](const program::Op &op, size_t, const float *x, int64_t rows, int64_t cols) {
      const uint32_t v = op.inputs[0];
      if (!normOf[v]) return;
      auto it = stats.try_emplace(v, cols).first;
      Status s = it->second.add(x, rows, cols);
      if (!s && observed) observed = s;
    };
    // Linears sharing an input report it once each; measuring it once per
    // reader gives the same absmax, so no deduplication is needed.
    for (const std::vector<int64_t> &sample : data) {
      auto frame = (*model)->newFrame(sample, 0);
      if (!frame) return frame.status();
      cpu::KvCaches caches = (*model)->newCaches(frame->T);
      QCC_RETURN_IF_ERROR((*model)->run(0, p.ops.size(), *frame, caches, &observer));
    }
    QCC_RETURN_IF_ERROR(observed);
    if (stats.empty()) return Status::ok();

    auto dir = paramDirFor(module, paramDir, "qcc-calibrate");
    if (!dir) return dir.status();
    std::vector<ArchiveWriter::Dense> decls;
    std::vector<std::string> keys;
    for (const auto &[v, st] : stats) {
      std::string name = p.ops[size_t(std::find_if(p.ops.begin(), p.ops.end(), [&](const program::Op &o) {
                                         return !o.outputs.empty() && o.outputs[0] == v;
                                       }) - p.ops.begin())].name;
      std::string key = (name.empty() ? "%" + std::to_string(v) : name) + ".output_absmax";
      while (std::find(keys.begin(), keys.end(), key) != keys.end()) key += "_";
      keys.push_back(key);
      decls.push_back({key, DType::F32, {st.cols()}});
    }
    auto writer = ArchiveWriter::create(module, *dir, "calibration", decls, {});
    if (!writer) return writer.status();
    std::vector<std::pair<RMSNormOp, ParamAttr>> marks;
    size_t i = 0;
    for (const auto &[v, st] : stats) {
      auto param = (*writer)->writeDense(keys[i++], st.absMax().data(), st.absMax().size() * 4);
      if (!param) return param.status();
      marks.push_back({normOf[v], *param});
    }
    QCC_RETURN_IF_ERROR((*writer)->finish());
    for (auto &[norm, param] : marks) norm->setAttr("qcc.output_absmax", param);
    return Status::ok();
  }
};

} // namespace
} // namespace qcc
