// The compressed-tensors export as a translation of the quantized IR: for the
// bundled model in every format (GPTQ w4a16 with and without act order, int8
// with SmoothQuant, fp8, AWQ, mixed per-layer rules) the folder read back with
// the exact decoder holds, layer by layer, the IR's codes and scales bit for
// bit and its dense tensors byte for byte; the same module gives the same
// bytes; shards carry a correct index; the config describes the schemes; a
// tied head is left to the embeddings; what vLLM cannot serve is refused.
#include "ExportTestUtil.h"

#include "frontends/compressed_tensors/Config.h"
#include "frontends/llama/LlamaConfig.h"
#include "frontends/llama/Safetensors.h"
#include "frontends/llama/StrictJson.h"

#include <map>
#include <set>

using namespace qcc;
using namespace qcc::testing;

namespace {

QuantizationOptions optionsFor(const std::string &format, const std::string &method) {
  QuantizationOptions o;
  o.format = format;
  o.method = method;
  o.calibSource = bundledModel() + "/calib.ids";
  o.calibSamples = 8;
  o.calibSeqLen = 64;
  return o;
}

Status exportTo(mlir::ModuleOp module, const std::string &dir, uint64_t maxShardBytes = 5000000000ull,
                bool overwrite = false) {
  ExportTranslateOptions options;
  options.outputDir = dir;
  options.maxShardBytes = maxShardBytes;
  options.overwrite = overwrite;
  auto summary = translateToCompressedTensors(module, options);
  return summary ? Status::ok() : summary.status();
}

const compressed_tensors::QuantScheme *schemeOf(const compressed_tensors::Config &c, const std::string &module) {
  for (const auto &s : c.schemes())
    for (const std::string &t : s.targets)
      if (t == module || t == "Linear") return &s;
  return nullptr;
}

struct Case {
  const char *name;
  QuantizationOptions options;
  std::string rules; // a --layer-formats file's text, or ""
};

class ExportRoundTrip : public ::testing::TestWithParam<int> {};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"w4a16-gptq", optionsFor("w4a16", "gptq"), ""});
  QuantizationOptions actOrder = optionsFor("w4a16", "gptq");
  actOrder.actOrder = true;
  actOrder.mseClip = true;
  out.push_back({"w4a16-gptq-actorder-mse", actOrder, ""});
  QuantizationOptions smooth = optionsFor("int8", "gptq");
  smooth.smoothQuantAlpha = 0.5;
  out.push_back({"int8-gptq-smoothquant", smooth, ""});
  out.push_back({"fp8", optionsFor("fp8", "rtn"), ""});
  // AWQ rescales the norms (f32 parameters); a bf16 rule keeps down_proj dense.
  out.push_back({"w4a16-awq", optionsFor("w4a16", "awq"), "\"re:.*[.]mlp[.]down_proj\": bf16\n"});
  out.push_back({"mixed-rules", optionsFor("w4a16", "rtn"), kMixedRules});
  return out;
}

TEST_P(ExportRoundTrip, FolderHoldsTheIrExactly) {
  Case c = cases()[GetParam()];
  SCOPED_TRACE(c.name);
  TempDir tmp;
  if (!c.rules.empty()) {
    writeFile(tmp.file("rules.yaml"), c.rules);
    c.options.layerFormatsFile = tmp.file("rules.yaml");
  }
  auto m = quantizeModel(bundledModel(), c.options);
  ASSERT_TRUE(m.isOk()) << m.message();
  const std::string out = tmp.file("out");
  Status s = exportTo(*m->module, out);
  ASSERT_TRUE(s.isOk()) << s.message();

  const int quantized = expectFolderMatchesIr(*m->module, out);
  EXPECT_GT(quantized, 0);
  EXPECT_EQ(listDir(out), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(readFile(out + "/tokenizer.json"), readFile(bundledModel() + "/tokenizer.json"));

  // config.json: the model's config and a quantization_config naming each
  // linear's scheme (what transformers and vLLM read).
  const std::string configText = readFile(out + "/config.json");
  auto llama = parseLlamaConfig(configText, "config.json");
  ASSERT_TRUE(llama.isOk()) << llama.message();
  auto source = parseLlamaConfig(readFile(bundledModel() + "/config.json"), "source");
  ASSERT_TRUE(source.isOk());
  EXPECT_EQ(llama->numLayers, source->numLayers);
  EXPECT_EQ(llama->ropeScaling.factor, source->ropeScaling.factor);
  EXPECT_EQ(llama->tieWordEmbeddings, false);
  auto qc = compressed_tensors::Config::fromConfigJson(configText, "config.json");
  ASSERT_TRUE(qc.isOk()) << qc.message();
  ASSERT_TRUE(qc->has_value());
  auto plan = planCompressedTensorsExport(*m->module, true);
  ASSERT_TRUE(plan.isOk());
  std::vector<std::string> bf16Linears;
  for (const auto &e : plan->entries) {
    if (e.kind != compressed_tensors::ExportEntry::Kind::Linear) continue;
    if (c.rules == kMixedRules) {
      EXPECT_EQ(formats::formatSpecName(e.format), mixedRulesFormat(e.name)) << e.name;
    } else if (c.options.method == "awq" && e.name.find(".mlp.down_proj") != std::string::npos) {
      EXPECT_EQ(e.format.format, formats::Format::BF16) << e.name;
    }
    if (e.format.format == formats::Format::BF16) {
      bf16Linears.push_back(e.name);
      continue;
    }
    const compressed_tensors::QuantScheme *scheme = schemeOf(**qc, e.name);
    ASSERT_NE(scheme, nullptr) << e.name;
    ASSERT_TRUE(scheme->weights.has_value());
    EXPECT_EQ(scheme->weights->numBits, e.format.format == formats::Format::W4A16 ? 4 : 8) << e.name;
    EXPECT_EQ(scheme->inputActivations.has_value(), e.format.format != formats::Format::W4A16) << e.name;
    if (e.format.format == formats::Format::W4A16) {
      EXPECT_EQ(scheme->weights->groupSize, e.format.groupSize);
    }
    EXPECT_EQ(scheme->weights->actorder, c.options.actOrder ? "weight" : "") << e.name;
  }
  EXPECT_EQ((*qc)->ignore(), bf16Linears);
  EXPECT_EQ(bf16Linears.back(), "lm_head");
  if (c.options.mseClip) {
    EXPECT_NE(configText.find("\"observer\": \"mse\""), std::string::npos);
  }

  // SmoothQuant's and AWQ's rewritten norms are f32 parameters: exported as such.
  if (c.options.smoothQuantAlpha || c.options.method == "awq") {
    auto ck = compressed_tensors::openCheckpoint(out);
    ASSERT_TRUE(ck.isOk());
    const TensorRef *norm = (*ck)->find("model.layers.0.input_layernorm.weight");
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(norm->dtype, DType::F32);
  }

  // The same module gives the same bytes.
  ASSERT_TRUE(exportTo(*m->module, tmp.file("again")).isOk());
  for (const std::string &f : listDir(out)) EXPECT_EQ(readFile(out + "/" + f), readFile(tmp.file("again/" + f))) << f;
}

INSTANTIATE_TEST_SUITE_P(Formats, ExportRoundTrip, ::testing::Range(0, int(cases().size())),
                         [](const ::testing::TestParamInfo<int> &info) {
                           std::string n = cases()[info.param].name;
                           for (char &ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Export, ShardsWithACorrectIndex) {
  auto m = quantizeModel(bundledModel(), optionsFor("fp8", "rtn"));
  ASSERT_TRUE(m.isOk()) << m.message();
  TempDir tmp;
  const uint64_t limit = 1 << 20;
  ASSERT_TRUE(exportTo(*m->module, tmp.file("one")).isOk());
  ASSERT_TRUE(exportTo(*m->module, tmp.file("sharded"), limit).isOk());
  expectFolderMatchesIr(*m->module, tmp.file("sharded"));

  auto index = json::parse(readFile(tmp.file("sharded/model.safetensors.index.json")), "index");
  ASSERT_TRUE(index.isOk()) << index.message();
  const json::Value *map = index->get("weight_map");
  ASSERT_NE(map, nullptr);
  std::map<std::string, std::string> shardOf;
  for (const auto &[tensor, file] : map->members()) shardOf[tensor] = file.asString();
  // Every tensor of every shard is indexed under its own shard, and nothing else is.
  std::set<std::string> shards;
  uint64_t total = 0;
  size_t tensors = 0;
  for (const std::string &f : listDir(tmp.file("sharded"))) {
    if (f.rfind("model-", 0) != 0) continue;
    shards.insert(f);
    auto st = SafetensorsFile::open(tmp.file("sharded/" + f));
    ASSERT_TRUE(st.isOk()) << st.message();
    uint64_t bytes = 0;
    for (const std::string &n : (*st)->names()) {
      EXPECT_EQ(shardOf[n], f) << n;
      bytes += (*st)->find(n)->byteSize();
      ++tensors;
    }
    EXPECT_LE(bytes, limit) << f;
    total += bytes;
  }
  EXPECT_GE(shards.size(), 3u);
  EXPECT_EQ(tensors, shardOf.size());
  EXPECT_EQ(index->get("metadata")->get("total_size")->asUint64(), total);
  // The single-file export holds the same tensors.
  auto one = SafetensorsFile::open(tmp.file("one/model.safetensors"));
  ASSERT_TRUE(one.isOk());
  EXPECT_EQ((*one)->names().size(), tensors);
  uint64_t oneTotal = 0;
  for (const std::string &n : (*one)->names()) oneTotal += (*one)->find(n)->byteSize();
  EXPECT_EQ(oneTotal, total);
}

// stories260K ties lm_head to the embeddings (and is f32): the head has no
// tensor of its own, config.json keeps the tie, and `ignore` names lm_head so
// that compressed-tensors attaches no scheme to it.
TEST(Export, TiedHeadIsTheEmbeddingTable) {
  const std::string dir = sharedDir() + "/models/stories260K";
  QuantizationOptions o;
  o.format = "int8";
  auto m = quantizeModel(dir, o);
  ASSERT_TRUE(m.isOk()) << m.message();
  TempDir tmp;
  Status s = exportTo(*m->module, tmp.file("out"));
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_GT(expectFolderMatchesIr(*m->module, tmp.file("out")), 0);
  auto ck = compressed_tensors::openCheckpoint(tmp.file("out"));
  ASSERT_TRUE(ck.isOk()) << ck.message();
  EXPECT_EQ((*ck)->find("lm_head.weight"), nullptr);
  EXPECT_EQ((*ck)->find("model.embed_tokens.weight")->dtype, DType::F32);
  const std::string configText = readFile(tmp.file("out/config.json"));
  EXPECT_NE(configText.find("\"tie_word_embeddings\": true"), std::string::npos);
  auto qc = compressed_tensors::Config::fromConfigJson(configText, "config.json");
  ASSERT_TRUE(qc.isOk() && qc->has_value());
  EXPECT_EQ((*qc)->ignore(), (std::vector<std::string>{"lm_head"}));

  // A quantized tied head has no faithful compressed-tensors form.
  o.includeLmHead = true;
  auto head = quantizeModel(dir, o);
  ASSERT_TRUE(head.isOk()) << head.message();
  expectError(translateToCompressedTensors(*head->module, {tmp.file("head")}),
              {"lm_head is int8 but the model ties it to model.embed_tokens.weight", "without --include-lm-head",
               "`lm_head: bf16` ahead of any rule"});
  EXPECT_EQ(listDir(tmp.path()), (std::vector<std::string>{"out"}));
}

TEST(Export, RefusesWhatVllmCannotServe) {
  TempDir tmp;
  // A quantized (untied) head: vLLM's ParallelLMHead takes no scheme.
  QuantizationOptions head = optionsFor("int8", "rtn");
  head.includeLmHead = true;
  auto m = quantizeModel(bundledModel(), head);
  ASSERT_TRUE(m.isOk()) << m.message();
  expectError(translateToCompressedTensors(*m->module, {tmp.file("out")}),
              {"lm_head is int8, but vLLM serves compressed-tensors checkpoints with an unquantized head",
               "without --include-lm-head"});

  // q|k|v in two formats: refused by the plan check, before anything is written.
  writeFile(tmp.file("rules.yaml"), "\"re:.*[.]k_proj\": int8\n");
  QuantizationOptions split = optionsFor("w4a16", "rtn");
  split.layerFormatsFile = tmp.file("rules.yaml");
  auto s = quantizeModel(bundledModel(), split);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto plan = planCompressedTensorsExport(*s->module, true);
  ASSERT_TRUE(plan.isOk()) << plan.message();
  expectStatusError(compressed_tensors::checkExportPlan(plan->config, plan->entries),
                    {"model.layers.0.self_attn.q_proj is w4a16:g128 but model.layers.0.self_attn.k_proj is int8",
                     "vLLM fuses q_proj, k_proj and v_proj into one linear"});
  expectError(translateToCompressedTensors(*s->module, {tmp.file("out")}), {"vLLM fuses"});

  // Formats chosen but weights not quantized: the translation needs codes.
  auto chosen = quantizeModel(bundledModel(), optionsFor("int8", "rtn"));
  ASSERT_TRUE(chosen.isOk());
  mlir::OwningOpRef<mlir::ModuleOp> copy;
  {
    auto checkpoint = Checkpoint::open(bundledModel());
    ASSERT_TRUE(checkpoint.isOk());
    auto module = importLlama(*chosen->context, **checkpoint, {});
    ASSERT_TRUE(module.isOk());
    copy = std::move(*module);
    mlir::PassManager pm(chosen->context.get(), mlir::ModuleOp::getOperationName());
    QccSelectFormatsOptions select;
    select.defaultFormat = "int8";
    pm.addPass(createQccSelectFormats(select));
    ASSERT_TRUE(mlir::succeeded(pm.run(*copy)));
  }
  expectError(translateToCompressedTensors(*copy, {tmp.file("out")}),
              {"linear 'model.layers.0.self_attn.q_proj' is int8 but its weight is not quantized yet"});
  EXPECT_EQ(listDir(tmp.path()), (std::vector<std::string>{"rules.yaml"}));

  // An existing folder is kept unless overwriting.
  ASSERT_EQ(::mkdir(tmp.file("out").c_str(), 0755), 0);
  writeFile(tmp.file("out/old.txt"), "old");
  expectStatusError(exportTo(*chosen->module, tmp.file("out")), {"out: the output folder already exists"});
  EXPECT_EQ(readFile(tmp.file("out/old.txt")), "old");
  ASSERT_TRUE(exportTo(*chosen->module, tmp.file("out"), 5000000000ull, /*overwrite=*/true).isOk());
  EXPECT_EQ(listDir(tmp.file("out")), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(listDir(tmp.path()), (std::vector<std::string>{"out", "rules.yaml"}));
}

} // namespace

namespace {

// generation_config.json (vLLM's and transformers' default sampling settings)
// travels from the checkpoint folder into the export as it is; a folder
// without one gives an export without one (the bundled model, above).
TEST(Export, CopiesTheGenerationConfig) {
  TempDir tmp;
  ASSERT_EQ(::mkdir(tmp.file("model").c_str(), 0755), 0);
  for (const char *f : {"config.json", "model.safetensors", "tokenizer.json"})
    writeFile(tmp.file(std::string("model/") + f), readFile(bundledModel() + "/" + f));
  const std::string generation = "{\n  \"bos_token_id\": 0,\n  \"eos_token_id\": [1, 2],\n  \"temperature\": 0.6\n}\n";
  writeFile(tmp.file("model/generation_config.json"), generation);
  auto m = quantizeModel(tmp.file("model"), optionsFor("fp8", "rtn"));
  ASSERT_TRUE(m.isOk()) << m.message();
  ASSERT_TRUE(exportTo(*m->module, tmp.file("out")).isOk());
  EXPECT_EQ(listDir(tmp.file("out")),
            (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(readFile(tmp.file("out/generation_config.json")), generation);
}

} // namespace
