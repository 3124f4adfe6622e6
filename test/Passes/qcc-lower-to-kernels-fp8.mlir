// RUN: qcc-opt %s -qcc-lower-to-kernels="targets=sm86,sm90 allow-fp8-weight-only=true max-seq=64" | FileCheck %s

// An unfused fp8 linear: on sm_90a a W8A8 GEMM behind the per-token
// quantization that qcc-fuse would otherwise have fused into the producer;
// on sm_86 (no fp8 tensor cores), with fp8-weight-only allowed, e4m3 weights
// and bf16 activations (GEMM format 4), with no quantization launch.

// CHECK-LABEL: qcck.program "sm_86" attributes {max_seq = 64 : i64}
// CHECK-NOT: qcck.quantize
// CHECK: qcck.gemm %{{.*}}, weights(%{{.*}}) {format = 4 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.o_proj", n = 128 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_fp8w_n128_k128_r0_m1n4w1s1"
// CHECK-LABEL: qcck.program "sm_90a" attributes {max_seq = 64 : i64}
// CHECK: %[[C:.*]], %[[S:.*]] = qcck.quantize %{{.*}} {quant = 2 : i64, threads = 128 : i64, variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "qcc_quantize_h128_fp8_t128"
// CHECK-NEXT: qcck.gemm %[[C]] scales %[[S]], weights(%{{.*}}) {format = 2 : i64, group = 128 : i64, k = 128 : i64, layer = "model.layers.0.self_attn.o_proj", n = 128 : i64, variants = [#qcck.variant<max_rows = 16, tile = [1, 4, 1, 1, 0], kernel = "qcc_gemm_fp8_n128_k128_r0_m1n4w1s1"

func.func @forward(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x256xf32> {
  %table = qcc.weight "model.embed_tokens.weight" {value = dense<0.5> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %h = qcc.embedding %table[%ids] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %d = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<128x128xbf16>} : tensor<128x128xbf16>
  %w = qcc.quantize_weight "model.layers.0.self_attn.o_proj.weight" %d {format = #qcc.format<fp8>} : tensor<128x128xbf16> -> tensor<128x128xf8E4M3FN>
  %y = qcc.linear %h, %w {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x128xbf16>, tensor<128x128xf8E4M3FN>) -> tensor<?x128xbf16>
  %logits = qcc.logits %y, %table {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}
