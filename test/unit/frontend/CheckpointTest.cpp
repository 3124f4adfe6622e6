// Checkpoint folders: stories260K, synthetic single-file and sharded models,
// and the bad-folder suite (index rules, Llama tensor rules).
#include "frontends/llama/Checkpoint.h"

#include "frontends/llama/LlamaConfig.h"

#include "FrontendTestUtil.h"

#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

using namespace qcc;
using namespace qcc::testing;

namespace {

struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Sizes of the synthetic model: D 64, F 128, 2 layers, 4 heads, 2 kv heads
// (GQA 2:1), head_dim 16, vocab 100.
std::string configJson(bool tied, int layers = 2) {
  return std::string(R"({"architectures":["LlamaForCausalLM"],"model_type":"llama",)"
                     R"("hidden_size":64,"intermediate_size":128,"num_hidden_layers":)") +
         std::to_string(layers) +
         R"(,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,"vocab_size":100,)"
         R"("rms_norm_eps":1e-5,"rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3",)"
         R"("factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,)"
         R"("original_max_position_embeddings":64},"max_position_embeddings":256,)"
         R"("tie_word_embeddings":)" +
         (tied ? "true" : "false") + R"(,"bos_token_id":1,"eos_token_id":2,"torch_dtype":"bfloat16"})";
}

// The expected tensors of `configJson`, BF16, filled with a deterministic
// byte pattern that differs per tensor (finite values: bit 6 of each high
// byte cleared keeps every exponent below all-ones).
std::vector<OwnedTensor> makeTensors(bool tied) {
  Expected<ModelConfig> c = parseLlamaConfig(configJson(tied), "synthetic");
  EXPECT_TRUE(c.isOk());
  std::vector<OwnedTensor> out;
  uint32_t state = 12345;
  for (const auto &e : Checkpoint::expectedTensors(*c)) {
    OwnedTensor t{e.first, DType::BF16, e.second, {}};
    int64_t n = 1;
    for (int64_t d : e.second) n *= d;
    t.bytes.resize(static_cast<size_t>(n) * 2);
    for (size_t i = 0; i < t.bytes.size(); ++i) {
      state = state * 1664525u + 1013904223u;
      t.bytes[i] = static_cast<uint8_t>(state >> 24) & (i % 2 ? 0xBF : 0xFF);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<SafetensorsEntry> entries(const std::vector<OwnedTensor> &ts) {
  std::vector<SafetensorsEntry> out;
  for (const auto &t : ts) out.push_back({t.name, t.dtype, t.shape, t.bytes.data()});
  return out;
}

void writeSingle(const TempDir &dir, const std::vector<OwnedTensor> &ts, bool tied) {
  writeFile(dir.file("config.json"), configJson(tied));
  ASSERT_TRUE(writeSafetensors(dir.file("model.safetensors"), entries(ts)).isOk());
}

// Splits `ts` round-robin over `shards` files and writes the index; returns
// the shard name of each tensor.
std::map<std::string, std::string> writeSharded(const TempDir &dir,
                                                const std::vector<OwnedTensor> &ts, bool tied,
                                                int shards = 3) {
  writeFile(dir.file("config.json"), configJson(tied));
  std::vector<std::vector<SafetensorsEntry>> parts(shards);
  std::map<std::string, std::string> where;
  for (size_t i = 0; i < ts.size(); ++i) {
    int s = static_cast<int>(i % shards);
    parts[s].push_back({ts[i].name, ts[i].dtype, ts[i].shape, ts[i].bytes.data()});
    where[ts[i].name] = "model-0000" + std::to_string(s + 1) + "-of-0000" +
                        std::to_string(shards) + ".safetensors";
  }
  for (int s = 0; s < shards; ++s)
    EXPECT_TRUE(writeSafetensors(dir.file("model-0000" + std::to_string(s + 1) + "-of-0000" +
                                          std::to_string(shards) + ".safetensors"),
                                 parts[s]).isOk());
  return where;
}

void writeIndex(const TempDir &dir, const std::map<std::string, std::string> &where) {
  std::string j = R"({"metadata":{"total_size":1},"weight_map":{)";
  bool first = true;
  for (const auto &w : where) {
    j += (first ? "" : ",") + jsonQuote(w.first) + ":" + jsonQuote(w.second);
    first = false;
  }
  writeFile(dir.file("model.safetensors.index.json"), j + "}}");
}

// Rewrites the single-file model with one tensor changed by `edit`.
template <typename Edit>
Expected<std::unique_ptr<Checkpoint>> openEdited(const TempDir &dir, bool tied, Edit edit) {
  std::vector<OwnedTensor> ts = makeTensors(tied);
  edit(ts);
  writeFile(dir.file("config.json"), configJson(tied));
  EXPECT_TRUE(writeSafetensors(dir.file("model.safetensors"), entries(ts)).isOk());
  return Checkpoint::open(dir.path());
}

OwnedTensor *named(std::vector<OwnedTensor> &ts, const std::string &name) {
  for (auto &t : ts)
    if (t.name == name) return &t;
  ADD_FAILURE() << "no tensor " << name;
  return &ts[0];
}

} // namespace

TEST(Checkpoint, Stories260K) {
  auto r = Checkpoint::open(sharedDir() + "/models/stories260K");
  ASSERT_TRUE(r.isOk()) << r.message();
  const Checkpoint &ck = **r;
  EXPECT_EQ(ck.config().numLayers, 5);
  EXPECT_EQ(ck.config().numKvHeads, 4);
  EXPECT_EQ(ck.tensorNames().size(), 47u);
  EXPECT_TRUE(ck.ignoredTensorNames().empty());
  EXPECT_EQ(ck.find("lm_head.weight"), nullptr); // tied
  const TensorRef *v = ck.find("model.layers.4.self_attn.v_proj.weight");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->shape, (std::vector<int64_t>{32, 64})); // Hkv*Dh = 4*8
  float first;
  std::memcpy(&first, v->data, 4);
  EXPECT_FLOAT_EQ(first, 0.056523118168115616f); // read with Python's struct
  const TensorRef *norm = ck.find("model.norm.weight");
  ASSERT_NE(norm, nullptr);
  float last;
  std::memcpy(&last, static_cast<const char *>(norm->data) + 63 * 4, 4);
  EXPECT_FLOAT_EQ(last, 1.7077769041061401f);
  EXPECT_EQ(ck.contentHash().size(), 32u); // XXH3-128
  auto again = Checkpoint::open(sharedDir() + "/models/stories260K/");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ((*again)->contentHash(), ck.contentHash());
}

TEST(Checkpoint, ExpectedTensorsForLlama31_8B) {
  auto c = loadLlamaConfig(sharedDir() + "/models/llama-3.1-configs/Llama-3.1-8B-Instruct.config.json");
  ASSERT_TRUE(c.isOk()) << c.message();
  auto ex = Checkpoint::expectedTensors(*c);
  ASSERT_EQ(ex.size(), 1u + 32 * 9 + 1 + 1);
  std::map<std::string, std::vector<int64_t>> m(ex.begin(), ex.end());
  EXPECT_EQ(m["model.embed_tokens.weight"], (std::vector<int64_t>{128256, 4096}));
  EXPECT_EQ(m["model.layers.31.self_attn.q_proj.weight"], (std::vector<int64_t>{4096, 4096}));
  EXPECT_EQ(m["model.layers.0.self_attn.k_proj.weight"], (std::vector<int64_t>{1024, 4096}));
  EXPECT_EQ(m["model.layers.0.self_attn.o_proj.weight"], (std::vector<int64_t>{4096, 4096}));
  EXPECT_EQ(m["model.layers.0.mlp.down_proj.weight"], (std::vector<int64_t>{4096, 14336}));
  EXPECT_EQ(m["model.layers.0.mlp.up_proj.weight"], (std::vector<int64_t>{14336, 4096}));
  EXPECT_EQ(m["lm_head.weight"], (std::vector<int64_t>{128256, 4096}));
}

TEST(Checkpoint, SyntheticSingleFileWithIgnoredExtras) {
  TempDir dir;
  auto r = openEdited(dir, false, [](std::vector<OwnedTensor> &ts) {
    ts.push_back({"model.rotary_emb.inv_freq", DType::F32, {8}, std::vector<uint8_t>(32, 1)});
    ts.push_back({"model.layers.1.self_attn.rotary_emb.inv_freq", DType::F32, {8},
                  std::vector<uint8_t>(32, 2)});
  });
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ((*r)->ignoredTensorNames(),
            (std::vector<std::string>{"model.layers.1.self_attn.rotary_emb.inv_freq",
                                      "model.rotary_emb.inv_freq"}));
  EXPECT_EQ((*r)->config().headDim, 16);
  ASSERT_NE((*r)->find("lm_head.weight"), nullptr);
  EXPECT_EQ((*r)->shards().size(), 1u);
}

TEST(Checkpoint, TiedModelMayCarryLmHead) {
  TempDir dir;
  auto r = openEdited(dir, true, [](std::vector<OwnedTensor> &ts) {
    ts.push_back({"lm_head.weight", DType::BF16, {100, 64}, std::vector<uint8_t>(100 * 64 * 2, 3)});
  });
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_NE((*r)->find("lm_head.weight"), nullptr);
  EXPECT_TRUE((*r)->ignoredTensorNames().empty());
}

TEST(Checkpoint, SyntheticSharded) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false);
  writeIndex(dir, where);
  auto r = Checkpoint::open(dir.path());
  ASSERT_TRUE(r.isOk()) << r.message();
  const Checkpoint &ck = **r;
  EXPECT_EQ(ck.shards().size(), 3u);
  EXPECT_EQ(ck.tensorNames().size(), ts.size());
  for (const OwnedTensor &t : ts) {
    const TensorRef *ref = ck.find(t.name);
    ASSERT_NE(ref, nullptr) << t.name;
    EXPECT_EQ(ref->shape, t.shape);
    EXPECT_EQ(std::memcmp(ref->data, t.bytes.data(), t.bytes.size()), 0) << t.name;
  }
  // The same tensors in one file: a different layout, so a different hash;
  // and a config change changes it too.
  TempDir single;
  writeSingle(single, ts, false);
  auto s = Checkpoint::open(single.path());
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_NE(s->get()->contentHash(), ck.contentHash());
  std::string cfg = configJson(false);
  cfg.replace(cfg.find("1e-5"), 4, "1e-6");
  writeFile(single.file("config.json"), cfg);
  auto s2 = Checkpoint::open(single.path());
  ASSERT_TRUE(s2.isOk()) << s2.message();
  EXPECT_NE(s2->get()->contentHash(), s->get()->contentHash());
}

// ---- the bad-folder suite -----------------------------------------------

TEST(CheckpointBad, NotAFolderOrNoFiles) {
  TempDir dir;
  expectError(Checkpoint::open(dir.file("absent")), {dir.file("absent"), "cannot open model folder"});
  expectError(Checkpoint::open(dir.path()), {dir.file("config.json"), "cannot open"});
  writeFile(dir.file("config.json"), configJson(false));
  expectError(Checkpoint::open(dir.path()),
              {dir.path() + ": no model.safetensors or model.safetensors.index.json"});
  writeFile(dir.file("config.json"), "{\"model_type\":\"gpt2\"}");
  expectError(Checkpoint::open(dir.path()), {dir.file("config.json") + ": 'model_type' must be"});
}

TEST(CheckpointBad, BadSafetensorsInside) {
  TempDir dir;
  writeFile(dir.file("config.json"), configJson(false));
  writeFile(dir.file("model.safetensors"), u64le(50) + "{}");
  expectError(Checkpoint::open(dir.path()),
              {dir.file("model.safetensors") + ": header length 50 is beyond the end of the file"});
}

TEST(CheckpointBad, ShardPathEscapes) {
  struct Case { const char *shard, *problem; };
  for (Case c : {Case{"../x.safetensors", "escapes the model folder"},
                 Case{"a/../../x.safetensors", "escapes the model folder"},
                 Case{"..", "escapes the model folder"},
                 Case{"/etc/passwd", "is absolute"},
                 Case{"sub/x.safetensors", "is not a plain file name"},
                 Case{"", "empty shard path"}}) {
    SCOPED_TRACE(c.shard);
    TempDir dir;
    std::vector<OwnedTensor> ts = makeTensors(false);
    auto where = writeSharded(dir, ts, false);
    where["model.norm.weight"] = c.shard;
    writeIndex(dir, where);
    expectError(Checkpoint::open(dir.path()),
                {dir.file("model.safetensors.index.json") + ": ", c.problem});
  }
}

TEST(CheckpointBad, ShardSymlinkEscape) {
  TempDir dir, outside;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  // Move shard 2 outside and leave a symlink to it in the folder.
  std::string shard2 = "model-00002-of-00002.safetensors";
  ASSERT_EQ(::rename(dir.file(shard2).c_str(), outside.file(shard2).c_str()), 0);
  ASSERT_EQ(::symlink(outside.file(shard2).c_str(), dir.file(shard2).c_str()), 0);
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {dir.file("model.safetensors.index.json"), "shard '" + shard2 + "' resolves outside the model folder"});
}

TEST(CheckpointBad, TensorInTwoShards) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  // Shard 2 gets a second copy of a tensor that the index places in shard 1.
  std::string dup = "model.embed_tokens.weight";
  ASSERT_EQ(where[dup], "model-00001-of-00002.safetensors");
  std::vector<SafetensorsEntry> part2;
  for (const auto &t : ts)
    if (where[t.name] == "model-00002-of-00002.safetensors" || t.name == dup)
      part2.push_back({t.name, t.dtype, t.shape, t.bytes.data()});
  ASSERT_TRUE(writeSafetensors(dir.file("model-00002-of-00002.safetensors"), part2).isOk());
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {dir.file("model.safetensors.index.json"),
               "tensor 'model.embed_tokens.weight' is in two shards, 'model-00002-of-00002.safetensors' "
               "and 'model-00001-of-00002.safetensors'"});
}

TEST(CheckpointBad, IndexListsTensorMissingFromShard) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  where["model.layers.0.mlp.extra.weight"] = "model-00001-of-00002.safetensors";
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {dir.file("model.safetensors.index.json"),
               "tensor 'model.layers.0.mlp.extra.weight' is listed in shard "
               "'model-00001-of-00002.safetensors' but is missing from it"});
}

TEST(CheckpointBad, ShardTensorNotListed) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  where.erase("model.norm.weight");
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {"tensor 'model.norm.weight' is not listed in " + dir.file("model.safetensors.index.json")});
}

TEST(CheckpointBad, ShardListedInWrongFile) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  std::string t = "model.norm.weight";
  std::string actual = where[t];
  where[t] = actual == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors"
                                                          : "model-00001-of-00002.safetensors";
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {dir.file(actual), "tensor 'model.norm.weight' is in this shard but the index lists it in '" +
                                     where[t] + "'"});
}

TEST(CheckpointBad, ShardFileMissing) {
  TempDir dir;
  std::vector<OwnedTensor> ts = makeTensors(false);
  auto where = writeSharded(dir, ts, false, 2);
  where["model.norm.weight"] = "model-00003-of-00002.safetensors";
  writeIndex(dir, where);
  expectError(Checkpoint::open(dir.path()),
              {dir.file("model.safetensors.index.json"),
               "shard 'model-00003-of-00002.safetensors' (for tensor 'model.norm.weight') does not exist"});
}

TEST(CheckpointBad, MalformedIndex) {
  struct Case { const char *json, *problem; };
  for (Case c : {Case{"{", "invalid JSON at byte 1"},
                 Case{"[]", "top level is not an object"},
                 Case{"{\"metadata\":{}}", "no 'weight_map'"},
                 Case{"{\"weight_map\":[]}", "'weight_map' is not an object"},
                 Case{"{\"weight_map\":{}}", "'weight_map' lists no tensors"},
                 Case{"{\"weight_map\":{\"a\":1}}", "shard for tensor 'a' is not a string"},
                 Case{"{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", "duplicate key 'a'"}}) {
    SCOPED_TRACE(c.json);
    TempDir dir;
    writeFile(dir.file("config.json"), configJson(false));
    writeFile(dir.file("model.safetensors.index.json"), c.json);
    expectError(Checkpoint::open(dir.path()),
                {dir.file("model.safetensors.index.json") + ": ", c.problem});
  }
}

TEST(CheckpointBad, WrongShapeVsConfig) {
  TempDir dir;
  auto r = openEdited(dir, false, [](std::vector<OwnedTensor> &ts) {
    // k_proj sized as if there were no GQA: [H*Dh, D] instead of [Hkv*Dh, D].
    OwnedTensor *k = named(ts, "model.layers.1.self_attn.k_proj.weight");
    k->shape = {64, 64};
    k->bytes.resize(64 * 64 * 2);
  });
  expectError(r, {dir.file("model.safetensors") + ": tensor 'model.layers.1.self_attn.k_proj.weight' "
                  "has shape [64, 64] but config.json implies [32, 64]"});
  TempDir dir2;
  auto r2 = openEdited(dir2, false, [](std::vector<OwnedTensor> &ts) {
    named(ts, "model.layers.0.mlp.down_proj.weight")->shape = {128, 64}; // transposed
  });
  expectError(r2, {"tensor 'model.layers.0.mlp.down_proj.weight' has shape [128, 64] but "
                   "config.json implies [64, 128]"});
}

TEST(CheckpointBad, WrongDtype) {
  TempDir dir;
  auto r = openEdited(dir, false, [](std::vector<OwnedTensor> &ts) {
    OwnedTensor *n = named(ts, "model.norm.weight");
    n->dtype = DType::I16; // same byte size as BF16, so only the dtype is wrong
  });
  expectError(r, {dir.file("model.safetensors") + ": tensor 'model.norm.weight' has dtype I16; "
                  "Llama weights must be F32, BF16 or F16"});
}

TEST(CheckpointBad, MissingTensor) {
  TempDir dir;
  auto r = openEdited(dir, false, [](std::vector<OwnedTensor> &ts) {
    ts.erase(ts.begin() + 3); // layer 0's k_proj
  });
  expectError(r, {dir.path() + ": missing tensor 'model.layers.0.self_attn.k_proj.weight' "
                  "(expected shape [32, 64])"});
  TempDir dir2;
  auto r2 = openEdited(dir2, false, [](std::vector<OwnedTensor> &ts) { ts.pop_back(); });
  expectError(r2, {dir2.path() + ": missing tensor 'lm_head.weight'"});
}

TEST(CheckpointBad, TiedLmHeadWithWrongShape) {
  TempDir dir;
  auto r = openEdited(dir, true, [](std::vector<OwnedTensor> &ts) {
    ts.push_back({"lm_head.weight", DType::BF16, {64, 100}, std::vector<uint8_t>(100 * 64 * 2, 3)});
  });
  expectError(r, {"tensor 'lm_head.weight' has shape [64, 100] but config.json implies [100, 64]"});
}

TEST(CheckpointBad, ExtraLayerTensors) {
  TempDir dir;
  auto r = openEdited(dir, false, [](std::vector<OwnedTensor> &ts) {
    ts.push_back({"model.layers.2.input_layernorm.weight", DType::BF16, {64},
                  std::vector<uint8_t>(128, 0)});
  });
  expectError(r, {dir.file("model.safetensors") + ": tensor 'model.layers.2.input_layernorm.weight' "
                  "is for layer 2 but config.json has 2 layers"});
  TempDir dir2;
  auto r2 = openEdited(dir2, false, [](std::vector<OwnedTensor> &ts) {
    ts.push_back({"model.layers.0.self_attn.q_proj.bias", DType::BF16, {64},
                  std::vector<uint8_t>(128, 0)});
  });
  expectError(r2, {"unexpected tensor 'model.layers.0.self_attn.q_proj.bias' (not part of the Llama graph)"});
}

// The Hugging Face cache layout: <repo>/snapshots/<rev>/ holds symlinks
// ../../blobs/<hash> to the real files. The snapshot may point into its own
// repo's blobs/; anywhere else is still an escape.
TEST(Checkpoint, HuggingFaceCacheLayout) {
  TempDir cache;
  const std::string repo = cache.file("models--meta-llama--Tiny");
  const std::string snapshot = repo + "/snapshots/abc123";
  std::filesystem::create_directories(snapshot);
  std::filesystem::create_directories(repo + "/blobs");
  std::filesystem::create_directories(cache.file("elsewhere"));
  TempDir staging;
  std::vector<OwnedTensor> ts = makeTensors(false);
  writeIndex(staging, writeSharded(staging, ts, false, 2));
  for (const char *name : {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors"}) {
    const std::string blob = std::string("blob-") + name; // stands for the content hash
    ASSERT_EQ(::rename(staging.file(name).c_str(), (repo + "/blobs/" + blob).c_str()), 0);
    ASSERT_EQ(::symlink(("../../blobs/" + blob).c_str(), (snapshot + "/" + name).c_str()), 0);
  }
  auto r = Checkpoint::open(snapshot);
  ASSERT_TRUE(r.isOk()) << r.message();
  EXPECT_EQ((*r)->shards().size(), 2u);
  EXPECT_NE((*r)->find("model.norm.weight"), nullptr);

  // A shard that leaves for a folder that is not the repo's blobs/.
  const std::string shard2 = snapshot + "/model-00002-of-00002.safetensors";
  ASSERT_EQ(::rename((repo + "/blobs/blob-model-00002-of-00002.safetensors").c_str(),
                     cache.file("elsewhere/blob").c_str()),
            0);
  ASSERT_EQ(::unlink(shard2.c_str()), 0);
  ASSERT_EQ(::symlink("../../../elsewhere/blob", shard2.c_str()), 0);
  expectError(Checkpoint::open(snapshot),
              {"shard 'model-00002-of-00002.safetensors' resolves outside the model folder (",
               "elsewhere/blob) and its cache's blobs/ folder"});
}

// A FIFO where config.json or a weight file should be: an error at once.
TEST(CheckpointBad, FifoInputsDoNotHang) {
  for (const char *name : {"config.json", "model.safetensors"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    writeSingle(dir, makeTensors(false), false);
    ASSERT_EQ(::unlink(dir.file(name).c_str()), 0);
    ASSERT_EQ(::mkfifo(dir.file(name).c_str(), 0600), 0);
    expectError(Checkpoint::open(dir.path()), {dir.file(name) + ": not a regular file (a FIFO)"});
  }
}
