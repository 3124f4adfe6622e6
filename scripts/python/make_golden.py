#!/usr/bin/env python3
"""Writes golden logits from the independent reference (Hugging Face transformers).

  python3 scripts/python/make_golden.py            # from the checkout root

For each model below, loads the folder with LlamaForCausalLM.from_pretrained, runs fixed
token sequences and writes test/golden/<name>.golden.safetensors:
  input_ids   I64 [S, T]     the sequences (each starts with BOS)
  logits      F32 [S, T, V]  reference logits, float32 computation
  logits_bf16 BF16 [S, T, V] (bf16 checkpoints only) transformers run entirely in bfloat16
  bf16_relerr F32 [S, T]     (bf16 checkpoints only) per position
                             ||logits_bf16 - logits||_inf / ||logits||_inf
  greedy_ids  I64 [N]        (stories260K only) greedy generate from [BOS], N new tokens
and __metadata__ with the torch / transformers versions and how the numbers were made.

Why float32 for the bf16 bundled model: its weights are bf16 values, exactly
representable in float32, so the float32 forward is the exact model up to accumulation
order; any bf16 implementation (transformers' bf16 eager, qcc's bf16-emulating executor,
the GPU kernels) is that plus its own rounding noise. Comparing qcc against the bf16
transformers run would mix two independent rounding patterns. The C++ test therefore
compares against `logits` and bounds qcc's bf16 error relative to `bf16_relerr`, the
error a reference bf16 implementation makes on the same inputs.
"""
import argparse
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_llama  # noqa: E402


def load(path, dtype):
    m = LlamaForCausalLM.from_pretrained(path, dtype=dtype).eval()
    return m


@torch.no_grad()
def forward(model, ids, keep_dtype=False):
    logits = model(ids).logits  # [S, T, V]
    return logits if keep_dtype else logits.float()


def rel_err(a, ref):
    """Per position ||a - ref||_inf / ||ref||_inf; [S, T]."""
    return (a - ref).abs().amax(-1) / ref.abs().amax(-1)


def crosscheck(path, ids, logits):
    """Max per-position relative error of `logits` (transformers, float32) against the
    float64 NumPy forward in numpy_llama.py; fails loudly above 1e-4."""
    cfg, w = numpy_llama.load(path)
    worst = 0.0
    for s in range(ids.shape[0]):
        ref = torch.from_numpy(numpy_llama.forward(cfg, w, ids[s].numpy()))
        worst = max(worst, rel_err(logits[s].double(), ref).max().item())
    assert worst < 1e-4, f"{path}: transformers and the NumPy forward differ: {worst:.3e}"
    print(f"{path}: transformers float32 vs NumPy float64 max rel err {worst:.3e}")
    return f"{worst:.3e}"


def read_ids(path):
    with open(path) as f:
        return [[int(x) for x in line.split()] for line in f if line.strip()]


def write(out, tensors, meta):
    meta = dict(meta, torch=torch.__version__, transformers=transformers.__version__,
                generator="scripts/python/make_golden.py")
    save_file({k: v.contiguous() for k, v in tensors.items()}, out, metadata=meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes): "
          + ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shared", default="../shared")
    p.add_argument("--out-dir", default="test/golden")
    p.add_argument("--models", default="stories260K,random-llama31,llama-tiny-shakespeare")
    args = p.parse_args()
    todo = args.models.split(",")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    if "stories260K" in todo:
        stories(args, torch.Generator().manual_seed(2024))
    if "random-llama31" in todo:
        random_llama31(args, torch.Generator().manual_seed(2025))
    if "llama-tiny-shakespeare" in todo:
        tiny_shakespeare(args)


def stories(args, g):
    """(a) stories260K: float32, GQA 2:1, no rope scaling, tied embeddings."""
    path = os.path.join(args.shared, "models/stories260K")
    m = load(path, torch.float32)
    bos, n_new = 1, 64
    start = torch.tensor([[bos]])
    greedy = m.generate(start, max_new_tokens=n_new, do_sample=False, min_new_tokens=0,
                        eos_token_id=None, pad_token_id=0)[0, 1:]
    # Cross-check generate() against a plain argmax loop over full prefixes.
    seq = [bos]
    for _ in range(n_new):
        seq.append(int(forward(m, torch.tensor([seq]))[0, -1].argmax()))
    assert greedy.tolist() == seq[1:], "generate() disagrees with the argmax loop"
    assert len(greedy) == n_new
    T = 48
    ids = torch.stack([
        torch.tensor(seq[:T]),                                                # model's own text
        torch.cat([start[0], torch.randint(3, 512, (T - 1,), generator=g)]),  # random ids
        torch.cat([start[0], torch.tensor(seq[10:10 + T - 1])]),              # text from mid-story
    ])
    logits = forward(m, ids)
    write(os.path.join(args.out_dir, "stories260K.golden.safetensors"),
          {"input_ids": ids, "logits": logits, "greedy_ids": greedy},
          {"model": "../shared/models/stories260K", "reference_dtype": "float32",
           "numpy_float64_crosscheck_max_relerr": crosscheck(path, ids, logits),
           "greedy": f"generate(input_ids=[[1]], max_new_tokens={n_new}, do_sample=False), "
                     "EOS not treated as a stop"})



def random_llama31(args, g):
    """(b) tiny random Llama-3.1 checkpoint: float32, llama3 rope scaling, GQA."""
    path = os.path.join(args.out_dir, "random-llama31")
    m = load(path, torch.float32)
    assert m.config.rope_parameters["rope_type"] == "llama3"
    orig = m.config.rope_parameters["original_max_position_embeddings"]
    T = 48
    assert T > orig
    ids = torch.cat([torch.ones(3, 1, dtype=torch.long),
                     torch.randint(0, 300, (3, T - 1), generator=g)], dim=1)
    logits = forward(m, ids)
    write(os.path.join(args.out_dir, "random-llama31.golden.safetensors"),
          {"input_ids": ids, "logits": logits},
          {"model": "test/golden/random-llama31", "reference_dtype": "float32",
           "numpy_float64_crosscheck_max_relerr": crosscheck(path, ids, logits),
           "note": f"T={T} > original_max_position_embeddings={orig}"})



def tiny_shakespeare(args):
    """(c) the bundled model: bf16 checkpoint; reference in float32 (see the docstring),
    plus the error of transformers' own bf16 run against it."""
    path = "models/llama-tiny-shakespeare"
    m32 = load(path, torch.float32)
    m16 = load(path, torch.bfloat16)
    assert m32.config.rope_parameters["rope_type"] == "llama3"
    orig = m32.config.rope_parameters["original_max_position_embeddings"]
    # One sequence (the file holds three [T, 2048] tensors; 80 keeps it under 1 MB),
    # longer than original_max_position_embeddings (64).
    T = 80
    assert T > orig
    rows = read_ids(os.path.join(path, "eval.ids"))
    ids = torch.tensor([rows[17][:T]])
    l32 = forward(m32, ids)
    l16_raw = forward(m16, ids, keep_dtype=True)
    assert l16_raw.dtype == torch.bfloat16
    l16 = l16_raw.float()
    e16 = rel_err(l16, l32)
    agree = (l16.argmax(-1) == l32.argmax(-1)).float().mean().item()
    print(f"tiny-shakespeare: transformers bf16 vs float32: max rel err {e16.max():.3e}, "
          f"mean {e16.mean():.3e}, top-1 agreement {agree:.4f}")
    # Mean next-token NLL over eval.ids rows 0..7 (255 predictions per row), for the
    # C++ test's check of qcc's perplexity path.
    ev = torch.tensor(rows[:8])
    nll = {}
    for name, m in (("float32", m32), ("bfloat16", m16)):
        lg = forward(m, ev)
        nll[name] = torch.nn.functional.cross_entropy(
            lg[:, :-1].reshape(-1, lg.shape[-1]), ev[:, 1:].reshape(-1)).item()
    print(f"tiny-shakespeare eval.ids rows 0-7 mean NLL: {nll}")
    write(os.path.join(args.out_dir, "llama-tiny-shakespeare.golden.safetensors"),
          {"input_ids": ids, "logits": l32, "logits_bf16": l16_raw, "bf16_relerr": e16},
          {"model": "models/llama-tiny-shakespeare", "reference_dtype": "float32",
           "numpy_float64_crosscheck_max_relerr": crosscheck(path, ids, l32),
           "note": f"bf16 weights upcast to float32; T={T} > original_max_position_embeddings={orig}; "
                   f"bf16_relerr: transformers in bfloat16 vs logits, top-1 agreement {agree:.4f}",
           "input_rows": f"eval.ids row 17, first {T} ids",
           "eval_rows_0_7_mean_nll_float32": repr(nll["float32"]),
           "eval_rows_0_7_mean_nll_bfloat16": repr(nll["bfloat16"])})


if __name__ == "__main__":
    main()
