#!/usr/bin/env python3
"""Encode throughput: qcc's tokenizer vs Hugging Face `tokenizers`, one thread each.

For each tokenizer.json and mode, runs qcc-bench-tokenizer and the same encode with
`tokenizers` (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false; a single encode()
call never runs in parallel, the settings only make sure of it), takes the best of R
repeats of each, checks that both produced the same ids (count and checksum), and
prints a Markdown table with MB/s and the ratio qcc / tokenizers.
  whole  the text as one string, special tokens added (Llama 3: BOS)
  lines  each line encoded on its own, no special tokens (tokenizers: one encode_batch
         call, so Python's per-call overhead is not counted against it)
  warm   the BPE cache is kept between repeats (tokenizers keeps its own too)
  cold   a freshly loaded tokenizer per repeat

usage: run_bench.py --bench build/bin/qcc-bench-tokenizer [--text FILE] [--repeats R]
"""
import argparse
import json
import os
import platform
import subprocess
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

TOKENIZERS = [
    ("bundled model (GPT-2 regex, 2,048 ids)", "models/llama-tiny-shakespeare/tokenizer.json"),
    ("Llama-3-style (Llama 3 regex, 2,048 ids)", "models/llama3-style-tokenizer/tokenizer.json"),
]


def peer_run(path, text, mode, cold, repeats):
    lines = text.splitlines(keepends=True)
    best, ids_all = float("inf"), None
    tok = Tokenizer.from_file(path)
    for _ in range(repeats):
        if cold:
            tok = Tokenizer.from_file(path)
        t0 = time.perf_counter()
        if mode == "whole":
            ids_all = tok.encode(text).ids
        else:  # one call into Rust for all lines (no per-call Python overhead)
            ids_all = []
            for enc in tok.encode_batch(lines, add_special_tokens=False):
                ids_all.extend(enc.ids)
        best = min(best, time.perf_counter() - t0)
    checksum = sum(i * (k + 1) for k, i in enumerate(ids_all)) % (1 << 64)
    size = len(text.encode())
    return {"engine": "tokenizers", "tokens": len(ids_all), "seconds": best, "mb_per_s": size / best / 1e6,
            "checksum": checksum}


def qcc_run(bench, path, text_path, mode, cold, repeats):
    cmd = [bench, path, text_path, "--mode", mode, "--repeats", str(repeats)] + (["--cold"] if cold else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    p.add_argument("--text", default="../shared/data/tinyshakespeare.txt")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    text = open(args.text, encoding="utf-8").read()
    rows = []
    for label, path in TOKENIZERS:
        for mode in ("whole", "lines"):
            for cold in (False, True):
                q = qcc_run(args.bench, path, args.text, mode, cold, args.repeats)
                t = peer_run(path, text, mode, cold, args.repeats)
                same = q["tokens"] == t["tokens"] and q["checksum"] == t["checksum"]
                rows.append((label, mode, "cold" if cold else "warm", q, t, same))
    print(f"text: {args.text} ({len(text.encode()):,} bytes); best of {args.repeats}; one thread each; "
          f"tokenizers {tokenizers.__version__}; {platform.machine()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print()
    print("| tokenizer | mode | cache | tokens | same ids | qcc MB/s | tokenizers MB/s | qcc / tokenizers |")
    print("|---|---|---|---|---|---|---|---|")
    for label, mode, cache, q, t, same in rows:
        print(f"| {label} | {mode} | {cache} | {q['tokens']:,} | {'yes' if same else 'NO'} | "
              f"{q['mb_per_s']:.2f} | {t['mb_per_s']:.2f} | {q['mb_per_s'] / t['mb_per_s']:.2f}x |")
    if not all(r[5] for r in rows):
        raise SystemExit("qcc and tokenizers produced different ids")


if __name__ == "__main__":
    main()
