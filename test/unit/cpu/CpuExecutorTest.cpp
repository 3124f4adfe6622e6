// The CPU interpreter on a Llama program against a float64 reimplementation
// (tiny random model with GQA and llama3 rope scaling), prefill vs decode
// consistency, running op ranges with an observer, weight replacement, and
// each quantized linear format against a float64 evaluation of the same
// quantized arithmetic.
#include "LlamaProgram.h"
#include "TinyModel.h"

#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Sampling.h"

#include <gtest/gtest.h>

using namespace qcc;
using namespace qcc::cpu;
using qcc::test::relError;

namespace {

struct Tiny {
  ModelConfig config = test::tinyConfig();
  test::MapWeights weights;
  std::unique_ptr<test::NamedWeights> named;
  std::unique_ptr<Interpreter> model;
  explicit Tiny(ActDType act = ActDType::F32, int threads = 2, bool tied = false) {
    config.tieWordEmbeddings = tied;
    test::fillRandomWeights(config, weights, 42);
    named = std::make_unique<test::NamedWeights>(weights);
    ExecutorOptions o;
    o.actDtype = act;
    o.numThreads = threads;
    auto m = Interpreter::create(test::llamaProgram(config, *named), *named, o);
    EXPECT_TRUE(m.isOk()) << (m ? "" : m.message());
    if (m) model = std::move(*m);
  }
  // The tensor index of a weight by its Hugging Face name.
  uint32_t t(const std::string &name) const { return named->index(name); }
  // The Linear ops' names, in program order.
  std::vector<std::string> linearNames() const {
    std::vector<std::string> n;
    for (const program::Op &op : model->program().ops)
      if (op.kind == program::OpKind::Linear) n.push_back(op.name);
    return n;
  }
};

std::vector<int64_t> someTokens(int64_t n, int64_t V, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> t(n);
  for (auto &x : t) x = rng() % V;
  return t;
}

} // namespace

TEST(CpuExecutor, MatchesFloat64ReferenceWithGqaAndLlama3Rope) {
  for (bool tied : {false, true}) {
    Tiny m(ActDType::F32, 2, tied);
    ASSERT_TRUE(m.model);
    // 80 positions: past original_max_position_embeddings (64), so every rope band matters.
    auto tokens = someTokens(80, m.config.vocabSize, 1);
    auto logits = m.model->forward(tokens);
    ASSERT_TRUE(logits.isOk()) << logits.message();
    auto ref = test::referenceForward(m.config, m.weights, tokens);
    double err = relError(*logits, ref);
    EXPECT_LT(err, 2e-5) << "tied=" << tied;
    std::printf("tiny model (tied=%d) f32 vs float64 reference: max rel error %.3g\n", int(tied), err);
  }
}

TEST(CpuExecutor, RopeFrequenciesFollowLlama3Bands) {
  ModelConfig c = test::tinyConfig();
  std::vector<float> f = ropeInvFrequencies(c.headDim, c.ropeTheta, c.ropeScaling);
  ASSERT_EQ(f.size(), 8u);
  for (size_t i = 0; i < f.size(); ++i) {
    double base = std::pow(10000.0, -2.0 * i / 16);
    double wl = 2 * M_PI / base;
    if (wl < 16) EXPECT_NEAR(f[i], base, 1e-6 * base);            // high frequency: kept
    else if (wl > 64) EXPECT_NEAR(f[i], base / 8, 1e-6 * base);   // low frequency: / factor
    else EXPECT_TRUE(f[i] < base && f[i] > base / 8);            // smoothed band
  }
  c.ropeScaling.enabled = false;
  EXPECT_NEAR(ropeInvFrequencies(c.headDim, c.ropeTheta, c.ropeScaling)[7], std::pow(10000.0, -14.0 / 16), 1e-9);
}

TEST(CpuExecutor, PrefillEqualsTokenByTokenDecode) {
  for (ActDType act : {ActDType::F32, ActDType::BF16}) {
    Tiny m(act);
    auto tokens = someTokens(23, m.config.vocabSize, 2);
    Session a(*m.model);
    auto all = a.prefill(tokens);
    ASSERT_TRUE(all.isOk());
    EXPECT_EQ(a.position(), 23);
    Session b(*m.model);
    std::vector<float> stepwise;
    for (int64_t t : tokens) {
      auto l = b.decode(t);
      ASSERT_TRUE(l.isOk());
      stepwise.insert(stepwise.end(), l->begin(), l->end());
    }
    EXPECT_LT(relError(stepwise, *all), 1e-5) << actDTypeName(act);
    // Prefill in two chunks, then decode.
    Session c(*m.model);
    std::vector<int64_t> first(tokens.begin(), tokens.begin() + 10), rest(tokens.begin() + 10, tokens.end());
    auto l1 = c.prefill(first);
    auto l2 = c.prefill(rest);
    ASSERT_TRUE(l1.isOk() && l2.isOk());
    std::vector<float> chunked = *l1;
    chunked.insert(chunked.end(), l2->begin(), l2->end());
    EXPECT_LT(relError(chunked, *all), 1e-5);
    c.reset();
    auto again = c.prefill(tokens);
    ASSERT_TRUE(again.isOk());
    EXPECT_EQ(*again, *all);
  }
}

TEST(CpuExecutor, ThreadCountDoesNotChangeResults) {
  Tiny one(ActDType::F32, 1), two(ActDType::F32, 2);
  auto tokens = someTokens(40, one.config.vocabSize, 3);
  auto a = one.model->forward(tokens), b = two.model->forward(tokens);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(*a, *b); // the reduction order does not depend on the split
}

TEST(CpuExecutor, Bf16ActivationsAreRoundedAndClose) {
  Tiny f32(ActDType::F32), bf16(ActDType::BF16);
  auto tokens = someTokens(30, f32.config.vocabSize, 4);
  auto a = f32.model->forward(tokens), b = bf16.model->forward(tokens);
  ASSERT_TRUE(a.isOk() && b.isOk());
  for (float x : *b) ASSERT_EQ(x, formats::roundToBf16(x));
  double err = relError(*b, *a);
  EXPECT_GT(err, 0.0);  // it is a different computation
  EXPECT_LT(err, 0.05); // but the same model
}

TEST(CpuExecutor, OpRangesWithObserverMatchForward) {
  Tiny m;
  auto tokens = someTokens(12, m.config.vocabSize, 5);
  auto full = m.model->forward(tokens);
  ASSERT_TRUE(full.isOk());
  auto frame = m.model->newFrame(tokens, 0);
  ASSERT_TRUE(frame.isOk());
  std::vector<std::string> seen;
  LinearObserver obs = [&](const program::Op &op, size_t, const float *x, int64_t rows, int64_t cols) {
    seen.push_back(op.name);
    EXPECT_EQ(rows, 12);
    const Linear *l = m.model->linear(op.weights[0]);
    ASSERT_NE(l, nullptr) << op.name;
    EXPECT_EQ(cols, l->K) << op.name;
    EXPECT_TRUE(std::isfinite(x[rows * cols - 1]));
  };
  // Two ranges, as block-by-block calibration runs them.
  const size_t mid = m.model->program().ops.size() / 2, end = m.model->program().ops.size();
  KvCaches caches = m.model->newCaches(frame->T);
  ASSERT_TRUE(m.model->run(0, mid, *frame, caches, &obs).isOk());
  ASSERT_TRUE(m.model->run(mid, end, *frame, caches, &obs).isOk());
  EXPECT_LT(relError(frame->data[m.model->program().logits], *full), 1e-6);
  EXPECT_EQ(seen, m.linearNames()); // the head is a Logits op, not observed
  EXPECT_FALSE(m.model->newFrame({}, 0).isOk());
  EXPECT_FALSE(m.model->newFrame(tokens, 120).isOk()); // past the 128 positions
}

TEST(CpuExecutor, WeightReplacementByTensor) {
  Tiny m;
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  std::vector<float> w = m.model->denseLinearWeights(m.t(name));
  ASSERT_EQ(w, m.weights.get(name));
  auto tokens = someTokens(9, m.config.vocabSize, 6);
  auto before = m.model->forward(tokens);
  // Scaling a norm weight by s and the linears it feeds by 1/s is exact up to rounding.
  const uint32_t norm = m.t("model.layers.1.post_attention_layernorm.weight");
  std::vector<float> g = *m.model->normWeight(norm);
  ASSERT_EQ(g.size(), 64u);
  for (auto &x : g) x *= 2.0f;
  ASSERT_TRUE(m.model->setNormWeight(norm, g).isOk());
  for (const char *lin : {"model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight"}) {
    std::vector<float> lw = m.model->denseLinearWeights(m.t(lin));
    for (auto &x : lw) x *= 0.5f;
    ASSERT_TRUE(m.model->setDenseLinear(m.t(lin), lw).isOk());
  }
  auto after = m.model->forward(tokens);
  EXPECT_LT(relError(*after, *before), 1e-6);
  // Quantized replacement and errors.
  auto q = formats::quantizeLinear(w.data(), 64, 96, {formats::Format::W4A16, 32});
  ASSERT_TRUE(q.isOk());
  EXPECT_TRUE(m.model->setLinear(m.t(name), *q).isOk());
  EXPECT_EQ(m.model->linear(m.t(name))->format, formats::Format::W4A16);
  EXPECT_EQ(m.model->denseLinearWeights(m.t(name)), formats::dequantize(*q));
  EXPECT_FALSE(m.model->setLinear(m.t("model.layers.0.mlp.gate_proj.weight"), *q).isOk()); // shape
  EXPECT_FALSE(m.model->setLinear(norm, *q).isOk()); // not a linear weight
  EXPECT_FALSE(m.model->setDenseLinear(m.t(name), std::vector<float>(5)).isOk());
  EXPECT_FALSE(m.model->setNormWeight(m.t("model.norm.weight"), std::vector<float>(5)).isOk());
}

TEST(CpuExecutor, BadInputsAreErrors) {
  Tiny m;
  Session s(*m.model);
  EXPECT_FALSE(s.prefill({}).isOk());
  auto r = s.prefill({1, 97});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.message().find("token id 97 at index 1 is outside the vocabulary [0, 97)"),
            std::string::npos);
  EXPECT_FALSE(s.decode(-1).isOk());
  EXPECT_EQ(s.position(), 0);
  auto longSeq = s.prefill(someTokens(129, 97, 1)); // maxSeqLen = max_position_embeddings = 128
  EXPECT_FALSE(longSeq.isOk());
  // Missing and misshapen tensors.
  test::MapWeights partial;
  ModelConfig c = test::tinyConfig();
  test::NamedWeights none(partial);
  auto e = Interpreter::create(test::llamaProgram(c, none), none, {});
  ASSERT_FALSE(e.isOk());
  EXPECT_NE(e.message().find("tensor 'model.embed_tokens.weight' is missing"), std::string::npos) << e.message();
  test::MapWeights wrong;
  test::fillRandomWeights(c, wrong, 1);
  wrong.add("model.layers.1.self_attn.k_proj.weight", {64, 64}, std::vector<float>(64 * 64));
  test::NamedWeights bad(wrong);
  e = Interpreter::create(test::llamaProgram(c, bad), bad, {});
  ASSERT_FALSE(e.isOk());
  EXPECT_NE(e.message().find("model.layers.1.self_attn.k_proj): weight [64, 64] does not map width 64 to 32"),
            std::string::npos)
      << e.message();
  c.numKvHeads = 3; // 4 query heads are not a multiple (k and v weights fit 3 heads)
  test::MapWeights threeKvHeads;
  test::fillRandomWeights(c, threeKvHeads, 1);
  test::NamedWeights good(threeKvHeads);
  e = Interpreter::create(test::llamaProgram(c, good), good, {});
  ASSERT_FALSE(e.isOk());
  EXPECT_NE(e.message().find("are not a multiple of 3 key/value heads"), std::string::npos) << e.message();
}

TEST(CpuExecutor, NonFiniteValuesStopWithTheOpsName) {
  Tiny m;
  std::vector<float> g = *m.model->normWeight(m.t("model.layers.1.input_layernorm.weight"));
  g[5] = NAN;
  ASSERT_TRUE(m.model->setNormWeight(m.t("model.layers.1.input_layernorm.weight"), g).isOk());
  auto r = m.model->forward(someTokens(4, m.config.vocabSize, 2));
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.message().find("non-finite value (nan) in the output of op"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("rms_norm model.layers.1.input_layernorm"), std::string::npos) << r.message();
}

//===----------------------------------------------------------------------===//
// Quantized linears against a float64 evaluation of the same quantized math
//===----------------------------------------------------------------------===//

namespace {

// float64 evaluation of the format's definition (see Linear.h).
std::vector<double> referenceLinear(const formats::QuantizedLinear &q, const std::vector<float> &x,
                                    int64_t T) {
  const int64_t N = q.outFeatures, K = q.inFeatures;
  std::vector<double> y(T * N, 0.0);
  std::vector<float> W = formats::dequantize(q); // q * s, exact products in fp32? use codes below
  std::vector<int8_t> codes = formats::integerCodes(q);
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = &x[t * K];
    float amax = 0;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(xt[k]));
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      switch (q.format) {
      case formats::Format::FP8: {
        float st = amax / 448.0f;
        for (int64_t k = 0; k < K; ++k)
          acc += double(formats::roundToE4m3(xt[k] / st)) *
                 double(formats::e4m3ToFloat(q.weights[n * K + k]));
        acc = acc * st * q.scales[n];
        break;
      }
      case formats::Format::INT8: {
        float st = amax / 127.0f;
        for (int64_t k = 0; k < K; ++k) {
          double a = std::max(-127.0, std::min(127.0, double(std::nearbyint(xt[k] / st))));
          acc += a * codes[n * K + k];
        }
        acc = acc * st * q.scales[n];
        break;
      }
      case formats::Format::W4A16: {
        int64_t G = K / q.groupSize;
        for (int64_t k = 0; k < K; ++k)
          acc += double(formats::roundToBf16(xt[k])) * codes[n * K + k] *
                 q.scales[n * G + k / q.groupSize];
        break;
      }
      case formats::Format::BF16:
        for (int64_t k = 0; k < K; ++k) acc += double(xt[k]) * W[n * K + k];
        break;
      }
      y[t * N + n] = acc;
    }
  }
  return y;
}

} // namespace

TEST(CpuExecutor, QuantizedLinearsMatchFloat64Evaluation) {
  ThreadPool pool(2);
  std::mt19937 rng(8);
  // Small (runs inline) and large enough to run in parallel; T covers the
  // 4-token blocks and the remainder.
  for (auto [T, N, K] : {std::tuple<int64_t, int64_t, int64_t>{5, 24, 64}, {9, 72, 512}}) {
    std::vector<float> w = test::randn(N * K, 0.05f, rng);
    std::vector<float> x = test::randn(T * K, 1.0f, rng);
    x[3] = 25.0f; // an outlier channel in token 0
    for (formats::FormatSpec spec : {formats::FormatSpec{formats::Format::BF16, 0},
                                     {formats::Format::FP8, 0},
                                     {formats::Format::INT8, 0},
                                     {formats::Format::W4A16, 32}}) {
      auto q = formats::quantizeLinear(w.data(), N, K, spec);
      ASSERT_TRUE(q.isOk());
      Linear l = Linear::fromQuantized(*q);
      std::vector<float> y(T * N), yb(T * N);
      linearForward(l, x.data(), T, y.data(), ActDType::F32, pool);
      linearForward(l, x.data(), T, yb.data(), ActDType::BF16, pool);
      auto ref = referenceLinear(*q, x, T);
      double err = relError(y, ref);
      EXPECT_LT(err, 1e-6) << formats::formatName(spec.format) << " T=" << T;
      for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(yb[i], formats::roundToBf16(y[i]));
      // And the quantized result is near the unquantized product.
      test::MapWeights none;
      std::vector<double> exact(T * N, 0.0);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) exact[t * N + n] += double(x[t * K + k]) * w[n * K + k];
      double qerr = relError(y, exact);
      EXPECT_LT(qerr, spec.format == formats::Format::BF16 ? 0.01 : 0.15)
          << formats::formatName(spec.format);
    }
  }
}

TEST(CpuExecutor, QuantizedModelMatchesItsDequantizedTwin) {
  // A quantized model differs from the same model holding the dequantized
  // weights as dense ones only by how activations enter the linears
  // (per-token fp8/int8 quantization, bf16 rounding for w4a16).
  auto tokens = someTokens(16, 97, 9);
  for (formats::FormatSpec spec : {formats::FormatSpec{formats::Format::FP8, 0},
                                   {formats::Format::INT8, 0},
                                   {formats::Format::W4A16, 32}}) {
    Tiny q, twin;
    for (const std::string &name : q.linearNames()) {
      const uint32_t t = q.t(name + ".weight");
      const Linear *l = q.model->linear(t);
      std::vector<float> w = q.model->denseLinearWeights(t);
      auto ql = formats::quantizeLinear(w.data(), l->N, l->K, spec);
      ASSERT_TRUE(ql.isOk());
      ASSERT_TRUE(twin.model->setDenseLinear(t, formats::dequantize(*ql)).isOk());
      ASSERT_TRUE(q.model->setLinear(t, std::move(*ql)).isOk());
    }
    auto logits = q.model->forward(tokens), ref = twin.model->forward(tokens);
    ASSERT_TRUE(logits.isOk() && ref.isOk());
    double err = relError(*logits, *ref);
    EXPECT_GT(err, 0.0);
    double tol = spec.format == formats::Format::FP8   ? 0.25
                 : spec.format == formats::Format::INT8 ? 0.06
                                                        : 0.02;
    EXPECT_LT(err, tol) << formats::formatName(spec.format);
    std::printf("%s: rel error vs dequantized twin %.4g\n", formats::formatName(spec.format), err);
  }
}

TEST(Sampling, ArgmaxSampleAndNll) {
  float l[5] = {0.5f, 2.0f, -1.0f, 2.0f, NAN};
  EXPECT_EQ(argmax(l, 4), 1);
  std::mt19937_64 rng(1);
  EXPECT_EQ(sampleToken(l, 4, 0.0, rng), 1);
  int counts[4] = {};
  for (int i = 0; i < 4000; ++i) counts[sampleToken(l, 4, 1.0, rng)]++;
  // p = softmax([0.5, 2, -1, 2]) = [0.092, 0.41, 0.02, 0.41]
  EXPECT_NEAR(counts[1] / 4000.0, 0.41, 0.04);
  EXPECT_NEAR(counts[0] / 4000.0, 0.092, 0.02);
  double z = std::exp(0.5) + 2 * std::exp(2.0) + std::exp(-1.0);
  EXPECT_NEAR(tokenNll(l, 4, 2), std::log(z) + 1.0, 1e-9);
}

TEST(Sampling, PerplexityWindows) {
  Tiny m;
  auto ids = someTokens(50, m.config.vocabSize, 10);
  auto p = perplexity(*m.model, ids, 16);
  ASSERT_TRUE(p.isOk()) << p.message();
  EXPECT_EQ(p->windows, 4);      // 16 + 16 + 16 + 2
  EXPECT_EQ(p->tokens, 15 * 3 + 1);
  // Recompute by hand from independent forwards.
  double total = 0;
  for (int w = 0; w < 4; ++w) {
    std::vector<int64_t> win(ids.begin() + 16 * w, ids.begin() + std::min<int>(50, 16 * (w + 1)));
    auto l = m.model->forward(win);
    for (size_t t = 0; t + 1 < win.size(); ++t) total += tokenNll(l->data() + t * 97, 97, win[t + 1]);
  }
  EXPECT_NEAR(p->meanNll, total / 46, 1e-9);
  EXPECT_NEAR(p->perplexity, std::exp(total / 46), 1e-6);
  EXPECT_FALSE(perplexity(*m.model, ids, 1).isOk());
  EXPECT_FALSE(perplexity(*m.model, std::vector<int64_t>{3}, 16).isOk());
  // Lines are separate sequences: windows never cross a line.
  std::vector<std::vector<int64_t>> lines = {std::vector<int64_t>(ids.begin(), ids.begin() + 20),
                                             std::vector<int64_t>(ids.begin() + 20, ids.end())};
  auto pl = perplexity(*m.model, lines, 16);
  ASSERT_TRUE(pl.isOk());
  EXPECT_EQ(pl->windows, 4); // 16 + 4, 16 + 14
  EXPECT_EQ(pl->tokens, 15 + 3 + 15 + 13);
}
