#!/usr/bin/env python3
"""Writes the tokenizer decoding golden for TokenizerTest.cpp.

Independent reference: Hugging Face `tokenizers` (PyPI). Trains a tiny
byte-level BPE on a fixed multilingual text, saves it as tokenizer.json, and
records what `Tokenizer.decode` returns for fixed id sequences, including
ones that split a multi-byte UTF-8 character (decoded lossily to U+FFFD),
special tokens, and every single id.

Run from this folder:  python3 make_tokenizer_golden.py
Outputs: Inputs/bpe-tokenizer.json, Inputs/bpe-decode.golden.json
"""
import json
import random

import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

TEXT = [
    "First Citizen: Before we proceed any further, hear me speak.",
    "Café, naïve, façade, résumé, jalapeño, Zürich, Ærøskøbing.",
    "Emoji: 😀 🎉 👍🏽 — and CJK: 日本語のテキスト, 中文文本, 한국어.",
    "Tabs\tand\nnewlines\r\n, control \x01 bytes, and    runs of spaces.",
    "Numbers 0123456789 3.14159 -42 1e-5; punctuation !?#$%&*()[]{}<>",
] * 20


def main():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
    )
    tok.train_from_iterator(TEXT, trainer)
    tok.save("Inputs/bpe-tokenizer.json")

    rng = random.Random(1234)
    n = tok.get_vocab_size()
    cases = []
    # Round trips of each line, with BOS/EOS specials around them.
    for line in sorted(set(TEXT)):
        ids = [0] + tok.encode(line).ids + [1]
        cases.append(ids)
    # Random sequences: these split multi-byte characters at random places.
    for _ in range(40):
        cases.append([rng.randrange(n) for _ in range(rng.randrange(1, 12))])
    # Every id alone.
    cases.extend([[i] for i in range(n)])

    golden = {
        "generator": "make_tokenizer_golden.py, tokenizers " + tokenizers.__version__,
        "cases": [
            {
                "ids": ids,
                "text_hex": tok.decode(ids, skip_special_tokens=False).encode("utf-8").hex(),
                "skip_special_hex": tok.decode(ids, skip_special_tokens=True).encode("utf-8").hex(),
            }
            for ids in cases
        ],
    }
    with open("Inputs/bpe-decode.golden.json", "w") as f:
        json.dump(golden, f, indent=0)
        f.write("\n")
    print(f"vocab {n}, {len(cases)} cases")


if __name__ == "__main__":
    main()
