// RUN: qcc-opt %s -split-input-file -qcc-select-formats="default-format=fp8" | FileCheck %s --check-prefix=DEFAULT
// RUN: qcc-opt %s -split-input-file -qcc-select-formats="default-format=fp8 include-lm-head=true" | FileCheck %s --check-prefix=HEAD
// RUN: qcc-opt %s -split-input-file -qcc-select-formats="rules-file=%S/Inputs/layer-formats.yaml" | FileCheck %s --check-prefix=YAML
// RUN: qcc-opt %s -split-input-file -qcc-select-formats="default-format=w4a16 rules-file=%S/Inputs/layer-formats.json" | FileCheck %s --check-prefix=JSON
// RUN: qcc-opt %s -split-input-file -qcc-select-formats="default-format=bf16 rules=layers.1.*=int8,*.k_proj=w4a16:32" | FileCheck %s --check-prefix=INLINE
// RUN: not qcc-opt %s -split-input-file -qcc-select-formats="rules-file=%S/Inputs/bad-format.yaml" 2>&1 | FileCheck %s --check-prefix=BADFILE
// RUN: not qcc-opt %s -split-input-file -qcc-select-formats="rules-file=%S/Inputs/missing.yaml" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not qcc-opt %s -split-input-file -qcc-select-formats="default-format=int3" 2>&1 | FileCheck %s --check-prefix=BADDEFAULT

func.func @two_layers(%x: tensor<?x256xbf16>) -> tensor<?x512xf32> {
  %wq0 = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %q0 = qcc.linear %x, %wq0 {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %wd0 = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %d0 = qcc.linear %q0, %wd0 {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %wq1 = qcc.weight "model.layers.1.self_attn.q_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %q1 = qcc.linear %d0, %wq1 {format = #qcc.format<bf16>, layer = "model.layers.1.self_attn.q_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %wk1 = qcc.weight "model.layers.1.self_attn.k_proj.weight" {value = dense<1.0> : tensor<64x256xbf16>} : tensor<64x256xbf16>
  %k1 = qcc.linear %q1, %wk1 {format = #qcc.format<bf16>, layer = "model.layers.1.self_attn.k_proj"} : (tensor<?x256xbf16>, tensor<64x256xbf16>) -> tensor<?x64xbf16>
  %wu1 = qcc.weight "model.layers.1.mlp.up_proj.weight" {value = dense<1.0> : tensor<768x256xbf16>} : tensor<768x256xbf16>
  %u1 = qcc.linear %q1, %wu1 {format = #qcc.format<bf16>, layer = "model.layers.1.mlp.up_proj"} : (tensor<?x256xbf16>, tensor<768x256xbf16>) -> tensor<?x768xbf16>
  %head = qcc.weight "lm_head.weight" {value = dense<1.0> : tensor<512x256xbf16>} : tensor<512x256xbf16>
  %l = qcc.logits %q1, %head {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// The default applies to every linear; lm_head stays bf16 unless opted in.
// DEFAULT-COUNT-5: format = #qcc.format<fp8>
// DEFAULT: qcc.logits {{.*}}format = #qcc.format<bf16>
// HEAD: qcc.logits {{.*}}format = #qcc.format<fp8>

// First matching rule wins; globs match with or without "model.", `re:` is a regex.
// YAML: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"
// YAML: format = #qcc.format<bf16>, layer = "model.layers.0.mlp.down_proj"
// YAML: format = #qcc.format<fp8>, layer = "model.layers.1.self_attn.q_proj"
// YAML: format = #qcc.format<fp8>, layer = "model.layers.1.self_attn.k_proj"
// YAML: format = #qcc.format<w4a16, group = 64>, layer = "model.layers.1.mlp.up_proj"
// The "*" rule matches lm_head too: a rule opts the head in.
// YAML: qcc.logits {{.*}}format = #qcc.format<w4a16, group = 64>

// JSON: format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.q_proj"
// JSON: format = #qcc.format<int8>, layer = "model.layers.1.self_attn.q_proj"
// JSON: qcc.logits {{.*}}format = #qcc.format<fp8>

// INLINE: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.q_proj"
// INLINE: format = #qcc.format<int8>, layer = "model.layers.1.self_attn.q_proj"
// INLINE: format = #qcc.format<int8>, layer = "model.layers.1.self_attn.k_proj"

// BADFILE: bad-format.yaml:1: unknown format 'int4' (expected bf16, fp8, int8, w4a16 or w4a16:G)
// MISSING: missing.yaml: cannot open
// BADDEFAULT: unknown format 'int3'

// -----

// A shape the group cannot divide (stories260K's intermediate size 172):
// the default falls back to int8 per channel with a remark.
func.func @odd_shape(%x: tensor<?x172xf32>) -> tensor<?x64xf32> {
  %w = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<1.0> : tensor<64x172xf32>} : tensor<64x172xf32>
  // DEFAULT: format = #qcc.format<fp8>, layer = "model.layers.0.mlp.down_proj"
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
