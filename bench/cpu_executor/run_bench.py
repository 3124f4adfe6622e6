#!/usr/bin/env python3
"""CPU executor vs PyTorch eager (transformers) throughput, measured in one run.

For each model folder and thread count: qcc-bench-cpu (C++, on the model
compiled by `qcc compile --no-kernels`, weights in their own dtype: what
`qcc run --device cpu` runs) and the same workload in transformers' LlamaForCausalLM (eager PyTorch, torch.no_grad, the
checkpoint's dtype unless --dtype): prefill of P pseudo-random ids (tokens/s),
then D greedy decode steps with the KV cache (tokens/s). Best of R repeats.
Prints a Markdown table (paste it into RESULTS.md).

usage: run_bench.py --bench BUILD/bin/qcc-bench-cpu --qcc BUILD/bin/qcc MODEL_DIR... [--threads 1 2]
                    [--prompt-len 128] [--decode 64] [--repeats 3] [--dtype f32|bf16]
       run_bench.py --make-synthetic DIR   (writes a random 26M-parameter bf16
                    Llama-3.1-shaped checkpoint: hidden 512, intermediate 1536,
                    8 layers, 8 heads / 2 kv heads, head_dim 64, vocab 2048,
                    llama3 rope scaling; config in the pre-5.0 rope_scaling form)
"""
import argparse
import json
import os
import platform
import subprocess
import time


def torch_run(model_dir, threads, prompt_len, decode, repeats, dtype):
    import torch
    from transformers import LlamaForCausalLM
    torch.set_num_threads(threads)
    kw = {}
    if dtype:
        kw["torch_dtype"] = torch.bfloat16 if dtype == "bf16" else torch.float32
    else:
        kw["torch_dtype"] = "auto"
    model = LlamaForCausalLM.from_pretrained(model_dir, attn_implementation="eager", **kw).eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(1234)
    prompt = torch.randint(0, vocab, (1, prompt_len), generator=g)
    best_p, best_d = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model(prompt, use_cache=True)
            t1 = time.perf_counter()
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t2 = time.perf_counter()
            for _ in range(decode):
                out = model(nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t3 = time.perf_counter()
            best_p, best_d = min(best_p, t1 - t0), min(best_d, t3 - t2)
    return {"engine": "pytorch-eager", "threads": threads,
            "act_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "prefill_tok_s": prompt_len / best_p, "decode_tok_s": decode / best_d,
            "torch": torch.__version__}


def compile_artifact(qcc, model_dir, out):
    subprocess.run([qcc, "compile", model_dir, "--no-kernels", "-o", out, "--quiet"], check=True)
    return out


def qcc_run(bench, artifact, threads, prompt_len, decode, repeats, dtype):
    cmd = [bench, artifact, "--threads", str(threads), "--prompt-len", str(prompt_len),
           "--decode", str(decode), "--repeats", str(repeats)]
    if dtype:
        cmd += ["--dtype", dtype]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def make_synthetic(out_dir):
    import json
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 256}
    cfg = LlamaConfig(hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                      num_attention_heads=8, num_key_value_heads=2, head_dim=64, vocab_size=2048,
                      max_position_embeddings=1024, rope_scaling=scaling, tie_word_embeddings=False)
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(out_dir)
    # Write the config in the classic form (rope_theta + rope_scaling, torch_dtype)
    # that Llama-3.1 releases use, whatever this transformers version writes.
    path = os.path.join(out_dir, "config.json")
    c = json.load(open(path))
    rp = c.pop("rope_parameters", None)
    if rp is not None:
        c["rope_theta"] = rp.pop("rope_theta", 10000.0)
        c["rope_scaling"] = rp
    if "dtype" in c:
        c["torch_dtype"] = c.pop("dtype")
    json.dump(c, open(path, "w"), indent=2)


def main():
    if len(os.sys.argv) == 3 and os.sys.argv[1] == "--make-synthetic":
        make_synthetic(os.sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--bench", required=True)
    ap.add_argument("--qcc", required=True)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", choices=["f32", "bf16"])
    a = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print(f"prompt {a.prompt_len} ids, {a.decode} decode steps, best of {a.repeats}\n")
    print("| model | engine | threads | activations | prefill tok/s | decode tok/s |")
    print("|---|---|---|---|---|---|")
    import tempfile
    work = tempfile.mkdtemp(prefix="qcc-bench-cpu-")
    for m in a.models:
        name = os.path.basename(os.path.normpath(m))
        artifact = compile_artifact(a.qcc, m, os.path.join(work, name + ".qcc"))
        for t in a.threads:
            for r in (qcc_run(a.bench, artifact, t, a.prompt_len, a.decode, a.repeats, a.dtype),
                      torch_run(m, t, a.prompt_len, a.decode, a.repeats, a.dtype)):
                print(f"| {name} | {r['engine']} | {r['threads']} | {r['act_dtype']} | "
                      f"{r['prefill_tok_s']:.1f} | {r['decode_tok_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
