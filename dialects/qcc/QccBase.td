//===- QccBase.td - the qcc dialect, its enums and attributes -------------===//
//
// The qcc dialect expresses a Llama-3.1 decoder before and after quantization.
// Weights are referenced by handle (a name in the weight store), never held
// as ordinary dense attributes, except tiny inline weights in lit tests.
//
//===----------------------------------------------------------------------===//

#ifndef QCC_BASE_TD
#define QCC_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Qcc_Dialect : Dialect {
  let name = "qcc";
  let cppNamespace = "::qcc";
  let summary = "A dialect for quantized Llama-3.1 inference graphs";
  let description = [{
    The dataflow graph of a decoder-only transformer (embedding, RMSNorm,
    linear layers with a numeric format, rotary embedding with Llama-3.1
    frequency scaling, causal grouped-query attention over a KV cache,
    SwiGLU, residual add, logits), its weights as parameters in archives,
    and the fused forms qcc-fuse produces (multi-weight linears, RMSNorm and
    SwiGLU with dynamic per-token activation quantization, residual
    epilogues). Activations are ranked tensors `[tokens, features]` whose
    first dimension may be dynamic.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

// Numeric formats of a linear layer (arXiv 2411.02355).
def Qcc_FormatKind : I32EnumAttr<"FormatKind", "numeric format of a linear layer", [
    I32EnumAttrCase<"bf16", 0>,
    I32EnumAttrCase<"fp8", 1>,
    I32EnumAttrCase<"int8", 2>,
    I32EnumAttrCase<"w4a16", 3>]> {
  let cppNamespace = "::qcc";
  let genSpecializedAttr = 0;
}

def Qcc_QuantMethod : I32EnumAttr<"QuantMethod", "weight quantization method", [
    I32EnumAttrCase<"rtn", 0>,
    I32EnumAttrCase<"gptq", 1>,
    I32EnumAttrCase<"awq", 2>,
    // Codes and scales taken as stored in a pre-quantized checkpoint
    // (compressed-tensors), not computed by qcc.
    I32EnumAttrCase<"imported", 3>]> {
  let cppNamespace = "::qcc";
  let genSpecializedAttr = 0;
}

def Qcc_QuantMethodAttr : EnumAttr<Qcc_Dialect, Qcc_QuantMethod, "quant_method">;

class Qcc_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Qcc_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Qcc_FormatAttr : Qcc_Attr<"Format", "format"> {
  let summary = "numeric format of a linear layer";
  let description = [{
    `bf16` (unquantized), `fp8` (W8A8-FP: e4m3 weights per output channel,
    e4m3 activations per token), `int8` (W8A8-INT: int8 weights per output
    channel, int8 activations per token) or `w4a16` (W4A16-INT: int4 weights
    with one scale per `group` input channels, 16-bit activations).

    ```mlir
    #qcc.format<bf16>
    #qcc.format<fp8>
    #qcc.format<w4a16, group = 128>
    ```
  }];
  let parameters = (ins "::qcc::FormatKind":$kind, DefaultValuedParameter<"int64_t", "0">:$groupSize);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isQuantized() const { return getKind() != ::qcc::FormatKind::bf16; }
    // W8A8 formats quantize activations per token at run time.
    bool quantizesActivations() const {
      return getKind() == ::qcc::FormatKind::fp8 || getKind() == ::qcc::FormatKind::int8;
    }
    // Storage element type of quantized weights (i4, i8, f8E4M3FN) or null for bf16.
    ::mlir::Type getWeightStorageType(::mlir::MLIRContext *ctx) const;
  }];
}

def Qcc_ParamAttr : Qcc_Attr<"Param", "param"> {
  let summary = "a tensor in a parameter archive, with its content hash";
  let description = [{
    Names tensor `key` of the archive `@archive` (a `qcc.archive` op of the
    module: a Hugging Face checkpoint folder or a safetensors file a pass
    wrote) and the XXH3-128 digest of its bytes, which every reader checks.
    A quantized weight's parameter is two tensors, `key` (the codes) and
    `key.scales`, hashed together.

    ```mlir
    #qcc.param<@checkpoint["model.layers.0.mlp.up_proj.weight"], "5a1e0c...">
    ```
  }];
  let parameters = (ins "::mlir::FlatSymbolRefAttr":$archive, StringRefParameter<>:$key,
                        StringRefParameter<>:$hash);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Qcc_RopeScalingAttr : Qcc_Attr<"RopeScaling", "llama3_rope_scaling"> {
  let summary = "Llama-3.1 (`llama3`) rotary frequency scaling";
  let description = [{
    The `rope_scaling` of a Llama-3.1 config.json with `rope_type = "llama3"`:
    wavelengths longer than `original_max_position_embeddings / low_freq_factor`
    are divided by `factor`, shorter than `.../high_freq_factor` are kept, and
    the band between is interpolated smoothly.

    ```mlir
    #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>
    ```
  }];
  let parameters = (ins "::llvm::APFloat":$factor, "::llvm::APFloat":$lowFreqFactor,
                        "::llvm::APFloat":$highFreqFactor, "int64_t":$originalMaxPositionEmbeddings);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

#endif // QCC_BASE_TD
