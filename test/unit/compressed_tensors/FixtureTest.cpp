// The llm-compressor fixtures (test/golden/compressed-tensors, made by
// scripts/python/make_ct_fixtures.py): every quantized linear decodes, and its
// codes and scales equal what the script read from the safetensors files with
// compressed-tensors' own unpacking (spot values and whole-tensor checksums).
// Then decode -> export -> decode gives the same bits.
#include "CtTestUtil.h"

#include "frontends/llama/StrictJson.h"

#include <cmath>

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

std::string fixtureRoot() { return std::string(QCC_SOURCE_DIR) + "/test/golden/compressed-tensors"; }

const json::Value &member(const json::Value &v, const char *key) {
  static const json::Value null;
  const json::Value *m = v.get(key);
  EXPECT_NE(m, nullptr) << "expected.json has no '" << key << "'";
  return m ? *m : null;
}

// The code at (n, k) as the float value Python printed (int or e4m3 value).
double codeValue(const formats::QuantizedLinear &q, int64_t n, int64_t k) {
  const int64_t K = q.inFeatures;
  switch (q.format) {
  case formats::Format::W4A16: return formats::int4At(q.weights.data() + n * (K / 2), k);
  case formats::Format::INT8: return static_cast<int8_t>(q.weights[n * K + k]);
  case formats::Format::FP8: return formats::e4m3ToFloat(q.weights[n * K + k]);
  case formats::Format::BF16: return NAN;
  }
  return NAN;
}

float scaleAt(const formats::QuantizedLinear &q, int64_t n, int64_t k) {
  return q.format == formats::Format::W4A16 ? q.scales[n * q.numGroups() + k / q.groupSize] : q.scales[n];
}

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, DecodesExactlyWhatTheFilesHold) {
  const std::string dir = fixtureRoot() + "/" + GetParam();
  std::string text = readFile(fixtureRoot() + "/expected.json");
  ASSERT_FALSE(text.empty());
  auto root = json::parse(text, "expected.json");
  ASSERT_TRUE(root.isOk()) << root.message();
  const json::Value &fixture = member(*root, GetParam().c_str());

  auto ck = openCheckpoint(dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const CompressedLayout *ct = compressedLayout(**ck);
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(ct->config().format(), member(fixture, "format").asString());
  EXPECT_FALSE(ct->isQuantized("lm_head")); // ignored by every recipe
  const auto &linears = member(fixture, "linears").elements();
  EXPECT_EQ(linears.size(), ct->plans().size());
  for (const json::Value &l : linears) {
    const std::string module = member(l, "module").asString();
    SCOPED_TRACE(module);
    auto q = ct->decode(**ck, module);
    ASSERT_TRUE(q.isOk()) << q.message();
    EXPECT_EQ(formats::formatName(q->format), member(l, "qcc_format").asString());
    EXPECT_EQ(q->groupSize, member(l, "group_size").asInt64());
    EXPECT_EQ(q->outFeatures, member(l, "N").asInt64());
    EXPECT_EQ(q->inFeatures, member(l, "K").asInt64());
    for (const json::Value &s : member(l, "samples").elements()) {
      int64_t n = member(s, "n").asInt64(), k = member(s, "k").asInt64();
      EXPECT_EQ(codeValue(*q, n, k), member(s, "code").asDouble()) << "code at [" << n << ", " << k << "]";
      EXPECT_EQ(scaleAt(*q, n, k), static_cast<float>(member(s, "scale").asDouble()))
          << "scale at [" << n << ", " << k << "]";
    }
    double codeSum = 0, weighted = 0, scaleSum = 0;
    const int64_t N = q->outFeatures, K = q->inFeatures;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        double c = codeValue(*q, n, k);
        codeSum += c;
        weighted += c * double((n * K + k) % 65521 + 1);
      }
    for (float s : q->scales) scaleSum += s;
    EXPECT_EQ(codeSum, member(l, "code_sum").asDouble());
    EXPECT_EQ(weighted, member(l, "code_weighted_sum").asDouble());
    EXPECT_NEAR(scaleSum, member(l, "scale_sum").asDouble(), 1e-12 * std::fabs(scaleSum));
  }
}

// decode -> export (qcc's writer) -> decode: the same codes and scales, bit for bit.
TEST_P(FixtureTest, ExportRoundTripIsBitExact) {
  const std::string dir = fixtureRoot() + "/" + GetParam();
  auto ck = openCheckpoint(dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const CompressedLayout *ct = compressedLayout(**ck);
  ASSERT_NE(ct, nullptr);
  const ModelConfig &config = (*ck)->config();
  std::vector<ExportEntry> plan;
  std::map<std::string, formats::QuantizedLinear> decoded;
  for (const auto &t : Checkpoint::expectedTensors(config)) {
    std::string module = t.first.substr(0, t.first.size() - 7);
    if (ct->isQuantized(module)) {
      auto q = ct->decode(**ck, module);
      ASSERT_TRUE(q.isOk()) << q.message();
      plan.push_back(ExportEntry::linear(module, *ct->formatOf(module), t.second[0], t.second[1]));
      plan.back().actOrder = ct->plans().at(module).scheme->weights->actorder == "weight";
      decoded[module] = std::move(*q);
    } else if (t.second.size() == 2 && t.first != "model.embed_tokens.weight") { // lm_head, kept bf16
      const TensorRef *w = (*ck)->find(t.first);
      ASSERT_EQ(w->dtype, DType::BF16);
      formats::QuantizedLinear q;
      q.outFeatures = t.second[0];
      q.inFeatures = t.second[1];
      q.weights.assign(static_cast<const uint8_t *>(w->data), static_cast<const uint8_t *>(w->data) + w->byteSize());
      plan.push_back(ExportEntry::linear(module, formats::FormatSpec{formats::Format::BF16, 0}, t.second[0], t.second[1]));
      decoded[module] = std::move(q);
    } else {
      plan.push_back(ExportEntry::dense(t.first, (*ck)->find(t.first)->dtype, t.second));
    }
  }
  TempDir tmp;
  const std::string out = tmp.file("export");
  {
    auto w = ExportWriter::create(out, config, dir, plan);
    ASSERT_TRUE(w.isOk()) << w.message();
    for (const ExportEntry &e : plan) {
      if (e.kind == ExportEntry::Kind::Linear) {
        ASSERT_TRUE((*w)->writeLinear(e.name, decoded[e.name]).isOk());
      } else {
        const TensorRef *t = (*ck)->find(e.name);
        ASSERT_TRUE((*w)->writeDense(e.name, t->data, t->byteSize()).isOk());
      }
    }
    Status s = (*w)->finish();
    ASSERT_TRUE(s.isOk()) << s.message();
  }
  auto back = openCheckpoint(out);
  ASSERT_TRUE(back.isOk()) << back.message();
  const CompressedLayout *ct2 = compressedLayout(**back);
  ASSERT_NE(ct2, nullptr);
  EXPECT_EQ(ct2->plans().size(), ct->plans().size());
  for (const auto &d : decoded) {
    if (d.second.format == formats::Format::BF16) {
      const TensorRef *t = (*back)->find(d.first + ".weight");
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(std::memcmp(t->data, d.second.weights.data(), d.second.weights.size()), 0) << d.first;
      continue;
    }
    auto q = ct2->decode(**back, d.first);
    ASSERT_TRUE(q.isOk()) << q.message();
    EXPECT_TRUE(sameLinear(*q, d.second)) << d.first;
  }
  for (const ExportEntry &e : plan)
    if (e.kind == ExportEntry::Kind::Dense) {
      const TensorRef *a = (*ck)->find(e.name), *b = (*back)->find(e.name);
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(a->dtype, b->dtype);
      EXPECT_EQ(std::memcmp(a->data, b->data, a->byteSize()), 0) << e.name;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("w4a16-gptq", "w4a16-gptq-actorder", "fp8-dynamic", "w8a8-int8-sq",
                                           "w4a16-rtn-dense", "tiny-fp8-tensor", "tiny-w4a16-channel"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           std::string n = info.param;
                           for (char &c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// Without the compressed-tensors hook the dense reader says what it cannot read.
TEST(FixtureNoHookTest, DenseReaderNamesTheQuantMethod) {
  auto ck = Checkpoint::open(fixtureRoot() + "/w4a16-gptq");
  expectError(ck, {"config.json", "quant_method 'compressed-tensors'", "not supported"});
}

// The hook leaves dense checkpoints alone.
TEST(FixtureNoHookTest, DenseCheckpointOpensWithTheHook) {
  auto ck = openCheckpoint(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare");
  ASSERT_TRUE(ck.isOk()) << ck.message();
  EXPECT_EQ(compressedLayout(**ck), nullptr);
  EXPECT_EQ((*ck)->quantizedLayout(), nullptr);
}

} // namespace
