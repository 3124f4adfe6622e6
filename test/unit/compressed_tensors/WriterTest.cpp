// The export writer: round trip export -> openCheckpoint -> decode is bit-exact
// for every format (random codes and scales), the output is deterministic,
// sharded when asked, atomic at the folder level, and refuses bad plans.
#include "CtTestUtil.h"

#include "frontends/llama/StrictJson.h"

#include <dirent.h>

using namespace qcc;
using namespace qcc::testing;
using namespace qcc::compressed_tensors;

namespace {

const formats::FormatSpec kBf16{formats::Format::BF16, 0}, kInt8{formats::Format::INT8, 0},
    kFp8{formats::Format::FP8, 0}, kW4g16{formats::Format::W4A16, 16}, kW4g32{formats::Format::W4A16, 32};

// Names in `dir`, sorted ("." and ".." left out).
std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void expectRoundTrip(const TinyModel &m, const std::string &dir) {
  auto ck = openCheckpoint(dir);
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const CompressedLayout *ct = compressedLayout(**ck);
  for (const auto &l : m.linears) {
    SCOPED_TRACE(l.first);
    if (l.second.format == formats::Format::BF16) {
      EXPECT_TRUE(ct == nullptr || !ct->isQuantized(l.first));
      const TensorRef *t = (*ck)->find(l.first + ".weight");
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(std::memcmp(t->data, l.second.weights.data(), l.second.weights.size()), 0);
      continue;
    }
    ASSERT_NE(ct, nullptr);
    auto q = ct->decode(**ck, l.first);
    ASSERT_TRUE(q.isOk()) << q.message();
    EXPECT_TRUE(sameLinear(*q, l.second));
  }
  for (const auto &d : m.dense) {
    const TensorRef *t = (*ck)->find(d.first);
    ASSERT_NE(t, nullptr) << d.first;
    EXPECT_EQ(std::memcmp(t->data, d.second.data(), d.second.size()), 0) << d.first;
  }
}

TEST(WriterTest, RoundTripEveryFormat) {
  for (formats::FormatSpec spec : {kW4g16, kW4g32, kInt8, kFp8, kBf16}) {
    SCOPED_TRACE(formats::formatSpecName(spec));
    TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : spec; }, 2);
    TempDir tmp;
    Status s = exportTiny(m, tmp.file("out"));
    ASSERT_TRUE(s.isOk()) << s.message();
    expectRoundTrip(m, tmp.file("out"));
  }
}

// One format per layer and a quantized lm_head: several config groups with explicit targets.
TEST(WriterTest, RoundTripMixedFormats) {
  TinyModel m = makeTinyModel(
      [&](const std::string &mod) {
        if (mod == "lm_head") return kInt8;
        if (mod.find("layers.0.self_attn") != std::string::npos) return kFp8;
        if (mod.find("layers.0.mlp") != std::string::npos) return kW4g32;
        if (mod.find("down_proj") != std::string::npos) return kBf16;
        return kW4g16;
      },
      2);
  TempDir tmp;
  Status s = exportTiny(m, tmp.file("out"));
  ASSERT_TRUE(s.isOk()) << s.message();
  expectRoundTrip(m, tmp.file("out"));
  std::string config = readFile(tmp.file("out/config.json"));
  EXPECT_NE(config.find(R"("format": "mixed-precision")"), std::string::npos);
  EXPECT_NE(config.find(R"("model.layers.1.mlp.down_proj")"), std::string::npos); // in ignore
  EXPECT_NE(config.find(R"("group_3")"), std::string::npos);                       // four formats
  EXPECT_EQ(config.find(R"("Linear")"), std::string::npos);                        // explicit targets
}

TEST(WriterTest, ConfigJsonIsAReadableLlamaConfig) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kW4g16; });
  TempDir tmp;
  ASSERT_TRUE(exportTiny(m, tmp.file("out")).isOk());
  std::string text = readFile(tmp.file("out/config.json"));
  auto parsed = parseLlamaConfig(text, "config.json");
  ASSERT_TRUE(parsed.isOk()) << parsed.message();
  EXPECT_EQ(parsed->eosTokenIds, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(parsed->ropeScaling.enabled);
  EXPECT_EQ(parsed->ropeTheta, 500000.0);
  EXPECT_EQ(parsed->rmsNormEps, 1e-5);
  auto qc = Config::fromConfigJson(text, "config.json");
  ASSERT_TRUE(qc.isOk()) << qc.message();
  ASSERT_TRUE(qc->has_value());
  EXPECT_EQ((*qc)->format(), "pack-quantized");
  EXPECT_EQ((*qc)->ignore(), (std::vector<std::string>{"lm_head"}));
  EXPECT_EQ((*qc)->schemes().size(), 1u);
  EXPECT_EQ((*qc)->schemes()[0].targets, (std::vector<std::string>{"Linear"}));
  EXPECT_NE(text.find(R"("rms_norm_eps": 1e-05)"), std::string::npos);
  EXPECT_NE(text.find(R"("rope_theta": 500000.0)"), std::string::npos);
}

TEST(WriterTest, DeterministicBytes) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kFp8 : kW4g16; }, 2);
  TempDir tmp;
  ExportOptions small;
  small.maxShardBytes = 20000;
  ASSERT_TRUE(exportTiny(m, tmp.file("a"), "", small).isOk());
  ASSERT_TRUE(exportTiny(m, tmp.file("b"), "", small).isOk());
  std::vector<std::string> files = listDir(tmp.file("a"));
  EXPECT_EQ(files, listDir(tmp.file("b")));
  EXPECT_GT(files.size(), 3u);
  for (const std::string &f : files) EXPECT_EQ(readFile(tmp.file("a/" + f)), readFile(tmp.file("b/" + f))) << f;
}

TEST(WriterTest, ShardsWithAnIndex) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kInt8; }, 2);
  TempDir tmp;
  ExportOptions small;
  small.maxShardBytes = 16384; // the 96 x 64 bf16 embedding (12288 bytes) fits; layers need several shards
  ASSERT_TRUE(exportTiny(m, tmp.file("out"), "", small).isOk());
  std::vector<std::string> files = listDir(tmp.file("out"));
  EXPECT_EQ(std::count(files.begin(), files.end(), "model.safetensors"), 0);
  ASSERT_NE(std::find(files.begin(), files.end(), "model.safetensors.index.json"), files.end());
  size_t shards = 0;
  uint64_t largest = 0;
  for (const std::string &f : files)
    if (f.rfind("model-", 0) == 0) {
      ++shards;
      auto st = SafetensorsFile::open(tmp.file("out/" + f));
      ASSERT_TRUE(st.isOk());
      uint64_t data = 0;
      for (const std::string &n : (*st)->names()) data += (*st)->find(n)->byteSize();
      largest = std::max(largest, data);
      EXPECT_NE(f.find("-of-0000"), std::string::npos) << f;
    }
  EXPECT_GE(shards, 3u);
  EXPECT_LE(largest, small.maxShardBytes);
  auto index = json::parse(readFile(tmp.file("out/model.safetensors.index.json")), "index");
  ASSERT_TRUE(index.isOk());
  const json::Value *total = index->get("metadata")->get("total_size");
  ASSERT_NE(total, nullptr);
  uint64_t sum = 0;
  for (const auto &d : m.dense) sum += d.second.size();
  for (const auto &l : m.linears) sum += l.second.weights.size() + 4 * l.second.scales.size();
  EXPECT_EQ(total->asUint64(), sum);
  expectRoundTrip(m, tmp.file("out"));
}

TEST(WriterTest, OneTensorLargerThanTheLimitGetsItsOwnShard) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kW4g16; });
  TempDir tmp;
  ExportOptions tiny;
  tiny.maxShardBytes = 100;
  ASSERT_TRUE(exportTiny(m, tmp.file("out"), "", tiny).isOk());
  expectRoundTrip(m, tmp.file("out"));
}

TEST(WriterTest, CopiesTokenizerFiles) {
  TinyModel m = makeTinyModel([&](const std::string &) { return kInt8; });
  TempDir tmp;
  ::mkdir(tmp.file("src").c_str(), 0755);
  writeFile(tmp.file("src/tokenizer.json"), "{\"tok\": 1}");
  writeFile(tmp.file("src/generation_config.json"), "{\"gen\": 2}");
  writeFile(tmp.file("src/unrelated.txt"), "no");
  ASSERT_TRUE(exportTiny(m, tmp.file("out"), tmp.file("src")).isOk());
  EXPECT_EQ(readFile(tmp.file("out/tokenizer.json")), "{\"tok\": 1}");
  EXPECT_EQ(readFile(tmp.file("out/generation_config.json")), "{\"gen\": 2}");
  EXPECT_EQ(listDir(tmp.file("out")), (std::vector<std::string>{"config.json", "generation_config.json",
                                                                "model.safetensors", "tokenizer.json"}));
}

// Failures leave neither the output folder nor a temporary one.
TEST(WriterTest, AtomicOnFailureAndWhenAbandoned) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kW4g16; }, 2);
  TempDir tmp;
  ExportOptions small;
  small.maxShardBytes = 16384;
  const std::string out = tmp.file("out");
  {
    // Abandoned after a few tensors (shards already finished in the temporary folder).
    auto w = ExportWriter::create(out, m.config, "", m.plan, small);
    ASSERT_TRUE(w.isOk()) << w.message();
    for (size_t i = 0; i < 8; ++i) {
      const ExportEntry &e = m.plan[i];
      Status s = e.kind == ExportEntry::Kind::Dense
                     ? (*w)->writeDense(e.name, m.dense.at(e.name).data(), m.dense.at(e.name).size())
                     : (*w)->writeLinear(e.name, m.linears.at(e.name));
      ASSERT_TRUE(s.isOk()) << s.message();
    }
    EXPECT_EQ(listDir(tmp.path()).size(), 1u); // the hidden temporary folder only
  }
  EXPECT_TRUE(listDir(tmp.path()).empty());
  {
    // A linear that disagrees with the plan: an error, and the temporary folder is gone.
    auto w = ExportWriter::create(out, m.config, "", m.plan, small);
    ASSERT_TRUE(w.isOk());
    ASSERT_TRUE((*w)->writeDense(m.plan[0].name, m.dense.at(m.plan[0].name).data(),
                                 m.dense.at(m.plan[0].name).size()).isOk());
    formats::QuantizedLinear wrong = randomLinear(kInt8, 64, 64, 1);
    // The plan's next entry after the embedding is input_layernorm (dense): writing a linear is out of order.
    expectStatusError((*w)->writeLinear("model.layers.0.self_attn.q_proj", wrong),
                      {"written out of order", "model.layers.0.input_layernorm.weight"});
    EXPECT_TRUE(listDir(tmp.path()).empty());
    expectStatusError((*w)->finish(), {"closed"});
  }
  {
    // finish() before every tensor is written.
    auto w = ExportWriter::create(out, m.config, "", m.plan, small);
    ASSERT_TRUE(w.isOk());
    expectStatusError((*w)->finish(), {"'model.embed_tokens.weight' and", "were never written"});
    EXPECT_TRUE(listDir(tmp.path()).empty());
  }
  {
    // A planned linear given in another format.
    TinyModel other = m;
    auto w = ExportWriter::create(out, m.config, "", m.plan, small);
    ASSERT_TRUE(w.isOk());
    size_t i = 0;
    for (; m.plan[i].kind == ExportEntry::Kind::Dense; ++i)
      ASSERT_TRUE((*w)->writeDense(m.plan[i].name, m.dense.at(m.plan[i].name).data(),
                                   m.dense.at(m.plan[i].name).size()).isOk());
    expectStatusError((*w)->writeLinear(m.plan[i].name, randomLinear(kInt8, 64, 64, 1)),
                      {"is int8 [64, 64]", "planned as w4a16:g16"});
    EXPECT_TRUE(listDir(tmp.path()).empty());
  }
}

TEST(WriterTest, ExistingOutputFolder) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kInt8; });
  TempDir tmp;
  const std::string out = tmp.file("out");
  ::mkdir(out.c_str(), 0755);
  writeFile(out + "/old.txt", "old");
  expectStatusError(exportTiny(m, out), {out, "already exists"});
  EXPECT_EQ(readFile(out + "/old.txt"), "old");
  ExportOptions replace;
  replace.overwrite = true;
  ASSERT_TRUE(exportTiny(m, out, "", replace).isOk());
  EXPECT_EQ(listDir(out), (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ(listDir(tmp.path()), (std::vector<std::string>{"out"})); // the old folder is gone
  expectRoundTrip(m, out);
  expectStatusError(exportTiny(m, tmp.file("missing/out")), {"parent folder", "does not exist"});
}

TEST(WriterTest, BadPlans) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kW4g16; });
  TempDir tmp;
  auto create = [&](std::vector<ExportEntry> plan) {
    return ExportWriter::create(tmp.file("out"), m.config, "", std::move(plan));
  };
  std::vector<ExportEntry> missing = m.plan;
  missing.pop_back();
  expectError(create(missing), {"the plan has no 'lm_head.weight'"});
  std::vector<ExportEntry> twice = m.plan;
  twice.push_back(twice[1]);
  expectError(create(twice), {"is planned twice"});
  std::vector<ExportEntry> shape = m.plan;
  for (auto &e : shape)
    if (e.name == "model.layers.0.mlp.up_proj") e.inFeatures = 32;
  expectError(create(shape), {"'model.layers.0.mlp.up_proj' is planned with shape [128, 32]", "[128, 64]"});
  std::vector<ExportEntry> unfused = m.plan;
  for (auto &e : unfused)
    if (e.name == "model.layers.0.self_attn.k_proj") e.format = kInt8;
  expectError(create(unfused), {"model.layers.0.self_attn.q_proj is w4a16:g16 but model.layers.0.self_attn.k_proj is int8",
                                "vLLM fuses"});
  std::vector<ExportEntry> group = m.plan;
  for (auto &e : group)
    if (e.name.find("mlp.down_proj") != std::string::npos) e.format = formats::FormatSpec{formats::Format::W4A16, 96};
  expectError(create(group), {"w4a16:g96 needs an even group size dividing 128"});
  EXPECT_TRUE(listDir(tmp.path()).empty());
}

} // namespace

namespace {

// Unquantized linears keep the dtype of their weight (f32 after SmoothQuant or
// AWQ rewrote it); a tied head is in `ignore`; callers add files.
TEST(WriterTest, DenseLinearsInTheirDtypeTiedHeadAndAddedFiles) {
  ModelConfig config = tinyConfig();
  config.tieWordEmbeddings = true;
  std::vector<ExportEntry> plan;
  std::map<std::string, std::vector<uint8_t>> bytes;
  uint32_t seed = 1;
  for (const auto &t : Checkpoint::expectedTensors(config)) {
    const bool linear = t.second.size() == 2 && t.first != "model.embed_tokens.weight";
    const std::string name = linear ? t.first.substr(0, t.first.size() - 7) : t.first;
    int64_t n = 1;
    for (int64_t d : t.second) n *= d;
    std::mt19937 rng(++seed);
    std::vector<uint8_t> b(size_t(4 * n));
    for (size_t i = 0; i < b.size(); i += 4) {
      float v = std::normal_distribution<float>(0.0f, 0.05f)(rng);
      std::memcpy(&b[i], &v, 4);
    }
    bytes[name] = b;
    if (linear) {
      ExportEntry e = ExportEntry::linear(name, kBf16, t.second[0], t.second[1]);
      e.dtype = DType::F32;
      plan.push_back(e);
    } else {
      plan.push_back(ExportEntry::dense(name, DType::F32, t.second));
    }
  }
  TempDir tmp;
  auto w = ExportWriter::create(tmp.file("out"), config, "", plan);
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_TRUE((*w)->writeFile("tokenizer.json", "{}", 2).isOk());
  expectStatusError((*w)->writeFile("config.json", "{}", 2), {"cannot be added", "the writer makes it"});
  w = ExportWriter::create(tmp.file("out"), config, "", plan);
  ASSERT_TRUE(w.isOk());
  expectStatusError((*w)->writeFile("../x", "{}", 2), {"not a plain file name"});
  w = ExportWriter::create(tmp.file("out"), config, "", plan);
  ASSERT_TRUE(w.isOk());
  ASSERT_TRUE((*w)->writeFile("tokenizer.json", "{}", 2).isOk());
  for (const ExportEntry &e : plan) {
    const auto &b = bytes.at(e.name);
    Status s = e.kind == ExportEntry::Kind::Dense ? (*w)->writeDense(e.name, b.data(), b.size())
                                                  : (*w)->writeDenseLinear(e.name, b.data(), b.size());
    ASSERT_TRUE(s.isOk()) << s.message();
  }
  ASSERT_TRUE((*w)->finish().isOk());
  EXPECT_EQ(listDir(tmp.file("out")), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(readFile(tmp.file("out/tokenizer.json")), "{}");
  auto ck = openCheckpoint(tmp.file("out"));
  ASSERT_TRUE(ck.isOk()) << ck.message();
  const TensorRef *q = (*ck)->find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, DType::F32);
  EXPECT_EQ(std::memcmp(q->data, bytes.at("model.layers.0.self_attn.q_proj").data(), q->byteSize()), 0);
  auto qc = Config::fromConfigJson(readFile(tmp.file("out/config.json")), "config.json");
  ASSERT_TRUE(qc.isOk() && qc->has_value());
  EXPECT_EQ((*qc)->ignore().back(), "lm_head");

  // A dense linear of the wrong size, or written as a quantized one.
  auto bad = ExportWriter::create(tmp.file("bad"), config, "", plan);
  ASSERT_TRUE(bad.isOk());
  for (size_t i = 0; plan[i].kind == ExportEntry::Kind::Dense; ++i)
    ASSERT_TRUE((*bad)->writeDense(plan[i].name, bytes.at(plan[i].name).data(), bytes.at(plan[i].name).size()).isOk());
  expectStatusError((*bad)->writeDenseLinear("model.layers.0.self_attn.q_proj", bytes.at("model.norm.weight").data(),
                                             16),
                    {"has 16 bytes, expected 16384 (F32 [64, 64])"});
  EXPECT_EQ(listDir(tmp.path()), (std::vector<std::string>{"out"}));
}

TEST(WriterTest, PlanAndOutputChecksBeforeWriting) {
  TinyModel m = makeTinyModel([&](const std::string &mod) { return mod == "lm_head" ? kBf16 : kW4g16; });
  EXPECT_TRUE(checkExportPlan(m.config, m.plan).isOk());
  std::vector<ExportEntry> split = m.plan;
  for (auto &e : split)
    if (e.name == "model.layers.0.mlp.up_proj") e.format = kFp8;
  expectStatusError(checkExportPlan(m.config, split),
                    {"model.layers.0.mlp.gate_proj is w4a16:g16 but model.layers.0.mlp.up_proj is fp8",
                     "vLLM fuses gate_proj and up_proj into one linear (gate_up_proj)"});
  TempDir tmp;
  writeFile(tmp.file("file"), "x");
  expectStatusError(checkExportOutput(tmp.file("file/out"), false), {"'" + tmp.file("file") + "' is not a folder"});
  expectStatusError(checkExportOutput(tmp.file("file"), true), {"exists and is not a folder"});
  EXPECT_TRUE(checkExportOutput(tmp.file("new"), false).isOk());
}

} // namespace
