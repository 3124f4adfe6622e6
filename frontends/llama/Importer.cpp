#include "frontends/llama/Importer.h"

#include "dialects/qcc/QccDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace qcc {
namespace {

class LlamaImporter {
public:
  LlamaImporter(MLIRContext &ctx, const Checkpoint &ckpt, Type actElem)
      : ctx_(ctx), ckpt_(ckpt), cfg_(ckpt.config()), b_(&ctx), actElem_(actElem),
        loc_(FileLineColLoc::get(&ctx, ckpt.directory() + "/config.json", 1, 1)) {}

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc_);
    annotateModule(*module);
    b_.setInsertionPointToEnd(module->getBody());

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
    Value table = weight("model.embed_tokens.weight");
    Value h = EmbeddingOp::create(b_, loc_, act(D), table, ids);
    for (int64_t layer = 0; layer < cfg_.numLayers; ++layer)
      h = decoderLayer(h, positions, layer);
    h = rmsNorm(h, "model.norm.weight");
    Value head = weight(cfg_.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    Value logits = LogitsOp::create(b_, loc_, logitsType, h, head, bf16Format());
    func::ReturnOp::create(b_, loc_, logits);
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

  // A handle to a checkpoint tensor; each is referenced once per use site and
  // uniqued by CSE if needed.
  Value weight(const std::string &name) {
    const TensorRef *t = ckpt_.find(name);
    assert(t && "the checkpoint reader checked every expected tensor");
    auto type = RankedTensorType::get(t->shape, elementTypeOf(t->dtype));
    return WeightOp::create(b_, loc_, type, b_.getStringAttr(name), ElementsAttr());
  }

  Value rmsNorm(Value x, const std::string &weightName) {
    return RMSNormOp::create(b_, loc_, x, weight(weightName), b_.getF64FloatAttr(cfg_.rmsNormEps));
  }

  Value linear(Value x, const std::string &module, int64_t outFeatures) {
    return LinearOp::create(b_, loc_, act(outFeatures), x, weight(module + ".weight"), bf16Format(),
                            b_.getStringAttr(module));
  }

  Value rope(Value x, Value positions, int64_t heads) {
    RopeScalingAttr scaling;
    if (cfg_.ropeScaling.enabled) {
      const RopeScaling &s = cfg_.ropeScaling;
      scaling = RopeScalingAttr::get(&ctx_, APFloat(s.factor), APFloat(s.lowFreqFactor),
                                     APFloat(s.highFreqFactor), s.originalMaxPositionEmbeddings);
    }
    return RopeOp::create(b_, loc_, x, positions, b_.getI64IntegerAttr(heads),
                          b_.getI64IntegerAttr(cfg_.headDim), b_.getF64FloatAttr(cfg_.ropeTheta), scaling);
  }

  // One pre-norm decoder layer: h + attn(norm(h)), then + mlp(norm(.)).
  Value decoderLayer(Value h, Value positions, int64_t layer) {
    const std::string p = "model.layers." + std::to_string(layer);
    const int64_t D = cfg_.hiddenSize, F = cfg_.intermediateSize;
    const int64_t H = cfg_.numHeads, Hkv = cfg_.numKvHeads, Dh = cfg_.headDim;

    Value x = rmsNorm(h, p + ".input_layernorm.weight");             // [T, D]
    Value q = linear(x, p + ".self_attn.q_proj", H * Dh);             // [T, H*Dh]
    Value k = linear(x, p + ".self_attn.k_proj", Hkv * Dh);           // [T, Hkv*Dh]
    Value v = linear(x, p + ".self_attn.v_proj", Hkv * Dh);           // [T, Hkv*Dh]
    q = rope(q, positions, H);
    k = rope(k, positions, Hkv);
    Value o = AttentionOp::create(b_, loc_, q, k, v, b_.getI64IntegerAttr(H), b_.getI64IntegerAttr(Hkv),
                                  b_.getI64IntegerAttr(Dh), b_.getI64IntegerAttr(layer)); // [T, H*Dh]
    o = linear(o, p + ".self_attn.o_proj", D);                        // [T, D]
    h = AddOp::create(b_, loc_, h, o);

    x = rmsNorm(h, p + ".post_attention_layernorm.weight");
    Value gate = linear(x, p + ".mlp.gate_proj", F);                  // [T, F]
    Value up = linear(x, p + ".mlp.up_proj", F);                      // [T, F]
    Value a = SwiGLUOp::create(b_, loc_, gate, up);                   // [T, F]
    Value down = linear(a, p + ".mlp.down_proj", D);                  // [T, D]
    return AddOp::create(b_, loc_, h, down);
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
    module->setAttr("qcc.model_config", b_.getDictionaryAttr(c));
    module->setAttr("qcc.checkpoint", b_.getStringAttr(ckpt_.directory()));
    module->setAttr("qcc.checkpoint_hash", b_.getStringAttr(ckpt_.contentHash()));
  }

  MLIRContext &ctx_;
  const Checkpoint &ckpt_;
  const ModelConfig &cfg_;
  OpBuilder b_;
  Type actElem_;
  Location loc_;
};

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

  OwningOpRef<ModuleOp> module = LlamaImporter(context, checkpoint, actElem).run();
  if (failed(verify(*module)))
    return Status::error(checkpoint.directory() + ": the imported module does not verify");
  return std::move(module);
}

} // namespace qcc
