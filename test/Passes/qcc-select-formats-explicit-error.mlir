// RUN: qcc-opt %s -qcc-select-formats="rules=*.down_proj=w4a16" -verify-diagnostics

// A rule that explicitly asks for an impossible format is an error, not a fallback.
func.func @odd_rule(%x: tensor<?x172xf32>) -> tensor<?x64xf32> {
  %w = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<1.0> : tensor<64x172xf32>} : tensor<64x172xf32>
  // expected-error @+1 {{rule '*.down_proj' asks for w4a16 with group 128 but layer model.layers.0.mlp.down_proj has 172 input channels}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
