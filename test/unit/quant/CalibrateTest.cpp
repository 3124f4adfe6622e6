// End-to-end sequential calibration + quantization on a tiny random Llama
// program (test/unit/cpu/LlamaProgram.h), run by the CPU interpreter.
#include "quant/Calibrate.h"
#include "../cpu/LlamaProgram.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

using namespace qcc;
using namespace qcc::quant;
using formats::Format;
using formats::FormatSpec;

namespace {

// A random fp32 checkpoint held in memory.
class TinyWeights : public WeightProvider {
public:
  explicit TinyWeights(const ModelConfig &c, uint32_t seed) {
    const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
    const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    uint32_t s = seed;
    add("model.embed_tokens.weight", {V, D}, qcc::quant::test::randn(V * D, s++));
    for (int64_t l = 0; l < c.numLayers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {D}, norm(D, s++));
      add(p + "post_attention_layernorm.weight", {D}, norm(D, s++));
      linear(p + "self_attn.q_proj.weight", qDim, D, s++);
      linear(p + "self_attn.k_proj.weight", kvDim, D, s++);
      linear(p + "self_attn.v_proj.weight", kvDim, D, s++);
      linear(p + "self_attn.o_proj.weight", D, qDim, s++);
      linear(p + "mlp.gate_proj.weight", F, D, s++);
      linear(p + "mlp.up_proj.weight", F, D, s++);
      linear(p + "mlp.down_proj.weight", D, F, s++);
    }
    add("model.norm.weight", {D}, norm(D, s++));
    linear("lm_head.weight", V, D, s++);
  }
  const TensorRef *find(const std::string &name) const override {
    auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }

private:
  // Norm weights with a few large channels: outlier activations, as in LLMs.
  static std::vector<float> norm(int64_t D, uint32_t seed) {
    std::vector<float> w = qcc::quant::test::randn(D, seed, 0.2f);
    for (int64_t j = 0; j < D; ++j) w[j] = 1.0f + w[j] + (j % 13 == 5 ? 8.0f : 0.0f);
    return w;
  }
  void linear(const std::string &name, int64_t N, int64_t K, uint32_t seed) {
    add(name, {N, K}, qcc::quant::test::randn(N * K, seed, 1.0f / std::sqrt(static_cast<float>(K))));
  }
  void add(const std::string &name, std::vector<int64_t> shape, std::vector<float> data) {
    data_[name] = std::move(data);
    TensorRef r;
    r.dtype = DType::F32;
    r.shape = std::move(shape);
    r.data = data_[name].data();
    refs_[name] = r;
  }
  std::map<std::string, std::vector<float>> data_;
  std::map<std::string, TensorRef> refs_;
};

ModelConfig tinyConfig(int64_t kvHeads) {
  ModelConfig c;
  c.hiddenSize = 64;
  c.intermediateSize = 128;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = kvHeads;
  c.headDim = 16;
  c.vocabSize = 96;
  c.maxPositionEmbeddings = 64;
  c.torchDtype = ModelConfig::TorchDtype::Float32;
  return c;
}

std::vector<std::vector<int64_t>> randomTokens(int n, int len, uint32_t seed, int64_t vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(0, vocab - 1);
  std::vector<std::vector<int64_t>> r(n, std::vector<int64_t>(len));
  for (auto &s : r)
    for (auto &t : s) t = d(rng);
  return r;
}

struct Fixture {
  ModelConfig config;
  TinyWeights weights;
  std::vector<std::vector<int64_t>> calib, heldOut;
  std::vector<std::vector<float>> refLogits; // unquantized model on heldOut
  explicit Fixture(int64_t kvHeads = 2)
      : config(tinyConfig(kvHeads)), weights(config, 1234),
        calib(randomTokens(8, 32, 1, config.vocabSize)),
        heldOut(randomTokens(4, 32, 2, config.vocabSize)) {
    auto m = fresh();
    for (const auto &s : heldOut) refLogits.push_back(m->forward(s).value());
  }
  std::unique_ptr<cpu::Interpreter> fresh() const {
    cpu::ExecutorOptions o;
    o.actDtype = cpu::ActDType::F32;
    o.numThreads = 1;
    qcc::test::NamedWeights named(weights);
    auto m = cpu::Interpreter::create(qcc::test::llamaProgram(config, named), named, o);
    EXPECT_TRUE(m) << m.message();
    return std::move(m.value());
  }
  // ||logits - ref|| / ||ref|| over the held-out sequences.
  double logitError(const cpu::Interpreter &m) const {
    double num = 0, den = 0;
    for (size_t i = 0; i < heldOut.size(); ++i) {
      std::vector<float> l = m.forward(heldOut[i]).value();
      for (size_t j = 0; j < l.size(); ++j) {
        const double d = static_cast<double>(l[j]) - refLogits[i][j];
        num += d * d;
        den += static_cast<double>(refLogits[i][j]) * refLogits[i][j];
      }
    }
    return std::sqrt(num / den);
  }
  // Quantizes a fresh model with one plan for every decoder linear; returns the error.
  double run(const LinearPlan &p, CalibrationReport *report = nullptr) const {
    auto m = fresh();
    CalibrationOptions o;
    o.planFor = [&](size_t, const program::Op &op) {
      return op.kind == program::OpKind::Logits ? LinearPlan{} : p;
    };
    auto r = calibrateAndQuantize(*m, calib, o);
    EXPECT_TRUE(r) << r.message();
    if (report && r) *report = r.value();
    return logitError(*m);
  }
};

LinearPlan plan(FormatSpec f, Method m, bool mse = false) {
  LinearPlan p;
  p.format = f;
  p.method = m;
  p.mseClip = mse;
  return p;
}

TEST(Calibrate, SmoothQuantFoldingKeepsLogits) {
  Fixture fx;
  LinearPlan p; // bf16: nothing quantized, only folding
  p.smoothQuantAlpha = 0.5;
  CalibrationReport rep;
  const double e = fx.run(p, &rep);
  std::printf("[ calibrate ] smoothquant(0.5) folding only: rel logit change %.3g\n", e);
  EXPECT_LT(e, 1e-5);
  ASSERT_EQ(rep.linears.size(), 15u);
  EXPECT_EQ(rep.linears[0].smoothAlpha, 0.5);  // q_proj
  EXPECT_EQ(rep.linears[3].smoothAlpha, -1.0); // o_proj: not norm-fed
  EXPECT_EQ(rep.tokens, 8 * 32);
}

TEST(Calibrate, QuantizedModelsStayCloseAndGptqBeatsRtn) {
  Fixture fx;
  const FormatSpec w4{Format::W4A16, 32}, i8{Format::INT8, 0}, f8{Format::FP8, 0};
  const double fp8 = fx.run(plan(f8, Method::RTN));
  const double int8 = fx.run(plan(i8, Method::RTN));
  const double int8g = fx.run(plan(i8, Method::GPTQ));
  LinearPlan sq = plan(i8, Method::GPTQ);
  sq.smoothQuantAlpha = 0.5;
  const double int8sq = fx.run(sq);
  const double rtn = fx.run(plan(w4, Method::RTN));
  const double rtnMse = fx.run(plan(w4, Method::RTN, true));
  const double gptq = fx.run(plan(w4, Method::GPTQ));
  const double gptqMse = fx.run(plan(w4, Method::GPTQ, true));
  LinearPlan ao = plan(w4, Method::GPTQ, true);
  ao.gptq.actOrderStatic = true;
  const double gptqAo = fx.run(ao);
  CalibrationReport awqRep;
  const double awq = fx.run(plan(w4, Method::AWQ), &awqRep);
  std::printf("[ calibrate ] rel logit error vs unquantized (held-out tokens):\n"
              "  fp8 rtn %.4f | int8 rtn %.4f gptq %.4f gptq+sq0.5 %.4f\n"
              "  w4a16 g32: rtn %.4f rtn+mse %.4f gptq %.4f gptq+mse %.4f gptq+mse+actorder %.4f "
              "awq %.4f\n",
              fp8, int8, int8g, int8sq, rtn, rtnMse, gptq, gptqMse, gptqAo, awq);
  // Loose closeness bounds (a random 2-layer model with outlier channels, f32
  // activations), then the orderings the methods exist for.
  EXPECT_LT(fp8, 0.35);
  EXPECT_LT(int8, 0.15);
  EXPECT_LT(rtn, 1.0);
  EXPECT_LT(int8sq, int8);   // SmoothQuant tames the outlier channels for W8A8
  EXPECT_LT(int8g, int8);
  EXPECT_LT(gptq, rtn);
  EXPECT_LT(gptqMse, rtnMse);
  EXPECT_LT(gptqMse, gptq);
  EXPECT_LT(awq, rtn);
  // GQA (4 heads, 2 kv heads): o_proj's scaling cannot be folded; it says so.
  EXPECT_NE(awqRep.linears[3].remark.find("grouped-query"), std::string::npos)
      << awqRep.linears[3].remark;
  EXPECT_GE(awqRep.linears[0].awqAlpha, 0.0);
  EXPECT_GE(awqRep.linears[6].awqAlpha, 0.0); // down_proj, folded into up_proj
}

TEST(Calibrate, AwqFoldsIntoVProjWithoutGqa) {
  Fixture fx(/*kvHeads=*/4);
  CalibrationReport rep;
  const double rtn = fx.run(plan(FormatSpec{Format::W4A16, 32}, Method::RTN));
  const double awq = fx.run(plan(FormatSpec{Format::W4A16, 32}, Method::AWQ), &rep);
  std::printf("[ calibrate ] MHA w4a16 g32: rtn %.4f awq %.4f\n", rtn, awq);
  EXPECT_TRUE(rep.linears[3].remark.empty()) << rep.linears[3].remark;
  EXPECT_GE(rep.linears[3].awqAlpha, 0.0);
  EXPECT_LT(awq, rtn);
}

TEST(Calibrate, BadInputIsAnError) {
  Fixture fx;
  auto m = fx.fresh();
  CalibrationOptions o;
  EXPECT_FALSE(calibrateAndQuantize(*m, fx.calib, o)); // no plan
  o.planFor = [](size_t, const program::Op &) { return plan(FormatSpec{Format::W4A16, 48}, Method::RTN); };
  auto r = calibrateAndQuantize(*m, fx.calib, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("group size 48"), std::string::npos) << r.message();
  o.planFor = [](size_t, const program::Op &) { return plan(FormatSpec{Format::INT8, 0}, Method::GPTQ); };
  EXPECT_FALSE(calibrateAndQuantize(*m, {{}}, o));
  EXPECT_FALSE(calibrateAndQuantize(*m, {{1, 2, 100000}}, o));
  EXPECT_FALSE(calibrateAndQuantize(*m, {}, o));
  EXPECT_FALSE(parseMethod("gptqq"));
  EXPECT_EQ(parseMethod("awq").value(), Method::AWQ);
}

} // namespace
