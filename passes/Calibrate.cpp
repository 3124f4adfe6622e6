// qcc-calibrate: calibration data for the passes after it, and the activation
// ranges SmoothQuant needs.
#include "passes/Passes.h"
#include "passes/WeightStore.h"
#include "quant/Stats.h"

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
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      module.emitError("qcc-calibrate: ") << message;
      signalPassFailure();
    };
    auto store = WeightStore::forModule(module);
    if (!store) return fail(store.message());
    CalibrationSpec spec{source, samples, seqLen, seed};
    auto data = loadCalibrationSamples(spec, (*store)->config(), (*store)->checkpoint().directory());
    if (!data) return fail(data.message());
    setCalibrationSpec(module, spec);
    if (!collectRanges) return;
    auto model = (*store)->buildExecutor(executorOptionsFor(module));
    if (!model) return fail(model.message());

    // One ChannelStats per linear input (q,k,v and gate,up report the same input).
    std::map<std::string, quant::ChannelStats> stats;
    Status observed = Status::ok();
    cpu::LinearObserver observer = [&](const std::string &name, const float *x, int64_t rows, int64_t cols) {
      auto it = stats.try_emplace(name, cols).first;
      Status s = it->second.add(x, rows, cols);
      if (!s && observed) observed = s;
    };
    for (const std::vector<int64_t> &sample : *data) {
      auto hidden = (*model)->embed(sample); // [T, D]
      if (!hidden) return fail(hidden.message());
      for (int layer = 0; layer < (*model)->config().numLayers; ++layer) {
        Status s = (*model)->runLayer(layer, *hidden, &observer);
        if (!s) return fail(s.message());
      }
    }
    if (!observed) return fail(observed.message());
    auto &absMax = (*store)->activationAbsMax();
    absMax.clear();
    for (auto &[name, s] : stats) absMax[name] = s.absMax();
  }
};

} // namespace
} // namespace qcc
