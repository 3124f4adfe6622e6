// SmoothQuant is exact in exact arithmetic: after qcc-fold-smoothquant the
// fp32 model's logits equal the original ones up to fp32 rounding, while the
// weights themselves really changed.
#include "frontends/llama/Importer.h"
#include "passes/Params.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"

#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace {

using namespace qcc;

std::vector<float> logitsOf(mlir::ModuleOp module, const std::vector<int64_t> &tokens) {
  cpu::ExecutorOptions options;
  options.actDtype = cpu::ActDType::F32;
  auto model = interpretModule(module, options);
  EXPECT_TRUE(model.isOk()) << (model ? "" : model.message());
  auto logits = (*model)->forward(tokens);
  EXPECT_TRUE(logits.isOk());
  return *logits;
}

double maxRelativeError(const std::vector<float> &a, const std::vector<float> &ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - double(ref[i])));
    den = std::max(den, std::fabs(double(ref[i])));
  }
  return num / den;
}

TEST(SmoothQuant, FoldingKeepsLogits) {
  auto checkpoint = Checkpoint::open(std::string(QCC_SHARED_DIR) + "/models/stories260K");
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.message();

  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  ImportOptions importOptions;
  importOptions.activationDtype = "f32";
  auto module = importLlama(context, **checkpoint, importOptions);
  ASSERT_TRUE(module.isOk()) << module.message();
  char pattern[] = "/tmp/qcc-sq-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  (**module)->setAttr("qcc.param_dir", mlir::StringAttr::get(&context, pattern));
  auto qWeight = [&]() {
    std::vector<float> v;
    (**module).walk([&](WeightOp w) {
      if (w.getName() == "model.layers.1.self_attn.q_proj.weight") v = readDenseWeight(w).value();
    });
    return v;
  };

  const std::vector<int64_t> tokens = {1, 403, 407, 261, 378, 275, 77, 33, 261, 291, 448, 400};
  std::vector<float> before = logitsOf(**module, tokens);
  std::vector<float> qBefore = qWeight();

  mlir::PassManager pm(&context);
  QccCalibrateOptions calibrate;
  calibrate.source = "random";
  calibrate.samples = 4;
  calibrate.seqLen = 32;
  calibrate.seed = 3;
  calibrate.collectRanges = true;
  pm.addPass(createQccCalibrate(calibrate));
  QccFoldSmoothQuantOptions fold;
  fold.alpha = 0.5;
  pm.addPass(createQccFoldSmoothQuant(fold));
  ASSERT_TRUE(mlir::succeeded(pm.run(**module)));

  std::vector<float> qAfter = qWeight();
  ASSERT_EQ(qBefore.size(), qAfter.size());
  double changed = maxRelativeError(qAfter, qBefore);
  EXPECT_GT(changed, 1e-2) << "the folding must really change the weights";

  std::vector<float> after = logitsOf(**module, tokens);
  std::system((std::string("rm -rf ") + pattern).c_str());
  ASSERT_EQ(before.size(), after.size());
  double err = maxRelativeError(after, before);
  std::printf("SmoothQuant alpha 0.5 on stories260K: weights changed by %.3g (max rel), "
              "logits by %.3g (max rel)\n", changed, err);
  EXPECT_LT(err, 1e-5);
}

} // namespace
