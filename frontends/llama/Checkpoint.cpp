#include "frontends/llama/Checkpoint.h"

#include "frontends/llama/LlamaConfig.h"
#include "frontends/llama/StrictJson.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <set>
#include <sys/stat.h>

namespace qcc {

namespace {

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// realpath(3) as a std::string; empty on failure (errno set).
std::string realPath(const std::string &path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return std::string();
  return buf;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The folder real paths a shard may resolve into: the model folder itself,
// and, for a Hugging Face cache snapshot (<repo>/snapshots/<revision>/), the
// cache's own <repo>/blobs/ folder its files are symlinks into.
std::vector<std::string> allowedShardFolders(const std::string &dirReal) {
  std::vector<std::string> out = {dirReal};
  const size_t slash = dirReal.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return out;
  const std::string snapshots = dirReal.substr(0, slash);
  const size_t slash2 = snapshots.find_last_of('/');
  if (slash2 == std::string::npos || snapshots.substr(slash2 + 1) != "snapshots") return out;
  const std::string blobs = realPath(snapshots.substr(0, slash2) + "/blobs");
  if (!blobs.empty()) out.push_back(blobs);
  return out;
}

// A shard name from the index must be a plain file name in the folder.
Status checkShardName(const std::string &indexPath, const std::string &tensor,
                      const std::string &shard) {
  std::string what = indexPath + ": shard path '" + shard + "' for tensor '" + tensor + "'";
  if (shard.empty()) return Status::error(indexPath + ": empty shard path for tensor '" + tensor + "'");
  if (shard.find('\0') != std::string::npos) return Status::error(what + " contains a NUL byte");
  if (shard[0] == '/') return Status::error(what + " is absolute; shards must be inside the model folder");
  if (shard == ".." || shard.rfind("../", 0) == 0 || shard.find("/../") != std::string::npos ||
      (shard.size() >= 3 && shard.compare(shard.size() - 3, 3, "/..") == 0))
    return Status::error(what + " escapes the model folder");
  if (shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
      shard == ".")
    return Status::error(what + " is not a plain file name in the model folder");
  return Status::ok();
}

} // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>>
Checkpoint::expectedTensors(const ModelConfig &c) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
  const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {V, D}});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {D}});
    out.push_back({p + "self_attn.q_proj.weight", {qDim, D}});
    out.push_back({p + "self_attn.k_proj.weight", {kvDim, D}});
    out.push_back({p + "self_attn.v_proj.weight", {kvDim, D}});
    out.push_back({p + "self_attn.o_proj.weight", {D, qDim}});
    out.push_back({p + "post_attention_layernorm.weight", {D}});
    out.push_back({p + "mlp.gate_proj.weight", {F, D}});
    out.push_back({p + "mlp.up_proj.weight", {F, D}});
    out.push_back({p + "mlp.down_proj.weight", {D, F}});
  }
  out.push_back({"model.norm.weight", {D}});
  if (!c.tieWordEmbeddings) out.push_back({"lm_head.weight", {V, D}});
  return out;
}

// config.json's quantization_config.quant_method, "" when there is none.
static std::string quantMethod(const std::string &configText, const std::string &configPath) {
  Expected<json::Value> root = json::parse(configText, configPath);
  const json::Value *qc = root && root->isObject() ? root->get("quantization_config") : nullptr;
  if (!qc || qc->isNull()) return "";
  const json::Value *m = qc->isObject() ? qc->get("quant_method") : nullptr;
  return m && m->isString() ? m->asString() : "unknown";
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string &modelDir,
                                                       const QuantizedLayoutFactory &layoutFactory) {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  std::string dir = modelDir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  ck->dir_ = dir;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return Status::error(dir + ": cannot open model folder: " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Status::error(dir + ": not a folder");

  // config.json (its bytes also feed the provenance hash).
  const std::string configPath = dir + "/config.json";
  Expected<std::unique_ptr<MappedFile>> configFile =
      MappedFile::open(configPath, kMaxConfigJsonBytes, "config.json");
  if (!configFile) return configFile.status();
  std::string configText(reinterpret_cast<const char *>((*configFile)->data()),
                         (*configFile)->size());
  Expected<ModelConfig> config = parseLlamaConfig(configText, configPath);
  if (!config) return config.status();
  ck->config_ = *config;
  if (layoutFactory) {
    Expected<std::unique_ptr<QuantizedLayout>> layout = layoutFactory(configText, configPath, ck->config_);
    if (!layout) return layout.status();
    ck->layout_ = std::move(*layout);
  } else if (std::string method = quantMethod(configText, configPath); !method.empty()) {
    return Status::error(configPath + ": quantization_config with quant_method '" + method +
                         "' is not supported by this reader (it reads dense checkpoints)");
  }
  const QuantizedLayout *layout = ck->layout_.get();
  ContentHasher hash;
  hash.updateString(configText);

  // Which weight files, and which tensors each should hold (sharded case).
  const std::string singlePath = dir + "/model.safetensors";
  const std::string indexPath = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weightMap;           // tensor -> shard name
  std::map<std::string, std::vector<std::string>> listed; // shard name -> tensors
  bool sharded = false;
  if (fileExists(singlePath)) {
    listed["model.safetensors"];
  } else if (fileExists(indexPath)) {
    sharded = true;
    Expected<std::unique_ptr<MappedFile>> indexFile =
        MappedFile::open(indexPath, kMaxIndexJsonBytes, "model.safetensors.index.json");
    if (!indexFile) return indexFile.status();
    std::string_view text(reinterpret_cast<const char *>((*indexFile)->data()),
                          (*indexFile)->size());
    Expected<json::Value> index = json::parse(text, indexPath);
    if (!index) return index.status();
    if (!index->isObject()) return Status::error(indexPath + ": top level is not an object");
    const json::Value *wm = index->get("weight_map");
    if (!wm) return Status::error(indexPath + ": no 'weight_map'");
    if (!wm->isObject()) return Status::error(indexPath + ": 'weight_map' is not an object");
    if (wm->members().empty()) return Status::error(indexPath + ": 'weight_map' lists no tensors");
    for (const auto &m : wm->members()) {
      if (!m.second.isString())
        return Status::error(indexPath + ": shard for tensor '" + m.first + "' is not a string");
      const std::string &shard = m.second.asString();
      QCC_RETURN_IF_ERROR(checkShardName(indexPath, m.first, shard));
      weightMap[m.first] = shard;
      listed[shard].push_back(m.first);
    }
  } else {
    return Status::error(dir + ": no model.safetensors or model.safetensors.index.json");
  }

  // Open each weight file once (sorted by name: std::map order).
  const std::string dirReal = realPath(dir);
  if (dirReal.empty()) return Status::error(dir + ": cannot resolve path: " + std::strerror(errno));
  const std::vector<std::string> shardFolders = allowedShardFolders(dirReal);
  std::map<std::string, size_t> shardIndex; // shard name -> index in shards_
  for (const auto &s : listed) {
    const std::string path = dir + "/" + s.first;
    if (sharded) {
      if (!fileExists(path))
        return Status::error(indexPath + ": shard '" + s.first + "' (for tensor '" +
                             s.second.front() + "') does not exist");
      std::string real = realPath(path);
      bool inside = false;
      for (const std::string &folder : shardFolders)
        inside |= !real.empty() && real.compare(0, folder.size() + 1, folder + "/") == 0;
      if (!inside)
        return Status::error(indexPath + ": shard '" + s.first + "' resolves outside the model folder (" + real +
                             ")" + (shardFolders.size() > 1 ? " and its cache's blobs/ folder" : ""));
    }
    Expected<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::open(path);
    if (!f) return f.status();
    hash.updateString(s.first);
    hash.updateU64((*f)->fileSize());
    hash.updateString(std::string((*f)->headerBytes()));
    shardIndex[s.first] = ck->shards_.size();
    ck->shards_.push_back(std::move(*f));
  }

  // Cross-check the index against the shards' contents.
  std::map<std::string, const SafetensorsFile *> owner; // tensor -> its file
  for (const auto &s : shardIndex) {
    const SafetensorsFile &file = *ck->shards_[s.second];
    for (const std::string &name : file.names()) {
      if (sharded) {
        auto it = weightMap.find(name);
        if (it == weightMap.end())
          return Status::error(file.path() + ": tensor '" + name + "' is not listed in " +
                               indexPath);
        if (it->second != s.first) {
          const SafetensorsFile &other = *ck->shards_[shardIndex[it->second]];
          if (other.find(name))
            return Status::error(indexPath + ": tensor '" + name + "' is in two shards, '" +
                                 s.first + "' and '" + it->second + "'");
          return Status::error(file.path() + ": tensor '" + name +
                               "' is in this shard but the index lists it in '" + it->second +
                               "'");
        }
      }
      owner[name] = &file;
      ck->tensors_[name] = file.find(name);
    }
  }
  for (const auto &t : weightMap)
    if (!ck->shards_[shardIndex[t.second]]->find(t.first))
      return Status::error(indexPath + ": tensor '" + t.first + "' is listed in shard '" +
                           t.second + "' but is missing from it");

  // The Llama graph's tensors: present, shaped as the config says, floating.
  const ModelConfig &c = ck->config_;
  std::set<std::string> needed;
  auto checkTensor = [&](const std::string &name, const std::vector<int64_t> &shape) -> Status {
    const TensorRef *t = ck->find(name);
    const std::string &file = owner[name]->path();
    if (t->shape != shape)
      return Status::error(file + ": tensor '" + name + "' has shape " + shapeText(t->shape) +
                           " but config.json implies " + shapeText(shape));
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)
      return Status::error(file + ": tensor '" + name + "' has dtype " + dtypeName(t->dtype) +
                           "; Llama weights must be F32, BF16 or F16");
    return Status::ok();
  };
  for (const auto &e : expectedTensors(c)) {
    needed.insert(e.first);
    if (layout && layout->ownsLinear(e.first)) continue; // validated by the layout
    if (!ck->find(e.first))
      return Status::error(dir + ": missing tensor '" + e.first + "' (expected shape " +
                           shapeText(e.second) + ")");
    QCC_RETURN_IF_ERROR(checkTensor(e.first, e.second));
  }
  if (c.tieWordEmbeddings && ck->find("lm_head.weight") && !(layout && layout->ownsLinear("lm_head.weight"))) {
    needed.insert("lm_head.weight");
    QCC_RETURN_IF_ERROR(checkTensor("lm_head.weight", {c.vocabSize, c.hiddenSize}));
  }

  // Extras: inside a layer they would change the model; elsewhere ignore them.
  const std::string layerPrefix = "model.layers.";
  for (const auto &t : ck->tensors_) {
    const std::string &name = t.first;
    if (needed.count(name) || (layout && layout->ownsTensor(name))) continue;
    if (name.compare(0, layerPrefix.size(), layerPrefix) == 0) {
      size_t p = layerPrefix.size(), q = p;
      while (q < name.size() && q - p < 10 && name[q] >= '0' && name[q] <= '9') ++q;
      bool numbered = q > p && q < name.size() && name[q] == '.';
      long long layer = numbered ? std::atoll(name.substr(p, q - p).c_str()) : -1;
      if (numbered && layer >= c.numLayers)
        return Status::error(owner[name]->path() + ": tensor '" + name + "' is for layer " +
                             std::to_string(layer) + " but config.json has " +
                             std::to_string(c.numLayers) + " layers");
      if (!(numbered && name.substr(q + 1) == "self_attn.rotary_emb.inv_freq"))
        return Status::error(owner[name]->path() + ": unexpected tensor '" + name +
                             "' (not part of the Llama graph)");
    }
    ck->ignored_.push_back(name);
  }
  if (layout) QCC_RETURN_IF_ERROR(layout->validate(*ck));
  // Provenance: config.json, the files' names, sizes and headers. Every
  // tensor's bytes are hashed (and checked finite) where they become IR
  // parameters (the importer), not here: one read of each byte.
  ck->hash_ = hash.hex();
  return ck;
}

const TensorRef *Checkpoint::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> Checkpoint::tensorNames() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto &t : tensors_) out.push_back(t.first);
  return out;
}

} // namespace qcc
