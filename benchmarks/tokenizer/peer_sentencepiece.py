#!/usr/bin/python3
"""The peer of bench_tokenizer's "spm_bytes" case: python3-sentencepiece (Debian) encoding
the same text with the same model. The model is trained again exactly as
scripts/make_tokenizer_fixtures.py trains it (same text and options, one thread: the same
pieces as the committed GGUF). Prints JSON lines for bench_tokenizer --peers:
{"peer":"sentencepiece","case":"spm_bytes encode","threads":1,"unit":"MB/s","value":...}
(and "spm_bytes encode lines": the text encoded line by line).
"""
import importlib.util
import json
import pathlib
import statistics
import sys
import tempfile
import time

import sentencepiece as spm

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fixtures():
    spec = importlib.util.spec_from_file_location("fixtures", ROOT / "scripts/make_tokenizer_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_text(size):
    """The same text as benchmarks/bench_tokenizer.cpp builds."""
    base = []
    line = 0
    for name in ["GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "Artistic"]:
        path = pathlib.Path("/usr/share/common-licenses") / name
        if not path.exists():
            continue
        data = path.read_bytes()
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines = lines[:-1]
        for s in lines:
            base.append(s + b"\n")
            line += 1
            if line % 50 == 0:
                base.append("Привет, мир! 你好，世界。 Ünïcödé tëxt 🦙 naïve café\n".encode())
    base = b"".join(base) or "The quick brown fox jumps over the lazy dog. Привет, мир! 你好，世界。 🦙\n".encode()
    text = (base * (size // len(base) + 1))[:size]
    return text.decode("utf-8", errors="ignore")


def main():
    quick = "--quick" in sys.argv
    text = benchmark_text((64 << 10) if quick else (4 << 20))
    f = fixtures()
    vocab_size, byte_fallback = f.MODELS["spm_bytes"]
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(pathlib.Path(tmp) / "spm_bytes")
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(f.training_text()), model_prefix=prefix, vocab_size=vocab_size, model_type="bpe",
            byte_fallback=byte_fallback, normalization_rule_name="identity", add_dummy_prefix=True,
            remove_extra_whitespaces=False, split_digits=True, character_coverage=0.995,
            user_defined_symbols=f.USER_DEFINED, control_symbols=f.CONTROL, num_threads=1, minloglevel=2)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    lines = text.split("\n")
    size = len(text.encode("utf-8"))
    # The whole text as one input, and line by line (one thread, like tessera's loop).
    for case, run in [("spm_bytes encode", lambda: sp.encode(text)),
                      ("spm_bytes encode lines", lambda: sp.encode(lines, num_threads=1))]:
        run()  # warm-up
        times = []
        for _ in range(2 if quick else 7):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        mb_per_s = size / statistics.median(times) / 1e6
        print(json.dumps({"peer": "sentencepiece", "case": case, "threads": 1, "unit": "MB/s", "value": mb_per_s}))


if __name__ == "__main__":
    main()
