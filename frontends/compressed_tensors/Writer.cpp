#include "frontends/compressed_tensors/Writer.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/LlamaConfig.h"
#include "frontends/llama/Safetensors.h"
#include "support/MappedFile.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc::compressed_tensors {

namespace {

//===----------------------------------------------------------------------===//
// A small ordered JSON tree, printed like Python's json.dumps(indent=2).
//===----------------------------------------------------------------------===//

struct Json {
  enum class Kind { Raw, Object, Array } kind = Kind::Raw;
  std::string raw; // a scalar's text
  std::vector<std::pair<std::string, Json>> members;
  std::vector<Json> elements;

  static Json null() { return scalar("null"); }
  static Json scalar(std::string text) {
    Json j;
    j.raw = std::move(text);
    return j;
  }
  static Json str(const std::string &s) { return scalar(jsonQuote(s)); }
  static Json boolean(bool b) { return scalar(b ? "true" : "false"); }
  static Json integer(int64_t v) { return scalar(std::to_string(v)); }
  // As Python's repr: integral values below 1e16 as "500000.0", others as the
  // shortest decimal that reads back exactly ("1e-05").
  static Json number(double v) {
    char buf[40];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e16) {
      std::snprintf(buf, sizeof buf, "%.1f", v);
      return scalar(buf);
    }
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    return scalar(buf);
  }
  static Json object() {
    Json j;
    j.kind = Kind::Object;
    return j;
  }
  static Json array() {
    Json j;
    j.kind = Kind::Array;
    return j;
  }
  Json &add(const std::string &key, Json value) {
    members.emplace_back(key, std::move(value));
    return *this;
  }
  Json &push(Json value) {
    elements.push_back(std::move(value));
    return *this;
  }
  void print(std::string &out, int indent) const {
    const std::string pad(static_cast<size_t>(indent + 2), ' '), end(static_cast<size_t>(indent), ' ');
    if (kind == Kind::Raw) {
      out += raw;
    } else if (kind == Kind::Object) {
      if (members.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      for (size_t i = 0; i < members.size(); ++i) {
        out += pad + jsonQuote(members[i].first) + ": ";
        members[i].second.print(out, indent + 2);
        out += i + 1 < members.size() ? ",\n" : "\n";
      }
      out += end + "}";
    } else {
      if (elements.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < elements.size(); ++i) {
        out += pad;
        elements[i].print(out, indent + 2);
        out += i + 1 < elements.size() ? ",\n" : "\n";
      }
      out += end + "]";
    }
  }
  std::string text() const {
    std::string out;
    print(out, 0);
    return out + "\n";
  }
};

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool isQuantizedFormat(const formats::FormatSpec &f) { return f.format != formats::Format::BF16; }

// The config group a format maps to, keyed by formatSpecName.
struct Group {
  formats::FormatSpec spec;
  std::vector<std::string> modules;
  bool allMse = true, allActOrder = true;
};

Json weightArgs(const Group &g) {
  Json a = Json::object();
  const bool w4 = g.spec.format == formats::Format::W4A16;
  const bool fp8 = g.spec.format == formats::Format::FP8;
  a.add("actorder", g.allActOrder ? Json::str("weight") : Json::null());
  a.add("block_structure", Json::null());
  a.add("dynamic", Json::boolean(false));
  a.add("group_size", w4 ? Json::integer(g.spec.groupSize) : Json::null());
  a.add("num_bits", Json::integer(w4 ? 4 : 8));
  a.add("observer", Json::str(g.allMse ? "mse" : "minmax"));
  a.add("observer_kwargs", Json::object());
  a.add("scale_dtype", Json::null());
  a.add("strategy", Json::str(w4 ? "group" : "channel"));
  a.add("symmetric", Json::boolean(true));
  a.add("type", Json::str(fp8 ? "float" : "int"));
  a.add("zp_dtype", Json::null());
  return a;
}

Json tokenActivationArgs(bool fp8) {
  Json a = Json::object();
  a.add("actorder", Json::null());
  a.add("block_structure", Json::null());
  a.add("dynamic", Json::boolean(true));
  a.add("group_size", Json::null());
  a.add("num_bits", Json::integer(8));
  a.add("observer", Json::null());
  a.add("observer_kwargs", Json::object());
  a.add("scale_dtype", Json::null());
  a.add("strategy", Json::str("token"));
  a.add("symmetric", Json::boolean(true));
  a.add("type", Json::str(fp8 ? "float" : "int"));
  a.add("zp_dtype", Json::null());
  return a;
}

const char *ctFormat(formats::Format f) {
  switch (f) {
  case formats::Format::W4A16: return "pack-quantized";
  case formats::Format::INT8: return "int-quantized";
  case formats::Format::FP8: return "float-quantized";
  case formats::Format::BF16: return "dense";
  }
  return "dense";
}

Json quantizationConfig(const std::vector<ExportEntry> &plan, bool tiedHead) {
  std::vector<Group> groups;
  std::vector<std::string> ignore;
  for (const ExportEntry &e : plan) {
    if (e.kind != ExportEntry::Kind::Linear) continue;
    if (!isQuantizedFormat(e.format)) {
      ignore.push_back(e.name);
      continue;
    }
    std::string key = formats::formatSpecName(e.format);
    Group *g = nullptr;
    for (Group &c : groups)
      if (formats::formatSpecName(c.spec) == key) g = &c;
    if (!g) {
      groups.push_back(Group{e.format, {}, true, true});
      g = &groups.back();
    }
    g->modules.push_back(e.name);
    g->allMse &= e.mseClip;
    g->allActOrder &= e.actOrder;
  }
  Json cg = Json::object();
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group &g = groups[i];
    Json scheme = Json::object();
    scheme.add("format", Json::str(ctFormat(g.spec.format)));
    scheme.add("input_activations", g.spec.format == formats::Format::W4A16
                                        ? Json::null()
                                        : tokenActivationArgs(g.spec.format == formats::Format::FP8));
    scheme.add("output_activations", Json::null());
    Json targets = Json::array();
    if (groups.size() == 1) targets.push(Json::str("Linear"));
    else
      for (const std::string &m : g.modules) targets.push(Json::str(m));
    scheme.add("targets", std::move(targets));
    scheme.add("weights", weightArgs(g));
    cg.add("group_" + std::to_string(i), std::move(scheme));
  }
  // A head tied to the embedding table has no tensors of its own; without
  // this entry compressed-tensors would attach the `Linear` scheme to it.
  if (tiedHead) ignore.push_back("lm_head");
  Json ig = Json::array();
  for (const std::string &m : ignore) ig.push(Json::str(m));
  Json qc = Json::object();
  qc.add("config_groups", std::move(cg));
  qc.add("format", Json::str(groups.empty() ? "dense"
                             : groups.size() == 1 ? ctFormat(groups[0].spec.format)
                                                  : "mixed-precision"));
  qc.add("global_compression_ratio", Json::null());
  qc.add("ignore", std::move(ig));
  qc.add("kv_cache_scheme", Json::null());
  qc.add("quant_method", Json::str("compressed-tensors"));
  qc.add("quantization_status", Json::str("compressed"));
  qc.add("sparsity_config", Json::object());
  qc.add("transform_config", Json::object());
  qc.add("version", Json::str("0.19.0"));
  return qc;
}

Json modelConfigJson(const ModelConfig &c, const std::vector<ExportEntry> &plan) {
  Json j = Json::object();
  j.add("architectures", Json::array().push(Json::str("LlamaForCausalLM")));
  j.add("attention_bias", Json::boolean(false));
  j.add("bos_token_id", c.bosTokenId >= 0 ? Json::integer(c.bosTokenId) : Json::null());
  if (c.eosTokenIds.empty()) j.add("eos_token_id", Json::null());
  else if (c.eosTokenIds.size() == 1) j.add("eos_token_id", Json::integer(c.eosTokenIds[0]));
  else {
    Json eos = Json::array();
    for (int64_t id : c.eosTokenIds) eos.push(Json::integer(id));
    j.add("eos_token_id", std::move(eos));
  }
  j.add("head_dim", Json::integer(c.headDim));
  j.add("hidden_act", Json::str("silu"));
  j.add("hidden_size", Json::integer(c.hiddenSize));
  j.add("intermediate_size", Json::integer(c.intermediateSize));
  j.add("max_position_embeddings", Json::integer(c.maxPositionEmbeddings));
  j.add("mlp_bias", Json::boolean(false));
  j.add("model_type", Json::str("llama"));
  j.add("num_attention_heads", Json::integer(c.numHeads));
  j.add("num_hidden_layers", Json::integer(c.numLayers));
  j.add("num_key_value_heads", Json::integer(c.numKvHeads));
  j.add("quantization_config", quantizationConfig(plan, c.tieWordEmbeddings));
  j.add("rms_norm_eps", Json::number(c.rmsNormEps));
  if (c.ropeScaling.enabled) {
    Json rs = Json::object();
    rs.add("factor", Json::number(c.ropeScaling.factor));
    rs.add("high_freq_factor", Json::number(c.ropeScaling.highFreqFactor));
    rs.add("low_freq_factor", Json::number(c.ropeScaling.lowFreqFactor));
    rs.add("original_max_position_embeddings", Json::integer(c.ropeScaling.originalMaxPositionEmbeddings));
    rs.add("rope_type", Json::str("llama3"));
    j.add("rope_scaling", std::move(rs));
  } else {
    j.add("rope_scaling", Json::null());
  }
  j.add("rope_theta", Json::number(c.ropeTheta));
  j.add("tie_word_embeddings", Json::boolean(c.tieWordEmbeddings));
  j.add("torch_dtype", Json::str(torchDtypeName(c.torchDtype)));
  j.add("vocab_size", Json::integer(c.vocabSize));
  return j;
}

// One safetensors tensor of the output.
struct OutTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t bytes() const {
    uint64_t n = dtypeSize(dtype);
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  }
};

std::vector<OutTensor> tensorsOf(const ExportEntry &e) {
  if (e.kind == ExportEntry::Kind::Dense) return {{e.name, e.dtype, e.shape}};
  const int64_t N = e.outFeatures, K = e.inFeatures;
  const std::string &m = e.name;
  switch (e.format.format) {
  case formats::Format::BF16: return {{m + ".weight", e.dtype, {N, K}}};
  case formats::Format::W4A16:
    return {{m + ".weight_packed", DType::I32, {N, (K + 7) / 8}},
            {m + ".weight_scale", DType::F32, {N, K / e.format.groupSize}},
            {m + ".weight_shape", DType::I64, {2}}};
  case formats::Format::INT8:
    return {{m + ".weight", DType::I8, {N, K}}, {m + ".weight_scale", DType::F32, {N, 1}}};
  case formats::Format::FP8:
    return {{m + ".weight", DType::F8E4M3, {N, K}}, {m + ".weight_scale", DType::F32, {N, 1}}};
  }
  return {};
}

const char *kCopiedFiles[] = {"tokenizer.json",    "tokenizer_config.json", "special_tokens_map.json",
                              "tokenizer.model",   "generation_config.json", "chat_template.jinja",
                              "chat_template.json"};

Status writeTextFile(const std::string &path, const std::string &text) {
  auto w = AtomicFileWriter::create(path);
  if (!w) return w.status();
  QCC_RETURN_IF_ERROR((*w)->write(text.data(), text.size()));
  return (*w)->commit();
}

Status copyFile(const std::string &from, const std::string &to) {
  auto in = MappedFile::open(from);
  if (!in) return in.status();
  auto w = AtomicFileWriter::create(to);
  if (!w) return w.status();
  if ((*in)->size() > 0) QCC_RETURN_IF_ERROR((*w)->write((*in)->data(), (*in)->size()));
  return (*w)->commit();
}

Status syncDirectory(const std::string &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::error(dir + ": cannot open folder to sync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::error(dir + ": fsync failed: " + std::strerror(errno));
  return Status::ok();
}

std::string parentOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

} // namespace

ExportEntry ExportEntry::dense(std::string name, DType dtype, std::vector<int64_t> shape) {
  ExportEntry e;
  e.kind = Kind::Dense;
  e.name = std::move(name);
  e.dtype = dtype;
  e.shape = std::move(shape);
  return e;
}

ExportEntry ExportEntry::linear(std::string module, formats::FormatSpec format, int64_t N, int64_t K) {
  ExportEntry e;
  e.kind = Kind::Linear;
  e.name = std::move(module);
  e.format = format;
  e.outFeatures = N;
  e.inFeatures = K;
  return e;
}

Expected<std::string> quantizationConfigJson(const std::vector<ExportEntry> &plan, bool tiedHead) {
  return quantizationConfig(plan, tiedHead).text();
}

Status checkExportPlan(const ModelConfig &config, const std::vector<ExportEntry> &plan) {
  // The plan covers the Llama graph exactly once, with the config's shapes.
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto &t : Checkpoint::expectedTensors(config)) expected[t.first] = t.second;
  std::map<std::string, formats::FormatSpec> linearFormat;
  std::set<std::string> seen;
  auto floatDtype = [](DType d) { return d == DType::F32 || d == DType::BF16 || d == DType::F16; };
  for (const ExportEntry &e : plan) {
    std::string tensor = e.kind == ExportEntry::Kind::Linear ? e.name + ".weight" : e.name;
    std::vector<int64_t> shape =
        e.kind == ExportEntry::Kind::Linear ? std::vector<int64_t>{e.outFeatures, e.inFeatures} : e.shape;
    auto it = expected.find(tensor);
    if (it == expected.end())
      return Status::error("'" + e.name + "' is not a tensor of the Llama model the config describes");
    if (!seen.insert(tensor).second) return Status::error("'" + e.name + "' is planned twice");
    if (shape != it->second)
      return Status::error("'" + e.name + "' is planned with shape " + shapeText(shape) + " but the config implies " +
                           shapeText(it->second));
    if (e.kind == ExportEntry::Kind::Dense && e.shape.size() == 2 && tensor != "model.embed_tokens.weight")
      return Status::error("linear '" + e.name + "' must be planned as a linear, not a dense tensor");
    if (e.kind == ExportEntry::Kind::Linear) {
      if (tensor == "model.embed_tokens.weight")
        return Status::error("the embedding table must be planned as a dense tensor");
      if (e.format.format == formats::Format::W4A16 &&
          (e.format.groupSize <= 0 || e.format.groupSize % 2 != 0 || e.inFeatures % e.format.groupSize != 0))
        return Status::error("'" + e.name + "': " + formats::formatSpecName(e.format) +
                             " needs an even group size dividing " + std::to_string(e.inFeatures));
      if (e.format.format == formats::Format::BF16 && !floatDtype(e.dtype))
        return Status::error("linear '" + e.name + "' has dtype " + dtypeName(e.dtype) +
                             "; unquantized Llama weights must be F32, BF16 or F16");
      linearFormat[e.name] = e.format;
    } else if (!floatDtype(e.dtype)) {
      return Status::error("dense tensor '" + e.name + "' has dtype " + dtypeName(e.dtype) +
                           "; Llama weights must be F32, BF16 or F16");
    }
  }
  for (const auto &t : expected)
    if (!seen.count(t.first)) return Status::error("the plan has no '" + t.first + "'");
  // vLLM fuses q|k|v and gate|up into one linear each: one scheme per set.
  for (int64_t l = 0; l < config.numLayers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    for (const auto &set : {std::vector<std::string>{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                            std::vector<std::string>{"mlp.gate_proj", "mlp.up_proj"}}) {
      const formats::FormatSpec &first = linearFormat[p + set[0]];
      for (const std::string &m : set)
        if (formats::formatSpecName(linearFormat[p + m]) != formats::formatSpecName(first))
          return Status::error(p + set[0] + " is " + formats::formatSpecName(first) + " but " + p + m + " is " +
                               formats::formatSpecName(linearFormat[p + m]) + "; vLLM fuses " +
                               (set.size() == 3 ? "q_proj, k_proj and v_proj into one linear (qkv_proj)"
                                                : "gate_proj and up_proj into one linear (gate_up_proj)") +
                               ", so they must share one format");
    }
  }
  return Status::ok();
}

Status checkExportOutput(const std::string &outDirIn, bool overwrite) {
  std::string outDir = outDirIn;
  while (outDir.size() > 1 && outDir.back() == '/') outDir.pop_back();
  if (outDir.empty()) return Status::error("export: empty output folder name");
  struct stat st;
  const std::string parent = parentOf(outDir);
  if (::stat(parent.c_str(), &st) != 0)
    return Status::error(outDir + ": the parent folder '" + parent + "' does not exist");
  if (!S_ISDIR(st.st_mode)) return Status::error(outDir + ": '" + parent + "' is not a folder");
  if (::stat(outDir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::error(outDir + ": exists and is not a folder");
    if (!overwrite) return Status::error(outDir + ": the output folder already exists");
  }
  return Status::ok();
}

struct ExportWriter::Impl {
  std::string outDir, tempDir, sourceDir;
  ModelConfig config;
  ExportOptions options;
  std::vector<ExportEntry> plan;
  std::vector<std::vector<OutTensor>> shards; // output tensors per shard
  std::vector<std::string> shardNames;
  size_t nextEntry = 0, currentShard = 0, tensorsLeftInShard = 0;
  std::unique_ptr<SafetensorsWriter> shard;
  std::map<std::string, size_t> shardOf; // tensor -> shard index
  std::set<std::string> extraFiles;       // written by writeFile()
  bool closed = false;

  ~Impl() { discard(); }
  void discard() {
    shard.reset();
    if (!tempDir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(tempDir, ec);
      tempDir.clear();
    }
    closed = true;
  }
  Status fail(const Status &s) {
    discard();
    return s;
  }
  // Writes one output tensor into the current shard, opening shards as needed.
  Status put(const OutTensor &t, const void *data, size_t bytes) {
    if (!shard) {
      std::vector<SafetensorsWriter::Decl> decls;
      for (const OutTensor &o : shards[currentShard]) decls.push_back({o.name, o.dtype, o.shape});
      auto w = SafetensorsWriter::create(tempDir + "/" + shardNames[currentShard], std::move(decls), {{"format", "pt"}});
      if (!w) return w.status();
      shard = std::move(*w);
      tensorsLeftInShard = shards[currentShard].size();
    }
    QCC_RETURN_IF_ERROR(shard->write(t.name, data, bytes));
    if (--tensorsLeftInShard == 0) {
      QCC_RETURN_IF_ERROR(shard->finish());
      shard.reset();
      ++currentShard;
    }
    return Status::ok();
  }
  Status checkNext(const std::string &name, ExportEntry::Kind kind) {
    if (closed) return Status::error(outDir + ": the export writer is closed");
    if (nextEntry >= plan.size())
      return fail(Status::error(outDir + ": '" + name + "' written after every planned tensor"));
    const ExportEntry &e = plan[nextEntry];
    if (e.name != name || e.kind != kind)
      return fail(Status::error(outDir + ": '" + name + "' written out of order (next planned: '" + e.name + "')"));
    return Status::ok();
  }
};

ExportWriter::ExportWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExportWriter::~ExportWriter() = default;

Expected<std::unique_ptr<ExportWriter>> ExportWriter::create(const std::string &outDirIn, const ModelConfig &config,
                                                             const std::string &sourceDir,
                                                             std::vector<ExportEntry> plan,
                                                             const ExportOptions &options) {
  std::string outDir = outDirIn;
  while (outDir.size() > 1 && outDir.back() == '/') outDir.pop_back();
  if (outDir.empty()) return Status::error("export: empty output folder name");
  if (options.maxShardBytes == 0) return Status::error(outDir + ": the shard size limit must be positive");

  Status planOk = checkExportPlan(config, plan);
  if (!planOk) return planOk.withContext(outDir);
  QCC_RETURN_IF_ERROR(checkExportOutput(outDir, options.overwrite));
  const std::string parent = parentOf(outDir);

  auto impl = std::make_unique<Impl>();
  impl->outDir = outDir;
  impl->sourceDir = sourceDir;
  impl->config = config;
  impl->options = options;
  impl->plan = std::move(plan);

  // Shards: greedy in plan order.
  std::vector<std::vector<OutTensor>> shards(1);
  uint64_t shardBytes = 0;
  for (const ExportEntry &e : impl->plan)
    for (const OutTensor &t : tensorsOf(e)) {
      if (!shards.back().empty() && shardBytes + t.bytes() > options.maxShardBytes) {
        shards.emplace_back();
        shardBytes = 0;
      }
      shards.back().push_back(t);
      shardBytes += t.bytes();
    }
  if (shards.size() > 99999) return Status::error(outDir + ": the shard size limit gives more than 99999 shards");
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards.size() == 1) {
      impl->shardNames.push_back("model.safetensors");
    } else {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      impl->shardNames.push_back(name);
    }
    for (const OutTensor &t : shards[i]) impl->shardOf[t.name] = i;
  }
  impl->shards = std::move(shards);

  std::string base = outDir.substr(outDir.rfind('/') == std::string::npos ? 0 : outDir.rfind('/') + 1);
  std::string tmpl = parent + "/." + base + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    return Status::error(outDir + ": cannot create a temporary folder next to it: " + std::strerror(errno));
  impl->tempDir = buf.data();
  // mkdtemp makes the folder 0700; the output gets the usual mode (0777 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::chmod(impl->tempDir.c_str(), 0777 & ~mask) != 0)
    return Status::error(outDir + ": cannot set the mode of the temporary folder: " + std::strerror(errno));
  return std::unique_ptr<ExportWriter>(new ExportWriter(std::move(impl)));
}

std::vector<std::string> ExportWriter::shardNames() const { return impl_->shardNames; }

Status ExportWriter::writeDense(const std::string &name, const void *data, size_t bytes) {
  Impl &im = *impl_;
  QCC_RETURN_IF_ERROR(im.checkNext(name, ExportEntry::Kind::Dense));
  const OutTensor t = tensorsOf(im.plan[im.nextEntry])[0];
  if (bytes != t.bytes())
    return im.fail(Status::error(im.outDir + ": dense tensor '" + name + "' has " + std::to_string(bytes) +
                                 " bytes, expected " + std::to_string(t.bytes())));
  Status s = im.put(t, data, bytes);
  if (!s.isOk()) return im.fail(s);
  ++im.nextEntry;
  return Status::ok();
}

Status ExportWriter::writeLinear(const std::string &module, const formats::QuantizedLinear &q) {
  Impl &im = *impl_;
  QCC_RETURN_IF_ERROR(im.checkNext(module, ExportEntry::Kind::Linear));
  const ExportEntry &e = im.plan[im.nextEntry];
  const int64_t N = e.outFeatures, K = e.inFeatures;
  const int64_t wantGroup = e.format.format == formats::Format::W4A16 ? e.format.groupSize : 0;
  if (q.format != e.format.format || q.outFeatures != N || q.inFeatures != K || q.groupSize != wantGroup)
    return im.fail(Status::error(im.outDir + ": linear '" + module + "' is " + formats::formatName(q.format) + " [" +
                                 std::to_string(q.outFeatures) + ", " + std::to_string(q.inFeatures) + "] group " +
                                 std::to_string(q.groupSize) + " but was planned as " +
                                 formats::formatSpecName(e.format) + " " + shapeText({N, K})));
  if (q.format == formats::Format::BF16 && e.dtype != DType::BF16)
    return im.fail(Status::error(im.outDir + ": linear '" + module + "' is planned as a dense " + dtypeName(e.dtype) +
                                 " weight, not bf16"));
  Status valid = formats::validate(q);
  if (!valid.isOk()) return im.fail(valid.withContext(im.outDir + ": linear '" + module + "'"));
  const std::vector<OutTensor> outs = tensorsOf(e);
  Status s = Status::ok();
  switch (q.format) {
  case formats::Format::BF16:
  case formats::Format::INT8:
  case formats::Format::FP8:
    s = im.put(outs[0], q.weights.data(), q.weights.size());
    break;
  case formats::Format::W4A16: {
    // qcc's byte j of a row holds codes 2j (low) and 2j+1 (high) as two's
    // complement nibbles; compressed-tensors stores code + 8 at bit 4k of the
    // row's int32 words: the same nibbles with the sign bit flipped. The pad of
    // a partial last word is 0, as pack_to_int32 writes it.
    const int64_t rowBytes = ((K + 7) / 8) * 4;
    std::vector<uint8_t> packed(static_cast<size_t>(N * rowBytes), 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < K / 2; ++j) packed[n * rowBytes + j] = q.weights[n * (K / 2) + j] ^ 0x88;
    s = im.put(outs[0], packed.data(), packed.size());
    break;
  }
  }
  if (s.isOk() && q.format != formats::Format::BF16)
    s = im.put(outs[1], q.scales.data(), q.scales.size() * sizeof(float));
  if (s.isOk() && q.format == formats::Format::W4A16) {
    const int64_t shape[2] = {N, K}; // little-endian int64 on the hosts qcc runs on
    s = im.put(outs[2], shape, sizeof shape);
  }
  if (!s.isOk()) return im.fail(s);
  ++im.nextEntry;
  return Status::ok();
}

Status ExportWriter::writeDenseLinear(const std::string &module, const void *data, size_t bytes) {
  Impl &im = *impl_;
  QCC_RETURN_IF_ERROR(im.checkNext(module, ExportEntry::Kind::Linear));
  const ExportEntry &e = im.plan[im.nextEntry];
  if (e.format.format != formats::Format::BF16)
    return im.fail(Status::error(im.outDir + ": linear '" + module + "' is planned as " +
                                 formats::formatSpecName(e.format) + ", not as a dense weight"));
  const OutTensor t = tensorsOf(e)[0];
  if (bytes != t.bytes())
    return im.fail(Status::error(im.outDir + ": linear '" + module + "' has " + std::to_string(bytes) +
                                 " bytes, expected " + std::to_string(t.bytes()) + " (" + dtypeName(t.dtype) + " " +
                                 shapeText(t.shape) + ")"));
  Status s = im.put(t, data, bytes);
  if (!s.isOk()) return im.fail(s);
  ++im.nextEntry;
  return Status::ok();
}

Status ExportWriter::writeFile(const std::string &name, const void *data, size_t bytes) {
  Impl &im = *impl_;
  if (im.closed) return Status::error(im.outDir + ": the export writer is closed");
  bool own = name == "config.json" || name == "model.safetensors.index.json";
  for (const std::string &shard : im.shardNames) own |= name == shard;
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos || own)
    return im.fail(Status::error(im.outDir + ": '" + name + "' cannot be added to the folder (" +
                                 (own ? "the writer makes it" : "not a plain file name") + ")"));
  if (!im.extraFiles.insert(name).second)
    return im.fail(Status::error(im.outDir + ": '" + name + "' is added twice"));
  auto w = AtomicFileWriter::create(im.tempDir + "/" + name);
  Status s = w ? Status::ok() : w.status();
  if (s.isOk() && bytes > 0) s = (*w)->write(data, bytes);
  if (s.isOk()) s = (*w)->commit();
  if (!s.isOk()) return im.fail(s);
  return Status::ok();
}

Status ExportWriter::finish() {
  Impl &im = *impl_;
  if (im.closed) return Status::error(im.outDir + ": the export writer is closed");
  if (im.nextEntry != im.plan.size())
    return im.fail(Status::error(im.outDir + ": '" + im.plan[im.nextEntry].name + "' and " +
                                 std::to_string(im.plan.size() - im.nextEntry - 1) +
                                 " more planned tensors were never written"));
  Status s = writeTextFile(im.tempDir + "/config.json", modelConfigJson(im.config, im.plan).text());
  if (s.isOk() && im.shards.size() > 1) {
    uint64_t total = 0;
    for (const auto &shard : im.shards)
      for (const OutTensor &t : shard) total += t.bytes();
    Json wm = Json::object();
    for (const auto &t : im.shardOf) wm.add(t.first, Json::str(im.shardNames[t.second])); // std::map: sorted
    Json index = Json::object();
    index.add("metadata", Json::object().add("total_size", Json::integer(static_cast<int64_t>(total))));
    index.add("weight_map", std::move(wm));
    s = writeTextFile(im.tempDir + "/model.safetensors.index.json", index.text());
  }
  for (const char *name : kCopiedFiles) {
    if (!s.isOk()) break;
    if (im.extraFiles.count(name)) continue; // the caller's copy
    const std::string from = im.sourceDir + "/" + name;
    struct stat st;
    if (!im.sourceDir.empty() && ::stat(from.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      s = copyFile(from, im.tempDir + "/" + name);
  }
  if (s.isOk()) s = syncDirectory(im.tempDir);
  if (!s.isOk()) return im.fail(s);

  // Publish: rename the finished folder into place (exchanging it with an
  // existing output folder when overwriting, then removing the old one).
  struct stat st;
  if (::stat(im.outDir.c_str(), &st) == 0) {
    if (!im.options.overwrite) return im.fail(Status::error(im.outDir + ": the output folder appeared meanwhile"));
    if (::renameat2(AT_FDCWD, im.tempDir.c_str(), AT_FDCWD, im.outDir.c_str(), RENAME_EXCHANGE) != 0)
      return im.fail(Status::error(im.outDir + ": cannot replace the output folder: " + std::strerror(errno)));
    // tempDir now names the old output folder: discard() removes it.
  } else if (::rename(im.tempDir.c_str(), im.outDir.c_str()) != 0) {
    return im.fail(Status::error(im.outDir + ": cannot rename the finished folder into place: " +
                                 std::strerror(errno)));
  } else {
    im.tempDir.clear();
  }
  im.discard();
  return syncDirectory(parentOf(im.outDir));
}

} // namespace qcc::compressed_tensors
