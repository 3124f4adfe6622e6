// No-GPU checks of what the compiler writes per CUDA target: random
// checkpoints compiled by the real pipeline (import, compile pipeline,
// translation; test/unit/common CompiledModel.h) and read back by the loader.
//   * every target gets exactly the kernels its launch list names, as PTX and
//     a cubin, with the GEMM formats, the fused layout and the launches a
//     Llama forward needs (checked against LlamaKernelSet.h's independent
//     description of those kernels and a count of the launches);
//   * q, k and v (gate, up) in different formats become separate GEMMs;
//   * the same model compiles to the same bytes, from a cold or a warm cache;
//   * shapes and formats the kernels cannot take are errors naming the layer,
//     and leave no file;
//   * a `qcc tune` table reaches the kernels and is stored with the target.
#include "CompiledModel.h"
#include "LlamaKernelSet.h"

#include "codegen/cuda/Nvrtc.h"
#include "codegen/cuda/TileTable.h"
#include "runtime/artifact/ArtifactFile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
using qcc::cuda::testing::ModelFormat;

namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-translation-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

bool contains(const std::string &s, const std::string &needle) { return s.find(needle) != std::string::npos; }

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// hidden 256, intermediate 768, 4 heads of 64, 1 kv head, `layers` layers.
ModelConfig smallConfig(int64_t layers) {
  ModelConfig c;
  c.hiddenSize = 256;
  c.intermediateSize = 768;
  c.numLayers = layers;
  c.numHeads = 4;
  c.numKvHeads = 1;
  c.headDim = 64;
  c.vocabSize = 320;
  c.bosTokenId = 0;
  c.eosTokenIds = {1};
  c.maxPositionEmbeddings = 128;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  c.ropeScaling.originalMaxPositionEmbeddings = 32;
  return c;
}

// A checkpoint of `config` in a fresh folder; fixed seed (the weights do not
// matter here).
std::string checkpoint(const ModelConfig &config) {
  const std::string dir = tempDir() + "/checkpoint";
  Status s = qcc::test::writeRandomCheckpoint(dir, config, 7);
  EXPECT_TRUE(s.isOk()) << s.message();
  return dir;
}

QuantizationOptions options(const std::string &format, const std::string &targets,
                            const std::vector<std::pair<std::string, std::string>> &rules = {}) {
  QuantizationOptions o;
  o.format = format;
  o.targets = targets;
  o.fp8WeightOnly = true;
  if (!rules.empty()) {
    o.layerFormatsFile = tempDir() + "/rules.yaml";
    std::ofstream f(o.layerFormatsFile);
    for (const auto &[pattern, fmt] : rules) f << '"' << pattern << "\": " << fmt << "\n";
  }
  return o;
}

// Every layer in its own format: layer 0 int8, 1 w4a16, 2 fp8, 3 bf16.
const ModelFormat kLayerFormats[] = {ModelFormat::INT8, ModelFormat::W4A16, ModelFormat::FP8, ModelFormat::BF16};
const std::vector<std::pair<std::string, std::string>> kLayerRules = {
    {"layers.0.*", "int8"}, {"layers.1.*", "w4a16"}, {"layers.2.*", "fp8"}, {"*", "bf16"}};

// The kernels a Llama forward with those layer formats needs on `target`:
// each layer's own kernels (LlamaKernelSet.h), less the residual add (every
// residual lives in a GEMM epilogue).
std::set<std::string> expectedKernels(const ModelConfig &c, const GpuTarget &target) {
  std::set<std::string> names;
  for (ModelFormat f : kLayerFormats) {
    auto set = qcc::cuda::testing::llamaKernelSet(c, f, target, c.maxPositionEmbeddings, /*fp8WeightOnly=*/true);
    EXPECT_TRUE(set.isOk()) << set.message();
    if (!set) continue;
    for (const KernelSpec &s : *set)
      if (s.kind != KernelKind::Add) names.insert(kernelName(s));
  }
  return names;
}

const artifact::TargetDecl *findTargetDecl(const artifact::ArtifactSpec &spec, const std::string &name) {
  for (const artifact::TargetDecl &t : spec.targets)
    if (t.target == name) return &t;
  return nullptr;
}

} // namespace

TEST(CudaTranslation, EveryTargetGetsTheKernelsOfItsLaunchList) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  const ModelConfig c = smallConfig(4);
  const std::string ckpt = checkpoint(c);
  const std::string path = tempDir() + "/model.qcc";
  auto model = qcc::test::compileCheckpoint(ckpt, options("bf16", "sm80,sm86,sm89,sm90", kLayerRules), path);
  ASSERT_TRUE(model.isOk()) << model.message();
  auto file = artifact::ArtifactFile::open(path); // the loader's checks, launch lists included
  ASSERT_TRUE(file.isOk()) << file.message();
  const artifact::ArtifactSpec &spec = (*file)->spec();
  ASSERT_EQ(spec.targets.size(), 4u);

  std::set<std::string> allNames;
  for (const char *name : {"sm_80", "sm_86", "sm_89", "sm_90a"}) {
    SCOPED_TRACE(name);
    const artifact::TargetDecl *t = findTargetDecl(spec, name);
    ASSERT_NE(t, nullptr);
    auto gpu = findTarget(name);
    ASSERT_TRUE(gpu.isOk()) << gpu.message();
    const bool fp8Mma = (*gpu)->hasFp8Mma;

    // Exactly the kernels the Llama forward needs, each compiled.
    std::set<std::string> names;
    for (const artifact::KernelDecl &k : t->kernels) {
      EXPECT_TRUE(names.insert(k.name).second) << k.name << " twice";
      allNames.insert(k.name);
      ASSERT_GE(k.cubin.size(), 4u) << k.name;
      EXPECT_EQ(std::string(k.cubin.begin(), k.cubin.begin() + 4), "\x7f" "ELF") << k.name;
      EXPECT_TRUE(contains(k.ptx, ".entry " + k.name)) << k.name;
      EXPECT_TRUE(contains(k.ptx, std::string(".target ") + name)) << k.name;
      EXPECT_EQ(k.sourceHash.size(), 32u) << k.name;
      EXPECT_GT(k.block[0], 0u) << k.name;
      // fp8 tensor-core math where the target has it, the weight-only kernels elsewhere.
      if (contains(k.name, "_gemm_fp8_")) {
        EXPECT_TRUE(fp8Mma) << k.name;
      }
      if (contains(k.name, "_gemm_fp8w_")) {
        EXPECT_FALSE(fp8Mma) << k.name;
      }
      // The Hopper prefill GEMMs use wgmma; nothing else does.
      if (contains(k.name, "_wg")) {
        EXPECT_EQ(std::string(name), "sm_90a") << k.name;
        EXPECT_TRUE(contains(k.ptx, "wgmma.mma_async")) << k.name;
      }
    }
    EXPECT_EQ(names, expectedKernels(c, **gpu));
    EXPECT_TRUE(std::any_of(names.begin(), names.end(),
                            [&](const std::string &n) { return contains(n, fp8Mma ? "_gemm_fp8_" : "_gemm_fp8w_"); }));

    // The launches of one forward: per layer norm, q|k|v, rope, kv store,
    // attention, [quantize for W8A8], o_proj, norm, gate|up, swiglu,
    // down_proj; then embedding, final norm and lm_head. The int8 layer
    // quantises the attention output, the fp8 one only with fp8 mma.
    const size_t launches = 4 * 10 + 1 + (fp8Mma ? 1 : 0) + 3;
    EXPECT_EQ(t->launches.size(), launches);
    size_t gemms = 0;
    for (const artifact::LaunchDecl &l : t->launches) {
      ASSERT_FALSE(l.variants.empty()) << l.name;
      for (const artifact::KernelVariant &v : l.variants) ASSERT_LT(v.kernel, t->kernels.size()) << l.name;
      if (contains(t->kernels[l.variants[0].kernel].name, "qcc_gemm_")) {
        ++gemms;
        // A decode tile up to 16 rows and a prefill tile beyond, or one tile for all.
        if (l.variants.size() == 2) {
          EXPECT_EQ(l.variants[0].maxRows, kDecodeRows) << l.name;
          EXPECT_EQ(l.variants[1].maxRows, 0) << l.name;
        } else {
          EXPECT_EQ(l.variants.size(), 1u) << l.name;
        }
      }
    }
    EXPECT_EQ(gemms, 4u * 4 + 1);
    // One KV cache per layer, the kernels' cache length.
    ASSERT_EQ(t->caches.size(), 4u);
    for (const artifact::KvCacheDecl &kv : t->caches) {
      EXPECT_EQ(kv.kvHeads, 1);
      EXPECT_EQ(kv.headDim, 64);
    }
    EXPECT_EQ(t->maxSeq, c.maxPositionEmbeddings);
    // The w4a16 layer's weights are uploaded packed with their group scales.
    std::set<artifact::DeviceWeightLayout> layouts;
    for (const artifact::DeviceWeightDecl &w : t->weights) layouts.insert(w.layout);
    EXPECT_TRUE(layouts.count(artifact::DeviceWeightLayout::W4A16Codes));
    EXPECT_TRUE(layouts.count(artifact::DeviceWeightLayout::W4A16Scales));
    EXPECT_TRUE(layouts.count(artifact::DeviceWeightLayout::Codes));
    EXPECT_TRUE(layouts.count(artifact::DeviceWeightLayout::Bf16));
  }
  // The compiled model lists every kernel of every target (for host builds).
  std::set<std::string> listed;
  for (const GeneratedKernel &k : model->kernels) listed.insert(k.name);
  EXPECT_EQ(listed, allNames);
}

TEST(CudaTranslation, MixedProjectionFormatsAreSeparateGemms) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  const ModelConfig c = smallConfig(1);
  const std::string path = tempDir() + "/model.qcc";
  auto model = qcc::test::compileCheckpoint(
      checkpoint(c),
      options("w4a16", "sm86,sm90",
              {{"*.q_proj", "int8"}, {"*.k_proj", "fp8"}, {"*.v_proj", "w4a16"}, {"*.gate_proj", "fp8"},
               {"*.up_proj", "int8"}}),
      path);
  ASSERT_TRUE(model.isOk()) << model.message();
  auto file = artifact::ArtifactFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.message();
  for (const char *name : {"sm_86", "sm_90a"}) {
    SCOPED_TRACE(name);
    const artifact::TargetDecl *t = findTargetDecl((*file)->spec(), name);
    ASSERT_NE(t, nullptr);
    const bool fp8Mma = std::string(name) == "sm_90a";
    std::map<std::string, std::string> gemmOf; // launch name -> decode kernel
    std::set<std::string> kernels;
    for (const artifact::LaunchDecl &l : t->launches) {
      const std::string k = t->kernels[l.variants[0].kernel].name;
      kernels.insert(k);
      if (contains(k, "qcc_gemm_")) gemmOf[l.name] = k;
    }
    // q, k, v, o, gate, up, down and lm_head: eight GEMMs.
    EXPECT_EQ(gemmOf.size(), 8u);
    auto gemmFormat = [&](const std::string &layer) {
      auto it = gemmOf.find(layer);
      return it == gemmOf.end() ? std::string("none") : it->second.substr(9, it->second.find("_n") - 9);
    };
    EXPECT_EQ(gemmFormat("model.layers.0.self_attn.q_proj"), "int8");
    EXPECT_EQ(gemmFormat("model.layers.0.self_attn.k_proj"), fp8Mma ? "fp8" : "fp8w");
    EXPECT_EQ(gemmFormat("model.layers.0.self_attn.v_proj"), "w4a16");
    EXPECT_EQ(gemmFormat("model.layers.0.self_attn.o_proj"), "w4a16");
    EXPECT_EQ(gemmFormat("model.layers.0.mlp.gate_proj"), fp8Mma ? "fp8" : "fp8w");
    EXPECT_EQ(gemmFormat("model.layers.0.mlp.up_proj"), "int8");
    EXPECT_EQ(gemmFormat("model.layers.0.mlp.down_proj"), "w4a16");
    // RoPE, KV store and attention read packed q [T][256], k and v [T][64];
    // SwiGLU two packed [T][768] outputs.
    auto has = [&](const std::string &prefix) {
      return std::any_of(kernels.begin(), kernels.end(), [&](const std::string &k) { return k.rfind(prefix, 0) == 0; });
    };
    EXPECT_TRUE(has("qcc_attention_hq4_hkv1_d64_s128_ld256")) << ::testing::PrintToString(kernels);
    EXPECT_TRUE(has("qcc_kv_store_hkv1_d64_s128_ld64")) << ::testing::PrintToString(kernels);
    EXPECT_TRUE(has("qcc_swiglu_i768_ld768_")) << ::testing::PrintToString(kernels);
  }
}

// The same model gives the same file: twice from a cold NVRTC cache (NVRTC
// and the translation are deterministic) and once from the warm one.
TEST(CudaTranslation, SameModelSameBytes) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  const std::string ckpt = checkpoint(smallConfig(1));
  const char *saved = std::getenv("QCC_CACHE_DIR");
  const std::string savedCache = saved ? saved : "";
  std::vector<std::string> files;
  const std::string cold1 = tempDir(), cold2 = tempDir();
  for (const std::string &cache : {cold1, cold2, cold1}) {
    ::setenv("QCC_CACHE_DIR", cache.c_str(), 1);
    files.push_back(tempDir() + "/model.qcc");
    auto m = qcc::test::compileCheckpoint(ckpt, options("int8", "sm90"), files.back());
    ASSERT_TRUE(m.isOk()) << m.message();
  }
  if (saved) ::setenv("QCC_CACHE_DIR", savedCache.c_str(), 1);
  else ::unsetenv("QCC_CACHE_DIR");
  const std::string first = readAll(files[0]);
  ASSERT_GT(first.size(), 4096u);
  EXPECT_TRUE(first == readAll(files[1])) << "two cold compiles differ";
  EXPECT_TRUE(first == readAll(files[2])) << "the warm compile differs";
}

TEST(CudaTranslation, ShapesTheKernelsCannotTakeAreErrors) {
  const std::string dir = tempDir();
  auto expectError = [&](const ModelConfig &c, const QuantizationOptions &o, std::vector<std::string> fragments) {
    const std::string path = dir + "/never.qcc";
    auto r = qcc::test::compileCheckpoint(checkpoint(c), o, path);
    ASSERT_FALSE(r.isOk()) << "compiled: " << o.format << " for " << o.targets;
    for (const std::string &f : fragments) EXPECT_TRUE(contains(r.message(), f)) << r.message();
    EXPECT_FALSE(exists(path)) << "a failed compile left " << path;
  };
  // w4a16 groups of 64: the CPU takes them, the CUDA kernels do not.
  expectError(smallConfig(1), options("w4a16:64", "sm80"),
              {"model.layers.0.", "group size 64", "multiple of 128"});
  // fp8 W8A8 on sm_80 without the weight-only kernels.
  QuantizationOptions fp8 = options("fp8", "sm89,sm80");
  fp8.fp8WeightOnly = false;
  expectError(smallConfig(1), fp8, {"sm_80", "--fp8-weight-only"});
  // int8 with a hidden size that is not a multiple of the 64-wide k chunk.
  ModelConfig narrow = smallConfig(1);
  narrow.hiddenSize = 96;
  narrow.numHeads = 3;
  narrow.headDim = 32;
  expectError(narrow, options("int8", "sm90"), {"model.layers.0.", "k = 96", "multiple of 64"});
  // A target qcc has no kernels for.
  expectError(smallConfig(1), options("bf16", "sm75"), {"sm75"});
}

TEST(TileTable, RoundTrip) {
  TileTable t;
  TileEntry e;
  e.target = "sm_90a";
  e.format = GemmFormat::INT8;
  e.n = 384;
  e.k = 256;
  e.decode = true;
  e.tile = GemmTile{1, 2, 1, 4};
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
  const TileEntry *found = back->find("sm_90a", GemmFormat::INT8, 384, 256, true);
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->tile == (GemmTile{1, 2, 1, 4}));
  EXPECT_EQ(back->find("sm_89", GemmFormat::INT8, 384, 256, true), nullptr);
  EXPECT_TRUE(back->forTarget("sm_89").entries.empty());
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

// A tuned entry reaches the kernel of its shape on its target and is stored
// with that target; other shapes and targets keep the built-in tiles; a
// broken table is a compile error.
TEST(TileTable, TunedTilesReachTheKernelsAndAreStored) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  const ModelConfig c = smallConfig(1);
  const std::string ckpt = checkpoint(c);
  TileTable table;
  TileEntry e;
  e.target = "sm_90a";
  e.format = GemmFormat::INT8;
  e.n = (4 + 2) * 64; // q|k|v
  e.k = 256;
  e.decode = true;
  e.tile = GemmTile{1, 2, 1, 4};
  table.entries.push_back(e);
  const std::string dir = tempDir();
  ASSERT_TRUE(writeTileTable(dir + "/tiles.json", table).isOk());

  QuantizationOptions plain = options("int8", "sm89,sm90"), tuned = plain;
  tuned.tilesFile = dir + "/tiles.json";
  auto a = qcc::test::compileCheckpoint(ckpt, plain, dir + "/plain.qcc");
  ASSERT_TRUE(a.isOk()) << a.message();
  auto b = qcc::test::compileCheckpoint(ckpt, tuned, dir + "/tuned.qcc");
  ASSERT_TRUE(b.isOk()) << b.message();
  auto pf = artifact::ArtifactFile::open(dir + "/plain.qcc");
  ASSERT_TRUE(pf.isOk()) << pf.message();
  auto tf = artifact::ArtifactFile::open(dir + "/tuned.qcc");
  ASSERT_TRUE(tf.isOk()) << tf.message();
  auto names = [](const artifact::TargetDecl *t) {
    std::set<std::string> s;
    for (const artifact::KernelDecl &k : t->kernels) s.insert(k.name);
    return s;
  };
  const artifact::TargetDecl *plain90 = findTargetDecl((*pf)->spec(), "sm_90a"),
                             *tuned90 = findTargetDecl((*tf)->spec(), "sm_90a"),
                             *plain89 = findTargetDecl((*pf)->spec(), "sm_89"),
                             *tuned89 = findTargetDecl((*tf)->spec(), "sm_89");
  ASSERT_TRUE(plain90 && tuned90 && plain89 && tuned89);
  KernelSpec qkv;
  qkv.kind = KernelKind::Gemm;
  qkv.format = GemmFormat::INT8;
  qkv.n = e.n;
  qkv.k = e.k;
  qkv.tile = e.tile;
  const std::string tunedName = kernelName(qkv);
  EXPECT_TRUE(names(tuned90).count(tunedName)) << tunedName;
  EXPECT_FALSE(names(plain90).count(tunedName)) << tunedName;
  // Exactly one kernel changed on sm_90a (the q|k|v decode tile); none on sm_89.
  std::set<std::string> onlyPlain, onlyTuned;
  for (const std::string &n : names(plain90))
    if (!names(tuned90).count(n)) onlyPlain.insert(n);
  for (const std::string &n : names(tuned90))
    if (!names(plain90).count(n)) onlyTuned.insert(n);
  EXPECT_EQ(onlyTuned, std::set<std::string>{tunedName});
  EXPECT_EQ(onlyPlain.size(), 1u);
  EXPECT_EQ(names(plain89), names(tuned89));
  // The table travels with its target only.
  EXPECT_TRUE(plain90->tileTable.empty());
  EXPECT_TRUE(tuned89->tileTable.empty());
  auto stored = parseTileTable(tuned90->tileTable, "stored");
  ASSERT_TRUE(stored.isOk()) << stored.message();
  ASSERT_EQ(stored->entries.size(), 1u);
  EXPECT_TRUE(stored->entries[0].tile == e.tile);

  QuantizationOptions broken = plain;
  broken.tilesFile = dir + "/broken.json";
  { std::ofstream(broken.tilesFile) << "{\"qcc_tile_table\": 1, \"entries\": [{\"target\": \"sm_99\""; }
  auto r = qcc::test::compileCheckpoint(ckpt, broken, dir + "/broken.qcc");
  ASSERT_FALSE(r.isOk());
  EXPECT_TRUE(contains(r.message(), "broken.json")) << r.message();
  EXPECT_FALSE(exists(dir + "/broken.qcc"));
}
