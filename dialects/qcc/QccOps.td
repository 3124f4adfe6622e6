//===- QccOps.td - qcc dialect ops ----------------------------------------===//

#ifndef QCC_OPS_TD
#define QCC_OPS_TD

include "dialects/qcc/QccBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def I4 : I<4>;

class Qcc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qcc_Dialect, mnemonic, traits>;

// Activations: [tokens, features], float (bf16 / f16 / f32).
def Qcc_Activation : 2DTensorOf<[BF16, F16, F32]>;
// Dynamically quantized activations: int8 or e4m3 codes [tokens, features].
def Qcc_ActivationCodes : 2DTensorOf<[I8, F8E4M3FN]>;
def Qcc_TokenScales : 1DTensorOf<[F32]>;
def Qcc_TokenIds : 1DTensorOf<[I32, I64]>;
def Qcc_LinearWeight : 2DTensorOf<[BF16, F16, F32, I4, I8, F8E4M3FN]>;

// The KV caches the attention ops write and read.
def Qcc_KVCache : Resource<"::qcc::KVCacheResource">;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Qcc_ArchiveOp : Qcc_Op<"archive", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "a parameter archive the module's weights live in";
  let description = [{
    A Hugging Face checkpoint folder (config.json + safetensors, sharded or
    not) or a safetensors file a pass wrote. `#qcc.param` attributes name
    tensors in it by key; the archive is opened, mmap'ed and checked against
    each parameter's hash when a pass, the translation or the calibration
    reads it.

    ```mlir
    qcc.archive @checkpoint "/models/llama-3.1-8b"
    qcc.archive @smoothquant "/tmp/m.params/qcc-fold-smoothquant-1f0e9a2b.safetensors"
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$path);
  let assemblyFormat = "$sym_name $path attr-dict";
  let hasVerifier = 1;
}

def Qcc_WeightOp : Qcc_Op<"weight", [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a dense weight tensor: a parameter of an archive";
  let description = [{
    The tensor `name` of the model (its Hugging Face name), whose bytes are
    the parameter `param`. The IR never holds real weights; only tiny lit
    tests may give an inline `value` instead of a parameter.

    ```mlir
    %w = qcc.weight "model.layers.0.self_attn.q_proj.weight"
           {param = #qcc.param<@checkpoint["model.layers.0.self_attn.q_proj.weight"], "9f3c21...">} : tensor<256x256xbf16>
    %t = qcc.weight "tiny" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : tensor<1x2xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<Qcc_ParamAttr>:$param, OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qcc_QuantizedWeightOp : Qcc_Op<"quantized_weight",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "quantized codes and scales of a weight: a parameter of an archive";
  let description = [{
    The quantized form of the `[N, K]` weight `name`: codes of the format's
    storage type (`i8` for int8, `f8E4M3FN` for fp8, `i4` for w4a16) and fp32
    scales, `[N]` per output channel or `[N, K / group]` per group, stored as
    the tensors `key` (int8 / e4m3 bytes, or int4 packed two per byte, low
    nibble first) and `key.scales` of the parameter's archive. `method`
    records how the codes were found (GPTQ, AWQ; round-to-nearest results
    are `qcc.quantize_weight` ops instead). Tiny lit tests may carry the
    codes and scales inline (`codes`, `scales`).

    ```mlir
    %w = qcc.quantized_weight "model.layers.0.mlp.down_proj.weight"
           {param = #qcc.param<@quantized["model.layers.0.mlp.down_proj.weight"], "77e0a1...">,
            format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>, mse_clip}
           : tensor<256x768xi4>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<Qcc_ParamAttr>:$param, Qcc_FormatAttr:$format,
                       Qcc_QuantMethodAttr:$method, UnitAttr:$mse_clip,
                       OptionalAttr<ElementsAttr>:$codes, OptionalAttr<ElementsAttr>:$scales);
  let results = (outs 2DTensorOf<[I4, I8, F8E4M3FN]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qcc_QuantizeWeightOp : Qcc_Op<"quantize_weight", [Pure]> {
  let summary = "round-to-nearest quantization of a dense weight";
  let description = [{
    The codes and scales of `weight` [N, K] in `format` by round to nearest:
    per-channel (fp8, int8) or per-group (w4a16) absmax scales, or with
    `mse_clip` the MSE-optimal shrink of each channel's or group's range
    (quant/Rtn.h). It is a pure function of a parameter, so it is evaluated
    where the codes are needed (calibration, the artifact), one weight at a
    time, instead of being stored.

    `name` is the quantized tensor's name in the artifact (the dense
    weight's, or `lm_head.weight` for a head tied to the embeddings).

    ```mlir
    %q = qcc.quantize_weight "model.layers.0.self_attn.q_proj.weight" %w {format = #qcc.format<fp8>}
           : tensor<256x256xbf16> -> tensor<256x256xf8E4M3FN>
    ```
  }];
  let arguments = (ins StrAttr:$name, 2DTensorOf<[BF16, F16, F32]>:$weight, Qcc_FormatAttr:$format,
                       UnitAttr:$mse_clip);
  let results = (outs 2DTensorOf<[I4, I8, F8E4M3FN]>:$result);
  let assemblyFormat = "$name $weight attr-dict `:` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Graph ops
//===----------------------------------------------------------------------===//

def Qcc_EmbeddingOp : Qcc_Op<"embedding", [Pure]> {
  let summary = "embedding lookup: rows of a [vocab, hidden] table";
  let description = [{
    Gathers `table[ids[t], :]` for each token and converts it to the result's
    element type (the activation dtype).

    ```mlir
    %h = qcc.embedding %table[%ids] : tensor<2048x256xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins 2DTensorOf<[BF16, F16, F32]>:$table, Qcc_TokenIds:$ids);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)";
  let hasVerifier = 1;
}

def Qcc_RMSNormOp : Qcc_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the feature dimension: x / rms(x) * weight";
  let description = [{
    `y[t, d] = x[t, d] / sqrt(mean_d(x[t, :]^2) + epsilon) * weight[d]`,
    computed in fp32.

    ```mlir
    %y = qcc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x256xbf16>, tensor<256xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, 1DTensorOf<[BF16, F16, F32]>:$weight, F64Attr:$epsilon);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

def Qcc_LinearOp : Qcc_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "y = x · Wᵀ in a numeric format (+ a residual)";
  let description = [{
    `x` is `[T, K]`, the weight `[N, K]` (PyTorch layout), the result `[T, N]`.
    `format` says how the layer computes: before quantization the weight is
    dense; afterwards quantized codes whose format must agree. A W8A8 format
    (fp8, int8) quantizes `x` per token itself, unless `x` already is the
    codes of a `qcc.quantize` (or a fused norm/SwiGLU) with their `scales`.
    With a `residual` (qcc-fuse's epilogue), `y = residual + x · Wᵀ`, each
    rounded to the activation type. `layer` is the module name in the source
    model, used by per-layer rules.

    ```mlir
    %y = qcc.linear %x, %w {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"}
           : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
    %h2 = qcc.linear %c scales %s, %wo residual %h {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.o_proj"}
           : (tensor<?x256xi8>, tensor<?xf32>, tensor<256x256xi8>, tensor<?x256xbf16>) -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins AnyTypeOf<[Qcc_Activation, Qcc_ActivationCodes]>:$input,
                       Optional<Qcc_TokenScales>:$input_scales, Qcc_LinearWeight:$weight,
                       Optional<Qcc_Activation>:$residual, Qcc_FormatAttr:$format, StrAttr:$layer);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = [{
    $input (`scales` $input_scales^)? `,` $weight (`residual` $residual^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Qcc_FusedLinearOp : Qcc_Op<"fused_linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "several linears of one input in one format: one GEMM over stacked weights";
  let description = [{
    `y_i = x · W_iᵀ` for every weight, as one GEMM over the weights stacked
    along N (qcc-fuse makes it from linears that read the same value and
    agree in format and method). `layers` names each part.

    ```mlir
    %q, %k, %v = qcc.fused_linear %x, %wq, %wk, %wv {format = #qcc.format<w4a16, group = 128>,
                   layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                             "model.layers.0.self_attn.v_proj"]}
                 : (tensor<?x256xbf16>, tensor<256x256xi4>, tensor<64x256xi4>, tensor<64x256xi4>)
                 -> (tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>)
    ```
  }];
  let arguments = (ins AnyTypeOf<[Qcc_Activation, Qcc_ActivationCodes]>:$input,
                       Optional<Qcc_TokenScales>:$input_scales, Variadic<Qcc_LinearWeight>:$weights,
                       Qcc_FormatAttr:$format, StrArrayAttr:$layers);
  let results = (outs Variadic<Qcc_Activation>:$results);
  let assemblyFormat = [{
    $input (`scales` $input_scales^)? `,` $weights attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Qcc_RopeOp : Qcc_Op<"rope", [Pure]> {
  let summary = "rotary position embedding (rotate-half layout) of one or two tensors";
  let description = [{
    Rotates each `head_dim`-wide head of every input (`[T, heads[i] *
    head_dim]`) by the angles `positions[t] * inv_freq[j]`, `inv_freq[j] =
    theta^(-2j/head_dim)`, adjusted by Llama-3.1 `scaling` when present.
    Pairs are `(j, j + head_dim/2)` as in Hugging Face's rotate_half. Two
    inputs (queries and keys, fused by qcc-fuse) rotate in one launch.

    ```mlir
    %q2 = qcc.rope %q at %pos {heads = array<i64: 4>, head_dim = 64 : i64, theta = 5.0e+05 : f64}
            : (tensor<?x256xbf16>, tensor<?xi64>) -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins Variadic<Qcc_Activation>:$inputs, Qcc_TokenIds:$positions, DenseI64ArrayAttr:$heads,
                       I64Attr:$head_dim, F64Attr:$theta, OptionalAttr<Qcc_RopeScalingAttr>:$scaling);
  let results = (outs Variadic<Qcc_Activation>:$results);
  let assemblyFormat = "$inputs `at` $positions attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qcc_AttentionOp : Qcc_Op<"attention", [MemoryEffects<[MemRead<Qcc_KVCache>, MemWrite<Qcc_KVCache>]>]> {
  let summary = "causal grouped-query attention over a KV cache";
  let description = [{
    `q` is `[T, num_heads * head_dim]`, `k` and `v` are `[T, num_kv_heads *
    head_dim]`; query head `h` attends to key/value head `h / (num_heads /
    num_kv_heads)`. The new keys and values are stored in KV cache `cache` at
    `positions`, then each query attends causally to the cache positions up
    to its own, scaled by `1/sqrt(head_dim)`. The cache persists across
    calls of the function (prefill, then decode steps), so the op writes
    state: it is not pure, and every attention op has a cache of its own.

    ```mlir
    %o = qcc.attention %q, %k, %v at %pos {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 64 : i64, cache = 0 : i64}
           : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$query, Qcc_Activation:$key, Qcc_Activation:$value, Qcc_TokenIds:$positions,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim, I64Attr:$cache);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `at` $positions attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($positions) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Qcc_SwiGLUOp : Qcc_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU: silu(gate) * up";
  let description = [{
    ```mlir
    %a = qcc.swiglu %gate, %up : tensor<?x768xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$gate, Qcc_Activation:$up);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Qcc_AddOp : Qcc_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise addition (the residual connection)";
  let description = [{
    ```mlir
    %h2 = qcc.add %h, %o : tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$lhs, Qcc_Activation:$rhs);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Qcc_LogitsOp : Qcc_Op<"logits", [Pure]> {
  let summary = "the language-model head: fp32 logits = x · Wᵀ";
  let description = [{
    `x` is `[T, D]`, the head weight `[V, D]` (the embedding table when tied),
    the result `[T, V]` in fp32.

    ```mlir
    %l = qcc.logits %x, %w {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<2048x256xbf16> -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, Qcc_LinearWeight:$weight, Qcc_FormatAttr:$format);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dynamic per-token activation quantization (W8A8), explicit after qcc-fuse
//===----------------------------------------------------------------------===//

def Qcc_QuantizeOp : Qcc_Op<"quantize", [Pure]> {
  let summary = "dynamic per-token quantization to fp8 (e4m3) or int8";
  let description = [{
    For each token row: `scale[t] = max|x[t, :]| / qmax` (448 for e4m3, 127
    for int8) and `q[t, k] = round_half_even(x[t, k] / scale[t])`, saturated
    (runtime/formats/Formats.h). qcc-fuse makes the quantization W8A8
    linears do explicit, so that it can be fused into the op producing `x`.

    ```mlir
    %q, %s = qcc.quantize %x {format = #qcc.format<int8>} : tensor<?x256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, Qcc_FormatAttr:$format);
  let results = (outs Qcc_ActivationCodes:$codes, Qcc_TokenScales:$scales);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($codes) `,` type($scales)";
  let hasVerifier = 1;
}

def Qcc_RMSNormQuantizeOp : Qcc_Op<"rms_norm_quantize", [Pure]> {
  let summary = "RMSNorm followed by dynamic per-token quantization, in one op";
  let description = [{
    `qcc.quantize(qcc.rms_norm(x, w))`, fused by qcc-fuse: the normalised
    row is quantized while it is in registers.

    ```mlir
    %c, %s = qcc.rms_norm_quantize %x, %w {epsilon = 1.0e-05 : f64, format = #qcc.format<int8>}
               : tensor<?x256xbf16>, tensor<256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, 1DTensorOf<[BF16, F16, F32]>:$weight, F64Attr:$epsilon,
                       Qcc_FormatAttr:$format);
  let results = (outs Qcc_ActivationCodes:$codes, Qcc_TokenScales:$scales);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($codes) `,` type($scales)
  }];
  let hasVerifier = 1;
}

def Qcc_SwiGLUQuantizeOp : Qcc_Op<"swiglu_quantize", [Pure, AllTypesMatch<["gate", "up"]>]> {
  let summary = "SwiGLU followed by dynamic per-token quantization, in one op";
  let description = [{
    `qcc.quantize(qcc.swiglu(gate, up))`, fused by qcc-fuse.

    ```mlir
    %c, %s = qcc.swiglu_quantize %g, %u {format = #qcc.format<fp8>}
               : tensor<?x768xbf16> -> tensor<?x768xf8E4M3FN>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$gate, Qcc_Activation:$up, Qcc_FormatAttr:$format);
  let results = (outs Qcc_ActivationCodes:$codes, Qcc_TokenScales:$scales);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate) `->` type($codes) `,` type($scales)";
  let hasVerifier = 1;
}

#endif // QCC_OPS_TD
