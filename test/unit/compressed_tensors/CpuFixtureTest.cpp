// The llm-compressor fixtures imported by qcc (quantized linears as
// qcc.quantized_weight parameters decoded exactly from the folder) and run by
// the CPU interpreter (float32 activations) give the perplexity transformers
// computed for the same folders (test/golden/compressed-tensors/golden.json,
// make_ct_fixtures.py), on eval.ids with qcc eval's windows: the end-to-end
// check of the import (codes, scales, the layer they belong to, the format).
#include "CtTestUtil.h"

#include "frontends/llama/StrictJson.h"
#include "frontends/llama/TokenIds.h"
#include "dialects/qcc/QccDialect.h"
#include "frontends/llama/Importer.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"

#include "mlir/IR/MLIRContext.h"

#include <cmath>

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

std::string fixtureRoot() { return std::string(QCC_SOURCE_DIR) + "/test/golden/compressed-tensors"; }

double perplexity(const cpu::Interpreter &model, const std::vector<std::vector<int64_t>> &seqs) {
  const int64_t V = model.vocabSize();
  double nll = 0;
  int64_t tokens = 0;
  for (const auto &seq : seqs)
    for (size_t start = 0; start + 1 < seq.size(); start += 256) {
      std::vector<int64_t> w(seq.begin() + start, seq.begin() + std::min(seq.size(), start + 256));
      auto logits = model.forward(w);
      EXPECT_TRUE(logits.isOk());
      if (!logits) return NAN;
      for (size_t t = 0; t + 1 < w.size(); ++t) {
        const float *row = logits->data() + t * V;
        double m = row[0];
        for (int64_t i = 1; i < V; ++i) m = std::max(m, double(row[i]));
        double sum = 0;
        for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - m);
        nll -= double(row[w[t + 1]]) - m - std::log(sum);
        ++tokens;
      }
    }
  return std::exp(nll / tokens);
}

struct Case {
  const char *fixture;
  double bound; // relative perplexity difference allowed (see below)
};

class CpuFixtureTest : public ::testing::TestWithParam<Case> {};

TEST_P(CpuFixtureTest, PerplexityMatchesTransformers) {
  const Case &c = GetParam();
  auto golden = json::parse(readFile(fixtureRoot() + "/golden.json"), "golden.json");
  ASSERT_TRUE(golden.isOk());
  const double reference = golden->get(c.fixture)->get("perplexity")->asDouble();

  auto ck = openCheckpoint(fixtureRoot() + "/" + c.fixture);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const CompressedLayout *ct = compressedLayout(**ck);
  ASSERT_NE(ct, nullptr);
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = importLlama(context, **ck, {});
  ASSERT_TRUE(module.isOk()) << module.message();
  // Every linear the folder stores quantized is a quantized_weight of its format.
  int64_t imported = 0;
  (**module).walk([&](QuantizedWeightOp w) {
    EXPECT_EQ(w.getMethod(), QuantMethod::imported);
    ++imported;
  });
  EXPECT_EQ(imported, int64_t(ct->plans().size()));
  cpu::ExecutorOptions options;
  options.actDtype = cpu::ActDType::F32;
  options.numThreads = 2;
  auto model = interpretModule(**module, options);
  ASSERT_TRUE(model.isOk()) << model.message();
  auto seqs = readTokenIdLines(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare/eval.ids");
  ASSERT_TRUE(seqs.isOk());
  const double ppl = perplexity(**model, *seqs);
  const double rel = std::fabs(ppl - reference) / reference;
  std::printf("%s: qcc cpu f32 %.9f, transformers f32 %.9f, relative difference %.3g\n", c.fixture, ppl, reference,
              rel);
  EXPECT_LE(rel, c.bound);
}

// Bounds: the measured relative differences (2026-12-02) rounded up to the next
// power of ten. Why they differ at all (docs/COMPRESSED_TENSORS.md): qcc's
// w4a16 rounds activations to bf16 (the kernels' 16-bit operands; measured
// 2.3e-5, 3.2e-5, 6.0e-5), fp8 W8A8 differs by float32 rounding and summation
// order only (2.3e-5), int8 W8A8 quantizes activations with absmax/127 where
// compressed-tensors uses absmax/127.5 (1.5e-4: a systematic difference).
INSTANTIATE_TEST_SUITE_P(Fixtures, CpuFixtureTest,
                         ::testing::Values(Case{"w4a16-gptq", 1e-4}, Case{"w4a16-gptq-actorder", 1e-4},
                                           Case{"w4a16-rtn-dense", 1e-4}, Case{"fp8-dynamic", 1e-4},
                                           Case{"w8a8-int8-sq", 1e-3}),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           std::string n = info.param.fixture;
                           for (char &ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

} // namespace
