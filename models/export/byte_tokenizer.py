"""Byte-level tokenizer of the tiny bundle (Hugging Face `tokenizers` JSON format).

ids 0..255 are the UTF-8 bytes (GPT-2 byte-to-unicode alphabet, BPE model without merges),
then the five special tokens. The embedding table has 320 rows; ids 261..319 are unused.
"""
import json

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
FIRST_SPECIAL_ID = 256


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def special_ids():
    return {t: FIRST_SPECIAL_ID + i for i, t in enumerate(SPECIALS)}


def encode(text):
    """Plain text (no special tokens inside) -> ids, exactly what tokenizer.json produces."""
    return list(text.encode("utf-8"))


def decode(ids):
    """ids -> text as tokenizer.json decodes them (Hugging Face tokenizers, skip_special_tokens off):
    one byte string, special tokens as their text, ids outside the vocabulary (261..319) skipped,
    invalid UTF-8 replaced by U+FFFD."""
    inv = {v: k for k, v in special_ids().items()}
    buf = bytearray()
    for i in ids:
        if i < 256:
            buf.append(i)
        elif i in inv:
            buf += inv[i].encode("utf-8")
    return buf.decode("utf-8", errors="replace")


def tokenizer_json():
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t, i in special_ids().items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }


def tokenizer_config_json():
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 32768, "add_bos_token": False,
            "add_eos_token": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
            "unk_token": None, "clean_up_tokenization_spaces": False,
            "additional_special_tokens": SPECIALS}


def write(dir_):
    import os
    with open(os.path.join(dir_, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(dir_, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config_json(), f, indent=1)
        f.write("\n")
