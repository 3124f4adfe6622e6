// A Hugging Face Llama checkpoint folder, opened and validated:
//   config.json  +  model.safetensors
//             or  model.safetensors.index.json + the shards it names.
// (When both a single file and an index exist, the single file wins, as in
// transformers.)
//
// Sharded index rules: "weight_map" is an object of tensor name -> shard file
// name; each shard name is a plain file name inside the folder (no '/', no
// "..", not absolute), and its real path (symlinks resolved) lies inside the
// folder's real path, or, when the folder is a Hugging Face cache snapshot
// (<repo>/snapshots/<revision>/), inside that cache's <repo>/blobs/ (where
// the snapshot's symlinks point); any other escape is an error. Every listed tensor is in the shard it is listed for,
// no tensor is in two shards, and a shard holds no tensor the index does not
// list for it.
//
// Llama tensor rules (D hidden, F intermediate, V vocab, H heads, Hkv kv
// heads, Dh head_dim; floating dtypes F32 / BF16 / F16 only):
//   model.embed_tokens.weight [V, D]          model.norm.weight [D]
//   model.layers.{i}.input_layernorm.weight [D]
//   model.layers.{i}.post_attention_layernorm.weight [D]
//   model.layers.{i}.self_attn.q_proj.weight [H*Dh, D]
//   model.layers.{i}.self_attn.{k,v}_proj.weight [Hkv*Dh, D]
//   model.layers.{i}.self_attn.o_proj.weight [D, H*Dh]
//   model.layers.{i}.mlp.{gate,up}_proj.weight [F, D]
//   model.layers.{i}.mlp.down_proj.weight [D, F]
//   lm_head.weight [V, D]  (required unless tie_word_embeddings; a tied
//                           model may carry it if the shape matches)
// Opening reads headers only; the importer reads every weight byte once
// (each tensor's content hash, and formats::checkFinite).
// Limits: config.json at most kMaxConfigJsonBytes (LlamaConfig.h), the index
// at most kMaxIndexJsonBytes, a safetensors header kSafetensorsMaxHeaderSize.
// Other tensors: any other name under "model.layers.{i}." (a bias, a layer
// index >= num_hidden_layers) is an error, because ignoring it would compute
// a different model; the exception is "self_attn.rotary_emb.inv_freq", which
// is derived from the config. Names outside the layers (for example
// "model.rotary_emb.inv_freq") are ignored and listed by ignoredTensorNames().
#pragma once

#include "frontends/llama/Safetensors.h"
#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "support/Status.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc {

constexpr uint64_t kMaxIndexJsonBytes = uint64_t(64) << 20;

class Checkpoint;

// A checkpoint that stores some linears quantized (compressed-tensors: codes +
// scales, see frontends/compressed_tensors) declares it in config.json's
// "quantization_config". The reader then leaves those linears to a layout,
// built from config.json by the factory given to open(): it skips the dense
// presence/dtype rule for the linears the layout owns, accepts the extra
// tensors it owns inside the layers, and lets it validate them at the end.
class QuantizedLayout {
public:
  virtual ~QuantizedLayout() = default;
  // `weightName` is a linear's dense name ("model.layers.0.mlp.up_proj.weight").
  virtual bool ownsLinear(const std::string &weightName) const = 0;
  // Any other tensor the layout stores ("...up_proj.weight_scale").
  virtual bool ownsTensor(const std::string &name) const = 0;
  // Called once every tensor is indexed (names, dtypes, shapes; may read small tensors).
  virtual Status validate(const Checkpoint &checkpoint) const = 0;
};
// Builds the layout from config.json's text; nullptr when the checkpoint is dense.
using QuantizedLayoutFactory = std::function<Expected<std::unique_ptr<QuantizedLayout>>(
    const std::string &configText, const std::string &configPath, const ModelConfig &config)>;

class Checkpoint : public WeightProvider {
public:
  // Without a factory, a config.json with a non-null "quantization_config" is
  // an error naming its quant_method.
  static Expected<std::unique_ptr<Checkpoint>> open(const std::string &modelDir,
                                                    const QuantizedLayoutFactory &layoutFactory = nullptr);

  const ModelConfig &config() const { return config_; }
  // nullptr when absent. The TensorRef points into an mmap'ed shard.
  const TensorRef *find(const std::string &name) const override;
  // Every tensor in the checkpoint's weight files, sorted.
  std::vector<std::string> tensorNames() const;
  // Tensors present but not used by the Llama graph (see above), sorted.
  const std::vector<std::string> &ignoredTensorNames() const { return ignored_; }
  const std::string &directory() const { return dir_; }
  // The quantized layout open() was given and config.json asked for; nullptr for a dense checkpoint.
  const QuantizedLayout *quantizedLayout() const { return layout_.get(); }
  // The weight files, in sorted file-name order.
  const std::vector<std::unique_ptr<SafetensorsFile>> &shards() const { return shards_; }

  // XXH3-128 (support/Hash.h) over config.json's bytes, then for each weight
  // file in sorted name order its file name, file size and header bytes, as
  // 32 lowercase hex digits: any change to a name, shape, dtype, offset or the
  // config changes it. Weight values are not read here: the importer's
  // qcc.checkpoint_hash adds every parameter's content hash to this one.
  const std::string &contentHash() const { return hash_; }

  // The name and expected shape of every tensor the graph needs, in a fixed
  // order (embeddings, layers 0..L-1, final norm, lm_head unless tied).
  static std::vector<std::pair<std::string, std::vector<int64_t>>>
  expectedTensors(const ModelConfig &config);

private:
  Checkpoint() = default;
  ModelConfig config_;
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorRef *> tensors_;
  std::vector<std::string> ignored_;
  std::string hash_;
  std::unique_ptr<QuantizedLayout> layout_;
};

} // namespace qcc
