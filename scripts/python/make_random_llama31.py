#!/usr/bin/env python3
"""Writes test/golden/random-llama31/: a tiny random Llama-3.1 checkpoint (float32).

  python3 scripts/python/make_random_llama31.py --out test/golden/random-llama31

Shapes are small and deliberately unlike the bundled model: hidden 96, 4 query heads and
2 kv heads (GQA 2:1) of head_dim 24, intermediate 200, 2 layers, vocab 300, untied
lm_head. rope_scaling is Llama-3.1's `llama3` with original_max_position_embeddings 32,
so golden sequences longer than 32 exercise it; with rope_theta 500000 and head_dim 24
the 12 RoPE frequencies fall in all three regions of the llama3 rule (wavelength < 8
kept, 8..32 smoothed, > 32 divided by the factor).

Weights are drawn with a scale that keeps activations O(1) through the layers (the
transformers default of std 0.02 would give almost uniform logits, which would make
top-1 agreement meaningless), and the RMSNorm weights are not all ones.
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama31_config import llama31_config_dict, transformers_config, save_checkpoint, check_roundtrip  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="test/golden/random-llama31")
    p.add_argument("--seed", type=int, default=31)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    cfg = llama31_config_dict(
        vocab_size=300, hidden_size=96, intermediate_size=200, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=24,
        max_position_embeddings=128, rope_theta=500000.0,
        rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 32, "rope_type": "llama3"},
        bos_token_id=1, eos_token_id=[2, 3], tie_word_embeddings=False, torch_dtype="float32")
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM(transformers_config(cfg)).eval()

    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, w in model.named_parameters():
            if "norm" in name:            # RMSNorm gains around 1
                w.copy_(1.0 + 0.2 * torch.randn(w.shape, generator=g))
            elif "embed_tokens" in name:  # unit-variance embeddings
                w.copy_(torch.randn(w.shape, generator=g))
            else:                         # [out, in]: std 1/sqrt(in) keeps the scale
                w.copy_(torch.randn(w.shape, generator=g) / math.sqrt(w.shape[1]))

    save_checkpoint(model, cfg, args.out, torch.float32)
    sample = torch.randint(0, cfg["vocab_size"], (2, 40), generator=g)
    check_roundtrip(model, args.out, torch.float32, sample)
    print(f"wrote {args.out}: {os.path.getsize(os.path.join(args.out, 'model.safetensors'))} bytes")


if __name__ == "__main__":
    main()
