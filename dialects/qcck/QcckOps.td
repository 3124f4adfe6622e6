//===- QcckOps.td - the qcc kernel dialect --------------------------------===//
//
// One op per CUDA kernel launch, for one target: what `qcc-lower-to-kernels`
// produces from the qcc graph, `qcc-plan-buffers` assigns device buffers to,
// and the artifact translation turns into a launch list.
//
//===----------------------------------------------------------------------===//

#ifndef QCCK_OPS_TD
#define QCCK_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"

def Qcck_Dialect : Dialect {
  let name = "qcck";
  let cppNamespace = "::qcc::qcck";
  let summary = "CUDA kernel launches of a qcc model, per target";
  let description = [{
    The lowered form of a qcc graph for one GPU target: a `qcck.program`
    whose body is the forward pass as one op per kernel launch (GEMM, fused
    RMSNorm with optional per-token quantization, RoPE, KV-cache store,
    attention, SwiGLU, quantize, embedding, add) with the kernel template's
    compile-time parameters, the tile and the grid of each kernel variant,
    and the weights each launch reads. Values are `[tokens, features]`
    tensors that stand for device buffers; `qcck.slice` names a column range
    of one without a launch.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Qcck_Attr<string name, string attrMnemonic> : AttrDef<Qcck_Dialect, name> {
  let mnemonic = attrMnemonic;
}

def Qcck_GridDimAttr : Qcck_Attr<"GridDim", "dim"> {
  let summary = "one grid dimension: a constant, or ceil(rows * mul / div)";
  let description = [{
    `#qcck.dim<8>` is 8 blocks; `#qcck.dim<rows * 4 / 64>` is ceil(T * 4 / 64)
    for a launch over T tokens.
  }];
  let parameters = (ins "int64_t":$constant, "int64_t":$rowsMul, "int64_t":$rowsDiv);
  let hasCustomAssemblyFormat = 1;
}

def Qcck_VariantAttr : Qcck_Attr<"Variant", "variant"> {
  let summary = "the kernel a launch runs up to a number of tokens";
  let description = [{
    A launch runs its first variant whose `max_rows` admits the token count
    (0: any). `tile` is the GEMM tiling `[m_tiles, n_tiles, warps_n,
    k_split, wgmma]` (empty for other kernels), `kernel` the entry point.

    ```mlir
    #qcck.variant<max_rows = 16, tile = [1, 4, 1, 4, 0], kernel = "qcc_gemm_bf16_n256_k256_r0_m1n4w1s4",
                  grid = [#qcck.dim<8>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 128>
    ```
  }];
  let parameters = (ins "int64_t":$maxRows, ArrayRefParameter<"int64_t">:$tile, StringRefParameter<>:$kernel,
                        ArrayRefParameter<"::qcc::qcck::GridDimAttr">:$grid, "int64_t":$block);
  let hasCustomAssemblyFormat = 1;
}

class Qcck_Op<string mnemonic, list<Trait> traits = []> : Op<Qcck_Dialect, mnemonic, traits>;

// Every launch op: its kernel variants; after qcc-plan-buffers, the device
// buffer (and byte offset) of each result.
class Qcck_LaunchOp<string mnemonic, list<Trait> traits = []> : Qcck_Op<mnemonic, traits> {
  code commonDeclarations = [{
    ::llvm::ArrayRef<::mlir::Attribute> getVariantList() { return getVariants().getValue(); }
  }];
}

def Qcck_ProgramOp : Qcck_Op<"program", [IsolatedFromAbove, SingleBlock, NoTerminator,
                                           HasParent<"::mlir::ModuleOp">]> {
  let summary = "the forward pass of one GPU target as kernel launches";
  let description = [{
    Block arguments: token ids and positions `[T]`. `max_seq` is the KV
    cache length the attention kernels are specialised for. After
    qcc-plan-buffers, `buffer_bytes_per_row` lists the device buffers.

    ```mlir
    qcck.program "sm_90a" {max_seq = 1024 : i64} {
    ^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
      ...
      qcck.return %logits : tensor<?x2048xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$target, I64Attr:$max_seq, OptionalAttr<DenseI64ArrayAttr>:$buffer_bytes_per_row,
                       OptionalAttr<StrAttr>:$tile_table);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$target attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Qcck_ReturnOp : Qcck_Op<"return", [HasParent<"ProgramOp">]> {
  let summary = "the logits of the program";
  let arguments = (ins AnyRankedTensor:$logits);
  let assemblyFormat = "$logits attr-dict `:` type($logits)";
}

def Qcck_SliceOp : Qcck_Op<"slice", [Pure]> {
  let summary = "a column range of a value, without a launch (a view)";
  let description = [{
    `[T, width]` starting at column `offset` of `source` `[T, W]`: the same
    device buffer, rows `W` elements apart (kernels that read it are
    specialised for that row stride).

    ```mlir
    %k = qcck.slice %qkv {offset = 256 : i64} : tensor<?x384xbf16> -> tensor<?x64xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$source, I64Attr:$offset);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$source attr-dict `:` type($source) `->` type($result)";
  let hasVerifier = 1;
}

def Qcck_EmbeddingOp : Qcck_LaunchOp<"embedding", [Pure]> {
  let summary = "qcc_embed: rows of a bf16 table by token id";
  let arguments = (ins AnyRankedTensor:$ids, AnyRankedTensor:$table, ArrayAttr:$variants, I64Attr:$vocab,
                       I64Attr:$width);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$ids `,` $table attr-dict `:` functional-type(operands, results)";
}

def Qcck_RMSNormOp : Qcck_LaunchOp<"rms_norm", [Pure]> {
  let summary = "qcc_rmsnorm: RMSNorm, with optional per-token int8 / e4m3 output";
  let description = [{
    `quant` 0: bf16 result; 1: int8 codes and f32 token scales; 2: e4m3 codes
    and scales.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight, ArrayAttr:$variants, F64Attr:$epsilon,
                       I64Attr:$width, I64Attr:$quant, I64Attr:$threads);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qcck_QuantizeOp : Qcck_LaunchOp<"quantize", [Pure]> {
  let summary = "qcc_quantize: per-token int8 / e4m3 codes and scales of a bf16 value";
  let arguments = (ins AnyRankedTensor:$input, ArrayAttr:$variants, I64Attr:$width, I64Attr:$quant,
                       I64Attr:$threads);
  let results = (outs AnyRankedTensor:$codes, AnyRankedTensor:$scales);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Qcck_GemmOp : Qcck_LaunchOp<"gemm", [Pure, AttrSizedOperandSegments]> {
  let summary = "qcc_gemm: out = a · Wᵀ over the weights stacked along N (+ residual)";
  let description = [{
    `format`: 0 bf16, 1 int8, 2 fp8, 3 w4a16, 4 fp8 weight-only (codegen's
    GemmFormat). `a` is bf16, or int8 / e4m3 codes with their `scales`; the
    weights' rows are stacked (q|k|v, gate|up) into one `[n, k]` operand of
    the format's layout.
  }];
  let arguments = (ins AnyRankedTensor:$a, Optional<AnyRankedTensor>:$scales, Variadic<AnyRankedTensor>:$weights,
                       Optional<AnyRankedTensor>:$residual, ArrayAttr:$variants, I64Attr:$format, I64Attr:$n,
                       I64Attr:$k, I64Attr:$group, StrAttr:$layer);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $a (`scales` $scales^)? `,` `weights` `(` $weights `)` (`residual` $residual^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Qcck_RopeOp : Qcck_LaunchOp<"rope", [Pure]> {
  let summary = "qcc_rope: rotary embedding of queries and keys, in place";
  let description = [{
    Rotates `q` (`heads` heads) and, when given, `k` (`kv_heads` heads) of
    `head_dim`; their token rows are `ldq` and `ldk` elements apart. The
    results are the inputs' buffers, rotated.
  }];
  let arguments = (ins AnyRankedTensor:$q, Optional<AnyRankedTensor>:$k, AnyRankedTensor:$positions,
                       ArrayAttr:$variants, I64Attr:$heads, I64Attr:$kv_heads, I64Attr:$head_dim, I64Attr:$ldq,
                       I64Attr:$ldk, F64Attr:$theta, OptionalAttr<AnyAttr>:$scaling);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$q (`,` $k^)? `at` $positions attr-dict `:` functional-type(operands, results)";
}

def Qcck_KVStoreOp : Qcck_LaunchOp<"kv_store", [MemoryEffects<[MemWrite]>]> {
  let summary = "qcc_kv_store: keys and values into KV cache `cache` at the positions";
  let arguments = (ins AnyRankedTensor:$k, AnyRankedTensor:$v, AnyRankedTensor:$positions, ArrayAttr:$variants,
                       I64Attr:$cache, I64Attr:$kv_heads, I64Attr:$head_dim, I64Attr:$ldk, I64Attr:$ldv);
  let assemblyFormat = "$k `,` $v `at` $positions attr-dict `:` type($k) `,` type($v) `,` type($positions)";
}

def Qcck_AttentionOp : Qcck_LaunchOp<"attention", [MemoryEffects<[MemRead]>]> {
  let summary = "qcc_attention: causal GQA of the queries over KV cache `cache`";
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$positions, ArrayAttr:$variants, I64Attr:$cache,
                       I64Attr:$heads, I64Attr:$kv_heads, I64Attr:$head_dim, I64Attr:$ldq);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$q `at` $positions attr-dict `:` functional-type(operands, results)";
}

def Qcck_SwiGLUOp : Qcck_LaunchOp<"swiglu", [Pure]> {
  let summary = "qcc_swiglu: silu(gate) * up, with optional per-token quantized output";
  let arguments = (ins AnyRankedTensor:$gate, AnyRankedTensor:$up, ArrayAttr:$variants, I64Attr:$width,
                       I64Attr:$ldg, I64Attr:$ldu, I64Attr:$quant, I64Attr:$threads);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$gate `,` $up attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Qcck_AddOp : Qcck_LaunchOp<"add", [Pure]> {
  let summary = "qcc_add: elementwise sum of two bf16 values";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs, ArrayAttr:$variants, I64Attr:$width);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

#endif // QCCK_OPS_TD
