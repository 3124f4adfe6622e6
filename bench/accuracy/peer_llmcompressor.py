#!/usr/bin/env python3
"""Peer run: quantize the bundled model with PyPI's llm-compressor and measure it
exactly as `qcc eval` measures ours (see tools/qcc/Evaluate.h).

Schemes (llm-compressor's own presets, its oneshot entry point):
  gptq-w4a16       GPTQModifier(scheme="W4A16")   int4 symmetric, group 128, min-max
                   scales, static act order, block 128, dampening 0.01 (its defaults)
  gptq-w4a16-mse   the same with the "mse" weight observer (its MSE clipping)
  fp8-dynamic      QuantizationModifier(scheme="FP8_DYNAMIC")  e4m3 per-channel
                   weights, dynamic per-token e4m3 activations, no calibration data
  sq-gptq-w8a8     SmoothQuantModifier(smoothing_strength=ALPHA) + GPTQModifier(
                   scheme="W8A8")  int8 per-channel weights, dynamic per-token int8
                   activations
lm_head stays unquantized in every scheme (ignore=["lm_head"]), as in qcc.

What is evaluated: the model object oneshot returns, run by transformers in
float32. compressed-tensors wraps every quantized Linear's forward so it
quantize-dequantizes its weight with the stored scales and, for the W8A8 / FP8
schemes, its input activations per token with scales computed at run time
(dynamic), i.e. the fake-quantized model llm-compressor itself runs. The
reference is the unquantized checkpoint in float32 (bf16 weights upcast).

Measures (identical definitions to qcc eval): each line of --data-ids is cut into
non-overlapping windows of --seq-len ids, each from an empty cache; a window of n
ids predicts n - 1. perplexity = exp(mean NLL); top-1 agreement and mean
KL(p_ref || p_model) over the same positions; continuation match = for the first
8 sequences, both models continue the first 32 ids greedily for 32 ids, fraction
of equal ids. Output: one JSON object per scheme on stdout (and --out FILE).
"""
import argparse
import json
import math
import os
import sys
import time


def load_ids(path):
    with open(path) as f:
        return [[int(t) for t in line.split()] for line in f if line.strip()]


def windows(seqs, seq_len):
    for seq in seqs:
        for start in range(0, len(seq) - 1, seq_len):
            w = seq[start:start + seq_len]
            if len(w) < 2:
                break
            yield w


def log_probs(torch, model, ids):
    """float64 log-softmax of the logits [T, V] of `ids` from an empty cache."""
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        logits = model(input_ids=x, use_cache=False).logits[0]  # [T, V]
    return torch.log_softmax(logits.double(), dim=-1)


def greedy(torch, model, prompt, n):
    """n greedy ids after prompt (full recompute each step: the model is tiny)."""
    ids = list(prompt)
    out = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            ids.append(nxt)
    return out


def evaluate(torch, model, ref, seqs, seq_len, prompts=8, prompt_tokens=32, cont_tokens=32):
    nll = ref_nll = kl = 0.0
    agree = tokens = nwin = 0
    for w in windows(seqs, seq_len):
        lp = log_probs(torch, model, w)[:-1]  # [n-1, V], predicts w[1:]
        rlp = log_probs(torch, ref, w)[:-1]
        tgt = torch.tensor(w[1:])
        nll -= float(lp.gather(1, tgt[:, None]).sum())
        ref_nll -= float(rlp.gather(1, tgt[:, None]).sum())
        kl += float((rlp.exp() * (rlp - lp)).sum())
        agree += int((lp.argmax(-1) == rlp.argmax(-1)).sum())
        tokens += len(w) - 1
        nwin += 1
    matched = total = 0
    for seq in seqs:
        if total // cont_tokens >= prompts:
            break
        if len(seq) < prompt_tokens:
            continue
        a = greedy(torch, model, seq[:prompt_tokens], cont_tokens)
        b = greedy(torch, ref, seq[:prompt_tokens], cont_tokens)
        matched += sum(int(x == y) for x, y in zip(a, b))
        total += cont_tokens
    ppl = math.exp(nll / tokens)
    ref_ppl = math.exp(ref_nll / tokens)
    return {
        "perplexity": ppl, "mean_nll": nll / tokens, "tokens": tokens, "windows": nwin,
        "ref_perplexity": ref_ppl, "recovery": ref_ppl / ppl, "top1_agreement": agree / tokens,
        "mean_kl": kl / tokens, "continuation_match": matched / total if total else None,
    }


def save_dequantized(torch, model, src, out):
    """Writes the weights the quantized model computes with (each quantized Linear's weight
    quantize-dequantized with its stored scales, exactly as its forward does) as float32."""
    import shutil
    from compressed_tensors.quantization.lifecycle.forward import forward_quantize
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), out)
    state = {}
    with torch.no_grad():
        for name, mod in model.named_modules():
            scheme = getattr(mod, "quantization_scheme", None)
            if isinstance(mod, torch.nn.Linear) and scheme is not None and scheme.weights is not None:
                state[name + ".weight"] = forward_quantize(mod, mod.weight.data, "weight", scheme.weights)
        for k, v in model.state_dict().items():
            if k.endswith(".weight") and k not in state and "_scale" not in k and "zero_point" not in k:
                state[k] = v
    save_file({k: v.detach().float().contiguous() for k, v in state.items()},
              os.path.join(out, "model.safetensors"))


def recipe_for(name, alpha):
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.smoothquant import SmoothQuantModifier
    if name == "gptq-w4a16":
        return [GPTQModifier(targets="Linear", scheme="W4A16", ignore=["lm_head"])]
    if name == "gptq-w4a16-mse":
        from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
        w = QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=128,
                             observer="mse")
        return [GPTQModifier(config_groups={"group_0": QuantizationScheme(targets=["Linear"], weights=w)},
                             ignore=["lm_head"])]
    if name == "fp8-dynamic":
        return [QuantizationModifier(targets="Linear", scheme="FP8_DYNAMIC", ignore=["lm_head"])]
    if name == "sq-gptq-w8a8":
        return [SmoothQuantModifier(smoothing_strength=alpha),
                GPTQModifier(targets="Linear", scheme="W8A8", ignore=["lm_head"])]
    raise SystemExit(f"unknown scheme {name}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(root, "models/llama-tiny-shakespeare"))
    p.add_argument("--data-ids", default=None, help="default: MODEL/eval.ids")
    p.add_argument("--calib", default=None, help="default: MODEL/calib.ids")
    p.add_argument("--calib-samples", type=int, default=64)
    p.add_argument("--calib-seq-len", type=int, default=256)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--processor", default=None,
                   help="folder with a tokenizer for oneshot (it insists on one; the ids are used as given); "
                        "default MODEL (stories260K has none: pass the bundled model's folder)")
    p.add_argument("--alpha", type=float, default=0.8, help="SmoothQuant strength")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--schemes", default="gptq-w4a16,gptq-w4a16-mse,fp8-dynamic,sq-gptq-w8a8")
    p.add_argument("--out", default=None, help="also write the JSON results here")
    p.add_argument("--save-dequantized", default=None, metavar="DIR",
                   help="for weight-only schemes, also write DIR/<scheme>/ (config.json + float32 "
                        "model.safetensors of the quantize-dequantized weights) for `qcc eval`")
    args = p.parse_args()
    data_ids = args.data_ids or os.path.join(args.model, "eval.ids")
    calib = args.calib or os.path.join(args.model, "calib.ids")

    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import transformers
    from transformers import LlamaForCausalLM
    import llmcompressor
    import compressed_tensors
    from llmcompressor import oneshot
    from torch.utils.data import DataLoader

    def load():
        m = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32)
        m.eval()
        return m

    # Calibration: the first N lines of the calibration file, cut to the length, in order.
    calib_seqs = [s[:args.calib_seq_len] for s in load_ids(calib)[:args.calib_samples]]
    if len(calib_seqs) < args.calib_samples or any(len(s) < args.calib_seq_len for s in calib_seqs):
        raise SystemExit(f"{calib}: fewer than {args.calib_samples} sequences of {args.calib_seq_len} ids")
    samples = [{"input_ids": torch.tensor([s]), "attention_mask": torch.ones(1, len(s), dtype=torch.long)}
               for s in calib_seqs]
    eval_seqs = load_ids(data_ids)
    ref = load()

    versions = {"llmcompressor": llmcompressor.__version__, "compressed_tensors": compressed_tensors.__version__,
                "torch": torch.__version__, "transformers": transformers.__version__}
    results = []
    for name in args.schemes.split(","):
        model = load()
        loader = DataLoader(samples, batch_size=None, shuffle=False)
        t0 = time.perf_counter()
        oneshot(model=model, dataset=loader, processor=args.processor or args.model, recipe=recipe_for(name, args.alpha),
                num_calibration_samples=len(samples), max_seq_length=args.calib_seq_len,
                shuffle_calibration_samples=False)
        seconds = time.perf_counter() - t0
        model.eval()
        r = {"scheme": name, "oneshot_seconds": seconds, "threads": torch.get_num_threads(),
             "calib_samples": args.calib_samples, "calib_seq_len": args.calib_seq_len}
        if name == "sq-gptq-w8a8":
            r["alpha"] = args.alpha
        r.update(evaluate(torch, model, ref, eval_seqs, args.seq_len))
        r["versions"] = versions
        if args.save_dequantized and name.startswith("gptq-w4a16"):
            save_dequantized(torch, model, args.model, os.path.join(args.save_dequantized, name))
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
