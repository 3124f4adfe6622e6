// Bad compressed-tensors folders: each is refused at open with a precise
// error naming the folder or config.json, the tensor or layer, the scheme and
// the problem. The folders start as a valid tiny export (qcc's writer) and are
// then broken one way each.
#include "CtTestUtil.h"

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

const char *kQ = "model.layers.0.self_attn.q_proj";

formats::FormatSpec w4a16(int g = 16) { return {formats::Format::W4A16, g}; }

// A valid tiny folder, every linear but lm_head in `spec`.
std::string makeFolder(const TempDir &tmp, formats::FormatSpec spec) {
  TinyModel m = makeTinyModel([&](const std::string &module) {
    return module == "lm_head" ? formats::FormatSpec{formats::Format::BF16, 0} : spec;
  });
  std::string dir = tmp.file("model");
  Status s = exportTiny(m, dir);
  EXPECT_TRUE(s.isOk()) << s.message();
  return dir;
}

TEST(BadFolderTest, ValidFolderOpens) {
  for (formats::FormatSpec spec : {w4a16(), formats::FormatSpec{formats::Format::INT8, 0},
                                   formats::FormatSpec{formats::Format::FP8, 0}}) {
    TempDir tmp;
    auto ck = openCheckpoint(makeFolder(tmp, spec));
    ASSERT_TRUE(ck.isOk()) << ck.message();
    ASSERT_NE(compressedLayout(**ck), nullptr);
    EXPECT_EQ(compressedLayout(**ck)->plans().size(), 7u);
  }
}

TEST(BadFolderTest, SourceTensorsOfALinear) {
  TempDir tmp;
  auto ck = openCheckpoint(makeFolder(tmp, w4a16()));
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const std::string q = kQ;
  EXPECT_EQ(compressedLayout(**ck)->sourceTensors(**ck, q),
            (std::vector<std::string>{q + ".weight_packed", q + ".weight_shape", q + ".weight_scale"}));
  EXPECT_TRUE(compressedLayout(**ck)->sourceTensors(**ck, "lm_head").empty()); // not quantized
}

TEST(BadFolderTest, MissingScales) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editTensors(dir, [](auto &t) { t.erase(std::string(kQ) + ".weight_scale"); });
  expectError(openCheckpoint(dir), {dir, "missing tensor 'model.layers.0.self_attn.q_proj.weight_scale'",
                                    "the scales of config group 'group_0'", "int4 symmetric group 16"});
}

TEST(BadFolderTest, MissingPackedWeights) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editTensors(dir, [](auto &t) { t.erase(std::string(kQ) + ".weight_packed"); });
  expectError(openCheckpoint(dir), {"missing tensor 'model.layers.0.self_attn.q_proj.weight_packed'", "packed codes"});
}

TEST(BadFolderTest, PackedShapeDisagreesWithWeightShape) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editTensors(dir, [](auto &t) {
    OwnedTensor &p = t[std::string(kQ) + ".weight_packed"];
    p.shape = {64, 4};
    p.bytes.resize(64 * 4 * 4);
  });
  expectError(openCheckpoint(dir), {"'model.layers.0.self_attn.q_proj.weight_packed' has shape [64, 4]",
                                    "weight_shape [64, 64]", "[64, 8]"});
}

TEST(BadFolderTest, WeightShapeDisagreesWithConfig) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editTensors(dir, [](auto &t) {
    OwnedTensor &s = t[std::string(kQ) + ".weight_shape"];
    int64_t v[2] = {64, 32};
    std::memcpy(s.bytes.data(), v, 16);
  });
  expectError(openCheckpoint(dir),
              {"'model.layers.0.self_attn.q_proj.weight_shape' holds [64, 32] but config.json implies [64, 64]"});
}

TEST(BadFolderTest, ScaleShapeWrong) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::INT8, 0});
  editTensors(dir, [](auto &t) {
    OwnedTensor &s = t[std::string(kQ) + ".weight_scale"];
    s.shape = {32, 1};
    s.bytes.resize(32 * 4);
  });
  expectError(openCheckpoint(dir), {"'model.layers.0.self_attn.q_proj.weight_scale' has shape [32, 1]", "[64, 1]"});
}

TEST(BadFolderTest, NonPositiveScale) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::FP8, 0});
  editTensors(dir, [](auto &t) {
    float zero = 0.0f;
    std::memcpy(t[std::string(kQ) + ".weight_scale"].bytes.data() + 12, &zero, 4);
  });
  expectError(openCheckpoint(dir), {"weight_scale' element 3 is 0", "positive and finite"});
}

TEST(BadFolderTest, CodesWithTheWrongDtype) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::INT8, 0});
  editTensors(dir, [](auto &t) { t[std::string(kQ) + ".weight"].dtype = DType::U8; });
  expectError(openCheckpoint(dir), {"'model.layers.0.self_attn.q_proj.weight' has dtype U8, expected I8",
                                    "int-quantized"});
}

TEST(BadFolderTest, UnknownFormatName) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editConfig(dir, R"("format": "pack-quantized")", R"("format": "super-quantized")"); // the group's
  expectError(openCheckpoint(dir), {"config.json", "config_groups.group_0.format",
                                    "'super-quantized' is not a compressed-tensors format"});
  editConfig(dir, R"("format": "super-quantized")", R"("format": "pack-quantized")");
  editConfig(dir, R"("format": "pack-quantized")", R"("format": "packed")", 1); // the default
  expectError(openCheckpoint(dir), {"quantization_config.format", "'packed' is not a compressed-tensors format"});
}

TEST(BadFolderTest, UnknownQuantMethod) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editConfig(dir, R"("quant_method": "compressed-tensors")", R"("quant_method": "gptq")");
  expectError(openCheckpoint(dir), {"config.json", "quant_method 'gptq' is not supported"});
}

TEST(BadFolderTest, UnknownSchemeKeysAreRefused) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editConfig(dir, R"("num_bits": 4)", R"("num_bits": 4, "bits_per_weight": 4)");
  expectError(openCheckpoint(dir), {"config_groups.group_0.weights.bits_per_weight", "is not a quantization argument"});
}

// Schemes qcc has no exact format for: the error names the layer and the scheme.
struct Edit {
  std::string from, to;
  int nth = 0;
};
struct SchemeCase {
  const char *name;
  formats::FormatSpec spec;
  std::vector<Edit> edits;
  std::vector<std::string> expect;
};

TEST(BadFolderTest, SchemesQccCannotTake) {
  const formats::FormatSpec int8{formats::Format::INT8, 0}, fp8{formats::Format::FP8, 0};
  // In int8/fp8 groups the input activation arguments come before the weights' (nth 1).
  const std::vector<SchemeCase> cases = {
      {"asymmetric", w4a16(), {{R"("symmetric": true)", R"("symmetric": false)"}},
       {"model.layers.0.self_attn.q_proj", "config group 'group_0'", "int4 asymmetric group 16",
        "asymmetric weights (zero points) have no qcc format"}},
      {"three bits", w4a16(), {{R"("num_bits": 4)", R"("num_bits": 3)"}},
       {"model.layers.0.self_attn.q_proj", "int3 symmetric group 16", "3-bit int weights have no qcc format"}},
      {"nvfp4 args", w4a16(), {{R"("type": "int")", R"("type": "float")"}},
       {"float4 symmetric group 16", "4-bit float weights (nvfp4/mxfp4) have no qcc format"}},
      {"nvfp4 format", w4a16(), {{R"("format": "pack-quantized")", R"("format": "nvfp4-pack-quantized")"}},
       {"format nvfp4-pack-quantized", "micro-scaled floats"}},
      {"odd group", w4a16(), {{R"("group_size": 16)", R"("group_size": 7)"}},
       {"group size 7 is not a positive even integer"}},
      {"group not dividing", w4a16(), {{R"("group_size": 16)", R"("group_size": 48)"}},
       {"64 input channels are not a multiple of the group size 48"}},
      {"static activations", int8, {{R"("dynamic": true)", R"("dynamic": false)"}},
       {"input activations int8 symmetric token", "static input activation scales have no qcc format"}},
      {"tensor activations", fp8, {{R"("strategy": "token")", R"("strategy": "tensor")"}},
       {"input activations with strategy 'tensor'"}},
      {"int8 groups", int8,
       {{R"("group_size": null)", R"("group_size": 16)", 1}, {R"("strategy": "channel")", R"("strategy": "group")"}},
       {"int8 symmetric group 16", "8-bit weights with group scales have no qcc format"}},
      {"int8 tensor scale", int8, {{R"("strategy": "channel")", R"("strategy": "tensor")"}},
       {"one int8 scale per tensor has no qcc format"}},
      {"block", fp8,
       {{R"("block_structure": null)", R"("block_structure": [16, 16])", 1},
        {R"("strategy": "channel")", R"("strategy": "block")"}},
       {"block-wise weight scales have no qcc format"}},
      {"kv cache", w4a16(),
       {{R"("kv_cache_scheme": null)", R"("kv_cache_scheme": {"num_bits": 8, "type": "float", "strategy": "tensor"})"}},
       {"config.json", "kv_cache_scheme quantizes the KV cache"}},
      {"sparsity", w4a16(),
       {{R"("sparsity_config": {})",
         R"("sparsity_config": {"format": "sparse-24-bitmask", "sparsity_structure": "2:4", "targets": ["Linear"]})"}},
       {"model.layers.0.self_attn.q_proj", "sparsity_config format 'sparse-24-bitmask'"}},
      {"transforms", w4a16(),
       {{R"("transform_config": {})", R"("transform_config": {"config_groups": {"u": {"type": "hadamard"}}})"}},
       {"transform_config rotates"}},
      {"quantized embedding", w4a16(), {{R"("Linear")", R"("Linear", "Embedding")"}},
       {"model.embed_tokens", "quantizes a Embedding module"}},
      {"output activations", w4a16(),
       {{R"("output_activations": null)",
         R"("output_activations": {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": true})"}},
       {"output activation quantization has no qcc format"}},
      {"preset group", w4a16(), {{R"("group_0": {)", R"("W4A16": ["Linear"], "group_0": {)"}},
       {"config_groups.W4A16", "preset scheme 'W4A16'"}},
  };
  for (const SchemeCase &c : cases) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    std::string dir = makeFolder(tmp, c.spec);
    for (const Edit &e : c.edits) editConfig(dir, e.from, e.to, e.nth);
    auto ck = openCheckpoint(dir);
    ASSERT_FALSE(ck.isOk());
    for (const std::string &p : c.expect)
      EXPECT_NE(ck.message().find(p), std::string::npos) << ck.message() << "\nmissing: " << p;
  }
}

TEST(BadFolderTest, WeightOnlyEightBitIsRefused) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::FP8, 0});
  std::string text = readFile(dir + "/config.json");
  size_t a = text.find("\"input_activations\": {"), b = text.find("\"output_activations\"");
  ASSERT_NE(a, std::string::npos);
  text.replace(a, b - a, "\"input_activations\": null,\n        ");
  writeFile(dir + "/config.json", text);
  expectError(openCheckpoint(dir), {"model.layers.0.self_attn.q_proj", "float8 symmetric channel",
                                    "fp8 weights without activation quantization (W8A16) have no qcc format"});
}

TEST(BadFolderTest, ActOrderGIdxThatIsNotTrivial) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  editConfig(dir, R"("actorder": null)", R"("actorder": "group")");
  // The trivial g_idx (k / 16) is accepted.
  std::vector<int32_t> gidx(64);
  for (int k = 0; k < 64; ++k) gidx[k] = k / 16;
  editTensors(dir, [&](auto &t) {
    OwnedTensor g{DType::I32, {64}, {}};
    g.bytes.resize(64 * 4);
    std::memcpy(g.bytes.data(), gidx.data(), 64 * 4);
    t[std::string(kQ) + ".weight_g_idx"] = g;
  });
  auto ok = openCheckpoint(dir);
  ASSERT_TRUE(ok.isOk()) << ok.message();
  // A permuted one is not.
  std::swap(gidx[3], gidx[40]);
  editTensors(dir, [&](auto &t) {
    std::memcpy(t[std::string(kQ) + ".weight_g_idx"].bytes.data(), gidx.data(), 64 * 4);
  });
  expectError(openCheckpoint(dir), {"model.layers.0.self_attn.q_proj", "actorder group",
                                    "'model.layers.0.self_attn.q_proj.weight_g_idx' maps input channel 3 to group 2",
                                    "instead of 0", "an activation-ordered g_idx (actorder 'group') has no qcc format"});
}

TEST(BadFolderTest, NonZeroZeroPoint) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::INT8, 0});
  editTensors(dir, [](auto &t) {
    OwnedTensor z{DType::I8, {64, 1}, std::vector<uint8_t>(64, 0)};
    t[std::string(kQ) + ".weight_zero_point"] = z;
  });
  ASSERT_TRUE(openCheckpoint(dir).isOk()); // all zero: a symmetric scheme's leftover
  editTensors(dir, [](auto &t) { t[std::string(kQ) + ".weight_zero_point"].bytes[5] = 3; });
  expectError(openCheckpoint(dir), {"weight_zero_point' has a non-zero element 5", "asymmetric weights"});
}

TEST(BadFolderTest, UnexpectedStaticInputScale) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::FP8, 0});
  editTensors(dir, [](auto &t) {
    t[std::string(kQ) + ".input_scale"] = OwnedTensor{DType::F32, {1}, std::vector<uint8_t>(4, 0)};
  });
  expectError(openCheckpoint(dir), {"unexpected tensor 'model.layers.0.self_attn.q_proj.input_scale'",
                                    "does not store it"});
}

TEST(BadFolderTest, Fp8NaNCodeIsRefusedWhenDecoding) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, formats::FormatSpec{formats::Format::FP8, 0});
  editTensors(dir, [](auto &t) { t[std::string(kQ) + ".weight"].bytes[70] = 0x7F; });
  auto ck = openCheckpoint(dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  expectError(compressedLayout(**ck)->decode(**ck, kQ), {"'model.layers.0.self_attn.q_proj.weight' element [1, 6]",
                                                         "e4m3 NaN"});
}

TEST(BadFolderTest, QuantizedLinearLeftDenseIsMissing) {
  TempDir tmp;
  std::string dir = makeFolder(tmp, w4a16());
  // lm_head is ignored: the config now says it is quantized, but it is stored dense.
  editConfig(dir, R"("lm_head")", R"("re:^nothing$")");
  expectError(openCheckpoint(dir), {"missing tensor 'lm_head.weight_packed'"});
}

} // namespace
