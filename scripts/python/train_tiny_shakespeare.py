#!/usr/bin/env python3
"""Trains qcc's bundled model: a small Llama-3.1-architecture LM on tinyshakespeare.

  python3 scripts/python/train_tiny_shakespeare.py \
      --data ../shared/data/tinyshakespeare.txt --out models/llama-tiny-shakespeare

Writes config.json (Llama-3.1 release layout), model.safetensors (bf16), tokenizer.json
(byte-level BPE), calib.ids and eval.ids (one sequence per line, each starting with BOS),
and prints the train / validation loss in nats per token.

Split: the text is cut at a line boundary at 90%: the first part trains (the calibration
sequences are also drawn from it, like real post-training calibration data), the last
10% is held out and only used for eval.ids / the validation loss.
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama31_config import llama31_config_dict, transformers_config, save_checkpoint, check_roundtrip  # noqa: E402

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def train_tokenizer(text, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def sequences(ids, n, length, bos, rng=None):
    """n lines of `length` ids: BOS + (length-1) consecutive tokens, taken either evenly
    spaced without overlap (rng None) or from random offsets."""
    body = length - 1
    out = []
    if rng is None:
        assert n * body <= len(ids), "not enough tokens for the requested lines"
        for i in range(n):
            out.append([bos] + ids[i * body:(i + 1) * body])
    else:
        for _ in range(n):
            o = int(torch.randint(0, len(ids) - body, (1,), generator=rng))
            out.append([bos] + ids[o:o + body])
    return out


def write_ids(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(str(x) for x in r) + "\n")


@torch.no_grad()
def mean_loss(model, rows, batch=8):
    """Mean next-token cross-entropy (nats/token) over all predicted positions."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(rows), batch):
        x = torch.tensor(rows[i:i + batch])
        logits = model(x).logits.float()
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                               x[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += x[:, 1:].numel()
    model.train()
    return total / count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/tinyshakespeare.txt")
    p.add_argument("--out", default="models/llama-tiny-shakespeare")
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--time-budget", type=float, default=0,
                   help="seconds; if set, the schedule follows max(step/steps, elapsed/budget) "
                        "and training stops when it reaches 1 (the machine is shared)")
    p.add_argument("--time-only", type=int, default=0, help="run N steps, print speed, exit")
    p.add_argument("--report-only", action="store_true",
                   help="no training: print the losses of the model already in --out")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t_start = time.time()

    text = open(args.data, encoding="utf-8").read()
    cut = text.rfind("\n", 0, int(len(text) * 0.9)) + 1
    train_text, eval_text = text[:cut], text[cut:]

    if args.report_only:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
        report(args.out, tok.encode(train_text).ids, tok.token_to_id(BOS), args.seq, args.seed)
        return
    tok = train_tokenizer(train_text, args.vocab)
    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    train_ids = tok.encode(train_text).ids
    eval_ids = tok.encode(eval_text).ids
    print(f"tokenizer: vocab {tok.get_vocab_size()}, bos {bos}, eos {eos}; "
          f"train {len(train_ids)} tokens ({len(train_text)} chars), "
          f"eval {len(eval_ids)} tokens ({len(eval_text)} chars)", flush=True)

    cfg = llama31_config_dict(
        vocab_size=tok.get_vocab_size(), hidden_size=256, intermediate_size=768,
        num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=1, head_dim=64,
        max_position_embeddings=1024, rope_theta=500000.0,
        # original_max_position_embeddings 64 < training context 256: with factor 8 the
        # wavelengths above 64 positions are scaled, those between 16 and 64 are smoothed.
        rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64, "rope_type": "llama3"},
        bos_token_id=bos, eos_token_id=eos, tie_word_embeddings=False, torch_dtype="bfloat16")
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM(transformers_config(cfg))
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: {nparams} parameters ({nparams * 2 / 2**20:.2f} MiB in bf16)", flush=True)

    gen = torch.Generator().manual_seed(args.seed)
    eval_rows = sequences(eval_ids, 32, args.seq, bos)
    calib_rows = sequences(train_ids, 64, args.seq, bos, rng=torch.Generator().manual_seed(args.seed + 1))
    train_t = torch.tensor(train_ids)

    def batch():
        off = torch.randint(0, len(train_ids) - (args.seq - 1), (args.batch,), generator=gen)
        body = torch.stack([train_t[o:o + args.seq - 1] for o in off.tolist()])
        return torch.cat([torch.full((args.batch, 1), bos), body], dim=1)  # [B, seq]

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    steps = args.time_only or args.steps
    warmup = min(100, steps // 10)

    def progress(s):
        q = s / steps
        if args.time_budget:
            q = max(q, (time.time() - t0) / args.time_budget)
        return min(q, 1.0)

    def lr_at(s):  # linear warmup, cosine decay to 10% over the progress
        if s < warmup:
            return args.lr * (s + 1) / warmup
        q = progress(s)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * q)))

    model.train()
    t0 = time.time()
    best = (float("inf"), None, -1)
    ema = None
    done = 0
    for s in range(steps):
        if s >= warmup and progress(s) >= 1.0:
            break
        done = s + 1
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        x = batch()
        logits = model(x).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if args.time_only:
            if s == 1:
                t0 = time.time()
            continue
        if (s + 1) % 50 == 0:
            el = time.time() - t0
            print(f"step {s + 1}/{steps} progress {progress(s + 1):.3f} loss {ema:.4f} lr {lr_at(s):.2e} "
                  f"{(s + 1) * args.batch * args.seq / el:.0f} tok/s {el:.0f}s", flush=True)
        if (s + 1) % args.eval_every == 0 or s + 1 == steps or (
                args.time_budget and progress(s + 1) >= 1.0):
            v = mean_loss(model, eval_rows)
            print(f"  eval loss {v:.4f} nats/token at step {s + 1}", flush=True)
            if v < best[0]:
                best = (v, {k: t.detach().clone() for k, t in model.state_dict().items()}, s + 1)
    if args.time_only:
        el = time.time() - t0
        print(f"{(steps - 2) / el:.2f} steps/s, {(steps - 2) * args.batch * args.seq / el:.0f} tok/s")
        return
    train_wall = time.time() - t0

    # Keep the checkpoint with the lowest held-out loss (the run may start to overfit).
    model.load_state_dict(best[1])
    model.eval()
    bf = model.to(torch.bfloat16)
    os.makedirs(args.out, exist_ok=True)
    save_checkpoint(bf, cfg, args.out, torch.bfloat16)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    write_ids(os.path.join(args.out, "calib.ids"), calib_rows)
    write_ids(os.path.join(args.out, "eval.ids"), eval_rows)
    check_roundtrip(bf, args.out, torch.bfloat16)
    print(f"best step {best[2]} of {done} run ({steps} planned); training wall time {train_wall:.0f}s, "
          f"total {time.time() - t_start:.0f}s")
    report(args.out, train_ids, bos, args.seq, args.seed)


def report(out, train_ids, bos, seq, seed):
    """Losses of the model as written (reloaded from `out`, so exactly what ships),
    computed in float32 and in bfloat16: on eval.ids (held out) and on 32 rows drawn
    from the training text."""
    from transformers import LlamaForCausalLM
    eval_rows = [[int(x) for x in line.split()] for line in open(os.path.join(out, "eval.ids"))]
    train_rows = sequences(train_ids, 32, seq, bos, rng=torch.Generator().manual_seed(seed + 2))
    for dtype in (torch.float32, torch.bfloat16):
        m = LlamaForCausalLM.from_pretrained(out, dtype=dtype).eval()
        tr, va = mean_loss(m, train_rows), mean_loss(m, eval_rows)
        print(f"{str(dtype)[6:]}: train loss {tr:.4f}, validation loss (eval.ids) {va:.4f} "
              f"nats/token (perplexity {math.exp(va):.2f})")
    print(f"model.safetensors {os.path.getsize(os.path.join(out, 'model.safetensors'))} bytes")


if __name__ == "__main__":
    main()
