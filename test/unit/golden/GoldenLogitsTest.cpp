// qcc's CPU executor against an independent reference: logits that Hugging Face
// transformers (LlamaForCausalLM) computed for fixed token sequences, written by
// scripts/python/make_golden.py into test/golden/<model>.golden.safetensors.
//
// For each model and sequence we report, per position t, the relative error
//   e_t = max_v |qcc[t, v] - ref[t, v]| / max_v |ref[t, v]|
// (its maximum and mean over all positions) and the top-1 agreement, and bound
// the maximum. Every sequence runs twice: in one forward() and as a Session
// (prefill of the first half, then token-by-token decode through the KV cache).
//
// Bounds:
//   * float32 models (stories260K, random-llama31) and the bf16 model run with
//     float32 activations: 1e-4. The reference is float32 too; only the order of
//     accumulation differs (the script cross-checked transformers itself against
//     a float64 NumPy forward to ~1e-5 or better).
//   * the bf16 model in its default bf16 mode: 2x the error transformers' own
//     all-bfloat16 run makes against the float32 truth on the same inputs
//     (`bf16_relerr` in the golden file). qcc rounds to bf16 at the same places
//     (runtime/cpu/Interpreter.h), so it makes rounding noise of the same kind and
//     size, but not bit-identical noise (fp32 accumulation order, sdpa vs ours).
//     The same bound applies to the distance from transformers' bf16 logits.
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/Safetensors.h"
#include "frontends/llama/TokenIds.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Sampling.h"
#include "runtime/formats/Formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace qcc;
using namespace qcc::cpu;

namespace {

const std::string kGoldenDir = QCC_SOURCE_DIR "/test/golden/";

// A golden file: input_ids [S, T] and logits [S, T, V] (+ optional extras).
struct Golden {
  std::unique_ptr<SafetensorsFile> file;
  int64_t S = 0, T = 0, V = 0;
  std::vector<int64_t> ids;  // [S, T]
  std::vector<float> logits; // [S, T, V]
};

// Copies a tensor of the expected dtype and rank into `out` (data may be unaligned).
template <typename T>
::testing::AssertionResult readTensor(const SafetensorsFile &f, const std::string &name,
                                      DType dtype, size_t rank, std::vector<T> &out,
                                      std::vector<int64_t> *shape = nullptr) {
  const TensorRef *t = f.find(name);
  if (!t) return ::testing::AssertionFailure() << f.path() << ": no tensor '" << name << "'";
  if (t->dtype != dtype || t->shape.size() != rank || sizeof(T) != dtypeSize(dtype))
    return ::testing::AssertionFailure() << f.path() << ": '" << name << "' has dtype "
                                         << dtypeName(t->dtype) << " rank " << t->shape.size();
  out.resize(static_cast<size_t>(t->numel()));
  std::memcpy(out.data(), t->data, t->byteSize());
  if (shape) *shape = t->shape;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult loadGolden(const std::string &name, Golden &g) {
  auto f = SafetensorsFile::open(kGoldenDir + name + ".golden.safetensors");
  if (!f) return ::testing::AssertionFailure() << f.message();
  g.file = std::move(*f);
  std::vector<int64_t> idShape, logitShape;
  auto r = readTensor(*g.file, "input_ids", DType::I64, 2, g.ids, &idShape);
  if (!r) return r;
  r = readTensor(*g.file, "logits", DType::F32, 3, g.logits, &logitShape);
  if (!r) return r;
  g.S = idShape[0];
  g.T = idShape[1];
  g.V = logitShape[2];
  if (logitShape[0] != g.S || logitShape[1] != g.T)
    return ::testing::AssertionFailure() << name << ": logits and input_ids disagree in shape";
  return ::testing::AssertionSuccess();
}

std::vector<int64_t> row(const Golden &g, int64_t s) {
  return std::vector<int64_t>(g.ids.begin() + s * g.T, g.ids.begin() + (s + 1) * g.T);
}

struct Comparison {
  double maxRel = 0, sumRel = 0;
  int64_t positions = 0, top1Agree = 0;
  // Positions whose reference top-1 leads the runner-up by more than
  // 2 * bound * ||ref||_inf: there, an error within the bound cannot flip the argmax.
  int64_t clearPositions = 0, clearAgree = 0;
  double meanRel() const { return positions ? sumRel / positions : 0; }
  double top1() const { return positions ? double(top1Agree) / positions : 0; }
};

// Accumulates e_t over T positions of `got` vs `ref` (both [T, V]).
void compare(const float *got, const float *ref, int64_t T, int64_t V, double bound,
             Comparison &c) {
  for (int64_t t = 0; t < T; ++t) {
    const float *a = got + t * V, *b = ref + t * V;
    double diff = 0, norm = 0;
    for (int64_t v = 0; v < V; ++v) {
      diff = std::max(diff, std::fabs(double(a[v]) - double(b[v])));
      norm = std::max(norm, std::fabs(double(b[v])));
    }
    double rel = diff / norm;
    c.maxRel = std::max(c.maxRel, rel);
    c.sumRel += rel;
    ++c.positions;
    int64_t ra = argmax(b, V), qa = argmax(a, V);
    c.top1Agree += ra == qa;
    double second = -INFINITY;
    for (int64_t v = 0; v < V; ++v)
      if (v != ra) second = std::max(second, double(b[v]));
    if (double(b[ra]) - second > 2 * bound * norm) {
      ++c.clearPositions;
      c.clearAgree += ra == qa;
    }
  }
}

void report(const std::string &what, const Comparison &c) {
  std::printf("[golden] %-58s max rel err %.3e  mean %.3e  top-1 %lld/%lld (%.4f)\n",
              what.c_str(), c.maxRel, c.meanRel(), (long long)c.top1Agree,
              (long long)c.positions, c.top1());
}

// Runs every golden sequence through forward() and through a Session (prefill of
// the first half, then decode) and checks both against `ref` ([S, T, V]).
void checkModel(const std::string &label, const Interpreter &model, const Golden &g,
                const std::vector<float> &ref, double bound) {
  Comparison full, cached;
  for (int64_t s = 0; s < g.S; ++s) {
    std::vector<int64_t> ids = row(g, s);
    const float *r = ref.data() + s * g.T * g.V;

    auto logits = model.forward(ids); // [T, V]
    ASSERT_TRUE(logits.isOk()) << logits.message();
    ASSERT_EQ(int64_t(logits->size()), g.T * g.V);
    compare(logits->data(), r, g.T, g.V, bound, full);

    Session session(model);
    int64_t half = g.T / 2;
    auto pre = session.prefill(std::vector<int64_t>(ids.begin(), ids.begin() + half));
    ASSERT_TRUE(pre.isOk()) << pre.message();
    ASSERT_EQ(int64_t(pre->size()), half * g.V);
    compare(pre->data(), r, half, g.V, bound, cached);
    for (int64_t t = half; t < g.T; ++t) {
      auto step = session.decode(ids[t]); // [V]
      ASSERT_TRUE(step.isOk()) << step.message();
      ASSERT_EQ(int64_t(step->size()), g.V);
      compare(step->data(), r + t * g.V, 1, g.V, bound, cached);
    }
  }
  report(label + " forward", full);
  report(label + " prefill+decode", cached);
  for (const Comparison *c : {&full, &cached}) {
    EXPECT_LE(c->maxRel, bound) << label;
    EXPECT_EQ(c->clearAgree, c->clearPositions) << label << ": argmax differs where it is clear";
  }
  // Guard against a vacuous pass (e.g. near-uniform logits).
  EXPECT_GT(full.clearPositions, full.positions / 2) << label;
}

std::unique_ptr<Checkpoint> openCheckpoint(const std::string &dir) {
  auto ckpt = Checkpoint::open(dir);
  EXPECT_TRUE(ckpt.isOk()) << ckpt.message();
  return ckpt ? std::move(*ckpt) : nullptr;
}

// The product's path: the checkpoint imported as qcc IR, its graph translated
// to the CPU program and run by the interpreter.
std::unique_ptr<Interpreter> makeModel(const Checkpoint &ckpt, std::optional<ActDType> act) {
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = importLlama(context, ckpt, {});
  EXPECT_TRUE(module.isOk()) << module.message();
  if (!module) return nullptr;
  ExecutorOptions opts;
  opts.actDtype = act;
  auto model = interpretModule(**module, opts);
  EXPECT_TRUE(model.isOk()) << model.message();
  return model ? std::move(*model) : nullptr;
}

} // namespace

// (a) a real model trained elsewhere: float32, GQA 8:4, tied embeddings.
TEST(GoldenLogits, Stories260K) {
  Golden g;
  ASSERT_TRUE(loadGolden("stories260K", g));
  auto ckpt = openCheckpoint(QCC_SHARED_DIR "/models/stories260K");
  ASSERT_TRUE(ckpt);
  auto model = makeModel(*ckpt, std::nullopt);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->actDtype(), ActDType::F32);
  ASSERT_EQ(g.V, ckpt->config().vocabSize);
  checkModel("stories260K f32", *model, g, g.logits, 1e-4);
}

// Greedy decoding from BOS gives exactly transformers' greedy generate ids.
TEST(GoldenLogits, Stories260KGreedyIds) {
  Golden g;
  ASSERT_TRUE(loadGolden("stories260K", g));
  std::vector<int64_t> want;
  ASSERT_TRUE(readTensor(*g.file, "greedy_ids", DType::I64, 1, want));
  auto ckpt = openCheckpoint(QCC_SHARED_DIR "/models/stories260K");
  ASSERT_TRUE(ckpt);
  auto model = makeModel(*ckpt, std::nullopt);
  ASSERT_TRUE(model);
  const int64_t V = ckpt->config().vocabSize;
  Session session(*model);
  auto logits = session.prefill({1});
  ASSERT_TRUE(logits.isOk()) << logits.message();
  std::vector<int64_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(argmax(logits->data() + logits->size() - V, V));
    logits = session.decode(got.back());
    ASSERT_TRUE(logits.isOk()) << logits.message();
  }
  size_t same = 0;
  while (same < got.size() && got[same] == want[same]) ++same;
  std::printf("[golden] stories260K greedy: %zu of %zu ids equal the reference\n", same,
              want.size());
  EXPECT_EQ(got, want);
}

// (b) a tiny random checkpoint with llama3 rope scaling and GQA 2:1; the
// sequences (48) are longer than original_max_position_embeddings (32).
TEST(GoldenLogits, RandomLlama31) {
  Golden g;
  ASSERT_TRUE(loadGolden("random-llama31", g));
  auto ckpt = openCheckpoint(kGoldenDir + "random-llama31");
  ASSERT_TRUE(ckpt);
  const ModelConfig &cfg = ckpt->config();
  ASSERT_TRUE(cfg.ropeScaling.enabled);
  ASSERT_GT(g.T, cfg.ropeScaling.originalMaxPositionEmbeddings);
  ASSERT_NE(cfg.numHeads, cfg.numKvHeads);
  auto model = makeModel(*ckpt, std::nullopt);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->actDtype(), ActDType::F32);
  checkModel("random-llama31 f32", *model, g, g.logits, 1e-4);
}

// (c) the bundled bf16 model, in float32 activations (tight) and in its default
// bf16 mode (bounded by transformers' own bf16 error).
TEST(GoldenLogits, TinyShakespeare) {
  Golden g;
  ASSERT_TRUE(loadGolden("llama-tiny-shakespeare", g));
  std::vector<float> refErr; // [S, T]
  ASSERT_TRUE(readTensor(*g.file, "bf16_relerr", DType::F32, 2, refErr));
  std::vector<uint16_t> bf16Bits; // [S, T, V]
  ASSERT_TRUE(readTensor(*g.file, "logits_bf16", DType::BF16, 3, bf16Bits));
  std::vector<float> refBf16(bf16Bits.size());
  for (size_t i = 0; i < bf16Bits.size(); ++i) refBf16[i] = formats::bf16ToFloat(bf16Bits[i]);

  auto ckpt = openCheckpoint(QCC_SOURCE_DIR "/models/llama-tiny-shakespeare");
  ASSERT_TRUE(ckpt);
  const ModelConfig &cfg = ckpt->config();
  ASSERT_TRUE(cfg.ropeScaling.enabled);
  ASSERT_GT(g.T, cfg.ropeScaling.originalMaxPositionEmbeddings);
  ASSERT_EQ(cfg.torchDtype, ModelConfig::TorchDtype::BFloat16);

  auto f32 = makeModel(*ckpt, ActDType::F32);
  ASSERT_TRUE(f32);
  checkModel("tiny-shakespeare f32 vs f32 ref", *f32, g, g.logits, 1e-4);

  double hfErr = *std::max_element(refErr.begin(), refErr.end());
  ASSERT_GT(hfErr, 0.0); // the bf16 run must differ at all, or the bound means nothing
  double bound = 2 * hfErr;
  std::printf("[golden] transformers bf16 vs f32 ref: max rel err %.3e -> bf16 bound %.3e\n",
              hfErr, bound);
  auto bf16 = makeModel(*ckpt, std::nullopt);
  ASSERT_TRUE(bf16);
  EXPECT_EQ(bf16->actDtype(), ActDType::BF16); // the checkpoint's own precision
  checkModel("tiny-shakespeare bf16 vs f32 ref", *bf16, g, g.logits, bound);
  checkModel("tiny-shakespeare bf16 vs transformers bf16", *bf16, g, refBf16, bound);
}

// The perplexity path on the held-out split: mean NLL over eval.ids rows 0..7
// equals transformers' (stored in the golden file's metadata).
TEST(GoldenLogits, TinyShakespeareEvalNll) {
  Golden g;
  ASSERT_TRUE(loadGolden("llama-tiny-shakespeare", g));
  auto it = g.file->metadata().find("eval_rows_0_7_mean_nll_float32");
  ASSERT_NE(it, g.file->metadata().end());
  double want = std::strtod(it->second.c_str(), nullptr);
  ASSERT_GT(want, 0.0);

  auto ckpt = openCheckpoint(QCC_SOURCE_DIR "/models/llama-tiny-shakespeare");
  ASSERT_TRUE(ckpt);
  auto lines = readTokenIdLines(QCC_SOURCE_DIR "/models/llama-tiny-shakespeare/eval.ids",
                                ckpt->config().vocabSize);
  ASSERT_TRUE(lines.isOk()) << lines.message();
  ASSERT_GE(lines->size(), 8u);
  std::vector<int64_t> ids;
  int64_t rowLen = int64_t((*lines)[0].size());
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(int64_t((*lines)[i].size()), rowLen);
    ASSERT_EQ((*lines)[i][0], ckpt->config().bosTokenId); // every row starts with BOS
    ids.insert(ids.end(), (*lines)[i].begin(), (*lines)[i].end());
  }
  auto f32 = makeModel(*ckpt, ActDType::F32);
  ASSERT_TRUE(f32);
  auto p = perplexity(*f32, ids, rowLen); // windows == rows
  ASSERT_TRUE(p.isOk()) << p.message();
  std::printf("[golden] tiny-shakespeare eval rows 0-7: qcc f32 mean NLL %.6f, transformers %.6f "
              "(ppl %.3f)\n", p->meanNll, want, p->perplexity);
  EXPECT_EQ(p->tokens, 8 * (rowLen - 1));
  EXPECT_NEAR(p->meanNll, want, 1e-4 * want);
}
