#!/usr/bin/env python3
"""Trains a small tokenizer in Llama-3.1's exact tokenizer.json layout (qcc's test article).

  python3 scripts/python/make_llama3_tokenizer.py \
      --data ../shared/data/tinyshakespeare.txt --out models/llama3-style-tokenizer

Meta's Llama-3.1 tokenizer cannot be downloaded here, so this reproduces everything of it
except the learned vocabulary, with Hugging Face `tokenizers`:
  - pre_tokenizer: Sequence[Split(Llama-3's regular expression, Isolated),
                            ByteLevel(add_prefix_space=false, use_regex=false)]
  - model: BPE with ignore_merges=true, no unk token, no dropout
  - post_processor: Sequence[ByteLevel(trim_offsets=false), TemplateProcessing that puts
                    <|begin_of_text|> before each sequence]
  - decoder: ByteLevel
  - 256 special tokens after the BPE vocabulary, in Llama-3.1's order:
    <|begin_of_text|>, <|end_of_text|>, reserved 0, 1, <|finetune_right_pad_id|>,
    reserved 2, <|start_header_id|>, <|end_header_id|>, <|eom_id|>, <|eot_id|>,
    <|python_tag|>, reserved 3 .. 247.
Llama-3.1 has 128,000 BPE ids and the specials at 128000..128255; here the BPE part has
1,792 ids (trained on the text), so the specials are 1792..2047 and the whole vocabulary
(2,048) fits the bundled model's embedding table.

tokenizer_config.json carries the chat template: Llama-3.1's chat format written from its
documented structure (a system header that always opens with the knowledge-cutoff and date
lines, then one header per message, contents trimmed, <|eot_id|> after each), without the
tool-calling branches, which qcc does not implement.
"""
import argparse
import json
import os

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BPE_SIZE = 1792


def special_tokens():
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
             "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
             "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(3, 248)]
    assert len(names) == 256
    return names


# Llama-3.1's chat format (see the module docstring); `date_string` can be passed to
# apply_chat_template like with Meta's template.
CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- if not date_string is defined %}\n"
    "    {%- set date_string = \"26 Jul 2024\" %}\n"
    "{%- endif %}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] | trim %}\n"
    "    {%- set messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_message = \"\" %}\n"
    "{%- endif %}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{{- system_message }}\n"
    "{{- \"<|eot_id|>\" }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n")


def train(text):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_SIZE, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    assert tok.get_vocab_size() == BPE_SIZE, tok.get_vocab_size()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens()])
    bos = tok.token_to_id("<|begin_of_text|>")
    assert bos == BPE_SIZE
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A:0",
                                      pair="<|begin_of_text|> $A:0 <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    # The trainer builds its own BPE model: set Llama-3's ignore_merges on the result.
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = True
    return Tokenizer.from_str(json.dumps(spec)), spec


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    text = open(args.data, encoding="utf-8").read()
    tok, spec = train(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=2)
        f.write("\n")
    specials = special_tokens()
    config = {
        "added_tokens_decoder": {
            str(BPE_SIZE + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                "single_word": False, "special": True}
            for i, t in enumerate(specials)},
        "bos_token": "<|begin_of_text|>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
        f.write("\n")
    ids = tok.encode("First Citizen:\nBefore we proceed any further, hear me speak.").ids
    print(f"vocab {tok.get_vocab_size()} (BPE {BPE_SIZE} + {len(specials)} special), "
          f"{len(spec['model']['merges'])} merges; sample ids {ids}")


if __name__ == "__main__":
    main()
