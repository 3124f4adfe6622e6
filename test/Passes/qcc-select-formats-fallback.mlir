// RUN: qcc-opt %s -split-input-file -qcc-select-formats="default-format=w4a16" -verify-diagnostics | FileCheck %s

// w4a16 by default on a layer whose 172 input channels no group of 128
// divides: int8 per channel instead, with a remark.
func.func @odd_default(%x: tensor<?x172xf32>) -> tensor<?x64xf32> {
  %w = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<1.0> : tensor<64x172xf32>} : tensor<64x172xf32>
  // expected-remark @+2 {{layer model.layers.0.mlp.down_proj: group 128 does not divide its 172 input channels; using int8 per channel instead of w4a16}}
  // CHECK: format = #qcc.format<int8>
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
