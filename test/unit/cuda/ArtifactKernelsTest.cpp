// No-GPU checks of compileArtifactKernels: a small model with a different
// format in every layer gets, for every target, PTX and a cubin for every
// kernel its schedule needs; a second call gives identical bytes; shapes the
// kernels cannot take fail with errors that name the layer.
#include "codegen/cuda/ArtifactKernels.h"
#include "codegen/cuda/Nvrtc.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
using artifact::ArtifactSpec;
using artifact::TensorDecl;
using artifact::TensorRole;
using artifact::WeightFormat;

namespace {

// hidden 256, intermediate 768, 4 heads of 64, 1 kv head; layer l's linears
// are in formats[l].
ArtifactSpec smallSpec(const std::vector<WeightFormat> &formats, int64_t w4Group = 128) {
  ArtifactSpec spec;
  ModelConfig &c = spec.config;
  c.hiddenSize = 256;
  c.intermediateSize = 768;
  c.numLayers = int64_t(formats.size());
  c.numHeads = 4;
  c.numKvHeads = 1;
  c.headDim = 64;
  c.vocabSize = 320;
  c.maxPositionEmbeddings = 1024;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  auto dense = [](const std::string &name, TensorRole role, std::vector<int64_t> shape) {
    TensorDecl t;
    t.name = name;
    t.role = role;
    t.format = WeightFormat::Dense;
    t.dtype = DType::BF16;
    t.shape = std::move(shape);
    return t;
  };
  spec.tensors.push_back(dense("model.embed_tokens.weight", TensorRole::Embedding, {c.vocabSize, c.hiddenSize}));
  for (int64_t l = 0; l < c.numLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    spec.tensors.push_back(dense(p + "input_layernorm.weight", TensorRole::Norm, {c.hiddenSize}));
    spec.tensors.push_back(dense(p + "post_attention_layernorm.weight", TensorRole::Norm, {c.hiddenSize}));
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim, H = c.hiddenSize,
                  I = c.intermediateSize;
    const int64_t shapes[7][2] = {{q, H}, {kv, H}, {kv, H}, {H, q}, {I, H}, {I, H}, {H, I}};
    const auto names = artifact::llamaLinearNames(l);
    for (int i = 0; i < 7; ++i) {
      TensorDecl t;
      t.name = names[size_t(i)];
      t.role = TensorRole::Linear;
      t.format = formats[size_t(l)];
      t.shape = {shapes[i][0], shapes[i][1]};
      if (t.format == WeightFormat::W4A16) t.groupSize = w4Group;
      if (t.format == WeightFormat::Dense) t.dtype = DType::F32;
      if (t.format != WeightFormat::Dense && t.format != WeightFormat::BF16) t.method = artifact::QuantMethod::RTN;
      spec.tensors.push_back(t);
    }
  }
  spec.tensors.push_back(dense("model.norm.weight", TensorRole::Norm, {c.hiddenSize}));
  spec.tensors.push_back(dense("lm_head.weight", TensorRole::LmHead, {c.vocabSize, c.hiddenSize}));
  EXPECT_TRUE(artifact::buildLlamaSchedule(spec).isOk());
  return spec;
}

const std::vector<WeightFormat> kMixed = {WeightFormat::INT8, WeightFormat::W4A16, WeightFormat::FP8,
                                          WeightFormat::BF16, WeightFormat::Dense};

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-artifact-kernels-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

bool haveNvrtc() { return bool(Nvrtc::get()); }

bool contains(const std::string &s, const std::string &needle) { return s.find(needle) != std::string::npos; }

// A tuned tile for smallSpec's fused q|k|v in int8 on sm_90a, decode bucket.
TileEntry qkvDecodeEntry() {
  TileEntry e;
  e.target = "sm_90a";
  e.format = GemmFormat::INT8;
  e.n = (4 + 2) * 64;
  e.k = 256;
  e.decode = true;
  e.tile = GemmTile{1, 2, 1, 4};
  return e;
}

} // namespace

TEST(ArtifactKernels, PlanCoversEveryLayerFormat) {
  ArtifactSpec spec = smallSpec(kMixed);
  ASSERT_TRUE(artifact::validateSpec(spec).isOk()) << artifact::validateSpec(spec).message();
  auto sm89 = findTarget("sm89");
  ASSERT_TRUE(sm89.isOk());
  auto plan = planModelKernels(spec, **sm89, false);
  ASSERT_TRUE(plan.isOk()) << plan.message();
  ASSERT_EQ(plan->layers.size(), kMixed.size());
  const GemmFormat expect[] = {GemmFormat::INT8, GemmFormat::W4A16, GemmFormat::FP8, GemmFormat::BF16,
                               GemmFormat::BF16};
  for (size_t l = 0; l < kMixed.size(); ++l) {
    const LayerKernels &k = plan->layers[l];
    for (const GemmKernels *g : {&k.qkv, &k.o, &k.gateUp, &k.down}) {
      EXPECT_EQ(g->decode.format, expect[l]) << "layer " << l;
      EXPECT_EQ(g->prefill.format, expect[l]) << "layer " << l;
    }
    // Fused shapes: q|k|v rows and gate|up rows.
    EXPECT_EQ(k.qkv.decode.n, (4 + 2 * 1) * 64);
    EXPECT_EQ(k.gateUp.decode.n, 2 * 768);
    EXPECT_TRUE(k.o.decode.residual && k.down.decode.residual && !k.qkv.decode.residual);
    // Activation quantisation follows the consuming GEMM's format.
    const QuantOut q = expect[l] == GemmFormat::INT8  ? QuantOut::Int8
                       : expect[l] == GemmFormat::FP8 ? QuantOut::Fp8
                                                      : QuantOut::None;
    EXPECT_EQ(k.inputNorm.quant, q);
    EXPECT_EQ(k.postNorm.quant, q);
    EXPECT_EQ(k.swiglu.quant, q);
    EXPECT_EQ(k.quantizeAttn, q != QuantOut::None);
  }
  EXPECT_EQ(plan->lmHead.decode.format, GemmFormat::BF16);
  EXPECT_EQ(plan->maxSeq, 1024);
  // unique(): sorted, no duplicates, holds all four GEMM formats.
  std::vector<KernelSpec> u = plan->unique();
  std::set<std::string> formats;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i) {
      EXPECT_LT(kernelName(u[i - 1]), kernelName(u[i]));
    }
    if (u[i].kind == KernelKind::Gemm) formats.insert(gemmFormatName(u[i].format));
  }
  EXPECT_EQ(formats, (std::set<std::string>{"bf16", "int8", "fp8", "w4a16"}));
}

TEST(ArtifactKernels, EveryTargetGetsEveryKernelAndBytesRepeat) {
  if (!haveNvrtc()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  ArtifactSpec spec = smallSpec(kMixed);
  const std::vector<std::string> targets = {"sm80", "sm_86", "sm89", "sm_90a"};
  const std::string cache = tempDir();
  auto first = compileArtifactKernels(spec, targets, /*fp8WeightOnly=*/true, cache);
  ASSERT_TRUE(first.isOk()) << first.message();
  ASSERT_EQ(first->size(), 4u);
  const char *names[] = {"sm_80", "sm_86", "sm_89", "sm_90a"};
  for (size_t t = 0; t < 4; ++t) {
    const artifact::TargetDecl &decl = (*first)[t];
    EXPECT_EQ(decl.target, names[t]);
    auto gpu = findTarget(names[t]);
    ASSERT_TRUE(gpu.isOk());
    auto plan = planModelKernels(spec, **gpu, true);
    ASSERT_TRUE(plan.isOk()) << plan.message();
    std::vector<KernelSpec> want = plan->unique();
    ASSERT_EQ(decl.kernels.size(), want.size()) << names[t];
    bool sawFp8 = false;
    for (size_t i = 0; i < want.size(); ++i) {
      const artifact::KernelDecl &k = decl.kernels[i];
      EXPECT_EQ(k.name, kernelName(want[i]));
      ASSERT_GE(k.cubin.size(), 4u) << k.name;
      EXPECT_EQ(std::string(k.cubin.begin(), k.cubin.begin() + 4), "\x7f" "ELF") << k.name;
      EXPECT_TRUE(contains(k.ptx, ".entry " + k.name)) << k.name;
      EXPECT_TRUE(contains(k.ptx, std::string(".target ") + names[t])) << k.name;
      EXPECT_EQ(k.sourceHash.size(), 16u);
      EXPECT_GT(k.block[0], 0u);
      if (want[i].kind == KernelKind::Gemm) {
        EXPECT_GT(k.grid[0], 0u);
        EXPECT_EQ(k.grid[1], 0u); // depends on M
        if (want[i].format == GemmFormat::FP8 || want[i].format == GemmFormat::FP8WeightOnly) sawFp8 = true;
        // fp8 tensor-core math where the target has it, the weight-only fallback elsewhere.
        const bool fp8Mma = std::string(names[t]) >= "sm_89";
        if (want[i].format == GemmFormat::FP8) {
          EXPECT_TRUE(fp8Mma) << k.name;
        }
        if (want[i].format == GemmFormat::FP8WeightOnly) {
          EXPECT_FALSE(fp8Mma) << k.name;
        }
      }
    }
    EXPECT_TRUE(sawFp8) << names[t];
  }
  EXPECT_TRUE(artifact::validateSpec([&] {
                ArtifactSpec s = spec;
                s.targets = *first;
                return s;
              }()).isOk());

  // Same spec -> same bytes (here served by the cache) ...
  auto second = compileArtifactKernels(spec, targets, true, cache);
  ASSERT_TRUE(second.isOk()) << second.message();
  ASSERT_EQ(second->size(), first->size());
  for (size_t t = 0; t < first->size(); ++t) {
    ASSERT_EQ((*second)[t].kernels.size(), (*first)[t].kernels.size());
    for (size_t i = 0; i < (*first)[t].kernels.size(); ++i) {
      const auto &a = (*first)[t].kernels[i], &b = (*second)[t].kernels[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.sourceHash, b.sourceHash);
      EXPECT_EQ(a.ptx, b.ptx);
      EXPECT_EQ(a.cubin, b.cubin);
      EXPECT_EQ(a.grid, b.grid);
      EXPECT_EQ(a.block, b.block);
    }
  }
  // ... and by a fresh NVRTC run (one target, empty cache).
  auto fresh = compileArtifactKernels(spec, {"sm_90a"}, true, tempDir());
  ASSERT_TRUE(fresh.isOk()) << fresh.message();
  ASSERT_EQ((*fresh)[0].kernels.size(), (*first)[3].kernels.size());
  for (size_t i = 0; i < (*fresh)[0].kernels.size(); ++i) {
    EXPECT_EQ((*fresh)[0].kernels[i].ptx, (*first)[3].kernels[i].ptx);
    EXPECT_EQ((*fresh)[0].kernels[i].cubin, (*first)[3].kernels[i].cubin);
  }
}

TEST(ArtifactKernels, UnsupportedShapesNameTheLayer) {
  // w4a16 group 64 in layer 1.
  {
    ArtifactSpec spec = smallSpec({WeightFormat::BF16, WeightFormat::W4A16}, 64);
    auto r = compileArtifactKernels(spec, {"sm80"}, false, tempDir());
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "layer 1")) << r.message();
    EXPECT_TRUE(contains(r.message(), "model.layers.1.self_attn.q_proj.weight")) << r.message();
    EXPECT_TRUE(contains(r.message(), "group size 64")) << r.message();
    EXPECT_TRUE(contains(r.message(), "multiple of 128")) << r.message();
  }
  // fp8 on sm_80 without the weight-only fallback.
  {
    ArtifactSpec spec = smallSpec({WeightFormat::FP8});
    auto r = compileArtifactKernels(spec, {"sm89", "sm80"}, false, tempDir());
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "sm_80")) << r.message();
    EXPECT_TRUE(contains(r.message(), "layer 0")) << r.message();
    EXPECT_TRUE(contains(r.message(), "weight-only fallback")) << r.message();
  }
  // q and k in different formats cannot share the fused qkv kernel.
  {
    ArtifactSpec spec = smallSpec({WeightFormat::INT8});
    for (TensorDecl &t : spec.tensors)
      if (t.name == "model.layers.0.self_attn.k_proj.weight") t.format = WeightFormat::FP8;
    auto r = compileArtifactKernels(spec, {"sm90"}, false, tempDir());
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "layer 0")) << r.message();
    EXPECT_TRUE(contains(r.message(), "one format")) << r.message();
  }
  // Unknown and repeated targets.
  {
    ArtifactSpec spec = smallSpec({WeightFormat::BF16});
    auto r = compileArtifactKernels(spec, {"sm75"}, false, tempDir());
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "sm75")) << r.message();
    r = compileArtifactKernels(spec, {"sm90", "sm_90a"}, false, tempDir());
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "twice")) << r.message();
  }
}

TEST(TileTable, RoundTripAndOverridesThePlan) {
  auto sm90 = findTarget("sm90");
  ASSERT_TRUE(sm90.isOk());
  ArtifactSpec spec = smallSpec({WeightFormat::INT8});
  auto plain = planModelKernels(spec, **sm90, false);
  ASSERT_TRUE(plain.isOk()) << plain.message();

  TileTable t;
  TileEntry e = qkvDecodeEntry();
  e.ms = 0.0125;
  t.entries.push_back(e);
  e.decode = false;
  e.tile = GemmTile{2, 8, 2, 1};
  t.entries.push_back(e);
  const std::string path = tempDir() + "/tiles.json";
  ASSERT_TRUE(writeTileTable(path, t).isOk());
  auto back = readTileTable(path);
  ASSERT_TRUE(back.isOk()) << back.message();
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_TRUE(back->entries[0].tile == (GemmTile{1, 2, 1, 4}));
  EXPECT_TRUE(back->entries[1].tile == (GemmTile{2, 8, 2, 1}));
  EXPECT_FALSE(back->entries[1].decode);
  EXPECT_DOUBLE_EQ(back->entries[0].ms, 0.0125);

  auto tuned = planModelKernels(spec, **sm90, false, &*back);
  ASSERT_TRUE(tuned.isOk()) << tuned.message();
  EXPECT_TRUE(tuned->layers[0].qkv.decode.tile == (GemmTile{1, 2, 1, 4}));
  EXPECT_TRUE(tuned->layers[0].qkv.prefill.tile == (GemmTile{2, 8, 2, 1}));
  // Shapes without an entry keep the built-in choice.
  EXPECT_TRUE(tuned->layers[0].down.decode.tile == plain->layers[0].down.decode.tile);
  EXPECT_NE(kernelName(tuned->layers[0].qkv.decode), kernelName(plain->layers[0].qkv.decode));
}

TEST(TileTable, BadFilesAreErrors) {
  const std::string dir = tempDir();
  auto write = [&](const std::string &name, const std::string &text) {
    const std::string p = dir + "/" + name;
    FILE *f = std::fopen(p.c_str(), "wb");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    return p;
  };
  auto expectError = [&](const std::string &text, const std::string &fragment) {
    auto r = readTileTable(write("t.json", text));
    ASSERT_FALSE(r.isOk()) << text;
    EXPECT_TRUE(contains(r.message(), fragment)) << r.message();
  };
  EXPECT_FALSE(readTileTable(dir + "/missing.json").isOk());
  expectError("{\"qcc_tile_table\": 1, \"entries\": [", "unexpected end");
  expectError("[1, 2]", "not a qcc tile table");
  expectError("{\"qcc_tile_table\": 2, \"entries\": []}", "version");
  const std::string entry = "\"target\": \"sm_80\", \"format\": \"int8\", \"n\": 64, \"k\": 64, \"bucket\": \"decode\", "
                            "\"mTiles\": 1, \"nTiles\": 4, \"warpsN\": 1";
  expectError("{\"qcc_tile_table\": 1, \"entries\": [{" + entry + ", \"kSplit\": 0}]}", "'kSplit' must be");
  expectError("{\"qcc_tile_table\": 1, \"entries\": [{" + entry + "}]}", "'kSplit' must be");
  expectError("{\"qcc_tile_table\": 1, \"entries\": [{" + entry + ", \"kSplit\": 1, \"wgmma\": 3}]}", "wgmma");
  std::string unknownTarget = entry;
  unknownTarget.replace(unknownTarget.find("sm_80"), 5, "sm_99");
  expectError("{\"qcc_tile_table\": 1, \"entries\": [{" + unknownTarget + ", \"kSplit\": 1}]}", "sm_99");
  auto ok = readTileTable(write("ok.json", "{\"qcc_tile_table\": 1, \"entries\": [{" + entry + ", \"kSplit\": 2}]}"));
  ASSERT_TRUE(ok.isOk()) << ok.message();
  EXPECT_EQ(ok->entries[0].tile.kSplit, 2);
}

// The compiler stores each target's tuned entries with its kernels, and the
// executor's plan (planArtifactTarget) finds every kernel it names; without
// the stored table the plan names the built-in tiles and says what is missing.
TEST(TileTable, StoredWithTheKernelsAndPlannedBack) {
  if (!haveNvrtc()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  ArtifactSpec spec = smallSpec({WeightFormat::INT8});
  TileTable t;
  t.entries.push_back(qkvDecodeEntry());
  auto kernels = compileArtifactKernels(spec, {"sm89", "sm90"}, false, tempDir(), &t);
  ASSERT_TRUE(kernels.isOk()) << kernels.message();
  ASSERT_EQ(kernels->size(), 2u);
  EXPECT_TRUE((*kernels)[0].tileTable.empty()); // no entries for sm_89
  auto stored = parseTileTable((*kernels)[1].tileTable, "stored");
  ASSERT_TRUE(stored.isOk()) << stored.message();
  ASSERT_EQ(stored->entries.size(), 1u);
  EXPECT_TRUE(stored->entries[0].tile == (GemmTile{1, 2, 1, 4}));

  for (const artifact::TargetDecl &decl : *kernels) {
    auto plan = planArtifactTarget(spec, decl);
    ASSERT_TRUE(plan.isOk()) << decl.target << ": " << plan.message();
  }
  auto plan90 = planArtifactTarget(spec, (*kernels)[1]);
  EXPECT_TRUE(plan90->layers[0].qkv.decode.tile == (GemmTile{1, 2, 1, 4}));
  bool named = false;
  for (const artifact::KernelDecl &k : (*kernels)[1].kernels) named |= k.name == kernelName(plan90->layers[0].qkv.decode);
  EXPECT_TRUE(named);

  artifact::TargetDecl withoutTable = (*kernels)[1];
  withoutTable.tileTable.clear();
  auto missing = planArtifactTarget(spec, withoutTable);
  ASSERT_FALSE(missing.isOk());
  EXPECT_TRUE(contains(missing.message(), "lack qcc_gemm_int8_n384_k256")) << missing.message();
  EXPECT_TRUE(contains(missing.message(), "built-in")) << missing.message();

  artifact::TargetDecl corrupt = (*kernels)[1];
  corrupt.tileTable = "{\"qcc_tile_table\": 1, \"entries\": [{\"target\": \"sm_99\"";
  auto bad = planArtifactTarget(spec, corrupt);
  ASSERT_FALSE(bad.isOk());
  EXPECT_TRUE(contains(bad.message(), "sm_90a tile table")) << bad.message();
}
