#!/usr/bin/env python3
"""Writes a shape-exact synthetic Llama-3.1 checkpoint (random bf16 weights).

Takes a real config.json (e.g. ../shared/models/llama-3.1-configs/Llama-3.1-8B-Instruct.config.json),
keeps every size but num_hidden_layers (--layers), and streams model.safetensors tensor by
tensor, so memory stays at one tensor. Weights are N(0, 0.02) (norms 1.0), rounded to bf16
by truncating the fp32 bit pattern after adding the round-to-nearest-even bias.

  python3 make_synthetic_checkpoint.py CONFIG OUT_DIR --layers 2 [--seed 0]
"""
import argparse
import json
import os
import struct

import numpy as np


def bf16_bits(x: np.ndarray) -> np.ndarray:
    u = x.astype(np.float32).view(np.uint32)
    rounded = u + 0x7FFF + ((u >> 16) & 1)  # round half to even
    return (rounded >> 16).astype(np.uint16)


def tensor_list(cfg):
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    Dh = cfg.get("head_dim") or D // H
    out = [("model.embed_tokens.weight", [V, D])]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", [D]),
                (p + "self_attn.q_proj.weight", [H * Dh, D]),
                (p + "self_attn.k_proj.weight", [Hkv * Dh, D]),
                (p + "self_attn.v_proj.weight", [Hkv * Dh, D]),
                (p + "self_attn.o_proj.weight", [D, H * Dh]),
                (p + "post_attention_layernorm.weight", [D]),
                (p + "mlp.gate_proj.weight", [F, D]),
                (p + "mlp.up_proj.weight", [F, D]),
                (p + "mlp.down_proj.weight", [D, F])]
    out.append(("model.norm.weight", [D]))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", [V, D]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = json.load(open(args.config))
    cfg["num_hidden_layers"] = args.layers
    cfg["torch_dtype"] = "bfloat16"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    tensors = tensor_list(cfg)
    header, offset = {}, 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt", "source": "qcc bench/compile synthetic"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    rng = np.random.default_rng(args.seed)
    path = os.path.join(args.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape in tensors:
            if name.endswith("norm.weight"):
                x = np.ones(shape, dtype=np.float32)
            else:
                x = rng.standard_normal(shape, dtype=np.float32) * 0.02
            f.write(bf16_bits(x).tobytes())
    os.replace(path + ".tmp", path)
    print(f"{path}: {offset / 1e9:.3f} GB of weights, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
