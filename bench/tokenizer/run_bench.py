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
Tokenizers: the bundled model's, the Llama-3-style one, and one of Llama 3's size made here
(make_llama3_size: BPE learned on the text, random merges up to 128,000 ids, Llama 3's
pre-tokenizer, post-processor and special tokens). Load times are reported too.

usage: run_bench.py --bench build/bin/qcc-bench-tokenizer [--text FILE] [--repeats R]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

TOKENIZERS = [
    ("bundled model (GPT-2 regex, 2,048 ids)", "models/llama-tiny-shakespeare/tokenizer.json"),
    ("Llama-3-style (Llama 3 regex, 2,048 ids)", "models/llama3-style-tokenizer/tokenizer.json"),
]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_llama3_size(text, out_path, seed=1234):
    """A tokenizer.json of Llama 3's size: BPE trained on the text as far as it goes, then
    random merges of existing tokens up to 128,000 ids, and the Llama-3-style tokenizer's
    pre-tokenizer, post-processor and 256 special tokens (128000..128255). Its merge table
    and vocabulary have Llama 3's sizes; the text is tokenized mostly by the learned part."""
    import random
    from tokenizers import Regex, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=128000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    spec = json.loads(tok.to_str())
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    tokens = sorted(vocab, key=vocab.get)
    rng = random.Random(seed)
    while len(vocab) < 128000:
        a, b = rng.choice(tokens), rng.choice(tokens)
        if a + b in vocab or len(a + b) > 48:
            continue
        vocab[a + b] = len(vocab)
        tokens.append(a + b)
        merges.append([a, b])
    style = json.load(open("models/llama3-style-tokenizer/tokenizer.json", encoding="utf-8"))
    for key in ("pre_tokenizer", "post_processor", "decoder", "normalizer"):
        spec[key] = style[key]
    spec["model"]["ignore_merges"] = True
    spec["added_tokens"] = [dict(t, id=128000 + i) for i, t in enumerate(style["added_tokens"])]
    for piece in spec["post_processor"]["processors"]:
        if piece["type"] == "TemplateProcessing":
            piece["special_tokens"]["<|begin_of_text|>"]["ids"] = [128000]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    return Tokenizer.from_file(out_path).get_vocab_size()


def peer_run(path, text, mode, cold, repeats):
    lines = text.splitlines(keepends=True)
    best, ids_all, load = float("inf"), None, float("inf")

    def timed_load():
        nonlocal load
        t0 = time.perf_counter()
        t = Tokenizer.from_file(path)
        load = min(load, time.perf_counter() - t0)
        return t

    tok = timed_load()
    for _ in range(repeats):
        if cold:
            tok = timed_load()
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
            "checksum": checksum, "load_seconds": load}


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
    tmp = tempfile.mkdtemp(prefix="qcc-bench-tokenizer-")
    big = os.path.join(tmp, "tokenizer.json")
    size = make_llama3_size(text, big)
    tokenizers_list = TOKENIZERS + [(f"Llama-3 size (Llama 3 regex, {size:,} ids, synthetic)", big)]
    rows = []
    for label, path in tokenizers_list:
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
    print()
    print("| tokenizer | qcc load ms | tokenizers load ms |")
    print("|---|---|---|")
    loads = {}
    for label, _, _, q, t, _ in rows:
        old = loads.get(label, (float("inf"), float("inf")))
        loads[label] = (min(old[0], q["load_seconds"]), min(old[1], t["load_seconds"]))
    for label, (ql, tl) in loads.items():
        print(f"| {label} | {ql * 1e3:.1f} | {tl * 1e3:.1f} |")
    shutil.rmtree(tmp)
    if not all(r[5] for r in rows):
        raise SystemExit("qcc and tokenizers produced different ids")


if __name__ == "__main__":
    main()
