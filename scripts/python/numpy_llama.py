"""A second, minimal Llama forward in float64 NumPy (llama2.c-style), written from the
Llama-3.1 definition, used only to cross-check the transformers reference in
make_golden.py (so a transformers config-conversion bug cannot silently become golden)."""
import json
import math
import os

import numpy as np
from safetensors.numpy import load_file


def load(path):
    cfg = json.load(open(os.path.join(path, "config.json")))
    raw = load_file(os.path.join(path, "model.safetensors")) if _has_numpy_dtypes(path) else None
    if raw is None:  # bf16 is not a NumPy dtype: go through torch
        from safetensors.torch import load_file as tload
        raw = {k: v.float().numpy() for k, v in tload(os.path.join(path, "model.safetensors")).items()}
    w = {k: v.astype(np.float64) for k, v in raw.items()}
    return cfg, w


def _has_numpy_dtypes(path):
    return json.load(open(os.path.join(path, "config.json"))).get("torch_dtype") != "bfloat16"


def inv_freq(cfg):
    """[head_dim/2] RoPE inverse frequencies, with the llama3 rule when configured."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    f = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / rs["low_freq_factor"], old / rs["high_freq_factor"]
        out = []
        for fr in f:
            wl = 2 * math.pi / fr
            if wl < high_wl:
                out.append(fr)                      # high frequency: unchanged
            elif wl > low_wl:
                out.append(fr / rs["factor"])       # low frequency: scaled
            else:                                   # in between: interpolate
                s = (old / wl - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
                out.append((1 - s) * fr / rs["factor"] + s * fr)
        f = np.array(out)
    return f


def forward(cfg, w, ids, mutation=None):
    """ids [T] -> logits [T, V] (float64).

    `mutation` (optional) changes the graph for mutation tests of a compiler
    that must follow its IR: {"eps": {"model.layers.2.input_layernorm": 0.5},
    "q_theta": {1: 100.0} (the rope of layer 1's queries only),
    "no_mlp_residual": {3}, "swap_swiglu": {0} (silu(up) * gate)}."""
    m = mutation or {}
    T = len(ids)
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh

    def rms(x, g, name):
        eps = m.get("eps", {}).get(name, cfg["rms_norm_eps"])
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rope_table(theta):
        ang = np.arange(T)[:, None] * inv_freq(dict(cfg, rope_theta=theta))[None, :]  # [T, hd/2]
        return np.cos(ang), np.sin(ang)

    base = rope_table(cfg["rope_theta"])

    def rope(x, table=base):  # x [T, n, hd], rotate-half layout
        cos, sin = table
        a, b = x[..., :hd // 2], x[..., hd // 2:]
        c, s = cos[:, None, :], sin[:, None, :]
        return np.concatenate([a * c - b * s, b * c + a * s], -1)

    x = w["model.embed_tokens.weight"][ids]                 # [T, H]
    mask = np.triu(np.full((T, T), -np.inf), 1)             # [T, T] causal
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"], p + "input_layernorm")
        q_table = rope_table(m["q_theta"][l]) if l in m.get("q_theta", {}) else base
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, nh, hd), q_table)
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd))
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd)
        att = np.empty((T, nh, hd))
        for i in range(nh):
            j = i // (nh // nkv)                            # GQA: query head -> kv head
            s = q[:, i] @ k[:, j].T / math.sqrt(hd) + mask  # [T, T]
            s = np.exp(s - s.max(-1, keepdims=True))
            att[:, i] = (s / s.sum(-1, keepdims=True)) @ v[:, j]
        x = x + att.reshape(T, nh * hd) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"], p + "post_attention_layernorm")
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        if l in m.get("swap_swiglu", set()):
            g, u = u, g
        d = (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
        x = d if l in m.get("no_mlp_residual", set()) else x + d
    x = rms(x, w["model.norm.weight"], "model.norm")
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T
