// RUN: qcc-opt %s -qcc-lower-to-kernels="targets=sm90 max-seq=256" | FileCheck %s --check-prefixes=CHECK,SM90
// RUN: qcc-opt %s -qcc-lower-to-kernels="targets=a100,h100" | FileCheck %s --check-prefix=TWO
// RUN: not qcc-opt %s -qcc-lower-to-kernels="targets=sm70" 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// One fused int8 decoder layer (qcc-fuse's output: norm+quantize, one QKV
// GEMM, rope of q and k together, GEMMs with residual epilogues) becomes one
// qcck.program of kernel launches per target. @forward stays as it is: it is
// what the CPU program is translated from.

// CHECK: func.func @forward
// CHECK: qcc.fused_linear
// CHECK: return

// SM90-LABEL: qcck.program "sm_90a" attributes {max_seq = 256 : i64} {
// SM90-NEXT: ^bb0(%[[IDS:.*]]: tensor<?xi64>, %[[POS:.*]]: tensor<?xi64>):
// Parameters are cloned into the program, next to their first use.
// SM90-NEXT: %[[TABLE:.*]] = qcc.weight "model.embed_tokens.weight"
// SM90-NEXT: %[[H:.*]] = qcck.embedding %[[IDS]], %[[TABLE]] {variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_embed_v256_h128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], vocab = 256 : i64, width = 128 : i64}
// SM90: %[[X:.*]]:2 = qcck.rms_norm %[[H]], %{{.*}} {epsilon = 1.000000e-05 : f64, quant = 1 : i64, threads = 128 : i64, variants = [{{.*}}kernel = "qcc_rmsnorm_h128_int8_t128"
// The three projections are one GEMM over the stacked weights, N = 128 + 64 + 64,
// with a decode tile (up to 16 rows) and a prefill (warpgroup) tile on sm_90a.
// SM90: %[[QKV:.*]] = qcck.gemm %[[X]]#0 scales %[[X]]#1, weights(%{{.*}}, %{{.*}}, %{{.*}}) {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.q_proj|model.layers.0.self_attn.k_proj|model.layers.0.self_attn.v_proj", n = 256 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_int8_n256_k128_r0_m1n4w1s1", grid = [#qcck.dim<8>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_int8_n256_k128_r0_wg", grid = [#qcck.dim<2>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]}
// SM90-NEXT: %[[Q:.*]] = qcck.slice %[[QKV]] {offset = 0 : i64} : tensor<?x256xbf16> -> tensor<?x128xbf16>
// SM90-NEXT: %[[K:.*]] = qcck.slice %[[QKV]] {offset = 128 : i64} : tensor<?x256xbf16> -> tensor<?x64xbf16>
// SM90-NEXT: %[[V:.*]] = qcck.slice %[[QKV]] {offset = 192 : i64} : tensor<?x256xbf16> -> tensor<?x64xbf16>
// Slices are views: kernels read them with the GEMM's row stride (ld 256).
// SM90-NEXT: %[[R:.*]]:2 = qcck.rope %[[Q]], %[[K]] at %[[POS]] {head_dim = 64 : i64, heads = 2 : i64, kv_heads = 1 : i64, ldk = 256 : i64, ldq = 256 : i64, theta = 5.000000e+05 : f64
// The attention op becomes a cache store and an attention over the cache.
// SM90-NEXT: qcck.kv_store %[[R]]#1, %[[V]] at %[[POS]] {cache = 0 : i64, head_dim = 64 : i64, kv_heads = 1 : i64, ldk = 256 : i64, ldv = 256 : i64, variants = [{{.*}}kernel = "qcc_kv_store_hkv1_d64_s256_ld256"
// SM90-NEXT: %[[A:.*]] = qcck.attention %[[R]]#0 at %[[POS]] {cache = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, kv_heads = 1 : i64, ldq = 256 : i64, variants = [{{.*}}kernel = "qcc_attention_hq2_hkv1_d64_s256_ld256", grid = [#qcck.dim<rows * 2 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>]}
// SM90: %[[AC:.*]], %[[AS:.*]] = qcck.quantize %[[A]] {quant = 1 : i64, threads = 128 : i64
// SM90: %[[H1:.*]] = qcck.gemm %[[AC]] scales %[[AS]], weights(%{{.*}}) residual %[[H]] {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.o_proj", n = 128 : i64
// SM90: %[[X2:.*]]:2 = qcck.rms_norm %[[H1]]
// SM90: %[[GU:.*]] = qcck.gemm %[[X2]]#0 scales %[[X2]]#1, weights(%{{.*}}, %{{.*}}) {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.mlp.gate_proj|model.layers.0.mlp.up_proj", n = 512 : i64
// SM90-NEXT: %[[G:.*]] = qcck.slice %[[GU]] {offset = 0 : i64} : tensor<?x512xbf16> -> tensor<?x256xbf16>
// SM90-NEXT: %[[U:.*]] = qcck.slice %[[GU]] {offset = 256 : i64} : tensor<?x512xbf16> -> tensor<?x256xbf16>
// SM90: %[[S:.*]]:2 = qcck.swiglu %[[G]], %[[U]] {ldg = 512 : i64, ldu = 512 : i64, quant = 1 : i64, threads = 256 : i64
// SM90: %[[H2:.*]] = qcck.gemm %[[S]]#0 scales %[[S]]#1, weights(%{{.*}}) residual %[[H1]] {format = 1 : i64, group = 128 : i64, k = 256 : i64, layer = "model.layers.0.mlp.down_proj", n = 128 : i64
// SM90: %[[N:.*]] = qcck.rms_norm %[[H2]], %{{.*}} {epsilon = 1.000000e-05 : f64, quant = 0 : i64
// SM90: %[[L:.*]] = qcck.gemm %[[N]], weights(%{{.*}}) {format = 0 : i64, group = 128 : i64, k = 128 : i64, layer = "lm_head", n = 256 : i64
// SM90-NEXT: qcck.return %[[L]] : tensor<?x256xf32>

// One program per target, in the order given; A100 has no warpgroup tiles.
// Without max-seq the KV cache holds min(max positions, 8192) positions.
// TWO: qcck.program "sm_80" attributes {max_seq = 8192 : i64}
// TWO: kernel = "qcc_gemm_int8_n256_k128_r0_m2n4w4s1"
// TWO: qcck.program "sm_90a" attributes {max_seq = 8192 : i64}
// TWO: kernel = "qcc_gemm_int8_n256_k128_r0_wg"
// UNKNOWN: error: qcc-lower-to-kernels: unknown target 'sm70'

func.func @forward(%arg0: tensor<?xi64>, %arg1: tensor<?xi64>) -> tensor<?x256xf32> {
  %0 = qcc.weight "model.embed_tokens.weight" {value = dense<5.000000e-01> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %1 = qcc.embedding %0[%arg0] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %2 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %3 = qcc.quantized_weight "model.layers.0.self_attn.q_proj.weight" {codes = dense<127> : tensor<128x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x128xi8>
  %codes, %scales = qcc.rms_norm_quantize %1, %2 {epsilon = 1.000000e-05 : f64, format = #qcc.format<int8>, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<128xbf16> -> tensor<?x128xi8>, tensor<?xf32>
  %4 = qcc.quantized_weight "model.layers.0.self_attn.k_proj.weight" {codes = dense<127> : tensor<64x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<64xf32>} : tensor<64x128xi8>
  %5 = qcc.quantized_weight "model.layers.0.self_attn.v_proj.weight" {codes = dense<127> : tensor<64x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<64xf32>} : tensor<64x128xi8>
  %6:3 = qcc.fused_linear %codes scales %scales, %3, %4, %5 {format = #qcc.format<int8>, layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"], qcc.block = 0 : i64} : (tensor<?x128xi8>, tensor<?xf32>, tensor<128x128xi8>, tensor<64x128xi8>, tensor<64x128xi8>) -> (tensor<?x128xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>)
  %7:2 = qcc.rope %6#0, %6#1 at %arg1 {head_dim = 64 : i64, heads = array<i64: 2, 1>, qcc.block = 0 : i64, theta = 5.000000e+05 : f64} : (tensor<?x128xbf16>, tensor<?x64xbf16>, tensor<?xi64>) -> (tensor<?x128xbf16>, tensor<?x64xbf16>)
  %8 = qcc.attention %7#0, %7#1, %6#2 at %arg1 {cache = 0 : i64, head_dim = 64 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %9 = qcc.quantized_weight "model.layers.0.self_attn.o_proj.weight" {codes = dense<127> : tensor<128x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x128xi8>
  %codes_0, %scales_1 = qcc.quantize %8 {format = #qcc.format<int8>, qcc.block = 0 : i64} : tensor<?x128xbf16> -> tensor<?x128xi8>, tensor<?xf32>
  %10 = qcc.linear %codes_0 scales %scales_1, %9 residual %1 {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.o_proj", qcc.block = 0 : i64} : (tensor<?x128xi8>, tensor<?xf32>, tensor<128x128xi8>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  %11 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %12 = qcc.quantized_weight "model.layers.0.mlp.gate_proj.weight" {codes = dense<127> : tensor<256x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<256xf32>} : tensor<256x128xi8>
  %codes_2, %scales_3 = qcc.rms_norm_quantize %10, %11 {epsilon = 1.000000e-05 : f64, format = #qcc.format<int8>, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<128xbf16> -> tensor<?x128xi8>, tensor<?xf32>
  %13 = qcc.quantized_weight "model.layers.0.mlp.up_proj.weight" {codes = dense<127> : tensor<256x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<256xf32>} : tensor<256x128xi8>
  %14:2 = qcc.fused_linear %codes_2 scales %scales_3, %12, %13 {format = #qcc.format<int8>, layers = ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"], qcc.block = 0 : i64} : (tensor<?x128xi8>, tensor<?xf32>, tensor<256x128xi8>, tensor<256x128xi8>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>)
  %15 = qcc.quantized_weight "model.layers.0.mlp.down_proj.weight" {codes = dense<127> : tensor<128x256xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x256xi8>
  %codes_4, %scales_5 = qcc.swiglu_quantize %14#0, %14#1 {format = #qcc.format<int8>, qcc.block = 0 : i64} : tensor<?x256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
  %16 = qcc.linear %codes_4 scales %scales_5, %15 residual %10 {format = #qcc.format<int8>, layer = "model.layers.0.mlp.down_proj", qcc.block = 0 : i64} : (tensor<?x256xi8>, tensor<?xf32>, tensor<128x256xi8>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  %17 = qcc.weight "model.norm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %18 = qcc.rms_norm %16, %17 {epsilon = 1.000000e-05 : f64} : tensor<?x128xbf16>, tensor<128xbf16>
  %19 = qcc.weight "lm_head.weight" {value = dense<1.250000e-01> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %20 = qcc.logits %18, %19 {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %20 : tensor<?x256xf32>
}
