// Export then import (issue 11 part 3): qcc's compressed-tensors folder of the
// bundled model, imported back (the quantized linears as stored, method
// "imported"), is the same model as the quantized IR it was written from:
// every imported linear has the IR's codes and scales bit for bit, and the
// CPU interpreter (float32 activations) gives bit-identical logits on eval
// windows, hence the same perplexity. The CLI form of the same check is
// test/Export/roundtrip-eval.test (`qcc eval` of the export against `qcc eval`
// quantizing in memory).
#include "ExportTestUtil.h"

#include "frontends/llama/TokenIds.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"

#include <cmath>
#include <cstdio>

using namespace qcc;
using namespace qcc::testing;

namespace {

struct Case {
  const char *name;
  QuantizationOptions options;
  std::string rules; // a --layer-formats file's text, or ""
};

QuantizationOptions optionsFor(const std::string &format, const std::string &method) {
  QuantizationOptions o;
  o.format = format;
  o.method = method;
  o.calibSource = bundledModel() + "/calib.ids";
  o.calibSamples = 8;
  o.calibSeqLen = 64;
  return o;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  QuantizationOptions actOrder = optionsFor("w4a16", "gptq");
  actOrder.actOrder = true;
  actOrder.mseClip = true;
  out.push_back({"w4a16-gptq-actorder-mse", actOrder, ""});
  QuantizationOptions smooth = optionsFor("int8", "gptq");
  smooth.smoothQuantAlpha = 0.5;
  out.push_back({"int8-gptq-smoothquant", smooth, ""});
  out.push_back({"fp8", optionsFor("fp8", "rtn"), ""});
  out.push_back({"mixed-rules", optionsFor("w4a16", "rtn"), kMixedRules});
  return out;
}

class ExportImport : public ::testing::TestWithParam<int> {};

TEST_P(ExportImport, SameCodesAndLogits) {
  Case c = cases()[GetParam()];
  SCOPED_TRACE(c.name);
  TempDir tmp;
  if (!c.rules.empty()) {
    writeFile(tmp.file("rules.yaml"), c.rules);
    c.options.layerFormatsFile = tmp.file("rules.yaml");
  }
  auto m = quantizeModel(bundledModel(), c.options);
  ASSERT_TRUE(m.isOk()) << m.message();
  ExportTranslateOptions options;
  options.outputDir = tmp.file("out");
  auto summary = translateToCompressedTensors(*m->module, options);
  ASSERT_TRUE(summary.isOk()) << summary.message();

  auto ck = compressed_tensors::openCheckpoint(tmp.file("out"));
  ASSERT_TRUE(ck.isOk()) << ck.message();
  auto imported = importLlama(*m->context, **ck, {});
  ASSERT_TRUE(imported.isOk()) << imported.message();

  // The imported module's quantized weights are the IR's, layer by layer.
  std::map<std::string, mlir::Value> irWeights;
  auto plan = planCompressedTensorsExport(*m->module, /*requireQuantized=*/true);
  ASSERT_TRUE(plan.isOk()) << plan.message();
  for (size_t i = 0; i < plan->entries.size(); ++i)
    if (plan->entries[i].kind == compressed_tensors::ExportEntry::Kind::Linear)
      irWeights[plan->entries[i].name + ".weight"] = plan->weights[i];
  int64_t compared = 0;
  (**imported).walk([&](QuantizedWeightOp w) {
    SCOPED_TRACE(w.getName().str());
    EXPECT_EQ(w.getMethod(), QuantMethod::imported);
    auto it = irWeights.find(w.getName().str());
    ASSERT_NE(it, irWeights.end());
    auto back = evaluateWeight(w.getResult());
    auto ir = evaluateWeight(it->second);
    ASSERT_TRUE(back.isOk() && ir.isOk()) << back.message() << ir.message();
    ASSERT_TRUE(back->quantized && ir->quantized);
    EXPECT_EQ(back->quantized->format, ir->quantized->format);
    EXPECT_EQ(back->quantized->groupSize, ir->quantized->groupSize);
    EXPECT_TRUE(back->quantized->weights == ir->quantized->weights) << "codes differ";
    EXPECT_TRUE(back->quantized->scales == ir->quantized->scales) << "scales differ";
    ++compared;
  });
  EXPECT_EQ(compared, int64_t(summary->quantizedLinears));

  cpu::ExecutorOptions exec;
  exec.actDtype = cpu::ActDType::F32;
  auto direct = interpretModule(*m->module, exec);
  ASSERT_TRUE(direct.isOk()) << direct.message();
  auto roundTrip = interpretModule(**imported, exec);
  ASSERT_TRUE(roundTrip.isOk()) << roundTrip.message();
  auto lines = readTokenIdLines(bundledModel() + "/eval.ids");
  ASSERT_TRUE(lines.isOk());
  // Four windows of 256 ids (qcc eval's default window), from four lines.
  for (size_t line = 0; line < 4; ++line) {
    std::vector<int64_t> ids((*lines)[line].begin(), (*lines)[line].begin() + 256);
    auto a = (*direct)->forward(ids);
    auto b = (*roundTrip)->forward(ids);
    ASSERT_TRUE(a.isOk() && b.isOk()) << a.message() << b.message();
    ASSERT_EQ(a->size(), b->size());
    double maxDiff = 0;
    for (size_t i = 0; i < a->size(); ++i) maxDiff = std::max(maxDiff, std::fabs(double((*a)[i]) - double((*b)[i])));
    std::printf("[ measured ] %s, eval line %zu: max |logit difference| %.3g\n", c.name, line, maxDiff);
    EXPECT_EQ(std::memcmp(a->data(), b->data(), a->size() * sizeof(float)), 0) << "logits differ";
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, ExportImport, ::testing::Range(0, int(cases().size())),
                         [](const ::testing::TestParamInfo<int> &info) {
                           std::string n = cases()[info.param].name;
                           for (char &ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

} // namespace
