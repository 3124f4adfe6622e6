// The IR decides what runs: stories260K is imported, its graph changed in one
// place (a norm's epsilon, the rope theta of one layer's queries, a residual
// add removed, a SwiGLU's operands exchanged), then run two ways:
//   (a) the imported module as it is, translated to the CPU program;
//   (b) compiled (qcc-fuse and the translation to an artifact), run by the
//       runtime, so fusion must keep the change too (e.g. not fuse two ropes
//       of different theta, or put a residual epilogue back).
// The logits are compared with a float64 NumPy forward of the same changed
// model (scripts/python/make_mutation_goldens.py, numpy_llama.py), by
//   e = max_{t,v} |qcc - ref| / max_{t,v} |ref|  <  1e-4 (fp32 activations).
// Each change moves the reference logits by 0.4 or more, so an executor that
// ignored it could not pass.
#include "CompiledModel.h"

#include "dialects/qcc/QccDialect.h"
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/Safetensors.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/lib/Artifact.h"
#include "runtime/lib/Session.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <unistd.h>

using namespace qcc;

namespace {

const std::string kModel = QCC_SHARED_DIR "/models/stories260K";
const std::string kGolden = QCC_SOURCE_DIR "/test/golden/stories260K.mutations.safetensors";
constexpr double kBound = 1e-4;

// The weight op's tensor name behind an operand (qcc.weight or a quantized form).
std::string weightName(mlir::Value v) {
  if (auto w = v.getDefiningOp<WeightOp>()) return w.getName().str();
  return "";
}

// The op of type Op in `module` for which `match` holds; exactly one.
template <typename Op>
Expected<Op> findOne(mlir::ModuleOp module, const std::function<bool(Op)> &match, const std::string &what) {
  Op found;
  int count = 0;
  module.walk([&](Op op) {
    if (match(op)) found = op, ++count;
  });
  if (count != 1) return Status::error(what + ": " + std::to_string(count) + " matches, expected 1");
  return found;
}

std::string layerOf(mlir::Value v) {
  if (auto l = v.getDefiningOp<LinearOp>()) return l.getLayer().str();
  return "";
}

// The changes, as numpy_llama.forward's `mutation` describes them.
Status mutate(const std::string &name, mlir::ModuleOp module) {
  mlir::MLIRContext *ctx = module.getContext();
  if (name == "none") return Status::ok();
  if (name == "epsilon") {
    auto norm = findOne<RMSNormOp>(
        module, [](RMSNormOp n) { return weightName(n.getWeight()) == "model.layers.2.input_layernorm.weight"; },
        "the input norm of layer 2");
    if (!norm) return norm.status();
    norm->setEpsilonAttr(mlir::FloatAttr::get(mlir::Float64Type::get(ctx), 0.5));
    return Status::ok();
  }
  if (name == "theta") {
    auto rope = findOne<RopeOp>(
        module,
        [](RopeOp r) { return r.getInputs().size() == 1 && layerOf(r.getInputs()[0]) == "model.layers.1.self_attn.q_proj"; },
        "the rope of layer 1's queries");
    if (!rope) return rope.status();
    rope->setThetaAttr(mlir::FloatAttr::get(mlir::Float64Type::get(ctx), 100.0));
    return Status::ok();
  }
  if (name == "residual") {
    auto add = findOne<AddOp>(
        module,
        [](AddOp a) {
          return layerOf(a.getLhs()) == "model.layers.3.mlp.down_proj" ||
                 layerOf(a.getRhs()) == "model.layers.3.mlp.down_proj";
        },
        "the MLP residual add of layer 3");
    if (!add) return add.status();
    mlir::Value mlp = layerOf(add->getLhs()) == "model.layers.3.mlp.down_proj" ? add->getLhs() : add->getRhs();
    add->getResult().replaceAllUsesWith(mlp);
    add->erase();
    return Status::ok();
  }
  if (name == "swiglu") {
    auto swiglu = findOne<SwiGLUOp>(
        module, [](SwiGLUOp s) { return layerOf(s.getGate()) == "model.layers.0.mlp.gate_proj"; },
        "the SwiGLU of layer 0");
    if (!swiglu) return swiglu.status();
    mlir::Value gate = swiglu->getGate(), up = swiglu->getUp();
    swiglu->getOperation()->setOperands({up, gate});
    return Status::ok();
  }
  return Status::error("unknown mutation '" + name + "'");
}

struct Golden {
  std::vector<int64_t> ids;
  std::map<std::string, std::vector<float>> logits; // name -> [T, V]
  int64_t T = 0, V = 0;
};

::testing::AssertionResult loadGolden(Golden &g) {
  auto f = SafetensorsFile::open(kGolden);
  if (!f) return ::testing::AssertionFailure() << f.message();
  const TensorRef *ids = (*f)->find("input_ids");
  if (!ids || ids->dtype != DType::I64 || ids->shape.size() != 1)
    return ::testing::AssertionFailure() << kGolden << ": no I64 input_ids [T]";
  g.T = ids->shape[0];
  g.ids.resize(size_t(g.T));
  std::memcpy(g.ids.data(), ids->data, ids->byteSize());
  for (const char *name : {"none", "epsilon", "theta", "residual", "swiglu"}) {
    const TensorRef *t = (*f)->find(std::string("logits.") + name);
    if (!t || t->dtype != DType::F32 || t->shape.size() != 2 || t->shape[0] != g.T)
      return ::testing::AssertionFailure() << kGolden << ": no F32 logits." << name << " [T, V]";
    g.V = t->shape[1];
    auto &out = g.logits[name];
    out.resize(size_t(t->numel()));
    std::memcpy(out.data(), t->data, t->byteSize());
  }
  return ::testing::AssertionSuccess();
}

double relError(const std::vector<float> &got, const std::vector<float> &ref) {
  EXPECT_EQ(got.size(), ref.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size() && i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    norm = std::max(norm, std::fabs(double(ref[i])));
  }
  EXPECT_GT(norm, 0.0);
  return diff / norm;
}

class MutatedGraph : public ::testing::TestWithParam<const char *> {};

} // namespace

TEST_P(MutatedGraph, LogitsFollowTheIr) {
  const std::string name = GetParam();
  if (access((kModel + "/model.safetensors").c_str(), R_OK) != 0) GTEST_SKIP() << "no " << kModel;
  Golden g;
  ASSERT_TRUE(loadGolden(g));
  const std::vector<float> &ref = g.logits.at(name);
  // The change is visible in the reference (or this is the unchanged model).
  const double moved = relError(ref, g.logits.at("none"));
  if (name != "none") {
    EXPECT_GT(moved, 100 * kBound) << name;
  }

  // (a) The imported module, changed, straight to the CPU program.
  auto ckpt = Checkpoint::open(kModel);
  ASSERT_TRUE(ckpt.isOk()) << ckpt.message();
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = importLlama(context, **ckpt, {});
  ASSERT_TRUE(module.isOk()) << module.message();
  Status s = mutate(name, **module);
  ASSERT_TRUE(s.isOk()) << s.message();
  ASSERT_TRUE(mlir::succeeded(mlir::verify(**module)));
  cpu::ExecutorOptions eo;
  eo.actDtype = cpu::ActDType::F32;
  eo.numThreads = 1;
  auto interpreter = interpretModule(**module, eo);
  ASSERT_TRUE(interpreter.isOk()) << interpreter.message();
  auto direct = (*interpreter)->forward(g.ids);
  ASSERT_TRUE(direct.isOk()) << direct.message();
  const double eDirect = relError(*direct, ref);

  // (b) Compiled: fused, translated to an artifact, run by the runtime
  // (prefill of all but the last token, then one decode step).
  const std::string path = "/tmp/qcc-mutated-" + std::to_string(getpid()) + "-" + name + ".qcc";
  QuantizationOptions options; // bf16 format: weights as they are, CPU only
  auto compiled = test::compileCheckpoint(kModel, options, path, [&](mlir::ModuleOp m) { return mutate(name, m); });
  ASSERT_TRUE(compiled.isOk()) << compiled.message();
  auto artifact = rt::Artifact::open(path);
  ASSERT_TRUE(artifact.isOk()) << artifact.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.numThreads = 1;
  so.maxSeqLen = g.T;
  so.cpuPrecision = cpu::ActDType::F32;
  auto session = rt::Session::create(**artifact, so);
  ASSERT_TRUE(session.isOk()) << session.message();
  auto prefill = (*session)->prefill(std::vector<int64_t>(g.ids.begin(), g.ids.end() - 1));
  ASSERT_TRUE(prefill.isOk()) << prefill.message();
  auto last = (*session)->decode(g.ids.back());
  ASSERT_TRUE(last.isOk()) << last.message();
  std::vector<float> runtime = *prefill;
  runtime.insert(runtime.end(), last->begin(), last->end());
  const double eCompiled = relError(runtime, ref);
  std::remove(path.c_str());

  std::printf("[mutation] %-9s reference moved %.3g; rel error: imported %.3g, compiled %.3g\n", name.c_str(), moved,
              eDirect, eCompiled);
  EXPECT_LT(eDirect, kBound);
  EXPECT_LT(eCompiled, kBound);
}

INSTANTIATE_TEST_SUITE_P(Stories260K, MutatedGraph,
                         ::testing::Values("none", "epsilon", "theta", "residual", "swiglu"),
                         [](const ::testing::TestParamInfo<const char *> &i) { return std::string(i.param); });
