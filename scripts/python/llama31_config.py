"""Shared helpers: write a Llama-3.1-style config.json and a safetensors checkpoint.

transformers 5.x serialises RoPE settings as `rope_parameters`; the real Llama-3.1
release (and qcc's frontend) use the older `rope_theta` + `rope_scaling` keys. We
therefore write config.json ourselves in the release layout, and check that
transformers reads it back to the same model.
"""
import json
import os

import torch
from safetensors.torch import save_file


def llama31_config_dict(*, vocab_size, hidden_size, intermediate_size, num_hidden_layers,
                        num_attention_heads, num_key_value_heads, head_dim,
                        max_position_embeddings, rope_theta, rope_scaling,
                        bos_token_id, eos_token_id, tie_word_embeddings, torch_dtype,
                        rms_norm_eps=1e-5):
    """The key set and order of the real Llama-3.1-8B-Instruct config.json."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_act": "silu",
        "max_position_embeddings": max_position_embeddings,
        "rms_norm_eps": rms_norm_eps,
        "rope_theta": float(rope_theta),
        "rope_scaling": rope_scaling,
        "tie_word_embeddings": tie_word_embeddings,
        "vocab_size": vocab_size,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "head_dim": head_dim,
        "torch_dtype": torch_dtype,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
    }


def transformers_config(cfg):
    """A transformers LlamaConfig equivalent to the release-layout dict `cfg`."""
    from transformers import LlamaConfig
    rope = {"rope_type": "default", "rope_theta": cfg["rope_theta"]}
    if cfg["rope_scaling"] is not None:
        rope = dict(cfg["rope_scaling"], rope_theta=cfg["rope_theta"])
    eos = cfg["eos_token_id"]
    return LlamaConfig(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"], num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"], head_dim=cfg["head_dim"],
        max_position_embeddings=cfg["max_position_embeddings"], rms_norm_eps=cfg["rms_norm_eps"],
        rope_parameters=rope, tie_word_embeddings=cfg["tie_word_embeddings"],
        bos_token_id=cfg["bos_token_id"], eos_token_id=eos,
        attention_bias=False, mlp_bias=False, hidden_act="silu")


def save_checkpoint(model, cfg, out_dir, dtype):
    """Writes out_dir/config.json and out_dir/model.safetensors (tensors in `dtype`)."""
    os.makedirs(out_dir, exist_ok=True)
    state = {}
    for name, t in model.state_dict().items():
        if cfg["tie_word_embeddings"] and name == "lm_head.weight":
            continue  # tied: the file holds only embed_tokens, like the release
        state[name] = t.detach().to(dtype).contiguous().clone()
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def check_roundtrip(model, out_dir, dtype, sample_ids=None):
    """Checks the written folder: every tensor equals the model's (cast to `dtype`) bit
    for bit, from_pretrained reads back the same RoPE settings, and (for a float32
    model) the reloaded model gives identical logits. Returns the reloaded model.

    (A model converted in memory with .to(bfloat16) is not compared by logits: that
    also converts its RoPE inv_freq buffer, which from_pretrained keeps in float32.)
    """
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM
    saved = load_file(os.path.join(out_dir, "model.safetensors"))
    state = model.state_dict()
    for name, t in saved.items():
        assert t.dtype == dtype, f"{name}: saved as {t.dtype}"
        assert torch.equal(t, state[name].to(dtype)), f"{name}: saved tensor differs"
    back = LlamaForCausalLM.from_pretrained(out_dir, dtype=dtype).eval()
    rp_a = dict(model.config.rope_parameters)
    rp_b = dict(back.config.rope_parameters)
    assert rp_a == rp_b, f"rope parameters differ after reload: {rp_a} vs {rp_b}"
    if dtype == torch.float32 and sample_ids is not None:
        with torch.no_grad():
            err = (model(sample_ids).logits - back(sample_ids).logits).abs().max().item()
        assert err == 0.0, f"reloaded model differs: max |diff| {err}"
    return back
