#!/usr/bin/env python3
"""Writes the compressed-tensors fixtures of issue 11 with the peer toolchain itself
(llm-compressor 0.14.0.1, compressed-tensors 0.19.0, transformers 5.17.0, torch 2.14.0):

  python3 scripts/python/make_ct_fixtures.py    # from the checkout root, venv: requirements-ct.txt

For each fixture below, llm-compressor's `oneshot` quantizes the bundled model
(models/llama-tiny-shakespeare, loaded in bfloat16 like a published checkpoint, so scales
are bf16) calibrated on the first 64 lines of its calib.ids, and `save_pretrained` writes
test/golden/compressed-tensors/<name>/ (config.json + model.safetensors):

  w4a16-gptq           GPTQModifier(scheme="W4A16", actorder=None)     pack-quantized
  w4a16-gptq-actorder  GPTQModifier(scheme="W4A16", actorder="weight") pack-quantized
                       (static act order: no g_idx; compressed-tensors 0.19 removed
                       actorder="group", so no released tool writes a g_idx any more)
  fp8-dynamic          QuantizationModifier(scheme="FP8_DYNAMIC")      float-quantized
  w8a8-int8-sq         SmoothQuantModifier(0.8) + GPTQModifier(scheme="W8A8")  int-quantized
  w4a16-rtn-dense      QuantizationModifier(scheme="W4A16"), save_compressed=False
                       (the uncompressed layout, format "dense", status "frozen": bf16
                       weights + weight_scale; llm-compressor's RTN leaves the original
                       weights there, and the model is their fake-quantization at run time)

lm_head is ignored (bf16) in every fixture. Two more, on a tiny random Llama (hidden 64, one
layer, seeded), data-free QuantizationModifier with an explicit scheme:

  tiny-fp8-tensor      float8 weights with one scale per tensor + float8 per-token dynamic
                       activations                                      float-quantized
  tiny-w4a16-channel   int4 weights with one scale per output channel  pack-quantized

Then, independently of qcc:

* golden.json: for each fixture, the perplexity transformers computes on the folder as
  written (LlamaForCausalLM.from_pretrained(dir, dtype=float32)) over eval.ids with
  `qcc eval`'s windowing (tools/qcc/Evaluate.h: each line cut into non-overlapping windows
  of 256 ids from an empty cache; a window of n ids predicts n - 1; perplexity =
  exp(mean NLL), log-softmax in float64);
* expected.json: per fixture and quantized linear, read straight from the safetensors
  files with `safetensors` and compressed-tensors' own unpack_from_int32 (dense layout:
  clamp(round(w / s)) in float32, the fake-quantization compressed-tensors runs): shape, format, group size, the integer/e4m3 codes and
  fp32 scales at a few fixed positions, and whole-tensor checksums
  (sum of codes, sum of code * ((index % 65521) + 1), sum of scales in float64), which the
  C++ decoder tests compare with what qcc decodes.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time


FIXTURES = ["w4a16-gptq", "w4a16-gptq-actorder", "fp8-dynamic", "w8a8-int8-sq", "w4a16-rtn-dense"]
# Tiny random models (seeded) for schemes the bundled-model fixtures do not cover; codes only.
TINY_FIXTURES = ["tiny-fp8-tensor", "tiny-w4a16-channel"]


def load_ids(path):
    with open(path) as f:
        return [[int(t) for t in line.split()] for line in f if line.strip()]


def recipe_for(name):
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.smoothquant import SmoothQuantModifier
    if name == "w4a16-gptq":
        return [GPTQModifier(targets="Linear", scheme="W4A16", ignore=["lm_head"], actorder=None)]
    if name == "w4a16-gptq-actorder":
        return [GPTQModifier(targets="Linear", scheme="W4A16", ignore=["lm_head"], actorder="weight")]
    if name == "fp8-dynamic":
        return [QuantizationModifier(targets="Linear", scheme="FP8_DYNAMIC", ignore=["lm_head"])]
    if name == "w8a8-int8-sq":
        return [SmoothQuantModifier(smoothing_strength=0.8),
                GPTQModifier(targets="Linear", scheme="W8A8", ignore=["lm_head"])]
    if name == "w4a16-rtn-dense":
        return [QuantizationModifier(targets="Linear", scheme="W4A16", ignore=["lm_head"])]
    raise SystemExit(f"unknown fixture {name}")


def tiny_recipe(name):
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from llmcompressor.modifiers.quantization import QuantizationModifier
    if name == "tiny-fp8-tensor":
        scheme = QuantizationScheme(
            targets=["Linear"],
            weights=QuantizationArgs(num_bits=8, type="float", strategy="tensor", symmetric=True),
            input_activations=QuantizationArgs(num_bits=8, type="float", strategy="token", symmetric=True,
                                               dynamic=True))
    elif name == "tiny-w4a16-channel":
        scheme = QuantizationScheme(
            targets=["Linear"], weights=QuantizationArgs(num_bits=4, type="int", strategy="channel", symmetric=True))
    else:
        raise SystemExit(f"unknown fixture {name}")
    return [QuantizationModifier(config_groups={"group_0": scheme}, ignore=["lm_head"])]


def make_tiny_fixture(torch, name, tokenizer_dir, out_dir):
    from llmcompressor import oneshot
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(11)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=16, vocab_size=96, max_position_embeddings=128,
                         tie_word_embeddings=False, bos_token_id=0, eos_token_id=1)
    import tempfile
    src = tempfile.mkdtemp()
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(src)  # oneshot wants a model with a path
    model = LlamaForCausalLM.from_pretrained(src, dtype=torch.bfloat16).eval()
    oneshot(model=model, recipe=tiny_recipe(name), processor=tokenizer_dir)  # data-free; it insists on a processor
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir)  # reads `src` again (it re-saves the original config)
    shutil.rmtree(src)
    for extra in os.listdir(out_dir):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out_dir, extra))


def make_fixture(torch, name, model_dir, samples, out_dir):
    from llmcompressor import oneshot
    from torch.utils.data import DataLoader
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).eval()
    loader = DataLoader(samples, batch_size=None, shuffle=False)
    t0 = time.perf_counter()
    oneshot(model=model, dataset=loader, processor=model_dir, recipe=recipe_for(name),
            num_calibration_samples=len(samples), max_seq_length=len(samples[0]["input_ids"][0]),
            shuffle_calibration_samples=False)
    seconds = time.perf_counter() - t0
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir, save_compressed=(name != "w4a16-rtn-dense"))
    for extra in os.listdir(out_dir):  # keep the fixture to what qcc reads
        if extra not in ("config.json", "model.safetensors", "model.safetensors.index.json") and \
                not extra.startswith("model-"):
            os.remove(os.path.join(out_dir, extra))
    return seconds


def windows(seqs, seq_len):
    for seq in seqs:
        for start in range(0, len(seq) - 1, seq_len):
            w = seq[start:start + seq_len]
            if len(w) < 2:
                break
            yield w


def perplexity(torch, model_dir, seqs, seq_len=256):
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    nll, tokens, nwin = 0.0, 0, 0
    with torch.no_grad():
        for w in windows(seqs, seq_len):
            logits = model(input_ids=torch.tensor([w]), use_cache=False).logits[0]
            lp = torch.log_softmax(logits.double(), dim=-1)[:-1]
            nll -= float(lp.gather(1, torch.tensor(w[1:])[:, None]).sum())
            tokens += len(w) - 1
            nwin += 1
    return {"perplexity": math.exp(nll / tokens), "mean_nll": nll / tokens, "tokens": tokens,
            "windows": nwin}


def linear_modules(config):
    out = []
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [p + "self_attn." + n for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        out += [p + "mlp." + n for n in ("gate_proj", "up_proj", "down_proj")]
    return out


def expected_codes(torch, fixture_dir):
    """Codes and scales of every quantized linear, from the files alone."""
    from safetensors import safe_open
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    config = json.load(open(os.path.join(fixture_dir, "config.json")))
    qc = config["quantization_config"]
    (group,) = qc["config_groups"].values()
    wargs = group["weights"]
    bits, qtype, strategy = wargs["num_bits"], wargs["type"], wargs["strategy"]
    fmt = group.get("format") or qc["format"]
    tensors = {}
    with safe_open(os.path.join(fixture_dir, "model.safetensors"), framework="pt") as f:
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    out = {"format": fmt, "linears": []}
    for m in linear_modules(config):
        scale = tensors[m + ".weight_scale"].float()
        if fmt == "pack-quantized":
            shape = [int(x) for x in tensors[m + ".weight_shape"]]
            codes = unpack_from_int32(tensors[m + ".weight_packed"], bits, torch.Size(shape)).float()
        elif fmt in ("int-quantized", "naive-quantized", "float-quantized"):
            codes = tensors[m + ".weight"].float()
        else:
            # dense (save_compressed=False): the stored weights are what the model holds
            # (the originals for RTN, GPTQ's updated ones); the quantized model is
            # compressed-tensors' forward fake-quantization of them with the stored
            # scales, in float32: codes = clamp(round_half_even(w / s), -8, 7).
            w = tensors[m + ".weight"].float()
            N, K = w.shape
            s = scale.repeat_interleave(K // scale.shape[1], dim=1) if strategy == "group" else scale
            qmax = 2 ** (bits - 1) - 1
            codes = torch.clamp(torch.round(w / s), -qmax - 1, qmax)
        N, K = codes.shape
        if strategy == "group":
            g = wargs["group_size"]
            qcc_format, scales = "w4a16", scale.reshape(N, K // g)
        elif strategy == "channel" and bits == 4:  # qcc: w4a16 with one group spanning the row
            g = K
            qcc_format, scales = "w4a16", scale.reshape(N, 1)
        elif strategy == "channel":
            g = 0
            qcc_format = "fp8" if qtype == "float" else "int8"
            scales = scale.reshape(N)
        elif strategy == "tensor":  # qcc: the one scale copied to every channel
            g = 0
            qcc_format = "fp8" if qtype == "float" else "int8"
            scales = scale.reshape(1).expand(N)
        else:
            raise SystemExit(f"{fixture_dir}: unexpected strategy {strategy}")
        flat = codes.reshape(-1).double()
        weights = (torch.arange(flat.numel(), dtype=torch.float64) % 65521) + 1
        positions = [(0, 0), (0, K - 1), (N // 2, K // 3), (N - 1, 1), (N - 1, K - 1)]
        samples = []
        for n, k in positions:
            sc = float(scales[n, k // g]) if g else float(scales[n])
            samples.append({"n": n, "k": k, "code": float(codes[n, k]), "scale": sc})
        out["linears"].append({
            "module": m, "qcc_format": qcc_format, "group_size": g, "N": N, "K": K,
            "code_sum": float(flat.sum()), "code_weighted_sum": float((flat * weights).sum()),
            "scale_sum": float(scales.double().sum()), "samples": samples})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(root, "models/llama-tiny-shakespeare"))
    p.add_argument("--out", default=os.path.join(root, "test/golden/compressed-tensors"))
    p.add_argument("--fixtures", default=",".join(FIXTURES + TINY_FIXTURES))
    p.add_argument("--calib-samples", type=int, default=64)
    p.add_argument("--skip-quantize", action="store_true", help="only recompute the JSON files")
    args = p.parse_args()

    import torch
    torch.manual_seed(0)
    import compressed_tensors
    import llmcompressor
    import transformers

    calib = [s[:256] for s in load_ids(os.path.join(args.model, "calib.ids"))[:args.calib_samples]]
    samples = [{"input_ids": torch.tensor([s]), "attention_mask": torch.ones(1, len(s), dtype=torch.long)}
               for s in calib]
    eval_seqs = load_ids(os.path.join(args.model, "eval.ids"))
    os.makedirs(args.out, exist_ok=True)
    golden_path = os.path.join(args.out, "golden.json")
    expected_path = os.path.join(args.out, "expected.json")
    golden = json.load(open(golden_path)) if os.path.exists(golden_path) else {}
    expected = json.load(open(expected_path)) if os.path.exists(expected_path) else {}
    golden["__about__"] = {
        "made_by": "scripts/python/make_ct_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "llmcompressor": llmcompressor.__version__,
                     "compressed_tensors": compressed_tensors.__version__},
        "eval": "models/llama-tiny-shakespeare/eval.ids, windows of 256, float32 forward, float64 log-softmax",
    }
    if not args.skip_quantize:
        ref = perplexity(torch, args.model, eval_seqs)
        golden["unquantized"] = ref
        print("unquantized", json.dumps(ref), flush=True)
    for name in args.fixtures.split(","):
        fixture_dir = os.path.join(args.out, name)
        if name in TINY_FIXTURES:
            if not args.skip_quantize:
                make_tiny_fixture(torch, name, args.model, fixture_dir)
            expected[name] = expected_codes(torch, fixture_dir)
            print(name, "codes written", flush=True)
            continue
        entry = golden.get(name, {})
        if not args.skip_quantize:
            entry["oneshot_seconds"] = round(make_fixture(torch, name, args.model, samples, fixture_dir), 1)
        entry.update(perplexity(torch, fixture_dir, eval_seqs))
        golden[name] = entry
        expected[name] = expected_codes(torch, fixture_dir)
        print(name, json.dumps(entry), flush=True)
    with open(golden_path, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(expected_path, "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
