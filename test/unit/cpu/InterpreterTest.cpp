// The CPU interpreter over a hand-written Llama program: against the float64
// reference forward, and bit for bit against the layer-by-layer executor it
// replaced (every format, both precisions, prefill and decode).
#include "LlamaProgram.h"
#include "TinyModel.h"

#include "runtime/cpu/Interpreter.h"
#include "ReferenceLlama.h"

#include <gtest/gtest.h>

using namespace qcc;
using namespace qcc::cpu;
using qcc::test::relError;

namespace {

std::vector<int64_t> someTokens(int64_t n, int64_t V, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> t(n);
  for (auto &x : t) x = rng() % V;
  return t;
}

struct Case {
  ModelConfig config = test::tinyConfig();
  test::MapWeights weights;
  explicit Case(bool tied = false) {
    config.tieWordEmbeddings = tied;
    test::fillRandomWeights(config, weights, 42);
  }
};

formats::QuantizedLinear rtn(const test::MapWeights &w, const std::string &name, int64_t N, int64_t K,
                             formats::FormatSpec spec) {
  auto q = formats::quantizeLinear(w.get(name).data(), N, K, spec);
  EXPECT_TRUE(q.isOk());
  return *q;
}

} // namespace

TEST(Interpreter, MatchesFloat64Reference) {
  for (bool tied : {false, true}) {
    Case c(tied);
    test::NamedWeights w(c.weights);
    auto p = test::llamaProgram(c.config, w);
    auto in = Interpreter::create(p, w, {});
    ASSERT_TRUE(in.isOk()) << in.message();
    auto tokens = someTokens(80, c.config.vocabSize, 1);
    auto logits = (*in)->forward(tokens);
    ASSERT_TRUE(logits.isOk()) << logits.message();
    auto ref = test::referenceForward(c.config, c.weights, tokens);
    EXPECT_LT(relError(*logits, ref), 2e-5) << "tied=" << tied;
  }
}

TEST(Interpreter, EqualsLayerExecutorBitForBitInEveryFormat) {
  const std::vector<formats::FormatSpec> specs = {
      {formats::Format::BF16, 0}, {formats::Format::FP8, 0}, {formats::Format::INT8, 0}, {formats::Format::W4A16, 32}};
  for (ActDType act : {ActDType::F32, ActDType::BF16})
    for (const auto &spec : specs) {
      Case c;
      const ModelConfig &cfg = c.config;
      ExecutorOptions o;
      o.actDtype = act;
      o.numThreads = 2;
      auto model = test::ReferenceLlama::create(cfg, c.weights, o);
      ASSERT_TRUE(model.isOk()) << model.message();
      test::NamedWeights w(c.weights);
      if (spec.format != formats::Format::BF16)
        for (const std::string &name : (*model)->linearNames()) {
          if (name == "lm_head") continue;
          auto shape = *(*model)->linearShape(name);
          auto q = rtn(c.weights, name + ".weight", shape.first, shape.second, spec);
          ASSERT_TRUE((*model)->setLinear(name, q).isOk());
          w.setQuantized(name + ".weight", q);
        }
      auto in = Interpreter::create(test::llamaProgram(cfg, w), w, o);
      ASSERT_TRUE(in.isOk()) << in.message();
      auto tokens = someTokens(21, cfg.vocabSize, 7);
      test::ReferenceSession a(**model);
      cpu::Session b(**in);
      auto la = a.prefill(tokens), lb = b.prefill(tokens);
      ASSERT_TRUE(la.isOk() && lb.isOk());
      EXPECT_EQ(*la, *lb) << formats::formatSpecName(spec) << " " << actDTypeName(act);
      for (int step = 0; step < 3; ++step) {
        auto da = a.decode(tokens[step]), db = b.decode(tokens[step]);
        ASSERT_TRUE(da.isOk() && db.isOk());
        EXPECT_EQ(*da, *db) << "decode step " << step;
      }
    }
}
