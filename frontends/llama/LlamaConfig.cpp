#include "frontends/llama/LlamaConfig.h"

#include "frontends/llama/StrictJson.h"
#include "support/MappedFile.h"

#include <cmath>

namespace qcc {

const char *torchDtypeName(ModelConfig::TorchDtype t) {
  switch (t) {
  case ModelConfig::TorchDtype::Float32: return "float32";
  case ModelConfig::TorchDtype::BFloat16: return "bfloat16";
  case ModelConfig::TorchDtype::Float16: return "float16";
  }
  return "?";
}

namespace {

constexpr int64_t kMaxSize = 2147483647; // 2^31 - 1

// Field readers: each names the file and the key in its error.
class Fields {
public:
  Fields(const json::Value &obj, const std::string &file) : obj_(obj), file_(file) {}

  Status error(const std::string &what) const { return Status::error(file_ + ": " + what); }
  const json::Value *get(const char *key) const { return obj_.get(key); }
  bool presentNonNull(const char *key) const {
    const json::Value *v = get(key);
    return v && !v->isNull();
  }

  // A positive integer <= kMaxSize; `required` false means `dflt` when absent.
  Status positiveInt(const char *key, int64_t *out, bool required, int64_t dflt = 0) const {
    const json::Value *v = get(key);
    if (!v) {
      if (required) return error("missing required key '" + std::string(key) + "'");
      *out = dflt;
      return Status::ok();
    }
    return positiveIntValue(*v, key, out);
  }
  Status positiveIntValue(const json::Value &v, const std::string &key, int64_t *out) const {
    if (!v.isInt64())
      return error("'" + key + "' must be an integer, got " + v.kindName());
    if (v.asInt64() <= 0 || v.asInt64() > kMaxSize)
      return error("'" + key + "' must be in [1, " + std::to_string(kMaxSize) + "], got " +
                   std::to_string(v.asInt64()));
    *out = v.asInt64();
    return Status::ok();
  }

  // A finite number > 0 (`dflt` when absent).
  Status positiveNumber(const json::Value &obj, const char *key, const std::string &label,
                        double *out, bool required, double dflt) const {
    const json::Value *v = obj.get(key);
    if (!v) {
      if (required) return error("missing required key '" + label + "'");
      *out = dflt;
      return Status::ok();
    }
    if (!v->isNumber()) return error("'" + label + "' must be a number, got " + v->kindName());
    if (!(v->asDouble() > 0) || !std::isfinite(v->asDouble()))
      return error("'" + label + "' must be positive, got " + std::to_string(v->asDouble()));
    *out = v->asDouble();
    return Status::ok();
  }

  Status boolean(const char *key, bool *out, bool dflt) const {
    const json::Value *v = get(key);
    if (!v) {
      *out = dflt;
      return Status::ok();
    }
    if (!v->isBool()) return error("'" + std::string(key) + "' must be a boolean, got " +
                                   v->kindName());
    *out = v->asBool();
    return Status::ok();
  }

  // A token id in [0, vocab).
  Status tokenId(const json::Value &v, const std::string &key, int64_t vocab, int64_t *out) const {
    if (!v.isInt64()) return error("'" + key + "' must be an integer, got " + v.kindName());
    if (v.asInt64() < 0 || v.asInt64() >= vocab)
      return error("'" + key + "' " + std::to_string(v.asInt64()) +
                   " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    *out = v.asInt64();
    return Status::ok();
  }

private:
  const json::Value &obj_;
  const std::string &file_;
};

// `section` is "rope_scaling" (the Llama-3.1 release layout) or
// "rope_parameters" (transformers >= 5 writes rope_type, rope_theta and the
// llama3 factors there).
Status parseRopeScaling(const Fields &f, const json::Value &rs, ModelConfig &c,
                        const std::string &section = "rope_scaling") {
  if (rs.isNull()) return Status::ok();
  if (!rs.isObject())
    return f.error("'" + section + "' must be an object or null, got " + std::string(rs.kindName()));
  // transformers reads "rope_type", falling back to the older "type".
  const json::Value *type = rs.get("rope_type");
  if (!type) type = rs.get("type");
  if (!type) return f.error("'" + section + "' has no 'rope_type'");
  if (!type->isString()) return f.error("'" + section + ".rope_type' must be a string");
  const std::string &t = type->asString();
  if (t == "default") return Status::ok();
  if (t != "llama3")
    return f.error(section + " type '" + t + "' is not supported (only 'llama3', 'default' or null)");
  RopeScaling &r = c.ropeScaling;
  r.enabled = true;
  QCC_RETURN_IF_ERROR(f.positiveNumber(rs, "factor", section + ".factor", &r.factor, true, 0));
  QCC_RETURN_IF_ERROR(f.positiveNumber(rs, "low_freq_factor", section + ".low_freq_factor",
                                       &r.lowFreqFactor, true, 0));
  QCC_RETURN_IF_ERROR(f.positiveNumber(rs, "high_freq_factor", section + ".high_freq_factor",
                                       &r.highFreqFactor, true, 0));
  // The llama3 rule interpolates over (high - low): equal values divide by 0.
  if (!(r.highFreqFactor > r.lowFreqFactor))
    return f.error("'" + section + ".high_freq_factor' (" + std::to_string(r.highFreqFactor) +
                   ") must be greater than 'low_freq_factor' (" +
                   std::to_string(r.lowFreqFactor) + ")");
  const json::Value *omax = rs.get("original_max_position_embeddings");
  if (!omax) return f.error("missing required key '" + section + ".original_max_position_embeddings'");
  return f.positiveIntValue(*omax, section + ".original_max_position_embeddings",
                            &r.originalMaxPositionEmbeddings);
}

} // namespace

Expected<ModelConfig> parseLlamaConfig(const std::string &jsonText, const std::string &file) {
  if (jsonText.size() > kMaxConfigJsonBytes)
    return Status::error(file + ": config.json of " + std::to_string(jsonText.size()) +
                         " bytes is over the limit of " + std::to_string(kMaxConfigJsonBytes) + " bytes");
  Expected<json::Value> root = json::parse(jsonText, file);
  if (!root) return root.status();
  if (!root->isObject())
    return Status::error(file + ": top level is " + root->kindName() + ", not an object");
  Fields f(*root, file);
  ModelConfig c;

  // Architecture: model_type and architectures must agree with Llama.
  const json::Value *modelType = f.get("model_type");
  const json::Value *archs = f.get("architectures");
  if (!modelType && !archs)
    return f.error("neither 'model_type' nor 'architectures' says this is a Llama model");
  if (modelType && (!modelType->isString() || modelType->asString() != "llama"))
    return f.error("'model_type' must be \"llama\"" +
                   (modelType->isString() ? ", got \"" + modelType->asString() + "\""
                                          : std::string()));
  if (archs) {
    if (!archs->isArray()) return f.error("'architectures' must be an array");
    bool found = false;
    for (const json::Value &a : archs->elements())
      found |= a.isString() && a.asString() == "LlamaForCausalLM";
    if (!found) return f.error("'architectures' does not list LlamaForCausalLM");
  }

  QCC_RETURN_IF_ERROR(f.positiveInt("hidden_size", &c.hiddenSize, true));
  QCC_RETURN_IF_ERROR(f.positiveInt("intermediate_size", &c.intermediateSize, true));
  QCC_RETURN_IF_ERROR(f.positiveInt("num_hidden_layers", &c.numLayers, true));
  QCC_RETURN_IF_ERROR(f.positiveInt("num_attention_heads", &c.numHeads, true));
  QCC_RETURN_IF_ERROR(f.positiveInt("vocab_size", &c.vocabSize, true));
  if (f.presentNonNull("num_key_value_heads"))
    QCC_RETURN_IF_ERROR(f.positiveInt("num_key_value_heads", &c.numKvHeads, true));
  else
    c.numKvHeads = c.numHeads;
  if (c.numHeads % c.numKvHeads != 0)
    return f.error("'num_attention_heads' (" + std::to_string(c.numHeads) +
                   ") is not a multiple of 'num_key_value_heads' (" +
                   std::to_string(c.numKvHeads) + ")");
  if (f.presentNonNull("head_dim")) {
    QCC_RETURN_IF_ERROR(f.positiveInt("head_dim", &c.headDim, true));
  } else {
    if (c.hiddenSize % c.numHeads != 0)
      return f.error("'hidden_size' (" + std::to_string(c.hiddenSize) +
                     ") is not a multiple of 'num_attention_heads' (" +
                     std::to_string(c.numHeads) + ") and no 'head_dim' is given");
    c.headDim = c.hiddenSize / c.numHeads;
  }
  if (c.numHeads * c.headDim > kMaxSize)
    return f.error("'num_attention_heads' * 'head_dim' is too large");
  QCC_RETURN_IF_ERROR(f.positiveInt("max_position_embeddings", &c.maxPositionEmbeddings, false,
                                    2048));
  QCC_RETURN_IF_ERROR(f.positiveNumber(*root, "rms_norm_eps", "rms_norm_eps", &c.rmsNormEps,
                                       false, 1e-6));
  QCC_RETURN_IF_ERROR(f.positiveNumber(*root, "rope_theta", "rope_theta", &c.ropeTheta, false,
                                       10000.0));
  if (const json::Value *rs = f.get("rope_scaling"))
    QCC_RETURN_IF_ERROR(parseRopeScaling(f, *rs, c));
  // transformers >= 5 writes RoPE settings under "rope_parameters". When both
  // layouts are present they must describe the same RoPE.
  if (const json::Value *rp = f.get("rope_parameters"); rp && !rp->isNull()) {
    ModelConfig fromParameters = c;
    fromParameters.ropeScaling = RopeScaling();
    QCC_RETURN_IF_ERROR(parseRopeScaling(f, *rp, fromParameters, "rope_parameters"));
    if (rp->isObject() && rp->get("rope_theta"))
      QCC_RETURN_IF_ERROR(f.positiveNumber(*rp, "rope_theta", "rope_parameters.rope_theta",
                                           &fromParameters.ropeTheta, true, 0));
    const RopeScaling &a = c.ropeScaling, &b = fromParameters.ropeScaling;
    bool explicitOld = root->get("rope_scaling") && !root->get("rope_scaling")->isNull();
    bool same = a.enabled == b.enabled && a.factor == b.factor && a.lowFreqFactor == b.lowFreqFactor &&
                a.highFreqFactor == b.highFreqFactor &&
                a.originalMaxPositionEmbeddings == b.originalMaxPositionEmbeddings;
    if (explicitOld && !same)
      return f.error("'rope_scaling' and 'rope_parameters' describe different RoPE scaling");
    if (root->get("rope_theta") && c.ropeTheta != fromParameters.ropeTheta)
      return f.error("'rope_theta' and 'rope_parameters.rope_theta' differ");
    c.ropeScaling = b;
    c.ropeTheta = fromParameters.ropeTheta;
  }
  QCC_RETURN_IF_ERROR(f.boolean("tie_word_embeddings", &c.tieWordEmbeddings, false));

  // Token ids: absent -> transformers' defaults (1, 2); null -> none.
  if (const json::Value *bos = f.get("bos_token_id")) {
    if (!bos->isNull()) QCC_RETURN_IF_ERROR(f.tokenId(*bos, "bos_token_id", c.vocabSize, &c.bosTokenId));
  } else {
    c.bosTokenId = 1 < c.vocabSize ? 1 : -1;
  }
  if (const json::Value *eos = f.get("eos_token_id")) {
    if (eos->isArray()) {
      for (size_t i = 0; i < eos->elements().size(); ++i) {
        int64_t id;
        QCC_RETURN_IF_ERROR(f.tokenId(eos->elements()[i],
                                      "eos_token_id[" + std::to_string(i) + "]", c.vocabSize, &id));
        c.eosTokenIds.push_back(id);
      }
    } else if (!eos->isNull()) {
      int64_t id;
      QCC_RETURN_IF_ERROR(f.tokenId(*eos, "eos_token_id", c.vocabSize, &id));
      c.eosTokenIds.push_back(id);
    }
  } else if (2 < c.vocabSize) {
    c.eosTokenIds.push_back(2);
  }

  // torch_dtype (older transformers) or dtype (newer); absent -> float32.
  const json::Value *dt = f.get("torch_dtype");
  const char *dtKey = "torch_dtype";
  if (!dt || dt->isNull()) {
    dt = f.get("dtype");
    dtKey = "dtype";
  }
  if (dt && !dt->isNull()) {
    if (!dt->isString()) return f.error("'" + std::string(dtKey) + "' must be a string");
    const std::string &s = dt->asString();
    if (s == "float32") c.torchDtype = ModelConfig::TorchDtype::Float32;
    else if (s == "bfloat16") c.torchDtype = ModelConfig::TorchDtype::BFloat16;
    else if (s == "float16") c.torchDtype = ModelConfig::TorchDtype::Float16;
    else
      return f.error("'" + std::string(dtKey) + "' \"" + s +
                     "\" is not supported (float32, bfloat16 or float16)");
  }

  // What the Llama graph does not model: say so rather than compute wrongly.
  if (const json::Value *act = f.get("hidden_act"))
    if (!act->isString() || act->asString() != "silu")
      return f.error("'hidden_act' must be \"silu\"");
  for (const char *key : {"attention_bias", "mlp_bias"}) {
    bool b;
    QCC_RETURN_IF_ERROR(f.boolean(key, &b, false));
    if (b) return f.error("'" + std::string(key) + "': true is not supported");
  }
  if (Status s = checkModelConfig(c); !s) return f.error(s.message());
  return c;
}

Expected<ModelConfig> loadLlamaConfig(const std::string &path) {
  Expected<std::unique_ptr<MappedFile>> file = MappedFile::open(path, kMaxConfigJsonBytes, "config.json");
  if (!file) return file.status();
  std::string text(reinterpret_cast<const char *>((*file)->data()), (*file)->size());
  return parseLlamaConfig(text, path);
}

} // namespace qcc
