// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=16" 2>&1 | FileCheck %s --check-prefix=ALL16
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=12" 2>&1 | FileCheck %s --check-prefix=B12
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=8" 2>&1 | FileCheck %s --check-prefix=B8
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=8 uniform-groups=true" 2>&1 | FileCheck %s --check-prefix=UNIFORM
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=8 targets=a6000" 2>&1 | FileCheck %s --check-prefix=SM86
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=4.25" 2>&1 | FileCheck %s --check-prefix=FLOOR
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=4.2" 2>&1 | FileCheck %s --check-prefix=INFEASIBLE
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=size=1KiB" 2>&1 | FileCheck %s --check-prefix=SIZE
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=size=349184" 2>&1 | FileCheck %s --check-prefix=FLOOR
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=latency=0.001@h100" 2>&1 | FileCheck %s --check-prefix=LATENCY
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=latency=1000@h100" 2>&1 | FileCheck %s --check-prefix=ALL16
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=latency=0.001@h100 tiles=%S/Inputs/auto-tiles.json" 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: qcc-opt %s -qcc-select-formats="default-format=auto budget=latency=2.0015@h100 tiles=%S/Inputs/auto-tiles.json" 2>&1 | FileCheck %s --check-prefix=TILED
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto" 2>&1 | FileCheck %s --check-prefix=NOBUDGET
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=bits" 2>&1 | FileCheck %s --check-prefix=BADBUDGET
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=8 include-lm-head=true" 2>&1 | FileCheck %s --check-prefix=NOHEAD
// RUN: not qcc-opt %s -qcc-select-formats="default-format=auto budget=bits=8 rules=*=int8" 2>&1 | FileCheck %s --check-prefix=RULES

// qcc-select-formats in auto mode: the least summed KL of the module's
// sensitivity table under the budget. q|k|v read the same value (one
// knapsack group); o_proj is alone; lm_head stays bf16 (not measured, not
// included). Weight bytes: codes + fp32 scales (256x256: bf16 131072,
// 8-bit 66560, w4a16:128 34816; 64x256: 32768, 16640, 8704); the covered
// linears hold 163840 weights. Optima worked out by exhaustive search.

module attributes {qcc.checkpoint_hash = "feedface", qcc.sensitivity = {
    candidates = ["bf16", "fp8", "int8", "w4a16:128"], checkpoint_hash = "feedface",
    layers = {"model.layers.0.self_attn.q_proj" = {bf16 = 0.0 : f64, fp8 = 1.0e-3 : f64, int8 = 2.0e-3 : f64, "w4a16:128" = 5.0e-3 : f64},
              "model.layers.0.self_attn.k_proj" = {bf16 = 0.0 : f64, fp8 = 1.0e-4 : f64, int8 = 1.0e-4 : f64, "w4a16:128" = 2.5e-4 : f64},
              "model.layers.0.self_attn.v_proj" = {bf16 = 0.0 : f64, fp8 = 3.0e-3 : f64, int8 = 1.0e-3 : f64, "w4a16:128" = 1.0e-2 : f64},
              "model.layers.0.self_attn.o_proj" = {bf16 = 0.0 : f64, fp8 = 2.0e-4 : f64, int8 = 3.0e-4 : f64, "w4a16:128" = 4.0e-4 : f64}}}} {
func.func @forward(%h: tensor<?x256xbf16>, %pos: tensor<?xi64>) -> tensor<?x512xf32> {
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %q = qcc.linear %h, %wq {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<1.0> : tensor<64x256xbf16>} : tensor<64x256xbf16>
  %k = qcc.linear %h, %wk {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.k_proj"} : (tensor<?x256xbf16>, tensor<64x256xbf16>) -> tensor<?x64xbf16>
  %wv = qcc.weight "model.layers.0.self_attn.v_proj.weight" {value = dense<1.0> : tensor<64x256xbf16>} : tensor<64x256xbf16>
  %v = qcc.linear %h, %wv {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.v_proj"} : (tensor<?x256xbf16>, tensor<64x256xbf16>) -> tensor<?x64xbf16>
  %wo = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %o = qcc.linear %q, %wo {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %head = qcc.weight "lm_head.weight" {value = dense<1.0> : tensor<512x256xbf16>} : tensor<512x256xbf16>
  %l = qcc.logits %o, %head {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
}

// Room for everything: bf16 everywhere (KL 0); the table is consumed.
// ALL16: auto formats under budget {{.*}} (4 layers: 4 bf16): effective bits 16.0000, predicted KL 0
// ALL16: module attributes {qcc.checkpoint_hash = "feedface", qcc.passes = [
// ALL16-NOT: qcc.sensitivity
// ALL16-COUNT-4: format = #qcc.format<bf16>, layer
// ALL16: qcc.logits {{.*}}format = #qcc.format<bf16>

// 12 bits (245760 bytes): o_proj w4a16 (4e-4) beats o_proj fp8 + k_proj w4a16 (4.5e-4).
// B12: effective bits 11.3000, predicted KL 0.0004 nats/token
// B12: qcc.passes = ["qcc-select-formats{{.*}}budget=bits=12 default-format=auto{{.*}}", "qcc-auto-formats{budget=bits=12 sensitivity=measured effective-bits=11.3000 predicted-kl=0.0004 decode-us=a6000:
// B12: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.q_proj"
// B12: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.k_proj"
// B12: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.v_proj"
// B12: format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.o_proj"

// 8 bits: k_proj's fp8 and int8 tie in KL and bytes: the earlier candidate (fp8) wins.
// B8: effective bits 7.3625, predicted KL 0.0015 nats/token
// B8: format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"
// B8: format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.k_proj"
// B8: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.v_proj"
// B8: format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.o_proj"

// The same budget with uniform-groups (qcc export: vLLM fuses q|k|v into one
// module of one format): q|k|v int8 (99840 bytes, 3.1e-3) + o_proj w4a16
// (34816, 4e-4) = 134656 bytes, KL 3.5e-3; the uniform alternatives are worse
// (fp8 + w4a16: 4.5e-3) or over 163840 bytes (int8 + fp8: 166400).
// UNIFORM: effective bits 6.5750, predicted KL 0.0035 nats/token
// UNIFORM: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"
// UNIFORM: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.k_proj"
// UNIFORM: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.v_proj"
// UNIFORM: format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.o_proj"

// On sm86 W8A8 fp8 is illegal: int8 instead, at a higher KL.
// SM86: effective bits 7.3625, predicted KL 0.0025 nats/token
// SM86: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"
// SM86: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.k_proj"
// SM86: format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.v_proj"
// SM86: format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.o_proj"

// The smallest budgets: every layer w4a16 (4.25 bits; 349184 bytes with the bf16 head).
// FLOOR: (4 layers: 4 w4a16:128): effective bits 4.2500
// FLOOR-COUNT-4: format = #qcc.format<w4a16, group = 128>, layer

// INFEASIBLE: error: qcc-select-formats: budget bits=4.2 cannot be met: the smallest possible is bits=4.2500 (every layer in its smallest legal format)
// SIZE: error: qcc-select-formats: budget size=1KiB cannot be met: the smallest possible is size=349184 (every layer in its smallest legal format)
// LATENCY: error: qcc-select-formats: budget latency=0.001@h100 cannot be met: the smallest possible is latency={{[0-9]+\.[0-9]+}}@h100
// Measured times (a `qcc tune` table) replace the estimates: w4a16 q|k|v (n = 384) and o_proj
// take 1e-9 ms, lm_head (bf16, n = 512) 2 us; every other GEMM keeps its roofline estimate
// (above 0.01 us on an H100). The least time is 2 us + 2 ps: 2.001 rounded up to the ns, and a
// budget of 2.0015 us leaves w4a16 everywhere as the only choice.
// TILES: error: qcc-select-formats: budget latency=0.001@h100 cannot be met: the smallest possible is latency=2.001@h100
// TILED: (4 layers: 4 w4a16:128)

// NOBUDGET: error: qcc-select-formats: default-format=auto needs a budget: bits=B, size=BYTES or latency=MICROSECONDS@GPU
// BADBUDGET: error: qcc-select-formats: bad budget 'bits': expected bits=B, size=BYTES or latency=MICROSECONDS@GPU
// NOHEAD: error: qcc-select-formats: the sensitivity table has no entry for layer(s) lm_head (measure lm_head with `qcc sensitivity --include-lm-head`)
// RULES: error: qcc-select-formats: rules and default-format=auto exclude each other
