#!/usr/bin/env python3
"""Writes a tiny Llama-3.1 checkpoint for the CLI tests (Python standard library only).

  make_checkpoint.py OUT_DIR [--nan NAME] [--fill NAME VALUE] [--shards N]
                     [--hf-cache REPO_DIR] [--escape-shard] [--config KEY=JSON ...]

Weights are float32, N(0, 0.1) from a fixed seed (norms 1.0); sizes: hidden 16,
intermediate 32, 2 layers, 2 heads (1 kv head), vocab 32, 64 positions.
  --nan NAME         element 3 of tensor NAME becomes NaN
  --fill NAME VALUE  every element of NAME becomes VALUE
  --shards N         model-0000i-of-0000N.safetensors + model.safetensors.index.json
  --hf-cache REPO    also lay the folder out as a Hugging Face cache repo:
                     REPO/blobs/<sha256> holds the bytes, REPO/snapshots/<rev>/<file>
                     are symlinks ../../blobs/<sha256> (OUT_DIR is then unused)
  --escape-shard     (with --hf-cache) the last shard links outside the repo instead
  --config KEY=JSON  override a config.json value
  --config-pad N     add a "_name_or_path" string of N bytes to config.json
"""
import argparse
import hashlib
import json
import os
import random
import struct

D, F, L, H, HKV, V, DH = 16, 32, 2, 2, 1, 32, 8


def tensors():
    out = [("model.embed_tokens.weight", [V, D])]
    for i in range(L):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", [D]), (p + "self_attn.q_proj.weight", [H * DH, D]),
                (p + "self_attn.k_proj.weight", [HKV * DH, D]), (p + "self_attn.v_proj.weight", [HKV * DH, D]),
                (p + "self_attn.o_proj.weight", [D, H * DH]), (p + "post_attention_layernorm.weight", [D]),
                (p + "mlp.gate_proj.weight", [F, D]), (p + "mlp.up_proj.weight", [F, D]),
                (p + "mlp.down_proj.weight", [D, F])]
    return out + [("model.norm.weight", [D]), ("lm_head.weight", [V, D])]


def safetensors(entries):
    header, offset, blobs = {}, 0, []
    for name, shape, data in entries:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--nan")
    ap.add_argument("--fill", nargs=2)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--hf-cache")
    ap.add_argument("--escape-shard", action="store_true")
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--config-pad", type=int, default=0)
    a = ap.parse_args()

    rng = random.Random(0)
    entries = []
    for name, shape in tensors():
        n = 1
        for d in shape:
            n *= d
        if name.endswith("norm.weight"):
            values = [1.0] * n
        else:
            values = [rng.gauss(0.0, 0.1) for _ in range(n)]
        if a.fill and a.fill[0] == name:
            values = [float(a.fill[1])] * n
        if a.nan == name:
            values[3] = float("nan")
        entries.append((name, shape, struct.pack(f"<{n}f", *values)))

    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
              "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H,
              "num_key_value_heads": HKV, "vocab_size": V, "max_position_embeddings": 64,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 2,
              "torch_dtype": "float32"}
    for kv in a.config:
        key, value = kv.split("=", 1)
        config[key] = json.loads(value)
    if a.config_pad:
        config["_name_or_path"] = "x" * a.config_pad

    files = {"config.json": json.dumps(config, indent=1).encode()}
    if a.shards == 1:
        files["model.safetensors"] = safetensors(entries)
    else:
        per = (len(entries) + a.shards - 1) // a.shards
        weight_map = {}
        for s in range(a.shards):
            name = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            part = entries[s * per:(s + 1) * per]
            files[name] = safetensors(part)
            for t, _, _ in part:
                weight_map[t] = name
        files["model.safetensors.index.json"] = json.dumps({"metadata": {}, "weight_map": weight_map}).encode()

    if not a.hf_cache:
        os.makedirs(a.out, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(a.out, name), "wb") as f:
                f.write(data)
        return
    repo = a.hf_cache
    snapshot = os.path.join(repo, "snapshots", "0123456789abcdef0123456789abcdef01234567")
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(os.path.basename(snapshot))
    last_shard = sorted(n for n in files if n.endswith(".safetensors"))[-1]
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if a.escape_shard and name == last_shard:
            outside = os.path.join(os.path.dirname(os.path.abspath(repo)), "elsewhere")
            os.makedirs(outside, exist_ok=True)
            with open(os.path.join(outside, digest), "wb") as f:
                f.write(data)
            os.symlink(os.path.join("..", "..", "..", "elsewhere", digest), os.path.join(snapshot, name))
            continue
        with open(os.path.join(repo, "blobs", digest), "wb") as f:
            f.write(data)
        os.symlink(os.path.join("..", "..", "blobs", digest), os.path.join(snapshot, name))


if __name__ == "__main__":
    main()
