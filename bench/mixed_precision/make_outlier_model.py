#!/usr/bin/env python3
"""A copy of a bf16 Llama checkpoint with activation outliers, built by a
function-preserving rescaling (standard library only).

Real Llamas have a few hidden channels whose activations are tens of times
larger than the others after the RMSNorm. We build such channels from the
bundled model: for an RMSNorm with weight g feeding linears W (q|k|v, or
gate|up), channel j of the norm output is multiplied by S (g[j] *= S) and
column j of every linear reading it is divided by S (W[:, j] /= S). With S a
power of two both changes are exact in bf16, and y = W x is unchanged in exact
arithmetic (and in qcc's interpreter, which multiplies and accumulates in
fp32: x_j * S * W_nj / S is the same product). What changes is the range of
the norm output: a W8A8 linear's per-token scale is set by the S-times larger
channel, and every other channel is left with few int8 levels.

usage: make_outlier_model.py SRC_DIR DST_DIR [--scale 64]
"""
import argparse
import json
import os
import shutil
import struct

# (norm, linears it feeds, channels): layers 1 and 2's attention inputs and
# layer 3's MLP input.
PLAN = [
    ("model.layers.1.input_layernorm.weight",
     ["model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
      "model.layers.1.self_attn.v_proj.weight"], [7, 100, 201]),
    ("model.layers.2.input_layernorm.weight",
     ["model.layers.2.self_attn.q_proj.weight", "model.layers.2.self_attn.k_proj.weight",
      "model.layers.2.self_attn.v_proj.weight"], [30, 131]),
    ("model.layers.3.post_attention_layernorm.weight",
     ["model.layers.3.mlp.gate_proj.weight", "model.layers.3.mlp.up_proj.weight"], [55, 180]),
]


def bf16_to_float(bits):
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


def float_to_bf16(x):
    # Exact for the power-of-two rescaling of a bf16 value (no rounding needed).
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    assert bits & 0xFFFF == 0, "not a bf16 value"
    return bits >> 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--scale", type=float, default=64.0)
    args = ap.parse_args()
    s = args.scale
    assert s > 0 and float(s).hex().startswith("0x1.0000000000000p"), "the scale must be a power of two"

    with open(os.path.join(args.src, "model.safetensors"), "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = bytearray(blob[8 + header_len:])

    def tensor(name):
        t = header[name]
        assert t["dtype"] == "BF16", name + " is not bf16"
        begin, end = t["data_offsets"]
        return t["shape"], begin

    def scale_element(offset, factor):
        (bits,) = struct.unpack_from("<H", data, offset)
        struct.pack_into("<H", data, offset, float_to_bf16(bf16_to_float(bits) * factor))

    for norm, linears, channels in PLAN:
        shape, begin = tensor(norm)
        for j in channels:
            scale_element(begin + 2 * j, s)
        for name in linears:
            (n, k), begin = tensor(name)
            for j in channels:
                for row in range(n):
                    scale_element(begin + 2 * (row * k + j), 1.0 / s)

    os.makedirs(args.dst, exist_ok=True)
    with open(os.path.join(args.dst, "model.safetensors"), "wb") as f:
        f.write(blob[:8 + header_len])
        f.write(data)
    for extra in ("config.json", "tokenizer.json", "tokenizer_config.json", "calib.ids", "eval.ids"):
        path = os.path.join(args.src, extra)
        if os.path.exists(path):
            shutil.copy(path, os.path.join(args.dst, extra))
    print("wrote", args.dst, "with", sum(len(c) for _, _, c in PLAN), "outlier channels scaled by", s)


if __name__ == "__main__":
    main()
