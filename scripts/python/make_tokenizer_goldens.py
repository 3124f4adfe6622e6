#!/usr/bin/env python3
"""Writes the encoder and chat-format goldens of qcc's tokenizer tests.

Independent references: Hugging Face `tokenizers` (encode, pre-tokenize, decode) and
`transformers`' apply_chat_template (chat transcripts). Run from the repository root:

  python3 scripts/python/make_tokenizer_goldens.py --data ../shared/data/tinyshakespeare.txt

Writes into test/unit/frontend/Inputs/:
  encode-bundled.golden.json  models/llama-tiny-shakespeare/tokenizer.json over the corpus
  encode-llama3.golden.json   models/llama3-style-tokenizer/tokenizer.json over the corpus,
                              with the pre-tokenizer's pieces (the regular expression's parity)
  encode-variants.golden.json tokenizer.json variants (each stored inline) covering the
                              constructs the two above do not use: ByteLevel's prefix space,
                              every Split behaviour, inverted and string patterns, added tokens
                              with lstrip / rstrip / single_word / normalized, unk tokens,
                              legacy merges, a template with BOS and EOS
  regex-classes.golden.json   the code points each character-class construct matches in
                              `tokenizers`' regex engine (Oniguruma), over every code point
                              assigned in Python's Unicode version
  chat.golden.json            apply_chat_template ids for conversations, with the
                              Llama-3.1-format template of models/llama3-style-tokenizer and a
                              Llama-3.0-format one

Text is stored as hex of its bytes: some cases are invalid UTF-8. `tokenizers` only takes
Python strings, so such bytes reach it decoded with errors="replace" (each maximal invalid
subsequence becomes U+FFFD); qcc's encoder applies the same rule to its input.
"""
import argparse
import json
import random
import unicodedata

import tokenizers
import transformers
from tokenizers import Tokenizer

INPUTS = "test/unit/frontend/Inputs/"
BUNDLED = "models/llama-tiny-shakespeare/tokenizer.json"
LLAMA3_DIR = "models/llama3-style-tokenizer"
SMALL = INPUTS + "bpe-tokenizer.json"

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|reserved_special_token_17|>", "<|python_tag|>"]

HAND_CASES = [
    "", " ", "  ", "\n", "a", "Hello world", " Hello world", "Hello world ", "  leading", "trailing  ",
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.",
    # contractions, in every case, and Unicode's case folding (long s folds to s)
    "I'm, you're, he's, we've, they'll, I'd, can't", "I'M YOU'RE HE'S WE'VE THEY'LL I'D CAN'T",
    "It'S 'Ll 'ſ 'K 'k", "''s '''", "don’t (typographic apostrophe)",
    # numbers of many lengths
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    "3.14159 2.71828 -42 +7 1e-5 0x1F 1,000,000 1_000", "٣٤٥ ١٢٣٤ (Arabic-Indic) ௧௨௩ Ⅻ ½ ²³",
    "v1.2.3-rc4 2024-07-26T12:34:56Z 192.168.0.1:8080",
    # whitespace runs and every kind of line break
    "a  b   c    d     e", "a\tb\t\tc", "x" + " " * 40 + "y", " " * 300, "\t \t \n \n",
    "a\nb\r\nc\rd\x0be\x0cf\x85g\u2028h\u2029i", "\n\n\n", "\r\n\r\n", "end\n", "line \n next",
    "  \n  \n", "a \u00a0b\u3000c\u2009d\u200be\ufeff f\u180eg\u1680h",
    "\x1c\x1d\x1e\x1f controls \x00 \x01 \x7f",
    # code
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if (a != b && c >= d) {\n\treturn std::max(a, b);\n}",
    "<html><body class=\"x\">Hi</body></html>", "$ ls -la | grep '^d' > /dev/null 2>&1",
    "SELECT * FROM t WHERE id IN (1, 2, 3);", "https://example.com/path?q=1&r=two#frag",
    # accents, composed and decomposed, and other scripts
    "Café naïve façade résumé jalapeño Zürich Ærøskøbing", "Cafe\u0301 nai\u0308ve",
    "Ελληνικά Русский язык עברית العربية हिन्दी ภาษาไทย",
    "日本語のテキストです。中文文本，한국어 텍스트。", "漢字かなカナ123ＡＢＣ",
    # emoji: single, modifiers, ZWJ sequences, flags, keycaps
    "😀 🎉 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 1️⃣ ❤️", "emoji😀inside😀words", "🙂🙂🙂🙂",
    # special tokens inside text
    "<|begin_of_text|>", "Hello<|eot_id|>world", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|eot_id|><|eot_id|> <|eot_id|>", "a<|end_of_text|>", "<|eot_id|", "<|eot_id |>", "<|EOT_ID|>",
    "x <|reserved_special_token_17|> y", "<|python_tag|>print(1)",
    "<|begin_of_text|><|begin_of_text|>text",
    # a long word (above the BPE cache's length limit) and a long number
    "a" * 700, "b" * 255 + "c", "9" * 100,
    # punctuation runs
    "!!!???...,,,;;;:::", "-- -- --- ---- ()[]{}<>", "«quoted» “double” ‘single’ — – …",
]

# Raw byte strings: invalid UTF-8 of every kind, alone and inside text.
INVALID_CASES = [
    b"\xff", b"abc\x80def", b"\xc3", b"caf\xc3", b"\xe2\x82", b"\xe2\x82 x", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xf0\x9f\x98", b"\xf0\x9f\x98 ok", b"\xfe\xfe\xff",
    b"ok \xe6\x97\xa5\xe6\x9c" + "本".encode(), b"\x80\x80\x80", b"\xc2\x41",
]

ATOMS = [
    "the", "The", " king", " KING", "thou", "art", "'s", "'S", "n't", " ", "  ", "   ", "\t", "\n", "\r\n",
    "\r", "\n\n", "\u00a0", "\u3000", "\u2028", "0", "7", "42", "314", "2718", "1000000", ".", ",", "!",
    "?", "...", "—", "-", "_", "(", ")", "{", "}", "#", "@", "$", "%", "é", "e\u0301", "ñ", "ü", "ß",
    "Æ", "ø", "日本", "語", "中文", "한국어", "ไทย", "عربى", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "<|eot_id|>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|eot", "|>", "<", "|", "def", "x",
    "=", "==", "->", "=>", "\\", "\"", "'", "`", "~", "^", "\x00", "\x1b", "\u200b", "ſ", "K",
]


def corpus(data, rng, n_random):
    cases = [c.encode() for c in HAND_CASES] + INVALID_CASES
    for _ in range(n_random):
        cases.append("".join(rng.choice(ATOMS) for _ in range(rng.randrange(1, 24))).encode())
    # Random code points from every plane in use (assigned ones only, see the docstring).
    for _ in range(40):
        s = []
        while len(s) < rng.randrange(1, 16):
            c = rng.choice([rng.randrange(0x20, 0x250), rng.randrange(0x250, 0x3000),
                            rng.randrange(0x3000, 0xA000), rng.randrange(0xA000, 0x10000),
                            rng.randrange(0x10000, 0x20000)])
            if 0xD800 <= c < 0xE000 or unicodedata.category(chr(c)) == "Cn":
                continue
            s.append(chr(c))
        cases.append("".join(s).encode())
    if data:
        # Slices of the bundled text: whole paragraphs, and cuts at arbitrary places.
        paragraphs = data.split("\n\n")
        for i in range(0, len(paragraphs), len(paragraphs) // 40):
            cases.append(paragraphs[i].encode())
        for _ in range(20):
            o = rng.randrange(len(data) - 3000)
            cases.append(data[o:o + rng.randrange(1, 2000)].encode())
    return cases


def text_of(raw):
    return raw.decode("utf-8", errors="replace")


def encode_cases(tok, cases, pieces=False):
    """Per case: ids with the post-processor's special tokens, ids_no_special (null when
    equal to ids), decoded_hex = decode(ids_no_special) (null when it is the text itself)."""
    out = []
    for raw in cases:
        text = text_of(raw)
        ids = tok.encode(text).ids
        plain = tok.encode(text, add_special_tokens=False).ids
        decoded = tok.decode(plain, skip_special_tokens=False).encode()
        case = {"ids": ids, "ids_no_special": None if plain == ids else plain,
                "decoded_hex": None if decoded == text.encode() else decoded.hex()}
        if pieces:
            case["pieces"] = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(text)]
        out.append(case)
    return out


def write(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", path)


def generator():
    return (f"scripts/python/make_tokenizer_goldens.py, tokenizers {tokenizers.__version__}, "
            f"transformers {transformers.__version__}")


def variants():
    """(name, tokenizer.json text) pairs derived from the small trained BPE."""
    base = json.load(open(SMALL, encoding="utf-8"))

    def make(name, edit):
        spec = json.loads(json.dumps(base))
        edit(spec)
        text = json.dumps(spec, ensure_ascii=False)
        Tokenizer.from_str(text)  # `tokenizers` must accept it
        return name, text

    def pre(p):
        return lambda s: s.__setitem__("pre_tokenizer", p)

    def byte_level(prefix=False, regex=False):
        return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": regex}

    def split(pattern, behavior, invert=False, string=False):
        return {"type": "Split", "pattern": {"String" if string else "Regex": pattern},
                "behavior": behavior, "invert": invert}

    def seq(*ps):
        return {"type": "Sequence", "pretokenizers": list(ps)}

    def added(spec, tokens):
        nxt = len(spec["model"]["vocab"])
        for t in tokens:
            entry = {"id": nxt, "content": t["content"], "single_word": t.get("single_word", False),
                     "lstrip": t.get("lstrip", False), "rstrip": t.get("rstrip", False),
                     "normalized": t.get("normalized", False), "special": t.get("special", True)}
            spec["added_tokens"].append(entry)
            nxt += 1

    def unk(fuse):
        def edit(spec):
            vocab = spec["model"]["vocab"]
            gone = {chr(0x100 + b) for b in range(0, 9)} | {"ÿ", "þ"}
            assert all(g in vocab for g in gone)
            spec["model"]["merges"] = [m for m in spec["model"]["merges"]
                                       if not any(g in "".join(m) for g in gone)]
            # Keep ids dense: every id above a removed one moves down.
            kept = sorted((i, t) for t, i in vocab.items() if t not in gone)
            spec["model"]["vocab"] = {t: n for n, (_, t) in enumerate(kept)}
            remap = {i: n for n, (i, _) in enumerate(kept)}
            for a in spec["added_tokens"]:
                a["id"] = remap[a["id"]]
            spec["model"]["vocab"]["<unk>"] = len(kept)
            spec["model"]["unk_token"] = "<unk>"
            spec["model"]["fuse_unk"] = fuse
        return edit

    def legacy_merges(spec):
        spec["model"]["merges"] = [" ".join(m) for m in spec["model"]["merges"]]

    def template(spec):
        spec["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|end_of_text|>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {
                "<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0], "tokens": ["<|begin_of_text|>"]},
                "<|end_of_text|>": {"id": "<|end_of_text|>", "ids": [1], "tokens": ["<|end_of_text|>"]}}}

    return [
        make("byte-level-prefix-space", pre(byte_level(prefix=True, regex=True))),
        make("byte-level-prefix-space-no-regex", pre(byte_level(prefix=True, regex=False))),
        make("split-removed", pre(seq(split(r"\s+", "Removed"), byte_level()))),
        make("split-merged-with-previous", pre(seq(split(r"[,.!?;:]", "MergedWithPrevious"), byte_level()))),
        make("split-merged-with-next-string", pre(seq(split(" ", "MergedWithNext", string=True), byte_level()))),
        make("split-contiguous-inverted", pre(seq(split(r"\p{L}+", "Contiguous", invert=True), byte_level()))),
        make("split-empty-matches", pre(seq(split(r"x*|(?=\d)", "Isolated"), byte_level()))),
        make("split-string-metacharacters", pre(seq(split("a.b(", "Isolated", string=True), byte_level()))),
        make("split-after-byte-level", pre(seq(byte_level(), split("Ġ", "MergedWithNext")))),
        make("split-then-gpt2-regex", pre(seq(split(r"\p{N}", "Isolated"), byte_level(prefix=True, regex=True)))),
        make("added-tokens", lambda s: added(s, [
            {"content": "<mask>", "lstrip": True}, {"content": "[R]", "rstrip": True},
            {"content": "<both>", "lstrip": True, "rstrip": True},
            {"content": "word", "single_word": True, "special": False},
            {"content": "Hi", "normalized": True, "special": False},
            {"content": "<|end", "special": False}, {"content": "<|end_of_text|>x", "special": False},
        ])),
        make("unk", unk(False)),
        make("unk-fused", unk(True)),
        make("legacy-merges", legacy_merges),
        make("template-bos-eos", template),
        make("ignore-merges", lambda s: s["model"].__setitem__("ignore_merges", True)),
    ]


VARIANT_EXTRA = [
    "<mask>", "a <mask> b", "a  <mask>  b", "x [R]  y", "x [R]\n\ny", "p <both>   q", "<both>",
    "word", "a word b", "sword", "words", "word_x", "word.", "éword", "1word", "Hi there", "Hiho",
    "<|end", "<|end_of_text|>", "<|end_of_text|>x", "<|end_of_text|>y", "<|end_of_tex",
    "x1y22z333", "xxx", "a\x00b\x08c\xff\xfed", "\x00\x01\x02", "\x00\x00 a\x00\x00", "a,b.c!d?",
    "ab(a.b(c", "a.b(a.b(", "  lead", "Ġ", "a ĠĠ b",
]

CHAT_CONVERSATIONS = [
    ([{"role": "user", "content": "Hello!"}], True),
    ([{"role": "system", "content": "You are a poet."}, {"role": "user", "content": "Write a line."}], True),
    ([{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": " Hi \u3000"},
      {"role": "assistant", "content": "Hello.\n\n"}, {"role": "user", "content": "How are you?\x1c"}], True),
    ([{"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
      {"role": "user", "content": "Three"}, {"role": "assistant", "content": "Four"}], False),
    ([{"role": "system", "content": ""}, {"role": "user", "content": ""}], True),
    ([{"role": "user", "content": "Code:\n```py\nprint('hi')\n```\n"}], True),
    ([{"role": "user", "content": "日本語で答えて 😀"}], True),
    ([{"role": "user", "content": "I type <|eot_id|> and <|start_header_id|> here"}], True),
    ([{"role": "user", "content": "\u00a0\u2028 spaces all around \u2009\x1f"}], True),
    ([{"role": "user", "content": "no generation prompt"}], False),
]

# Llama-3.0's chat format (no system preamble; BOS before the first header), written from
# its documented structure like the 3.1 one in make_llama3_tokenizer.py.
LLAMA30_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{%- if loop.index0 == 0 %}{%- set content = bos_token + content %}{%- endif %}"
    "{{- content }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")


def chat_golden():
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(LLAMA3_DIR)

    def ids(messages, gen, **kw):
        out = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen, **kw)
        return list(out["input_ids"] if hasattr(out, "keys") else out)

    cases = []
    for messages, gen in CHAT_CONVERSATIONS:
        cases.append({"format": "llama-3.1", "messages": messages, "add_generation_prompt": gen,
                      "ids": ids(messages, gen)})
        cases.append({"format": "llama-3.1", "date_string": "02 Dec 2025", "messages": messages,
                      "add_generation_prompt": gen, "ids": ids(messages, gen, date_string="02 Dec 2025")})
        cases.append({"format": "llama-3.0", "messages": messages, "add_generation_prompt": gen,
                      "ids": ids(messages, gen, chat_template=LLAMA30_TEMPLATE)})
    return {"generator": generator(), "llama30_template": LLAMA30_TEMPLATE, "cases": cases}


CLASS_PATTERNS = [r"\s", r"[\s]", r"[^\s]", r"\S", r"[\S]", r"\d", r"[\d]", r"\D", r"\w", r"[\w]",
                  r"\W", r"\h", r"[\h]", r"\H", r"\v", r"\p{L}", r"\p{N}", r"[^\s\p{L}\p{N}]",
                  r"[^\r\n\p{L}\p{N}]", r"(?i:s)", r"(?i:k)", r".", r"\p{Han}", r"\P{L}"]


def regex_classes():
    """For each pattern, the sorted ranges of assigned code points it matches alone."""
    from tokenizers import Regex, pre_tokenizers
    points = [c for c in range(0x110000)
              if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) != "Cn"]
    text = "".join(chr(c) for c in points)
    out = []
    for pattern in CLASS_PATTERNS:
        split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
        # Removed drops the matches: every code point not in a kept piece matched.
        kept = set()
        for piece, _ in split.pre_tokenize_str(text):
            kept.update(ord(ch) for ch in piece)
        matched = [c for c in points if c not in kept]
        ranges, start, prev = [], None, None
        index = {c: i for i, c in enumerate(points)}
        for c in matched:  # ranges over the list of assigned points
            if start is not None and index[c] == index[prev] + 1:
                prev = c
                continue
            if start is not None:
                ranges.append([start, prev])
            start = prev = c
        if start is not None:
            ranges.append([start, prev])
        out.append({"pattern": pattern, "ranges": ranges})
    assigned, start, prev = [], None, None
    for c in points:
        if start is not None and c == prev + 1:
            prev = c
            continue
        if start is not None:
            assigned.append([start, prev])
        start = prev = c
    assigned.append([start, prev])
    return {"generator": generator(), "unicode_version": unicodedata.unidata_version,
            "note": "pattern ranges run over assigned code points only: [a, b] is every assigned point "
                    "in a..b; `assigned` lists them (surrogates excluded)",
            "assigned": assigned, "patterns": out}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="the bundled text (tinyshakespeare.txt)")
    args = p.parse_args()
    data = open(args.data, encoding="utf-8").read()
    rng = random.Random(20250713)
    cases = corpus(data, rng, 300)

    bundled = Tokenizer.from_file(BUNDLED)
    texts = [raw.hex() for raw in cases]
    write(INPUTS + "encode-bundled.golden.json",
          {"generator": generator(), "tokenizer": BUNDLED, "texts_hex": texts,
           "cases": encode_cases(bundled, cases)})
    llama3 = Tokenizer.from_file(LLAMA3_DIR + "/tokenizer.json")
    write(INPUTS + "encode-llama3.golden.json",
          {"generator": generator(), "tokenizer": LLAMA3_DIR + "/tokenizer.json", "texts_hex": texts,
           "cases": encode_cases(llama3, cases, pieces=True)})

    small = [c.encode() for c in VARIANT_EXTRA] + corpus(None, random.Random(7), 40)
    out = []
    for name, text in variants():
        tok = Tokenizer.from_str(text)
        out.append({"name": name, "tokenizer_json": text, "cases": encode_cases(tok, small)})
    write(INPUTS + "encode-variants.golden.json",
          {"generator": generator(), "texts_hex": [raw.hex() for raw in small], "variants": out})

    write(INPUTS + "chat.golden.json", chat_golden())
    write(INPUTS + "regex-classes.golden.json", regex_classes())


if __name__ == "__main__":
    main()
