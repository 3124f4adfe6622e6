// qcc's own exports of the bundled model, committed under test/golden/export/
// with what transformers (LlamaForCausalLM through compressed-tensors, float32)
// computes on them (scripts/python/make_export_goldens.py):
//   (a) exporting again gives the committed bytes, file for file;
//   (b) qcc's CPU interpreter on the same quantized IR (float32 activations)
//       gives transformers' perplexity on eval.ids and its logits on fixed ids,
//       within the bounds below: against transformers as it runs the folder,
//       and against transformers quantizing activations by qcc's rules (which
//       leaves float rounding and summation order as the only difference).
#include "ExportTestUtil.h"

#include "frontends/llama/Safetensors.h"
#include "frontends/llama/TokenIds.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"

#include <cmath>
#include <cstdio>

using namespace qcc;
using namespace qcc::testing;

namespace {

std::string goldenDir() { return std::string(QCC_SOURCE_DIR) + "/test/golden/export"; }

struct Bounds {
  double perplexity; // |ppl qcc - ppl reference| / ppl reference on eval.ids
  double logits;     // max |logit difference| / max |logit| on the fixed ids
};

struct Golden {
  const char *name;
  const char *cliOptions; // as make_export_goldens.py passes them to `qcc export`
  QuantizationOptions options;
  Bounds asIs, qccRules; // against `perplexity.` / `logits.` and `perplexity_qcc_rules.` / `logits_qcc_rules.`
};

// Bounds from the measurements of 2026-12-02 (printed as "[ measured ]"):
//   w4a16-gptq: perplexity 5.8e-5 as is (qcc's w4a16 multiplies bf16-rounded
//     activations, transformers float32 ones: the 1e-4 weight-only
//     bound), 4.7e-7 with qcc's rule; logits 7.9e-4 and 4.2e-4 (a tie rounded
//     the other way in one bf16 activation moves later positions).
//   int8-sq: perplexity 3.5e-5 as is (compressed-tensors quantizes activations
//     with absmax / 127.5 and clamps to [-128, 127], qcc and vLLM use absmax /
//     127 and [-127, 127]: a systematic difference, 1.5e-4 on the llm-compressor
//     fixture, hence 1e-3 as in CpuFixtureTest), 7.0e-6 with qcc's rule (float
//     noise that moves a few int8 codes by one); logits 6.4e-3 and 1.9e-3.
// Each bound is the measurement times 2 to 20, rounded to 1, 2 or 5 x 10^k.
std::vector<Golden> goldens() {
  std::vector<Golden> out;
  QuantizationOptions w4;
  w4.format = "w4a16";
  w4.method = "gptq";
  w4.calibSource = bundledModel() + "/calib.ids"; // qcc export's default for this folder
  w4.calibSamples = 16;
  w4.calibSeqLen = 64;
  out.push_back({"w4a16-gptq", "--format w4a16 --method gptq --calib-samples 16 --calib-seq-len 64", w4,
                 Bounds{1e-4, 2e-3}, Bounds{1e-5, 1e-3}});
  QuantizationOptions sq;
  sq.format = "int8";
  sq.smoothQuantAlpha = 0.5;
  sq.calibSource = bundledModel() + "/calib.ids";
  sq.calibSamples = 16;
  sq.calibSeqLen = 64;
  out.push_back({"int8-sq", "--format int8 --smoothquant 0.5 --calib-samples 16 --calib-seq-len 64", sq,
                 Bounds{1e-3, 2e-2}, Bounds{5e-5, 5e-3}});
  return out;
}

std::vector<float> toFloats(const TensorRef &t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.data, v.size() * sizeof(float));
  return v;
}

// Sum over positions t < T-1 of -log softmax(logits[t])[ids[t+1]], in double.
double sumNll(const float *logits, const std::vector<int64_t> &ids, int64_t V) {
  double total = 0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const float *row = logits + t * V;
    double mx = row[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, double(row[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
    total += std::log(sum) + mx - double(row[ids[t + 1]]);
  }
  return total;
}

// exp(mean NLL) over windows of 256 ids (qcc eval's), each from an empty
// cache, as make_export_goldens.py and check_ct_export.py compute it.
double perplexity(const cpu::Interpreter &model, const std::vector<std::vector<int64_t>> &lines) {
  const int64_t V = model.vocabSize();
  double nll = 0;
  int64_t tokens = 0;
  for (const auto &line : lines)
    for (size_t start = 0; start + 1 < line.size(); start += 256) {
      std::vector<int64_t> w(line.begin() + start, line.begin() + std::min(line.size(), start + 256));
      auto logits = model.forward(w);
      EXPECT_TRUE(logits.isOk()) << logits.message();
      if (!logits) return NAN;
      nll += sumNll(logits->data(), w, V);
      tokens += int64_t(w.size()) - 1;
    }
  return std::exp(nll / double(tokens));
}

class GoldenExport : public ::testing::TestWithParam<int> {};

TEST_P(GoldenExport, SameBytesAndTransformersResults) {
  const Golden g = goldens()[GetParam()];
  SCOPED_TRACE(g.name);
  auto file = SafetensorsFile::open(goldenDir() + "/logits.safetensors");
  ASSERT_TRUE(file.isOk()) << file.message();
  const auto &meta = (*file)->metadata();
  ASSERT_TRUE(meta.count(std::string("options.") + g.name)) << "no golden for " << g.name;
  ASSERT_EQ(meta.at(std::string("options.") + g.name), g.cliOptions) << "the golden was made with other options";

  auto m = quantizeModel(bundledModel(), g.options);
  ASSERT_TRUE(m.isOk()) << m.message();

  // (a) The export is the committed one, byte for byte.
  TempDir tmp;
  const std::string committed = goldenDir() + "/" + g.name, out = tmp.file("out");
  ExportTranslateOptions options;
  options.outputDir = out;
  auto summary = translateToCompressedTensors(*m->module, options);
  ASSERT_TRUE(summary.isOk()) << summary.message();
  ASSERT_EQ(listDir(out), listDir(committed));
  for (const std::string &f : listDir(committed))
    EXPECT_TRUE(readFile(out + "/" + f) == readFile(committed + "/" + f)) << f << " differs from the committed export";

  // (b) qcc's interpreter on the same IR, float32 activations, against transformers.
  cpu::ExecutorOptions exec;
  exec.actDtype = cpu::ActDType::F32;
  auto model = interpretModule(*m->module, exec);
  ASSERT_TRUE(model.isOk()) << model.message();
  auto lines = readTokenIdLines(bundledModel() + "/eval.ids");
  ASSERT_TRUE(lines.isOk()) << lines.message();
  const double ppl = perplexity(**model, *lines);

  const TensorRef *idsTensor = (*file)->find("input_ids");
  ASSERT_NE(idsTensor, nullptr);
  std::vector<int64_t> ids(static_cast<size_t>(idsTensor->numel()));
  std::memcpy(ids.data(), idsTensor->data, ids.size() * sizeof(int64_t));
  auto logits = (*model)->forward(ids);
  ASSERT_TRUE(logits.isOk()) << logits.message();

  for (const bool rules : {false, true}) {
    const Bounds &bound = rules ? g.qccRules : g.asIs;
    const std::string suffix = std::string(rules ? "_qcc_rules." : ".") + g.name;
    ASSERT_TRUE(meta.count("perplexity" + suffix)) << "perplexity" + suffix;
    const double reference = std::stod(meta.at("perplexity" + suffix));
    const double pplErr = std::fabs(ppl - reference) / reference;

    const TensorRef *ref = (*file)->find("logits" + suffix);
    ASSERT_NE(ref, nullptr) << "logits" + suffix;
    const std::vector<float> expected = toFloats(*ref);
    ASSERT_EQ(logits->size(), expected.size());
    double maxDiff = 0, maxRef = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      maxDiff = std::max(maxDiff, std::fabs(double((*logits)[i]) - double(expected[i])));
      maxRef = std::max(maxRef, std::fabs(double(expected[i])));
    }
    const double logitsErr = maxDiff / maxRef;
    std::printf("[ measured ] %s against transformers%s: eval.ids perplexity qcc %.9f, reference %.9f (relative "
                "%.3g); max |logit difference| / max |logit| %.3g\n",
                g.name, rules ? " with qcc's activation rules" : "", ppl, reference, pplErr, logitsErr);
    EXPECT_LE(pplErr, bound.perplexity) << "perplexity" << suffix;
    EXPECT_LE(logitsErr, bound.logits) << "logits" << suffix;
  }
}

INSTANTIATE_TEST_SUITE_P(Exports, GoldenExport, ::testing::Range(0, int(goldens().size())),
                         [](const ::testing::TestParamInfo<int> &info) {
                           std::string n = goldens()[info.param].name;
                           for (char &ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

} // namespace
