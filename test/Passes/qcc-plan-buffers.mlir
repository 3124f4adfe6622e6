// RUN: qcc-opt %s -qcc-plan-buffers | FileCheck %s

// Device buffers by liveness over the launch order of one int8 decoder layer
// (the qcc-lower-to-kernels output for sm_90a). Each result gets a buffer
// and a byte offset in its rows; a buffer is reused once its last reader has
// run; slices are views at byte offsets of their source; rope rotates its
// inputs in place; each buffer's row is as wide as the widest value it holds.
// (rows: T tokens; buffer b holds T * buffer_bytes_per_row[b] bytes.)

// Buffer 0: h, bf16 [T, 128] (256 B); 1: codes i8 [T, 128]; 2: per-token f32
// scales (4 B); 3: the QKV GEMM's bf16 [T, 256], the gate/up GEMM's bf16
// [T, 512] and the f32 logits [T, 256] (1024 B).
// CHECK-LABEL: qcck.program "sm_90a" attributes {buffer_bytes_per_row = array<i64: 256, 256, 4, 1024>, max_seq = 256 : i64}
// CHECK: qcck.embedding {{.*}}qcck.buffers = array<i64: 0>, qcck.offsets = array<i64: 0>
// CHECK: qcck.rms_norm {{.*}}qcck.buffers = array<i64: 1, 2>, qcck.offsets = array<i64: 0, 0>
// CHECK: qcck.gemm {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// q, k, v: views of the QKV rows at bytes 0, 256 (128 bf16) and 384.
// CHECK-NEXT: qcck.slice {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// CHECK-NEXT: qcck.slice {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 256>
// CHECK-NEXT: qcck.slice {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 384>
// CHECK-NEXT: qcck.rope {{.*}}qcck.buffers = array<i64: 3, 3>, qcck.offsets = array<i64: 0, 256>
// The cache store has no result.
// CHECK-NEXT: qcck.kv_store
// CHECK-NOT: qcck.buffers
// The norm's codes (buffer 1) died with the QKV GEMM; h (buffer 0) is still
// needed as the o_proj residual.
// CHECK-NEXT: qcck.attention {{.*}}qcck.buffers = array<i64: 1>, qcck.offsets = array<i64: 0>
// CHECK: qcck.quantize {{.*}}qcck.buffers = array<i64: 3, 2>, qcck.offsets = array<i64: 0, 0>
// CHECK: qcck.gemm {{.*}} residual {{.*}}qcck.buffers = array<i64: 1>, qcck.offsets = array<i64: 0>
// CHECK: qcck.rms_norm {{.*}}qcck.buffers = array<i64: 0, 2>, qcck.offsets = array<i64: 0, 0>
// CHECK: qcck.gemm {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// CHECK-NEXT: qcck.slice {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// CHECK-NEXT: qcck.slice {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 512>
// CHECK: qcck.swiglu {{.*}}qcck.buffers = array<i64: 0, 2>, qcck.offsets = array<i64: 0, 0>
// CHECK: qcck.gemm {{.*}} residual {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// CHECK: qcck.rms_norm {{.*}}qcck.buffers = array<i64: 1>, qcck.offsets = array<i64: 0>
// CHECK: qcck.gemm {{.*}}qcck.buffers = array<i64: 3>, qcck.offsets = array<i64: 0>
// CHECK-NEXT: qcck.return

qcck.program "sm_90a" attributes {max_seq = 256 : i64} {
^bb0(%arg0: tensor<?xi64>, %arg1: tensor<?xi64>):
  %0 = qcc.weight "model.embed_tokens.weight" {value = dense<5.000000e-01> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %1 = qcck.embedding %arg0, %0 {variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_embed_v256_h128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], vocab = 256 : i64, width = 128 : i64} : (tensor<?xi64>, tensor<256x128xbf16>) -> tensor<?x128xbf16>
  %2 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %3 = qcc.quantized_weight "model.layers.0.self_attn.q_proj.weight" {codes = dense<127> : tensor<128x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x128xi8>
  %4:2 = qcck.rms_norm %1, %2 {epsilon = 1.000000e-05 : f64, quant = 1 : i64, threads = 128 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_rmsnorm_h128_int8_t128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], width = 128 : i64} : (tensor<?x128xbf16>, tensor<128xbf16>) -> (tensor<?x128xi8>, tensor<?xf32>)
  %5 = qcc.quantized_weight "model.layers.0.self_attn.k_proj.weight" {codes = dense<127> : tensor<64x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<64xf32>} : tensor<64x128xi8>
  %6 = qcc.quantized_weight "model.layers.0.self_attn.v_proj.weight" {codes = dense<127> : tensor<64x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<64xf32>} : tensor<64x128xi8>
  %7 = qcck.gemm %4#0 scales %4#1, weights(%3, %5, %6) {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.q_proj|model.layers.0.self_attn.k_proj|model.layers.0.self_attn.v_proj", n = 256 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_int8_n256_k128_r0_m1n4w1s1", grid = [#qcck.dim<8>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_int8_n256_k128_r0_wg", grid = [#qcck.dim<2>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]} : (tensor<?x128xi8>, tensor<?xf32>, tensor<128x128xi8>, tensor<64x128xi8>, tensor<64x128xi8>) -> tensor<?x256xbf16>
  %8 = qcck.slice %7 {offset = 0 : i64} : tensor<?x256xbf16> -> tensor<?x128xbf16>
  %9 = qcck.slice %7 {offset = 128 : i64} : tensor<?x256xbf16> -> tensor<?x64xbf16>
  %10 = qcck.slice %7 {offset = 192 : i64} : tensor<?x256xbf16> -> tensor<?x64xbf16>
  %11:2 = qcck.rope %8, %9 at %arg1 {head_dim = 64 : i64, heads = 2 : i64, kv_heads = 1 : i64, ldk = 256 : i64, ldq = 256 : i64, theta = 5.000000e+05 : f64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_rope_hq2_hkv1_d64_fedfce844_ld256", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 256>]} : (tensor<?x128xbf16>, tensor<?x64xbf16>, tensor<?xi64>) -> (tensor<?x128xbf16>, tensor<?x64xbf16>)
  qcck.kv_store %11#1, %10 at %arg1 {cache = 0 : i64, head_dim = 64 : i64, kv_heads = 1 : i64, ldk = 256 : i64, ldv = 256 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_kv_store_hkv1_d64_s256_ld256", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 256>]} : tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64>
  %12 = qcck.attention %11#0 at %arg1 {cache = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, kv_heads = 1 : i64, ldq = 256 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_attention_hq2_hkv1_d64_s256_ld256", grid = [#qcck.dim<rows * 2 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>]} : (tensor<?x128xbf16>, tensor<?xi64>) -> tensor<?x128xbf16>
  %13 = qcc.quantized_weight "model.layers.0.self_attn.o_proj.weight" {codes = dense<127> : tensor<128x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x128xi8>
  %codes, %scales = qcck.quantize %12 {quant = 1 : i64, threads = 128 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_quantize_h128_int8_t128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], width = 128 : i64} : (tensor<?x128xbf16>) -> (tensor<?x128xi8>, tensor<?xf32>)
  %14 = qcck.gemm %codes scales %scales, weights(%13) residual %1 {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.o_proj", n = 128 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_int8_n128_k128_r1_m1n4w1s1", grid = [#qcck.dim<4>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_int8_n128_k128_r1_wg", grid = [#qcck.dim<1>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]} : (tensor<?x128xi8>, tensor<?xf32>, tensor<128x128xi8>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  %15 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %16 = qcc.quantized_weight "model.layers.0.mlp.gate_proj.weight" {codes = dense<127> : tensor<256x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<256xf32>} : tensor<256x128xi8>
  %17:2 = qcck.rms_norm %14, %15 {epsilon = 1.000000e-05 : f64, quant = 1 : i64, threads = 128 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_rmsnorm_h128_int8_t128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], width = 128 : i64} : (tensor<?x128xbf16>, tensor<128xbf16>) -> (tensor<?x128xi8>, tensor<?xf32>)
  %18 = qcc.quantized_weight "model.layers.0.mlp.up_proj.weight" {codes = dense<127> : tensor<256x128xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<256xf32>} : tensor<256x128xi8>
  %19 = qcck.gemm %17#0 scales %17#1, weights(%16, %18) {format = 1 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.mlp.gate_proj|model.layers.0.mlp.up_proj", n = 512 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_int8_n512_k128_r0_m1n4w1s1", grid = [#qcck.dim<16>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_int8_n512_k128_r0_wg", grid = [#qcck.dim<4>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]} : (tensor<?x128xi8>, tensor<?xf32>, tensor<256x128xi8>, tensor<256x128xi8>) -> tensor<?x512xbf16>
  %20 = qcck.slice %19 {offset = 0 : i64} : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %21 = qcck.slice %19 {offset = 256 : i64} : tensor<?x512xbf16> -> tensor<?x256xbf16>
  %22 = qcc.quantized_weight "model.layers.0.mlp.down_proj.weight" {codes = dense<127> : tensor<128x256xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<0.00196850393> : tensor<128xf32>} : tensor<128x256xi8>
  %23:2 = qcck.swiglu %20, %21 {ldg = 512 : i64, ldu = 512 : i64, quant = 1 : i64, threads = 256 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_swiglu_i256_ld512_int8_t256", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 256>], width = 256 : i64} : (tensor<?x256xbf16>, tensor<?x256xbf16>) -> (tensor<?x256xi8>, tensor<?xf32>)
  %24 = qcck.gemm %23#0 scales %23#1, weights(%22) residual %14 {format = 1 : i64, group = 128 : i64, k = 256 : i64, layer = "model.layers.0.mlp.down_proj", n = 128 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_int8_n128_k256_r1_m1n4w1s1", grid = [#qcck.dim<4>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_int8_n128_k256_r1_wg", grid = [#qcck.dim<1>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]} : (tensor<?x256xi8>, tensor<?xf32>, tensor<128x256xi8>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  %25 = qcc.weight "model.norm.weight" {value = dense<1.000000e+00> : tensor<128xbf16>} : tensor<128xbf16>
  %26 = qcck.rms_norm %24, %25 {epsilon = 1.000000e-05 : f64, quant = 0 : i64, threads = 128 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_rmsnorm_h128_bf16_t128", grid = [#qcck.dim<rows * 1 / 1>, #qcck.dim<1>, #qcck.dim<1>], block = 128>], width = 128 : i64} : (tensor<?x128xbf16>, tensor<128xbf16>) -> tensor<?x128xbf16>
  %27 = qcc.weight "lm_head.weight" {value = dense<1.250000e-01> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %28 = qcck.gemm %26, weights(%27) {format = 0 : i64, group = 128 : i64, k = 128 : i64, layer = "lm_head", n = 256 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_bf16_n256_k128_r0_m1n4w1s1", grid = [#qcck.dim<8>, #qcck.dim<rows * 1 / 16>, #qcck.dim<1>], block = 32>, #qcck.variant<max_rows = 0, tile = [1, 4, 1, 1, 1], kernel = "qcc_gemm_bf16_n256_k128_r0_wg", grid = [#qcck.dim<2>, #qcck.dim<rows * 1 / 64>, #qcck.dim<1>], block = 128>]} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xf32>
  qcck.return %28 : tensor<?x256xf32>
}
