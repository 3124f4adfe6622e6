//===- QccOps.td - qcc dialect ops ----------------------------------------===//

#ifndef QCC_OPS_TD
#define QCC_OPS_TD

include "dialects/qcc/QccBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def I4 : I<4>;

class Qcc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qcc_Dialect, mnemonic, traits>;

// Activations: [tokens, features], float (bf16 / f16 / f32).
def Qcc_Activation : 2DTensorOf<[BF16, F16, F32]>;
def Qcc_TokenIds : 1DTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Qcc_WeightOp : Qcc_Op<"weight", [Pure]> {
  let summary = "a dense weight tensor, referenced by name in the weight store";
  let description = [{
    Refers to the tensor `name` of the model's weight store (the mmap'ed
    checkpoint, or weights a pass produced). The IR never copies real
    weights; only small lit tests may give an inline `value`.

    ```mlir
    %w = qcc.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xbf16>
    %t = qcc.weight "tiny" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : tensor<1x2xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qcc_QuantizedWeightOp : Qcc_Op<"quantized_weight", [Pure]> {
  let summary = "a quantized weight (codes and scales), referenced by name";
  let description = [{
    The quantized form of a `[N, K]` weight: codes of the format's storage
    type (`i8` for int8, `f8E4M3FN` for fp8, `i4` for w4a16) and fp32 scales,
    `[N]` per output channel or `[N, K / group]` per group. Both live in the
    weight store under `name`. `method` records how the codes were found.
    Tiny lit tests may carry the codes and scales inline (`codes`, `scales`).

    ```mlir
    %w = qcc.quantized_weight "model.layers.0.mlp.down_proj.weight"
           {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>, mse_clip}
           : tensor<256x768xi4>
    ```
  }];
  let arguments = (ins StrAttr:$name, Qcc_FormatAttr:$format, Qcc_QuantMethodAttr:$method,
                       UnitAttr:$mse_clip, OptionalAttr<ElementsAttr>:$codes,
                       OptionalAttr<ElementsAttr>:$scales);
  let results = (outs 2DTensorOf<[I4, I8, F8E4M3FN]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Decoder ops
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

def Qcc_LinearOp : Qcc_Op<"linear", [Pure]> {
  let summary = "y = x · Wᵀ in a numeric format";
  let description = [{
    `x` is `[T, K]`, the weight `[N, K]` (PyTorch layout), the result `[T, N]`.
    `format` says how the layer computes: before quantization the weight is a
    dense `qcc.weight`; afterwards a `qcc.quantized_weight` whose format must
    agree. `layer` is the Hugging Face module name, used by per-layer rules.

    ```mlir
    %y = qcc.linear %x, %w {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"}
           : tensor<?x256xbf16>, tensor<256x256xbf16> -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, 2DTensorOf<[BF16, F16, F32, I4, I8, F8E4M3FN]>:$weight,
                       Qcc_FormatAttr:$format,
                       StrAttr:$layer);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

def Qcc_RopeOp : Qcc_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding (rotate-half layout)";
  let description = [{
    Rotates each `head_dim`-wide head of `x` (`[T, num_heads * head_dim]`) by
    the angles `positions[t] * inv_freq[i]`, `inv_freq[i] = theta^(-2i/head_dim)`,
    adjusted by Llama-3.1 `scaling` when present. Pairs are `(i, i + head_dim/2)`
    as in Hugging Face's rotate_half.

    ```mlir
    %q2 = qcc.rope %q, %pos {num_heads = 4 : i64, head_dim = 64 : i64, theta = 5.0e+05 : f64,
            scaling = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>}
            : tensor<?x256xbf16>, tensor<?xi64>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, Qcc_TokenIds:$positions, I64Attr:$num_heads,
                       I64Attr:$head_dim, F64Attr:$theta, OptionalAttr<Qcc_RopeScalingAttr>:$scaling);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` type($input) `,` type($positions)";
  let hasVerifier = 1;
}

def Qcc_AttentionOp : Qcc_Op<"attention", [Pure, AllTypesMatch<["query", "result"]>]> {
  let summary = "causal grouped-query attention over the layer's KV cache";
  let description = [{
    `q` is `[T, num_heads * head_dim]`, `k` and `v` are `[T, num_kv_heads *
    head_dim]`; query head `h` attends to key/value head `h / (num_heads /
    num_kv_heads)`. The new keys and values are appended to the KV cache of
    `layer_index` at `positions` and attention is causal over the cache,
    scaled by `1/sqrt(head_dim)`.

    ```mlir
    %o = qcc.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 64 : i64, layer_index = 0 : i64}
           : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16> -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins Qcc_Activation:$query, Qcc_Activation:$key, Qcc_Activation:$value,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim, I64Attr:$layer_index);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$query `,` $key `,` $value attr-dict `:` type($query) `,` type($key) `,` type($value)";
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
    %l = qcc.logits %x, %w : tensor<?x256xbf16>, tensor<2048x256xbf16> -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, 2DTensorOf<[BF16, F16, F32, I4, I8, F8E4M3FN]>:$weight,
                       Qcc_FormatAttr:$format);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dynamic per-token quantization (W8A8 formats)
//===----------------------------------------------------------------------===//

def Qcc_QuantizeOp : Qcc_Op<"quantize", [Pure]> {
  let summary = "dynamic per-token quantization to fp8 (e4m3) or int8";
  let description = [{
    For each token row: `scale[t] = max|x[t, :]| / qmax` (448 for e4m3, 127
    for int8) and `q[t, k] = round_half_even(x[t, k] / scale[t])`, saturated.

    ```mlir
    %q, %s = qcc.quantize %x {format = #qcc.format<int8>} : tensor<?x256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Qcc_Activation:$input, Qcc_FormatAttr:$format);
  let results = (outs 2DTensorOf<[I8, F8E4M3FN]>:$codes, 1DTensorOf<[F32]>:$scales);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($codes) `,` type($scales)";
  let hasVerifier = 1;
}

def Qcc_DequantizeOp : Qcc_Op<"dequantize", [Pure]> {
  let summary = "x[t, k] = codes[t, k] * scales[t]";
  let description = [{
    ```mlir
    %x = qcc.dequantize %q, %s : tensor<?x256xi8>, tensor<?xf32> -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins 2DTensorOf<[I8, F8E4M3FN]>:$codes, 1DTensorOf<[F32]>:$scales);
  let results = (outs Qcc_Activation:$result);
  let assemblyFormat = "$codes `,` $scales attr-dict `:` type($codes) `,` type($scales) `->` type($result)";
  let hasVerifier = 1;
}

#endif // QCC_OPS_TD
