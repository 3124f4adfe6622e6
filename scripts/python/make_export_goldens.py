#!/usr/bin/env python3
"""Golden logits for qcc's compressed-tensors export (test/golden/export/).

For each configuration below this script
  1. runs `qcc export` on the bundled model into test/golden/export/<name>/ (qcc's own output,
     committed so that CI can check that exporting again gives the same bytes);
  2. checks the folder with scripts/python/check_ct_export.py: transformers + compressed-tensors
     load it, attach the scheme its tensors imply to every Linear, and decompress every weight
     to exactly code * scale (refuses to go on otherwise); its perplexity on eval.ids is recorded;
  3. loads the folder with transformers' LlamaForCausalLM in float32 (compressed-tensors
     decompresses the weights; W8A8 schemes fake-quantize each Linear's input per token at run
     time) and computes the logits of fixed ids: the reference, computed by the peer stack and
     not by qcc;
  4. for the weight-only configuration, cross-checks those logits against the float64 NumPy
     forward of scripts/python/numpy_llama.py on the decompressed weights (fails above 1e-4),
     so that a transformers configuration mix-up cannot become golden. (numpy_llama has no
     activation quantization, so the W8A8 configuration has no such cross-check.)

  5. computes the logits (and the perplexity on eval.ids) a second time with transformers
     quantizing each Linear's input by qcc's (and vLLM's) rule instead of compressed-tensors'
     (use_qcc_activation_rules): this separates the documented differences of the activation
     rules from everything else.

test/golden/export/logits.safetensors holds `input_ids` I64 [T], `logits.<name>` F32 [T, V]
(transformers as it is) and `logits_qcc_rules.<name>` F32 [T, V] (step 5); its metadata
records the options, versions, perplexities on eval.ids (`perplexity.<name>` as transformers
computes it, `perplexity_qcc_rules.<name>` with step 5's rules) and the cross-check.
test/unit/export/GoldenExportTest.cpp re-exports in process and compares the bytes, then runs
qcc's CPU interpreter on the same quantized IR (float32 activations) against these logits.

  python3 scripts/python/make_export_goldens.py [--qcc build/bin/qcc]   # from the checkout root
  (venv: torch 2.14.0, transformers 5.17.0, compressed-tensors 0.19.0; requirements-ct.txt)
"""
import argparse
import json
import math
import os
import subprocess
import sys

import compressed_tensors
import numpy as np
import safetensors
import torch
import transformers
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_llama  # noqa: E402

MODEL = "models/llama-tiny-shakespeare"
# name -> `qcc export` options (GoldenExportTest.cpp holds the same table and checks it against
# the metadata); calibration data: the model folder's calib.ids, qcc export's default for it.
CONFIGS = {
    "w4a16-gptq": "--format w4a16 --method gptq --calib-samples 16 --calib-seq-len 64",
    "int8-sq": "--format int8 --smoothquant 0.5 --calib-samples 16 --calib-seq-len 64",
}
WEIGHT_ONLY = {"w4a16-gptq"}
IDS_ROW, IDS_LEN = 17, 64  # eval.ids row 17, its first 64 ids (64 = the rope's original context)


def read_ids(path):
    with open(path) as f:
        return [[int(x) for x in line.split()] for line in f if line.strip()]


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@torch.no_grad()
def crosscheck(folder, model, ids, logits):
    """Max per-position ||a - ref||_inf / ||ref||_inf of transformers' float32 logits against
    numpy_llama's float64 forward (the folder's config.json, the weights transformers
    decompressed, which check_ct_export.py found equal to code * scale)."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = {k: v.double().numpy() for k, v in model.state_dict().items() if k.endswith(".weight")}
    ref = torch.from_numpy(numpy_llama.forward(cfg, w, np.asarray(ids)))
    err = ((logits.double() - ref).abs().amax(-1) / ref.abs().amax(-1)).max().item()
    assert err < 1e-4, f"transformers and the NumPy forward differ: {err:.3e}"
    return err


@torch.no_grad()
def perplexity(model, seqs, seq_len=256):
    """exp(mean NLL) over qcc eval's windows (seq_len ids apart, each from an empty cache), as
    check_ct_export.py computes it: float32 forward, float64 log-softmax."""
    nll, tokens = 0.0, 0
    for seq in seqs:
        for start in range(0, len(seq) - 1, seq_len):
            w = seq[start:start + seq_len]
            if len(w) < 2:
                break
            lp = torch.log_softmax(model(input_ids=torch.tensor([w]), use_cache=False).logits[0].double(), -1)
            nll -= float(lp[:-1].gather(1, torch.tensor(w[1:])[:, None]).sum())
            tokens += len(w) - 1
    return math.exp(nll / tokens)


def use_qcc_activation_rules(model):
    """Makes transformers quantize each Linear's input as qcc's formats define it
    (runtime/formats/Formats.h, runtime/cpu/Linear.h), which is also what vLLM's kernels do:
    W4A16 multiplies bfloat16 activations (transformers keeps them in float32); int8 W8A8 uses
    the per-token scale absmax / 127 and the clamp [-127, 127] (compressed-tensors uses
    absmax / 127.5 and [-128, 127]). fp8 W8A8 is the same rule on both sides. Returns how many
    Linears were changed."""
    changed = 0
    for _, mod in model.named_modules():
        scheme = getattr(mod, "quantization_scheme", None)
        if scheme is None or scheme.weights is None:
            continue
        act = scheme.input_activations
        if act is None and scheme.weights.num_bits == 4:
            mod.register_forward_pre_hook(lambda m, a: (a[0].to(torch.bfloat16).float(),) + a[1:])
        elif act is not None and act.type == "int" and act.num_bits == 8:
            mod.quantization_scheme = scheme.model_copy(update={"input_activations": None})

            def int8_tokens(m, a):
                x = a[0]
                amax = x.abs().amax(-1, keepdim=True)
                scale = torch.where(amax > 0, torch.clamp(amax / 127.0, min=torch.finfo(torch.float32).tiny),
                                    torch.ones_like(amax))
                return (torch.clamp(torch.round(x / scale), -127, 127) * scale,) + a[1:]

            mod.register_forward_pre_hook(int8_tokens)
        else:
            continue
        changed += 1
    return changed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qcc", default="build/bin/qcc")
    p.add_argument("--out-dir", default="test/golden/export")
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    eval_ids = os.path.join(MODEL, "eval.ids")
    ids = read_ids(eval_ids)[IDS_ROW][:IDS_LEN]
    assert len(ids) == IDS_LEN
    tensors = {"input_ids": torch.tensor(ids, dtype=torch.int64)}
    meta = {
        "generator": "scripts/python/make_export_goldens.py",
        "model": MODEL,
        "input_ids": f"{MODEL}/eval.ids row {IDS_ROW}, first {IDS_LEN} ids",
        "reference": "transformers LlamaForCausalLM, float32, weights decompressed by compressed-tensors",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "compressed_tensors": compressed_tensors.__version__,
        "safetensors": safetensors.__version__,
    }
    check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_ct_export.py")
    for name, options in CONFIGS.items():
        folder = os.path.join(args.out_dir, name)
        run([args.qcc, "export", MODEL, "-o", folder, "--overwrite", "--quiet"] + options.split())
        checked = json.loads(run([sys.executable, check, folder, "--data-ids", eval_ids])
                             .strip().splitlines()[-1])
        model = transformers.LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
        tensors[f"logits.{name}"] = logits.contiguous()
        if name in WEIGHT_ONLY:  # before the hooks below change the forward
            meta[f"numpy_float64_crosscheck_max_relerr.{name}"] = f"{crosscheck(folder, model, ids, logits):.3e}"
        meta[f"qcc_rules_linears.{name}"] = str(use_qcc_activation_rules(model))
        with torch.no_grad():
            rules = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
        tensors[f"logits_qcc_rules.{name}"] = rules.contiguous()
        meta[f"perplexity_qcc_rules.{name}"] = repr(perplexity(model, read_ids(eval_ids)))
        meta[f"options.{name}"] = options
        meta[f"perplexity.{name}"] = repr(checked["perplexity"])  # eval.ids, windows of 256, float32
        meta[f"linears_checked.{name}"] = str(checked["linears_checked"])
        print(f"{name}: {checked}")
    out = os.path.join(args.out_dir, "logits.safetensors")
    save_file(tensors, out, metadata=meta)
    print(f"wrote {out}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()))
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
