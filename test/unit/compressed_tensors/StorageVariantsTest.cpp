// Storage layouts the fixtures do not exercise, made by re-storing the codes of
// a valid export another way compressed-tensors allows (naive-quantized int4
// codes one per byte, pack-quantized 8-bit words, the dense fake-quantized
// layout): each decodes to the same QuantizedLinear.
#include "CtTestUtil.h"

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

const char *kQ = "model.layers.0.self_attn.q_proj";

struct Exported {
  TinyModel model;
  std::string dir;
};

Exported exportAll(const TempDir &tmp, formats::FormatSpec spec) {
  Exported e;
  e.model = makeTinyModel([&](const std::string &m) {
    return m == "lm_head" ? formats::FormatSpec{formats::Format::BF16, 0} : spec;
  });
  e.dir = tmp.file("model");
  Status s = exportTiny(e.model, e.dir);
  EXPECT_TRUE(s.isOk()) << s.message();
  return e;
}

void expectSameAsExported(const Exported &e) {
  auto ck = openCheckpoint(e.dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const CompressedLayout *ct = compressedLayout(**ck);
  ASSERT_NE(ct, nullptr);
  for (const auto &p : ct->plans()) {
    auto q = ct->decode(**ck, p.first);
    ASSERT_TRUE(q.isOk()) << q.message();
    EXPECT_TRUE(sameLinear(*q, e.model.linears.at(p.first))) << p.first;
  }
}

// Every linear of the folder re-stored by `restore(module, tensors)`.
void restoreAll(const Exported &e, const std::function<void(const std::string &, std::map<std::string, OwnedTensor> &)> &restore) {
  editTensors(e.dir, [&](auto &t) {
    for (const auto &l : e.model.linears)
      if (l.second.format != formats::Format::BF16) restore(l.first, t);
  });
}

TEST(StorageVariantsTest, NaiveQuantizedInt4CodesOnePerByte) {
  TempDir tmp;
  Exported e = exportAll(tmp, {formats::Format::W4A16, 16});
  restoreAll(e, [&](const std::string &m, auto &t) {
    const formats::QuantizedLinear &q = e.model.linears.at(m);
    std::vector<int8_t> codes = formats::integerCodes(q);
    OwnedTensor w{DType::I8, {q.outFeatures, q.inFeatures}, std::vector<uint8_t>(codes.begin(), codes.end())};
    t.erase(m + ".weight_packed");
    t.erase(m + ".weight_shape");
    t[m + ".weight"] = w;
  });
  editConfig(e.dir, R"("format": "pack-quantized")", R"("format": "naive-quantized")");
  editConfig(e.dir, R"("format": "pack-quantized")", R"("format": "naive-quantized")");
  expectSameAsExported(e);
  // A code outside [-8, 7] is refused when decoding.
  editTensors(e.dir, [](auto &t) { t[std::string(kQ) + ".weight"].bytes[3] = 9; });
  auto ck = openCheckpoint(e.dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  expectError(compressedLayout(**ck)->decode(**ck, kQ), {"element [0, 3] is 9, outside the int4 range [-8, 7]"});
}

TEST(StorageVariantsTest, PackQuantizedEightBitWords) {
  TempDir tmp;
  Exported e = exportAll(tmp, {formats::Format::INT8, 0});
  restoreAll(e, [&](const std::string &m, auto &t) {
    const formats::QuantizedLinear &q = e.model.linears.at(m);
    // compressed-tensors' pack_to_int32 with 8 bits: code + 128 at bit 8k of the row.
    OwnedTensor packed{DType::I32, {q.outFeatures, q.inFeatures / 4}, {}};
    for (uint8_t b : q.weights) packed.bytes.push_back(static_cast<uint8_t>(b ^ 0x80));
    int64_t shape[2] = {q.outFeatures, q.inFeatures};
    OwnedTensor s{DType::I64, {2}, std::vector<uint8_t>(16)};
    std::memcpy(s.bytes.data(), shape, 16);
    t.erase(m + ".weight");
    t[m + ".weight_packed"] = packed;
    t[m + ".weight_shape"] = s;
  });
  editConfig(e.dir, R"("format": "int-quantized")", R"("format": "pack-quantized")");
  editConfig(e.dir, R"("format": "int-quantized")", R"("format": "pack-quantized")");
  expectSameAsExported(e);
}

// The dense layout with on-grid weights (code * scale, as GPTQ leaves them): the
// recomputed codes are the stored ones, for int8, fp8 and int4.
TEST(StorageVariantsTest, DenseLayoutRecoversTheCodes) {
  for (formats::FormatSpec spec : {formats::FormatSpec{formats::Format::INT8, 0},
                                   formats::FormatSpec{formats::Format::FP8, 0},
                                   formats::FormatSpec{formats::Format::W4A16, 32}}) {
    SCOPED_TRACE(formats::formatSpecName(spec));
    TempDir tmp;
    Exported e = exportAll(tmp, spec);
    restoreAll(e, [&](const std::string &m, auto &t) {
      const formats::QuantizedLinear &q = e.model.linears.at(m);
      std::vector<float> w = formats::dequantize(q); // fp32 code * scale
      OwnedTensor dense{DType::F32, {q.outFeatures, q.inFeatures}, std::vector<uint8_t>(w.size() * 4)};
      std::memcpy(dense.bytes.data(), w.data(), w.size() * 4);
      t.erase(m + ".weight_packed");
      t.erase(m + ".weight_shape");
      t[m + ".weight"] = dense;
    });
    const std::string from = spec.format == formats::Format::W4A16 ? "pack-quantized"
                             : spec.format == formats::Format::INT8 ? "int-quantized"
                                                                    : "float-quantized";
    editConfig(e.dir, "\"format\": \"" + from + "\"", R"("format": "dense")");
    editConfig(e.dir, "\"format\": \"" + from + "\"", R"("format": "dense")");
    expectSameAsExported(e);
  }
}

// The dense layout with original (off-grid) weights: codes are compressed-tensors'
// fake-quantization clamp(round_half_even(w / s)), worked out here by hand.
TEST(StorageVariantsTest, DenseLayoutFakeQuantizesOffGridWeights) {
  TempDir tmp;
  Exported e = exportAll(tmp, {formats::Format::INT8, 0});
  const float scale = 0.5f;
  editTensors(e.dir, [&](auto &t) {
    const std::string m = kQ;
    std::vector<float> w(64 * 64, 0.0f);
    w[0] = 0.25f;   // 0.5  -> 0 (half to even)
    w[1] = 0.75f;   // 1.5  -> 2
    w[2] = -1.25f;  // -2.5 -> -2
    w[3] = 100.0f;  // 200  -> 127 (clamp)
    w[4] = -100.0f; // -200 -> -128 (clamp)
    w[5] = 0.3f;    // 0.6  -> 1
    OwnedTensor dense{DType::F32, {64, 64}, std::vector<uint8_t>(w.size() * 4)};
    std::memcpy(dense.bytes.data(), w.data(), w.size() * 4);
    std::vector<float> s(64, scale);
    OwnedTensor sc{DType::F32, {64, 1}, std::vector<uint8_t>(64 * 4)};
    std::memcpy(sc.bytes.data(), s.data(), 64 * 4);
    t[m + ".weight"] = dense;
    t[m + ".weight_scale"] = sc;
  });
  editConfig(e.dir, R"("format": "int-quantized")", R"("format": "dense")");
  editConfig(e.dir, R"("format": "int-quantized")", R"("format": "dense")");
  editTensors(e.dir, [&](auto &t) { // the other linears: dense on-grid copies, irrelevant here
    for (const auto &l : e.model.linears) {
      if (l.first == kQ || l.second.format == formats::Format::BF16) continue;
      std::vector<float> w = formats::dequantize(l.second);
      OwnedTensor dense{DType::F32, {l.second.outFeatures, l.second.inFeatures}, std::vector<uint8_t>(w.size() * 4)};
      std::memcpy(dense.bytes.data(), w.data(), w.size() * 4);
      t[l.first + ".weight"] = dense;
    }
  });
  auto ck = openCheckpoint(e.dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  auto q = compressedLayout(**ck)->decode(**ck, kQ);
  ASSERT_TRUE(q.isOk()) << q.message();
  std::vector<int8_t> codes = formats::integerCodes(*q);
  EXPECT_EQ(std::vector<int8_t>(codes.begin(), codes.begin() + 7), (std::vector<int8_t>{0, 2, -2, 127, -128, 1, 0}));
  EXPECT_EQ(q->scales, std::vector<float>(64, scale));
}

} // namespace
