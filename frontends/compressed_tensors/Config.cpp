#include "frontends/compressed_tensors/Config.h"

#include "frontends/compressed_tensors/PythonRegex.h"
#include "frontends/llama/StrictJson.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

namespace qcc::compressed_tensors {

namespace {

const char *kKnownFormats[] = {"dense",           "sparse-bitmask",       "sparse-24-bitmask",
                               "int-quantized",   "float-quantized",      "naive-quantized",
                               "pack-quantized",  "marlin-24",            "mixed-precision",
                               "nvfp4-pack-quantized", "mxfp4-pack-quantized", "mxfp8-quantized"};

bool knownFormat(const std::string &f) {
  for (const char *k : kKnownFormats)
    if (f == k) return true;
  return false;
}

std::string formatList() {
  std::string s;
  for (const char *k : kKnownFormats) s += std::string(s.empty() ? "" : ", ") + k;
  return s;
}

// Readers that name the file and the JSON path in their errors.
struct Reader {
  const std::string &file;
  Status error(const std::string &path, const std::string &what) const {
    return Status::error(file + ": quantization_config." + path + " " + what);
  }
  Status expectKind(const json::Value &v, json::Value::Kind kind, const std::string &path) const {
    if (v.kind() != kind)
      return error(path, std::string("must be ") + json::Value::kindName(kind) + ", got " + v.kindName());
    return Status::ok();
  }
  Status stringList(const json::Value &v, const std::string &path, std::vector<std::string> *out) const {
    QCC_RETURN_IF_ERROR(expectKind(v, json::Value::Kind::Array, path));
    for (size_t i = 0; i < v.elements().size(); ++i) {
      const json::Value &e = v.elements()[i];
      if (!e.isString()) return error(path + "[" + std::to_string(i) + "]", "must be a string");
      out->push_back(e.asString());
    }
    return Status::ok();
  }
};

Status parseArgs(const Reader &r, const json::Value &v, const std::string &path, QuantArgs *out) {
  QCC_RETURN_IF_ERROR(r.expectKind(v, json::Value::Kind::Object, path));
  static const std::set<std::string> kKeys = {"num_bits", "type", "symmetric", "group_size", "strategy",
                                              "block_structure", "dynamic", "actorder", "scale_dtype",
                                              "zp_dtype", "observer", "observer_kwargs"};
  for (const auto &m : v.members())
    if (!kKeys.count(m.first)) return r.error(path + "." + m.first, "is not a quantization argument");
  QuantArgs a;
  if (const json::Value *b = v.get("num_bits")) {
    if (!b->isInt64() || b->asInt64() < 1 || b->asInt64() > 64)
      return r.error(path + ".num_bits", "must be an integer in [1, 64]");
    a.numBits = static_cast<int>(b->asInt64());
  }
  if (const json::Value *t = v.get("type"); t && !t->isNull()) {
    if (!t->isString()) return r.error(path + ".type", "must be a string");
    std::string s = t->asString();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "int") a.type = QuantArgs::Type::Int;
    else if (s == "float") a.type = QuantArgs::Type::Float;
    else return r.error(path + ".type", "'" + t->asString() + "' is unknown (expected int or float)");
  }
  if (const json::Value *s = v.get("symmetric")) {
    if (!s->isBool()) return r.error(path + ".symmetric", "must be a boolean");
    a.symmetric = s->asBool();
  }
  if (const json::Value *g = v.get("group_size"); g && !g->isNull()) {
    if (!g->isInt64() || g->asInt64() < -1 || g->asInt64() == 0)
      return r.error(path + ".group_size", "must be a positive integer, -1 or null");
    a.groupSize = g->asInt64();
  }
  if (const json::Value *s = v.get("strategy"); s && !s->isNull()) {
    if (!s->isString()) return r.error(path + ".strategy", "must be a string");
    std::string st = s->asString();
    std::transform(st.begin(), st.end(), st.begin(), ::tolower);
    static const std::set<std::string> kStrategies = {"tensor", "channel", "group", "block",
                                                      "token", "tensor_group", "attn_head"};
    if (!kStrategies.count(st)) return r.error(path + ".strategy", "'" + s->asString() + "' is unknown");
    a.strategy = st;
  }
  if (const json::Value *b = v.get("block_structure"); b && !b->isNull()) {
    if (!b->isArray()) return r.error(path + ".block_structure", "must be a list of two integers");
    for (const json::Value &e : b->elements()) {
      if (!e.isInt64() || e.asInt64() <= 0)
        return r.error(path + ".block_structure", "must be a list of two positive integers");
      a.blockStructure.push_back(e.asInt64());
    }
  }
  if (const json::Value *d = v.get("dynamic"); d && !d->isNull()) {
    if (d->isBool()) a.dynamic = d->asBool() ? "true" : "false";
    else if (d->isString() && (d->asString() == "local" || d->asString() == "LOCAL")) a.dynamic = "local";
    else return r.error(path + ".dynamic", "must be true, false or \"local\"");
  }
  if (const json::Value *o = v.get("actorder"); o && !o->isNull()) {
    if (o->isBool()) {
      a.actorder = o->asBool() ? "group" : ""; // true meant "group" before it was removed
    } else if (o->isString()) {
      std::string s = o->asString();
      std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      if (s == "static") s = "weight";
      if (s == "dynamic") s = "group";
      if (s != "weight" && s != "group")
        return r.error(path + ".actorder", "'" + o->asString() + "' is unknown (expected weight, static, group or dynamic)");
      a.actorder = s;
    } else {
      return r.error(path + ".actorder", "must be a string, a boolean or null");
    }
  }
  // compressed-tensors infers a missing strategy from the group size.
  if (a.strategy.empty()) {
    if (!a.groupSize) a.strategy = "tensor";
    else if (*a.groupSize > 0) a.strategy = "group";
    else a.strategy = "channel";
  }
  if ((a.strategy == "group" || a.strategy == "tensor_group") && !(a.groupSize && *a.groupSize > 0))
    return r.error(path + ".group_size", "must be positive for strategy '" + a.strategy + "'");
  *out = a;
  return Status::ok();
}

Status parseOptionalArgs(const Reader &r, const json::Value &scheme, const char *key, const std::string &path,
                         std::optional<QuantArgs> *out) {
  const json::Value *v = scheme.get(key);
  if (!v || v->isNull()) return Status::ok();
  QuantArgs a;
  QCC_RETURN_IF_ERROR(parseArgs(r, *v, path + "." + key, &a));
  *out = a;
  return Status::ok();
}

// Process-wide cache of compiled target patterns (configs are parsed once per
// checkpoint, but a model has hundreds of modules to match).
Expected<const PythonRegex *> compiledRegex(const std::string &pattern) {
  static std::mutex mutex;
  static std::map<std::string, PythonRegex> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    Expected<PythonRegex> re = PythonRegex::compile(pattern);
    if (!re) return re.status();
    it = cache.emplace(pattern, std::move(*re)).first;
  }
  return &it->second;
}

bool isRegex(const std::string &target) { return target.rfind("re:", 0) == 0; }

Expected<bool> matchName(const std::string &name, const std::string &target) {
  if (!isRegex(target)) return target == name;
  Expected<const PythonRegex *> re = compiledRegex(target.substr(3));
  if (!re) return re.status();
  return (*re)->matchesAtStart(name);
}

// The Llama module classes in transformers (with their bases): "Linear" for the
// projections and lm_head, "Embedding", "LlamaAttention", ...
bool matchClass(const std::string &className, const std::string &target) { return target == className; }

struct Module {
  std::string name, className;
  bool linear = false;
  int64_t N = 0, K = 0;
};

std::vector<Module> llamaModules(const ModelConfig &c) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize;
  const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  std::vector<Module> out;
  out.push_back({"model.embed_tokens", "Embedding"});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "self_attn", "LlamaAttention"});
    out.push_back({p + "self_attn.q_proj", "Linear", true, q, D});
    out.push_back({p + "self_attn.k_proj", "Linear", true, kv, D});
    out.push_back({p + "self_attn.v_proj", "Linear", true, kv, D});
    out.push_back({p + "self_attn.o_proj", "Linear", true, D, q});
    out.push_back({p + "mlp.gate_proj", "Linear", true, F, D});
    out.push_back({p + "mlp.up_proj", "Linear", true, F, D});
    out.push_back({p + "mlp.down_proj", "Linear", true, D, F});
  }
  out.push_back({"lm_head", "Linear", true, c.vocabSize, D});
  return out;
}

std::string bitsName(const QuantArgs &a) {
  return std::string(a.type == QuantArgs::Type::Int ? "int" : "float") + std::to_string(a.numBits);
}

} // namespace

std::string QuantArgs::describe() const {
  std::string s = bitsName(*this) + (symmetric ? " symmetric" : " asymmetric") + " " + strategy;
  if (strategy == "group" || strategy == "tensor_group") s += " " + std::to_string(groupSize.value_or(0));
  if (dynamic == "true") s += " dynamic";
  if (dynamic == "local") s += " dynamic local";
  if (!actorder.empty()) s += " actorder " + actorder;
  return s;
}

std::string QuantScheme::describe() const {
  std::string s = "config group '" + groupName + "' (weights " + (weights ? weights->describe() : "none");
  if (inputActivations) s += ", input activations " + inputActivations->describe();
  if (outputActivations) s += ", output activations " + outputActivations->describe();
  return s + ", format " + format + ")";
}

Expected<std::optional<Config>> Config::fromConfigJson(const std::string &configText, const std::string &file) {
  Expected<json::Value> root = json::parse(configText, file);
  if (!root) return root.status();
  if (!root->isObject()) return Status::error(file + ": top level is " + root->kindName() + ", not an object");
  const json::Value *qc = root->get("quantization_config");
  if (!qc || qc->isNull()) return std::optional<Config>();
  Expected<Config> c = parse(*qc, file);
  if (!c) return c.status();
  return std::optional<Config>(std::move(*c));
}

Expected<Config> Config::parse(const json::Value &qc, const std::string &file) {
  Reader r{file};
  if (!qc.isObject())
    return Status::error(file + ": quantization_config must be an object, got " + qc.kindName());
  Config c;
  c.file_ = file;
  const json::Value *method = qc.get("quant_method");
  if (!method || !method->isString())
    return Status::error(file + ": quantization_config has no quant_method string");
  if (method->asString() != "compressed-tensors")
    return Status::error(file + ": quantization_config.quant_method '" + method->asString() +
                         "' is not supported (qcc reads dense checkpoints and compressed-tensors ones)");

  // Absent, compressed-tensors' default is "fakequant": dense weights fake-quantized
  // at run time, i.e. the dense layout.
  c.format_ = "dense";
  if (const json::Value *f = qc.get("format"); f && !f->isNull()) {
    if (!f->isString()) return r.error("format", "must be a string");
    c.format_ = f->asString() == "fakequant" ? "dense" : f->asString();
    if (!knownFormat(c.format_))
      return r.error("format", "'" + c.format_ + "' is not a compressed-tensors format (known: " + formatList() + ")");
  }
  if (const json::Value *s = qc.get("quantization_status"); s && !s->isNull()) {
    if (!s->isString()) return r.error("quantization_status", "must be a string");
    c.status_ = s->asString();
  }
  if (const json::Value *v = qc.get("version"); v && v->isString()) c.version_ = v->asString();

  const json::Value *groups = qc.get("config_groups");
  if (!groups) return r.error("config_groups", "is missing");
  QCC_RETURN_IF_ERROR(r.expectKind(*groups, json::Value::Kind::Object, "config_groups"));
  for (const auto &g : groups->members()) {
    const std::string path = "config_groups." + g.first;
    if (g.second.isArray())
      return r.error(path, "is a list of targets for the preset scheme '" + g.first +
                               "'; qcc reads only fully written schemes");
    QCC_RETURN_IF_ERROR(r.expectKind(g.second, json::Value::Kind::Object, path));
    static const std::set<std::string> kKeys = {"targets", "weights", "input_activations", "output_activations",
                                                "format"};
    for (const auto &m : g.second.members())
      if (!kKeys.count(m.first)) return r.error(path + "." + m.first, "is not a quantization scheme field");
    QuantScheme s;
    s.groupName = g.first;
    const json::Value *targets = g.second.get("targets");
    if (!targets) return r.error(path + ".targets", "is missing");
    QCC_RETURN_IF_ERROR(r.stringList(*targets, path + ".targets", &s.targets));
    for (const std::string &t : s.targets)
      if (isRegex(t)) {
        Expected<const PythonRegex *> re = compiledRegex(t.substr(3));
        if (!re) return r.error(path + ".targets", re.message());
      }
    QCC_RETURN_IF_ERROR(parseOptionalArgs(r, g.second, "weights", path, &s.weights));
    QCC_RETURN_IF_ERROR(parseOptionalArgs(r, g.second, "input_activations", path, &s.inputActivations));
    QCC_RETURN_IF_ERROR(parseOptionalArgs(r, g.second, "output_activations", path, &s.outputActivations));
    s.format = c.format_;
    if (const json::Value *f = g.second.get("format"); f && !f->isNull()) {
      if (!f->isString()) return r.error(path + ".format", "must be a string");
      s.format = f->asString();
      if (!knownFormat(s.format))
        return r.error(path + ".format", "'" + s.format + "' is not a compressed-tensors format (known: " +
                                             formatList() + ")");
    }
    c.schemes_.push_back(std::move(s));
  }
  if (const json::Value *ig = qc.get("ignore"); ig && !ig->isNull()) {
    QCC_RETURN_IF_ERROR(r.stringList(*ig, "ignore", &c.ignore_));
    for (const std::string &t : c.ignore_)
      if (isRegex(t)) {
        Expected<const PythonRegex *> re = compiledRegex(t.substr(3));
        if (!re) return r.error("ignore", re.message());
      }
  }
  if (const json::Value *kv = qc.get("kv_cache_scheme"); kv && !kv->isNull()) c.hasKvCacheScheme_ = true;
  if (const json::Value *sp = qc.get("sparsity_config"); sp && !sp->isNull()) {
    QCC_RETURN_IF_ERROR(r.expectKind(*sp, json::Value::Kind::Object, "sparsity_config"));
    const json::Value *f = sp->get("format");
    std::string sparsity = f && f->isString() ? f->asString() : "";
    if (!sp->members().empty() && sparsity != "dense") {
      c.sparsityFormat_ = sparsity.empty() ? "unknown" : sparsity;
      if (const json::Value *t = sp->get("targets"); t && !t->isNull())
        QCC_RETURN_IF_ERROR(r.stringList(*t, "sparsity_config.targets", &c.sparsityTargets_));
    }
  }
  if (const json::Value *tc = qc.get("transform_config"); tc && !tc->isNull())
    c.hasTransforms_ = !(tc->isObject() && (tc->members().empty() || [&] {
      const json::Value *groups = tc->get("config_groups");
      return groups && groups->isObject() && groups->members().empty();
    }()));
  return c;
}

Expected<const QuantScheme *> Config::schemeFor(const std::string &name, const std::string &className) const {
  for (const std::string &ig : ignore_) {
    Expected<bool> m = matchName(name, ig);
    if (!m) return m.status();
    if (*m || matchClass(className, ig)) return static_cast<const QuantScheme *>(nullptr);
  }
  // compressed-tensors: target -> scheme, a later group taking over a repeated
  // target; candidates ordered exact names, then regexes (each sorted), then classes.
  std::map<std::string, const QuantScheme *> targetToScheme;
  for (const QuantScheme &s : schemes_)
    for (const std::string &t : s.targets) targetToScheme[t] = &s;
  std::vector<std::string> sorted;
  for (const auto &t : targetToScheme) sorted.push_back(t.first);
  std::stable_sort(sorted.begin(), sorted.end(), [](const std::string &a, const std::string &b) {
    return isRegex(a) != isRegex(b) ? !isRegex(a) : a < b;
  });
  for (const std::string &t : sorted) {
    Expected<bool> m = matchName(name, t);
    if (!m) return m.status();
    if (*m) return targetToScheme[t];
  }
  for (const std::string &t : sorted)
    if (matchClass(className, t)) return targetToScheme[t];
  return static_cast<const QuantScheme *>(nullptr);
}

Expected<formats::FormatSpec> mapScheme(const QuantScheme &s, const std::string &module, int64_t N, int64_t K) {
  auto refuse = [&](const std::string &why) {
    return Status::error(module + ": " + s.describe() + ": " + why);
  };
  static const std::set<std::string> kReadable = {"pack-quantized", "int-quantized", "float-quantized",
                                                  "naive-quantized", "dense"};
  if (!kReadable.count(s.format)) {
    if (s.format == "nvfp4-pack-quantized" || s.format == "mxfp4-pack-quantized" || s.format == "mxfp8-quantized")
      return refuse("format '" + s.format + "' (micro-scaled floats) has no qcc format");
    if (s.format == "marlin-24" || s.format == "sparse-24-bitmask" || s.format == "sparse-bitmask")
      return refuse("format '" + s.format + "' (sparse weights) has no qcc format");
    return refuse("format '" + s.format + "' cannot store one linear's weights");
  }
  if (!s.weights) return refuse("quantizing activations without quantizing weights has no qcc format");
  const QuantArgs &w = *s.weights;
  if (s.outputActivations) return refuse("output activation quantization has no qcc format");
  if (!w.symmetric) return refuse("asymmetric weights (zero points) have no qcc format");
  if (w.isDynamic()) return refuse("dynamic weight quantization has no qcc format");
  if (w.type == QuantArgs::Type::Float && w.numBits == 4)
    return refuse("4-bit float weights (nvfp4/mxfp4) have no qcc format");
  if (w.strategy == "block") return refuse("block-wise weight scales have no qcc format");
  if (w.strategy == "tensor_group" || w.strategy == "attn_head" || w.strategy == "token")
    return refuse("weight strategy '" + w.strategy + "' has no qcc format");
  if (s.inputActivations) {
    const QuantArgs &a = *s.inputActivations;
    if (!a.symmetric) return refuse("asymmetric input activations have no qcc format");
    if (!a.isDynamic() || a.dynamic == "local")
      return refuse("static input activation scales have no qcc format (qcc quantizes activations per token at run time)");
    if (a.strategy != "token")
      return refuse("input activations with strategy '" + a.strategy + "' have no qcc format (qcc uses per-token scales)");
    if (a.numBits != 8 || a.type != w.type)
      return refuse("input activations " + bitsName(a) + " with weights " + bitsName(w) + " have no qcc format");
  }
  formats::FormatSpec spec;
  if (w.type == QuantArgs::Type::Int && w.numBits == 4) {
    if (s.inputActivations) return refuse("int4 weights with quantized activations (W4A8) have no qcc format");
    if (w.strategy == "tensor") return refuse("one int4 scale per tensor has no qcc format (w4a16 needs group or channel scales)");
    int64_t g = w.strategy == "channel" ? K : *w.groupSize;
    if (g % 2 != 0 || g > (int64_t(1) << 30))
      return refuse("group size " + std::to_string(g) + " is not a positive even integer, as w4a16 needs");
    if (K % g != 0)
      return refuse(std::to_string(K) + " input channels are not a multiple of the group size " + std::to_string(g));
    if (!w.actorder.empty() && w.actorder == "group" && w.strategy != "group")
      return refuse("actorder 'group' needs strategy 'group'");
    spec.format = formats::Format::W4A16;
    spec.groupSize = static_cast<int>(g);
    return spec;
  }
  if (w.numBits == 8) {
    if (w.strategy == "group") return refuse("8-bit weights with group scales have no qcc format (qcc's int8 and fp8 use one scale per output channel)");
    if (w.type == QuantArgs::Type::Int && w.strategy == "tensor")
      return refuse("one int8 scale per tensor has no qcc format (qcc's int8 uses one scale per output channel)");
    if (!s.inputActivations)
      return refuse(std::string(w.type == QuantArgs::Type::Int ? "int8" : "fp8") +
                    " weights without activation quantization (W8A16) have no qcc format (qcc's int8 and fp8 are W8A8)");
    if (!w.actorder.empty() && w.actorder == "group") return refuse("actorder 'group' on 8-bit weights has no qcc format");
    spec.format = w.type == QuantArgs::Type::Int ? formats::Format::INT8 : formats::Format::FP8;
    return spec;
  }
  return refuse(std::to_string(w.numBits) + "-bit " + (w.type == QuantArgs::Type::Int ? "int" : "float") +
                " weights have no qcc format (qcc takes int4, int8 and float8)");
}

Expected<LinearPlan> Config::planLinear(const std::string &module, int64_t N, int64_t K) const {
  Expected<const QuantScheme *> s = schemeFor(module, "Linear");
  if (!s) return s.status();
  LinearPlan plan;
  if (!*s) return plan;
  Expected<formats::FormatSpec> spec = mapScheme(**s, module, N, K);
  if (!spec) return spec.status().withContext(file_);
  plan.scheme = *s;
  plan.spec = *spec;
  return plan;
}

Status Config::checkModel(const ModelConfig &model) const {
  if (hasKvCacheScheme_)
    return Status::error(file_ + ": quantization_config.kv_cache_scheme quantizes the KV cache; qcc keeps it in "
                                 "bf16 and has no equivalent");
  if (hasTransforms_)
    return Status::error(file_ + ": quantization_config.transform_config rotates weights and activations "
                                 "(QuIP/SpinQuant transforms); qcc has no equivalent");
  for (const Module &m : llamaModules(model)) {
    if (!sparsityFormat_.empty()) {
      for (const std::string &t : sparsityTargets_) {
        Expected<bool> hit = matchName(m.name, t);
        if (!hit) return hit.status().withContext(file_);
        if (m.linear && (*hit || matchClass(m.className, t)))
          return Status::error(file_ + ": " + m.name + ": sparsity_config format '" + sparsityFormat_ +
                               "' (2:4 or other sparse storage) has no qcc format");
      }
    }
    Expected<const QuantScheme *> s = schemeFor(m.name, m.className);
    if (!s) return s.status().withContext(file_);
    if (*s && m.className == "LlamaAttention") {
      // compressed-tensors quantizes an attention module only on a narrow match: a
      // target that matches it but neither its layer nor its projections.
      const std::string layer = m.name.substr(0, m.name.rfind('.'));
      bool narrow = false;
      for (const std::string &t : (*s)->targets) {
        Expected<bool> self = matchName(m.name, t);
        if (!self) return self.status().withContext(file_);
        if (!*self && !matchClass(m.className, t)) continue;
        Expected<bool> parent = matchName(layer, t);
        if (!parent) return parent.status().withContext(file_);
        bool child = false;
        for (const char *proj : {".q_proj", ".k_proj", ".v_proj", ".o_proj"}) {
          Expected<bool> c = matchName(m.name + proj, t);
          if (!c) return c.status().withContext(file_);
          child |= *c || matchClass("Linear", t);
        }
        narrow |= !*parent && !matchClass("LlamaDecoderLayer", t) && !child;
      }
      if (!narrow) continue;
    }
    if (!m.linear) {
      if (*s && ((*s)->weights || (*s)->inputActivations || (*s)->outputActivations))
        return Status::error(file_ + ": " + m.name + ": " + (*s)->describe() + " quantizes a " + m.className +
                             " module; qcc quantizes only linear layers");
      continue;
    }
    Expected<LinearPlan> plan = planLinear(m.name, m.N, m.K);
    if (!plan) return plan.status();
  }
  return Status::ok();
}

Expected<bool> pythonRegexMatchesAtStart(const std::string &pattern, const std::string &name) {
  Expected<const PythonRegex *> re = compiledRegex(pattern);
  if (!re) return re.status();
  return (*re)->matchesAtStart(name);
}

} // namespace qcc::compressed_tensors
