// RUN: qcc-opt %s -qcc-select-formats="rules-file=%S/Inputs/many-rules.yaml" | FileCheck %s

// Many exact rules, each naming one layer: every layer gets its own rule's format.
// Regression: llvm::GlobPattern keeps a StringRef to its pattern text, and the
// rules once pointed it into the file's buffer, freed after reading, so that some
// layers silently fell back to the default (depending on the heap); this file is
// over 16 KiB, so its buffer is a mapping that is gone after reading.

func.func @many(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
  %w0 = qcc.weight "model.layers.0.self_attn.a_rather_long_projection_name_0.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y0 = qcc.linear %x, %w0 {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.a_rather_long_projection_name_0"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w1 = qcc.weight "model.layers.1.self_attn.a_rather_long_projection_name_1.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y1 = qcc.linear %y0, %w1 {format = #qcc.format<bf16>, layer = "model.layers.1.self_attn.a_rather_long_projection_name_1"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w2 = qcc.weight "model.layers.2.self_attn.a_rather_long_projection_name_2.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y2 = qcc.linear %y1, %w2 {format = #qcc.format<bf16>, layer = "model.layers.2.self_attn.a_rather_long_projection_name_2"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w3 = qcc.weight "model.layers.3.self_attn.a_rather_long_projection_name_3.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y3 = qcc.linear %y2, %w3 {format = #qcc.format<bf16>, layer = "model.layers.3.self_attn.a_rather_long_projection_name_3"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w4 = qcc.weight "model.layers.4.self_attn.a_rather_long_projection_name_4.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y4 = qcc.linear %y3, %w4 {format = #qcc.format<bf16>, layer = "model.layers.4.self_attn.a_rather_long_projection_name_4"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w5 = qcc.weight "model.layers.5.self_attn.a_rather_long_projection_name_5.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y5 = qcc.linear %y4, %w5 {format = #qcc.format<bf16>, layer = "model.layers.5.self_attn.a_rather_long_projection_name_5"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w6 = qcc.weight "model.layers.6.self_attn.a_rather_long_projection_name_6.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y6 = qcc.linear %y5, %w6 {format = #qcc.format<bf16>, layer = "model.layers.6.self_attn.a_rather_long_projection_name_6"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w7 = qcc.weight "model.layers.7.self_attn.a_rather_long_projection_name_7.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y7 = qcc.linear %y6, %w7 {format = #qcc.format<bf16>, layer = "model.layers.7.self_attn.a_rather_long_projection_name_7"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w8 = qcc.weight "model.layers.8.self_attn.a_rather_long_projection_name_8.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y8 = qcc.linear %y7, %w8 {format = #qcc.format<bf16>, layer = "model.layers.8.self_attn.a_rather_long_projection_name_8"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w9 = qcc.weight "model.layers.9.self_attn.a_rather_long_projection_name_9.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y9 = qcc.linear %y8, %w9 {format = #qcc.format<bf16>, layer = "model.layers.9.self_attn.a_rather_long_projection_name_9"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w10 = qcc.weight "model.layers.10.self_attn.a_rather_long_projection_name_10.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y10 = qcc.linear %y9, %w10 {format = #qcc.format<bf16>, layer = "model.layers.10.self_attn.a_rather_long_projection_name_10"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w11 = qcc.weight "model.layers.11.self_attn.a_rather_long_projection_name_11.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y11 = qcc.linear %y10, %w11 {format = #qcc.format<bf16>, layer = "model.layers.11.self_attn.a_rather_long_projection_name_11"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w12 = qcc.weight "model.layers.12.self_attn.a_rather_long_projection_name_12.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y12 = qcc.linear %y11, %w12 {format = #qcc.format<bf16>, layer = "model.layers.12.self_attn.a_rather_long_projection_name_12"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w13 = qcc.weight "model.layers.13.self_attn.a_rather_long_projection_name_13.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y13 = qcc.linear %y12, %w13 {format = #qcc.format<bf16>, layer = "model.layers.13.self_attn.a_rather_long_projection_name_13"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w14 = qcc.weight "model.layers.14.self_attn.a_rather_long_projection_name_14.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y14 = qcc.linear %y13, %w14 {format = #qcc.format<bf16>, layer = "model.layers.14.self_attn.a_rather_long_projection_name_14"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w15 = qcc.weight "model.layers.15.self_attn.a_rather_long_projection_name_15.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y15 = qcc.linear %y14, %w15 {format = #qcc.format<bf16>, layer = "model.layers.15.self_attn.a_rather_long_projection_name_15"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w16 = qcc.weight "model.layers.16.self_attn.a_rather_long_projection_name_16.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y16 = qcc.linear %y15, %w16 {format = #qcc.format<bf16>, layer = "model.layers.16.self_attn.a_rather_long_projection_name_16"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w17 = qcc.weight "model.layers.17.self_attn.a_rather_long_projection_name_17.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y17 = qcc.linear %y16, %w17 {format = #qcc.format<bf16>, layer = "model.layers.17.self_attn.a_rather_long_projection_name_17"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w18 = qcc.weight "model.layers.18.self_attn.a_rather_long_projection_name_18.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y18 = qcc.linear %y17, %w18 {format = #qcc.format<bf16>, layer = "model.layers.18.self_attn.a_rather_long_projection_name_18"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w19 = qcc.weight "model.layers.19.self_attn.a_rather_long_projection_name_19.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y19 = qcc.linear %y18, %w19 {format = #qcc.format<bf16>, layer = "model.layers.19.self_attn.a_rather_long_projection_name_19"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w20 = qcc.weight "model.layers.20.self_attn.a_rather_long_projection_name_20.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y20 = qcc.linear %y19, %w20 {format = #qcc.format<bf16>, layer = "model.layers.20.self_attn.a_rather_long_projection_name_20"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w21 = qcc.weight "model.layers.21.self_attn.a_rather_long_projection_name_21.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y21 = qcc.linear %y20, %w21 {format = #qcc.format<bf16>, layer = "model.layers.21.self_attn.a_rather_long_projection_name_21"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w22 = qcc.weight "model.layers.22.self_attn.a_rather_long_projection_name_22.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y22 = qcc.linear %y21, %w22 {format = #qcc.format<bf16>, layer = "model.layers.22.self_attn.a_rather_long_projection_name_22"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %w23 = qcc.weight "model.layers.23.self_attn.a_rather_long_projection_name_23.weight" {value = dense<1.0> : tensor<64x64xbf16>} : tensor<64x64xbf16>
  %y23 = qcc.linear %y22, %w23 {format = #qcc.format<bf16>, layer = "model.layers.23.self_attn.a_rather_long_projection_name_23"} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return %y23 : tensor<?x64xbf16>
}

// CHECK: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.a_rather_long_projection_name_0"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.1.self_attn.a_rather_long_projection_name_1"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.2.self_attn.a_rather_long_projection_name_2"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.3.self_attn.a_rather_long_projection_name_3"
// CHECK: format = #qcc.format<int8>, layer = "model.layers.4.self_attn.a_rather_long_projection_name_4"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.5.self_attn.a_rather_long_projection_name_5"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.6.self_attn.a_rather_long_projection_name_6"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.7.self_attn.a_rather_long_projection_name_7"
// CHECK: format = #qcc.format<int8>, layer = "model.layers.8.self_attn.a_rather_long_projection_name_8"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.9.self_attn.a_rather_long_projection_name_9"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.10.self_attn.a_rather_long_projection_name_10"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.11.self_attn.a_rather_long_projection_name_11"
// CHECK: format = #qcc.format<int8>, layer = "model.layers.12.self_attn.a_rather_long_projection_name_12"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.13.self_attn.a_rather_long_projection_name_13"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.14.self_attn.a_rather_long_projection_name_14"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.15.self_attn.a_rather_long_projection_name_15"
// CHECK: format = #qcc.format<int8>, layer = "model.layers.16.self_attn.a_rather_long_projection_name_16"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.17.self_attn.a_rather_long_projection_name_17"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.18.self_attn.a_rather_long_projection_name_18"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.19.self_attn.a_rather_long_projection_name_19"
// CHECK: format = #qcc.format<int8>, layer = "model.layers.20.self_attn.a_rather_long_projection_name_20"
// CHECK: format = #qcc.format<fp8>, layer = "model.layers.21.self_attn.a_rather_long_projection_name_21"
// CHECK: format = #qcc.format<w4a16, group = 32>, layer = "model.layers.22.self_attn.a_rather_long_projection_name_22"
// CHECK: format = #qcc.format<bf16>, layer = "model.layers.23.self_attn.a_rather_long_projection_name_23"
