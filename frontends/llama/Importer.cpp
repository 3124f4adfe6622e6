#include "frontends/llama/Importer.h"

#include "dialects/qcc/QccDialect.h"
#include "frontends/compressed_tensors/Layout.h"
#include "passes/Params.h"
#include "runtime/formats/Finite.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <atomic>
#include <climits>
#include <cstdlib>
#include <map>
#include <sys/stat.h>
#include <thread>

using namespace mlir;

namespace qcc {
namespace {

class LlamaImporter {
public:
  LlamaImporter(MLIRContext &ctx, const Checkpoint &ckpt, Type actElem, std::string archivePath,
                std::map<std::string, std::string> hashes)
      : ctx_(ctx), ckpt_(ckpt), cfg_(ckpt.config()), b_(&ctx), actElem_(actElem),
        fileLoc_(FileLineColLoc::get(&ctx, archivePath + "/config.json", 1, 1)), loc_(fileLoc_),
        archivePath_(std::move(archivePath)), hashes_(std::move(hashes)),
        ct_(compressed_tensors::compressedLayout(ckpt)) {}

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc_);
    annotateModule(*module);
    b_.setInsertionPointToEnd(module->getBody());
    ArchiveOp::create(b_, loc_, b_.getStringAttr("checkpoint"), b_.getStringAttr(archivePath_));

    const int64_t D = cfg_.hiddenSize, V = cfg_.vocabSize;
    auto idsType = RankedTensorType::get({ShapedType::kDynamic}, b_.getI64Type());
    auto logitsType = RankedTensorType::get({ShapedType::kDynamic, V}, b_.getF32Type());
    auto fn = func::FuncOp::create(b_, loc_, "forward",
                                   b_.getFunctionType({idsType, idsType}, {logitsType}));
    fn->setAttr("qcc.description",
                b_.getStringAttr("token ids [T] and their positions [T] -> logits [T, vocab]"));
    Block *entry = fn.addEntryBlock();
    b_.setInsertionPointToStart(entry);
    Value ids = entry->getArgument(0), positions = entry->getArgument(1);

    // h: [T, D]
    at("model.embed_tokens");
    Value table = weight("model.embed_tokens.weight");
    Value h = EmbeddingOp::create(b_, loc_, act(D), table, ids);
    for (int64_t layer = 0; layer < cfg_.numLayers; ++layer) {
      block_ = layer;
      h = decoderLayer(h, positions, layer);
    }
    block_ = -1;
    at("model.norm");
    h = rmsNorm(h, "model.norm.weight");
    // A tied head reads the embedding table (as transformers ties them).
    at("lm_head");
    Value head;
    FormatAttr headFormat = bf16Format();
    if (isStoredQuantized("lm_head")) {
      head = quantizedWeight("lm_head", V, D);
      headFormat = storedFormat("lm_head");
    } else {
      head = weight(cfg_.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    }
    Value logits = LogitsOp::create(b_, loc_, logitsType, h, head, headFormat);
    func::ReturnOp::create(b_, fileLoc_, logits);
    // Sequential calibration works one decoder layer at a time (Op.block).
    fn.walk([&](Operation *op) {
      if (auto b = blockOf_.find(op); b != blockOf_.end()) op->setAttr("qcc.block", b_.getI64IntegerAttr(b->second));
    });
    return module;
  }

private:
  RankedTensorType act(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, actElem_);
  }

  FormatAttr bf16Format() { return FormatAttr::get(&ctx_, FormatKind::bf16, 0); }

  Type elementTypeOf(DType dtype) {
    switch (dtype) {
    case DType::BF16: return b_.getBF16Type();
    case DType::F16: return b_.getF16Type();
    default: return b_.getF32Type(); // the checkpoint reader admits only F32/BF16/F16 here
    }
  }

  // Names what the next ops compute in the checkpoint's terms (their location).
  void at(const std::string &module) { loc_ = NameLoc::get(b_.getStringAttr(module), fileLoc_); }

  // Ops of decoder layer i are block i of sequential calibration.
  template <typename OpT, typename... Args> OpT make(Args &&...args) {
    OpT op = OpT::create(b_, loc_, std::forward<Args>(args)...);
    if (block_ >= 0) blockOf_[op.getOperation()] = block_;
    return op;
  }

  // A parameter of the checkpoint archive; each use site gets its own op.
  Value weight(const std::string &name) {
    const TensorRef *t = ckpt_.find(name);
    assert(t && "the checkpoint reader checked every expected tensor");
    auto type = RankedTensorType::get(t->shape, elementTypeOf(t->dtype));
    auto param = ParamAttr::get(&ctx_, FlatSymbolRefAttr::get(&ctx_, "checkpoint"), name, hashes_.at(name));
    return WeightOp::create(b_, NameLoc::get(b_.getStringAttr(name), fileLoc_), type, b_.getStringAttr(name),
                            param, ElementsAttr());
  }

  Value rmsNorm(Value x, const std::string &weightName) {
    Value w = weight(weightName);
    return make<RMSNormOp>(x, w, b_.getF64FloatAttr(cfg_.rmsNormEps));
  }

  Value linear(Value x, const std::string &module, int64_t outFeatures) {
    at(module);
    if (isStoredQuantized(module)) {
      const int64_t K = cast<RankedTensorType>(x.getType()).getDimSize(1);
      Value w = quantizedWeight(module, outFeatures, K);
      return make<LinearOp>(act(outFeatures), x, Value(), w, Value(), storedFormat(module), b_.getStringAttr(module));
    }
    Value w = weight(module + ".weight");
    return make<LinearOp>(act(outFeatures), x, Value(), w, Value(), bf16Format(), b_.getStringAttr(module));
  }

  // A compressed-tensors checkpoint stores some linears quantized: their codes
  // and scales are taken as stored (the parameter is the module, decoded by
  // passes/Params.h), and their format is fixed by the checkpoint.
  bool isStoredQuantized(const std::string &module) const { return ct_ && ct_->isQuantized(module); }
  FormatAttr storedFormat(const std::string &module) {
    formats::FormatSpec f = *ct_->formatOf(module); // checked at open
    switch (f.format) {
    case formats::Format::FP8: return FormatAttr::get(&ctx_, FormatKind::fp8, 0);
    case formats::Format::INT8: return FormatAttr::get(&ctx_, FormatKind::int8, 0);
    case formats::Format::W4A16: return FormatAttr::get(&ctx_, FormatKind::w4a16, f.groupSize);
    case formats::Format::BF16: break;
    }
    return bf16Format();
  }
  Value quantizedWeight(const std::string &module, int64_t N, int64_t K) {
    FormatAttr format = storedFormat(module);
    auto type = RankedTensorType::get({N, K}, format.getWeightStorageType(&ctx_));
    const std::string name = module + ".weight";
    auto param = ParamAttr::get(&ctx_, FlatSymbolRefAttr::get(&ctx_, "checkpoint"), module, hashes_.at(module));
    return QuantizedWeightOp::create(b_, NameLoc::get(b_.getStringAttr(name), fileLoc_), type, b_.getStringAttr(name),
                                     param, format, QuantMethodAttr::get(&ctx_, QuantMethod::imported),
                                     UnitAttr(), ElementsAttr(), ElementsAttr());
  }

  Value rope(Value x, Value positions, int64_t heads) {
    RopeScalingAttr scaling;
    if (cfg_.ropeScaling.enabled) {
      const RopeScaling &s = cfg_.ropeScaling;
      scaling = RopeScalingAttr::get(&ctx_, APFloat(s.factor), APFloat(s.lowFreqFactor),
                                     APFloat(s.highFreqFactor), s.originalMaxPositionEmbeddings);
    }
    return make<RopeOp>(TypeRange{x.getType()}, ValueRange{x}, positions, b_.getDenseI64ArrayAttr({heads}),
                        b_.getI64IntegerAttr(cfg_.headDim), b_.getF64FloatAttr(cfg_.ropeTheta), scaling)
        .getResult(0);
  }

  // One pre-norm decoder layer: h + attn(norm(h)), then + mlp(norm(.)).
  Value decoderLayer(Value h, Value positions, int64_t layer) {
    const std::string p = "model.layers." + std::to_string(layer);
    const int64_t D = cfg_.hiddenSize, F = cfg_.intermediateSize;
    const int64_t H = cfg_.numHeads, Hkv = cfg_.numKvHeads, Dh = cfg_.headDim;

    at(p + ".input_layernorm");
    Value x = rmsNorm(h, p + ".input_layernorm.weight");             // [T, D]
    Value q = linear(x, p + ".self_attn.q_proj", H * Dh);             // [T, H*Dh]
    Value k = linear(x, p + ".self_attn.k_proj", Hkv * Dh);           // [T, Hkv*Dh]
    Value v = linear(x, p + ".self_attn.v_proj", Hkv * Dh);           // [T, Hkv*Dh]
    at(p + ".self_attn.rotary_emb");
    q = rope(q, positions, H);
    k = rope(k, positions, Hkv);
    at(p + ".self_attn");
    Value o = make<AttentionOp>(q.getType(), q, k, v, positions, b_.getI64IntegerAttr(H),
                                b_.getI64IntegerAttr(Hkv), b_.getI64IntegerAttr(Dh),
                                b_.getI64IntegerAttr(layer)); // [T, H*Dh], KV cache `layer`
    o = linear(o, p + ".self_attn.o_proj", D);                        // [T, D]
    at(p + ".self_attn.residual");
    h = make<AddOp>(h, o);

    at(p + ".post_attention_layernorm");
    x = rmsNorm(h, p + ".post_attention_layernorm.weight");
    Value gate = linear(x, p + ".mlp.gate_proj", F);                  // [T, F]
    Value up = linear(x, p + ".mlp.up_proj", F);                      // [T, F]
    at(p + ".mlp.act_fn");
    Value a = make<SwiGLUOp>(gate, up);                               // [T, F]
    Value down = linear(a, p + ".mlp.down_proj", D);                  // [T, D]
    at(p + ".mlp.residual");
    return make<AddOp>(h, down);
  }

  void annotateModule(ModuleOp module) {
    SmallVector<NamedAttribute> c;
    auto i64 = [&](const char *name, int64_t v) { c.push_back(b_.getNamedAttr(name, b_.getI64IntegerAttr(v))); };
    auto f64 = [&](const char *name, double v) { c.push_back(b_.getNamedAttr(name, b_.getF64FloatAttr(v))); };
    i64("hidden_size", cfg_.hiddenSize);
    i64("intermediate_size", cfg_.intermediateSize);
    i64("num_hidden_layers", cfg_.numLayers);
    i64("num_attention_heads", cfg_.numHeads);
    i64("num_key_value_heads", cfg_.numKvHeads);
    i64("head_dim", cfg_.headDim);
    i64("vocab_size", cfg_.vocabSize);
    i64("max_position_embeddings", cfg_.maxPositionEmbeddings);
    f64("rms_norm_eps", cfg_.rmsNormEps);
    f64("rope_theta", cfg_.ropeTheta);
    c.push_back(b_.getNamedAttr("tie_word_embeddings", b_.getBoolAttr(cfg_.tieWordEmbeddings)));
    i64("bos_token_id", cfg_.bosTokenId);
    c.push_back(b_.getNamedAttr("eos_token_ids", b_.getI64ArrayAttr(cfg_.eosTokenIds)));
    const char *dtype = cfg_.torchDtype == ModelConfig::TorchDtype::BFloat16  ? "bfloat16"
                        : cfg_.torchDtype == ModelConfig::TorchDtype::Float16 ? "float16"
                                                                               : "float32";
    c.push_back(b_.getNamedAttr("torch_dtype", b_.getStringAttr(dtype)));
    if (cfg_.ropeScaling.enabled) {
      const RopeScaling &r = cfg_.ropeScaling;
      c.push_back(b_.getNamedAttr("rope_scaling", RopeScalingAttr::get(&ctx_, APFloat(r.factor), APFloat(r.lowFreqFactor),
                                                                       APFloat(r.highFreqFactor),
                                                                       r.originalMaxPositionEmbeddings)));
    }
    module->setAttr("qcc.model_config", b_.getDictionaryAttr(c));
    std::string base = ckpt_.directory();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    module->setAttr("qcc.model_name", b_.getStringAttr(base.substr(base.find_last_of('/') + 1)));
    // The checkpoint's provenance hash: its files' metadata (Checkpoint::
    // contentHash) and every parameter's own hash, so it covers weight values
    // without a second read of them.
    ContentHasher checkpointHash;
    checkpointHash.updateString(ckpt_.contentHash());
    for (const auto &[name, hash] : hashes_) {
      checkpointHash.updateString(name);
      checkpointHash.updateString(hash);
    }
    module->setAttr("qcc.checkpoint_hash", b_.getStringAttr(checkpointHash.hex()));
    // The tokenizer's files travel with the model into the artifact (text in
    // and out, chat): recorded by path and content hash.
    std::vector<RecordedFile> tokenizer;
    for (const char *name : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) {
      const std::string path = archivePath_ + "/" + name;
      if (auto file = MappedFile::open(path))
        tokenizer.push_back({name, path, contentHash((*file)->data(), (*file)->size())});
    }
    if (!tokenizer.empty()) module->setAttr("qcc.tokenizer", tokenizerFilesAttr(&ctx_, tokenizer));
  }

  MLIRContext &ctx_;
  const Checkpoint &ckpt_;
  const ModelConfig &cfg_;
  OpBuilder b_;
  Type actElem_;
  Location fileLoc_, loc_;
  std::string archivePath_;
  std::map<std::string, std::string> hashes_; // tensor name (or stored-quantized module) -> XXH3-128
  const compressed_tensors::CompressedLayout *ct_; // null: a dense checkpoint
  int64_t block_ = -1;
  std::map<Operation *, int64_t> blockOf_;
};

// XXH3-128 of every tensor the graph reads, on every core, each checked
// finite on the way; each tensor's pages are released after hashing, so the
// resident set stays small.
// A compressed-tensors checkpoint's quantized linears are hashed by module,
// over the tensors their decoding reads.
Expected<std::map<std::string, std::string>> hashTensors(const Checkpoint &ckpt) {
  const compressed_tensors::CompressedLayout *ct = compressed_tensors::compressedLayout(ckpt);
  std::vector<std::string> names;
  std::vector<bool> module;
  for (const auto &[name, shape] : Checkpoint::expectedTensors(ckpt.config())) {
    const std::string owner = name.substr(0, name.size() - std::string(".weight").size());
    const bool quantized = ct && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                           ct->isQuantized(owner);
    names.push_back(quantized ? owner : name);
    module.push_back(quantized);
  }
  if (ct && ct->isQuantized("lm_head") &&
      std::find(names.begin(), names.end(), "lm_head") == names.end()) {
    names.push_back("lm_head");
    module.push_back(true);
  }
  std::vector<std::string> hashes(names.size());
  std::vector<Status> errors(names.size(), Status::ok());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < names.size(); i = next++) {
      if (module[i]) {
        for (const std::string &source : ct->sourceTensors(ckpt, names[i]))
          if (const TensorRef *t = ckpt.find(source); t && errors[i])
            errors[i] = formats::checkFinite(*t, source); // the scales (codes are integers)
        if (!errors[i]) continue;
        auto h = hashCompressedParam(ckpt, names[i]);
        if (h) hashes[i] = *h;
        else errors[i] = h.status();
        continue;
      }
      const TensorRef *t = ckpt.find(names[i]);
      // No method may quantize a NaN, and no bf16 pass-through may carry one.
      errors[i] = formats::checkFinite(*t, names[i]);
      hashes[i] = hashDenseParam(*t);
      releasePages(t->data, t->byteSize());
    }
  };
  const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), unsigned(names.size())));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(work);
  work();
  for (std::thread &t : pool) t.join();
  for (size_t i = 0; i < names.size(); ++i)
    if (!errors[i]) {
      // Named by the file that holds the tensor (a compressed module: the folder).
      for (const auto &shard : ckpt.shards())
        if (!module[i] && shard->find(names[i])) return errors[i].withContext(shard->path());
      return errors[i].withContext(ckpt.directory());
    }
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = hashes[i];
  return out;
}

} // namespace

Expected<OwningOpRef<ModuleOp>> importLlama(MLIRContext &context, const Checkpoint &checkpoint,
                                            const ImportOptions &options) {
  context.loadDialect<QccDialect, func::FuncDialect>();
  Builder b(&context);
  Type actElem;
  std::string dtype = options.activationDtype;
  if (dtype.empty())
    dtype = checkpoint.config().torchDtype == ModelConfig::TorchDtype::Float32 ? "f32" : "bf16";
  if (dtype == "f32") actElem = b.getF32Type();
  else if (dtype == "bf16") actElem = b.getBF16Type();
  else return Status::error("unknown activation dtype '" + dtype + "' (expected f32 or bf16)");

  char real[PATH_MAX];
  const std::string archive = ::realpath(checkpoint.directory().c_str(), real) ? real : checkpoint.directory();
  const compressed_tensors::CompressedLayout *ct = compressed_tensors::compressedLayout(checkpoint);
  if (ct && ct->isQuantized("lm_head") && checkpoint.config().tieWordEmbeddings)
    return Status::error(checkpoint.directory() + ": lm_head is stored quantized but tied to the embeddings "
                                                  "(tie_word_embeddings): qcc cannot take both");
  // A tokenizer file that is there but cannot be read (a FIFO, too large, no
  // permission) is an error, not a silently text-less model.
  for (const char *name : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) {
    const std::string path = archive + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0)
      if (auto file = MappedFile::open(path); !file) return file.status();
  }
  auto hashed = hashTensors(checkpoint);
  if (!hashed) return hashed.status();
  std::map<std::string, std::string> hashes = std::move(*hashed);
  // The readers of this process need not hash them again.
  for (const auto &[name, hash] : hashes) markParamVerified(archive, name, hash);
  OwningOpRef<ModuleOp> module = LlamaImporter(context, checkpoint, actElem, archive, std::move(hashes)).run();
  if (failed(verify(*module)))
    return Status::error(checkpoint.directory() + ": the imported module does not verify");
  return std::move(module);
}

} // namespace qcc
