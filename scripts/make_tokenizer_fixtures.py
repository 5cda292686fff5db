#!/usr/bin/python3
"""Makes the SentencePiece fixtures of tests/llm/tokenizer_sentencepiece_test.cpp.

    /usr/bin/python3 scripts/make_tokenizer_fixtures.py [OUT_DIR]

Needs Debian's python3-sentencepiece (scripts/install-deps.sh --models). It trains two small
SentencePiece BPE models (identity normalization and no whitespace folding, as Llama's
tokenizer.model; one with byte fallback, one with an unknown token instead), writes each as a
vocabulary-only GGUF file (tokenizer.ggml.* metadata, as llama.cpp's converter spells it), and
encodes random Unicode text with SentencePiece itself: the expected ids and decoded text are
the oracle the C++ test compares against. Everything is seeded: running it again gives the
same files (the training text is the license texts Debian ships in /usr/share/common-licenses).

Output in OUT_DIR (default tests/llm/tokenizer_data): NAME.gguf and NAME.cases, where a case
is three lines: the text as hex UTF-8, the ids, the decoded text as hex.
"""
import pathlib
import random
import struct
import sys
import tempfile

import sentencepiece as spm

USER_DEFINED = ["<tool>", "</tool>"]
CONTROL = ["<|im_start|>", "<|im_end|>"]
MODELS = {
    # name: (vocab size, byte fallback)
    "spm_bytes": (700, True),
    "spm_unk": (500, False),
}

# Characters to draw random text from: scripts the training text covers, scripts it does not
# (they fall back to bytes or the unknown token), combining marks, emoji, white space.
ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`",
    "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГД",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "日本語中文字漢字天地人山川",
    "😀😁🚀🦙✅❤️👍🏽",
    "éèêëàâäôöûüçñÅ",
    "e\u0301a\u0300o\u0308",
    "\u2581\u00a0\u3000",
    "ก ข ค ง จ ฉ ช",
]


def training_text():
    text = []
    for name in ["GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "Artistic"]:
        path = pathlib.Path("/usr/share/common-licenses") / name
        if path.exists():
            text.extend(line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())
    rng = random.Random(7)
    # Some non-Latin lines so that the models have a few such pieces too.
    for _ in range(300):
        text.append(" ".join("".join(rng.choice(ALPHABETS[rng.choice([3, 4, 5, 7])]) for _ in range(rng.randint(1, 6)))
                             for _ in range(rng.randint(3, 10))))
    return text


def random_text(rng, words):
    parts = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(words))
        elif r < 0.8:
            parts.append("".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randint(1, 8))))
        elif r < 0.9:
            parts.append(rng.choice(USER_DEFINED + CONTROL))
        else:
            parts.append(rng.choice(["", " ", "  ", "\n", "\t", " \n ", "   "]))
        parts.append(rng.choice([" ", " ", " ", "", "  ", "\n"]))
    text = "".join(parts)
    if rng.random() < 0.2:
        text = " " + text
    return text


def gguf_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, type_id, payload):
    return gguf_string(key) + struct.pack("<I", type_id) + payload


def write_gguf(path, sp, name):
    n = sp.get_piece_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        piece = sp.id_to_piece(i)
        tokens.append(piece)
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        elif sp.is_unused(i):
            types.append(5)
        elif piece in USER_DEFINED:
            types.append(4)
        else:
            types.append(1)
    kvs = [
        gguf_kv("general.architecture", 8, gguf_string("llama")),
        gguf_kv("general.name", 8, gguf_string(name)),
        gguf_kv("tokenizer.ggml.model", 8, gguf_string("llama")),
        gguf_kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, n) + b"".join(gguf_string(t) for t in tokens)),
        gguf_kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, n) + b"".join(struct.pack("<f", s) for s in scores)),
        gguf_kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, n) + b"".join(struct.pack("<i", t) for t in types)),
        gguf_kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", sp.bos_id())),
        gguf_kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", sp.eos_id())),
        gguf_kv("tokenizer.ggml.unknown_token_id", 4, struct.pack("<I", sp.unk_id())),
        gguf_kv("tokenizer.ggml.add_bos_token", 7, b"\x01"),
        gguf_kv("tokenizer.ggml.add_eos_token", 7, b"\x00"),
        gguf_kv("tokenizer.ggml.add_space_prefix", 7, b"\x01"),
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    path.write_bytes(header + b"".join(kvs))


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests/llm/tokenizer_data"
    out.mkdir(parents=True, exist_ok=True)
    corpus = training_text()
    words = sorted({w for line in corpus for w in line.split() if w.isalpha()})
    with tempfile.TemporaryDirectory() as tmp:
        for name, (vocab_size, byte_fallback) in MODELS.items():
            prefix = str(pathlib.Path(tmp) / name)
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(corpus), model_prefix=prefix, vocab_size=vocab_size, model_type="bpe",
                byte_fallback=byte_fallback, normalization_rule_name="identity", add_dummy_prefix=True,
                remove_extra_whitespaces=False, split_digits=True, character_coverage=0.995,
                user_defined_symbols=USER_DEFINED, control_symbols=CONTROL, num_threads=1, minloglevel=2)
            sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
            write_gguf(out / f"{name}.gguf", sp, name)
            rng = random.Random(vocab_size)
            lines = []
            for _ in range(400):
                text = random_text(rng, words)
                ids = sp.encode(text)
                lines += [text.encode("utf-8").hex(), " ".join(map(str, ids)), sp.decode(ids).encode("utf-8").hex()]
            (out / f"{name}.cases").write_text("\n".join(lines) + "\n", encoding="ascii")
            print(f"{name}: {sp.get_piece_size()} pieces, 400 cases")


if __name__ == "__main__":
    main()
