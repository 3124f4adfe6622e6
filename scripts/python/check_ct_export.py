#!/usr/bin/env python3
"""Loads a compressed-tensors folder qcc wrote (frontends/compressed_tensors/Writer.h) with
transformers + compressed-tensors, the way users will, and checks it:

* every quantized Linear's decompressed weight equals code * scale computed here from the
  safetensors files (compressed-tensors' unpack_from_int32 for pack-quantized), exactly;
* the scheme transformers attached to each Linear is the one its tensors imply (int4 group
  weights only; int8 or float8 channel weights with dynamic per-token activations of the
  same type; none for bf16 linears), so config_groups / targets / ignore are read as meant;
* the bf16 tensors (embeddings, norms, ignored linears) are the files' values;
* the perplexity transformers computes on DATA_IDS (qcc eval's windows, float32) is printed.

  python3 scripts/python/check_ct_export.py FOLDER [--data-ids FILE]   # venv: requirements-ct.txt
"""
import argparse
import json
import math
import os
import sys

import torch
from safetensors import safe_open


def tensors_of(folder):
    out = {}
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    for f in files:
        with safe_open(os.path.join(folder, f), framework="pt") as st:
            for k in st.keys():
                out[k] = st.get_tensor(k)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--data-ids", default=None)
    p.add_argument("--seq-len", type=int, default=256)
    args = p.parse_args()
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(args.folder, dtype=torch.float32).eval()
    with torch.no_grad():  # decompression happens on the first forward
        model(input_ids=torch.tensor([[0, 1]]))
    files = tensors_of(args.folder)
    checked = 0
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        w = mod.weight.data
        if name + ".weight_packed" in files:
            shape = [int(x) for x in files[name + ".weight_shape"]]
            codes = unpack_from_int32(files[name + ".weight_packed"], 4, torch.Size(shape)).float()
            s = files[name + ".weight_scale"].float()
            expect = codes * s.repeat_interleave(shape[1] // s.shape[1], dim=1)
        elif name + ".weight_scale" in files:
            expect = files[name + ".weight"].float() * files[name + ".weight_scale"].float()
        else:
            expect = files[name + ".weight"].float()
        scheme = getattr(mod, "quantization_scheme", None)
        if name + ".weight_packed" in files:
            ok = scheme is not None and scheme.weights.num_bits == 4 and scheme.input_activations is None
        elif name + ".weight_scale" in files:
            kind = "float" if files[name + ".weight"].dtype == torch.float8_e4m3fn else "int"
            a = scheme.input_activations if scheme is not None else None
            ok = (scheme.weights.num_bits == 8 and scheme.weights.type == kind and a is not None and
                  a.type == kind and a.strategy == "token" and a.dynamic is True)
        else:
            ok = scheme is None or (scheme.weights is None and scheme.input_activations is None)
        if not ok:
            raise SystemExit(f"{name}: transformers attached the scheme {scheme}, not the one its tensors imply")
        if not torch.equal(w.float(), expect):
            raise SystemExit(f"{name}: transformers' weight differs from code * scale "
                             f"(max {float((w.float() - expect).abs().max())})")
        checked += 1
    for k in ("model.embed_tokens.weight", "model.norm.weight"):
        if not torch.equal(model.state_dict()[k].float(), files[k].float()):
            raise SystemExit(f"{k} differs")
    result = {"folder": args.folder, "linears_checked": checked}
    if args.data_ids:
        seqs = [[int(t) for t in line.split()] for line in open(args.data_ids) if line.strip()]
        nll, tokens = 0.0, 0
        with torch.no_grad():
            for seq in seqs:
                for start in range(0, len(seq) - 1, args.seq_len):
                    w = seq[start:start + args.seq_len]
                    if len(w) < 2:
                        break
                    lp = torch.log_softmax(model(input_ids=torch.tensor([w]), use_cache=False).logits[0].double(), -1)
                    nll -= float(lp[:-1].gather(1, torch.tensor(w[1:])[:, None]).sum())
                    tokens += len(w) - 1
        result["perplexity"] = math.exp(nll / tokens)
        result["tokens"] = tokens
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
