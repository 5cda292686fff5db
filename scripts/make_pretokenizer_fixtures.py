#!/usr/bin/python3
"""Makes tests/llm/tokenizer_data/pretokenizer.cases: the pre-tokenizer regexes of the
byte-level BPE models, run by a real regex engine (Debian's python3-regex, which knows \\p{L}
and friends) on random text, as the oracle for tessera's hand-written matchers
(include/tessera/llm/tokenizer/pretokenize.hpp).

    /usr/bin/python3 scripts/make_pretokenizer_fixtures.py [OUT]

Each model's regexes are applied as llama.cpp applies them: the first splits the text into
its matches and the gaps between them, each next one splits every piece again. Where a regex
holds non-ASCII characters and no \\p class, llama.cpp runs it on text whose non-ASCII white
space reads as \\v; the oracle does the same. Llama 3's and Qwen2's regexes are the originals
from their tokenizer.json (with (?i:...)), Tekken's too. A case is three lines: the pre-tokenizer's
tokenizer.ggml.pre name, the text as hex UTF-8, the pieces' lengths in code points.
"""
import pathlib
import random
import sys

import regex

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
DEEPSEEK_LETTERS = ("A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373"
                    "\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481"
                    "\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf"
                    "\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d"
                    "\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4"
                    "\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
                    "\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
                    "\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
                    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
                    "\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb"
                    "\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943")
CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
BLOOM = r" ?[^(\s|.,!?…。，、।۔،)]+"

# (regex, runs on llama.cpp's \v-for-non-ASCII-space text)
PRE_TOKENIZERS = {
    "gpt-2": [(GPT2, False)],
    "llama-bpe": [(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", False)],
    "qwen2": [(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", False)],
    "default": [(r"[\p{P}\$\+<=>\^~\|]+", False), (GPT2, False), (r"\p{N}+", False), (r"[0-9][0-9][0-9]", False)],
    "falcon": [(r"[\p{P}\$\+<=>\^~\|`]+", False), (GPT2, False), (r"[0-9][0-9][0-9]", False)],
    "starcoder": [(r"\p{N}", False), (GPT2, False)],
    "deepseek-coder": [(r"[\r\n]", False), (r"\s?\p{L}+", False), (r"\s?\p{P}+", False), (CJK, True), (r"\p{N}", False)],
    "deepseek-llm": [(r"[\r\n]", True), (r"\s?[" + DEEPSEEK_LETTERS + "]+", True),
                     (r"\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", True), (r"\s+\Z", True),
                     (CJK, True), (r"\p{N}+", False)],
    "deepseek-v3": [(r"\p{N}{1,3}", False), ("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+", True),
                    (r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", False)],
    "chameleon": [(r"<sentinel:[0-9]+>", False), (r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", False), (r"([\t\n]|    |  )", False),
                  (r"\p{N}", False), (r"[\p{P}!-/:-@\[-`{-~]", False), (GPT2, False)],
    "tekken": [(r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+", False)],
    "bloom": [(BLOOM, True)],
    "viking": [(BLOOM, True), (r"\p{N}", False)],
}

SNIPPETS = ["HelloWorld", "camelCase", "ABCdef", "XMLHttp", "ǅemal", "日本Go", "'s", "'S", "'re", "'RE", "'ll", "'ve", "'d", "'m", "'t", "'x", "<sentinel:12>", "<sentinel:>", "IMGIMGABZ",
            "IMGIMGABCDEZ", "    ", "  ", "\r\n", "\n\n", " \n ", "\t", "...", "…", "。", "，", "123456", "3.14",
            "$+<=>^`|~", "Hello", " world", "Führer", "нещо", "日本語", "한국어", "カタカナ", "ひらがな", "٣٤٥", "Ⅻ",
            "e\u0301", "\u0301", "😀🦙", "\u00a0", "\u3000", "\u2003", "！？", "（）", "“quoted”", "ΩK", "ᾼ", "ǅ", "ß"]
ALPHABET = ("abcXYZ019 \n\t\r.,!?'\"-_()[]{}<>/\\@#$%^&*+=|~`" "éüñçßΩωж中文字가힣あア" "\u0300\u0301\u200b\u00a0\u3000\u2003"
            "٣Ⅻ½€©😀🦙\U00010400\U0001e900")


def split(text, regexes):
    pieces = [(0, len(text))]
    spaced = "".join("\v" if ord(c) >= 0x80 and c.isspace() and regex.match(r"\s", c) else c for c in text)
    for pattern, vspace in regexes:
        compiled = regex.compile(pattern)
        source = spaced if vspace else text
        out = []
        for b, e in pieces:
            gap = b
            for m in compiled.finditer(source[b:e]):
                if m.end() == m.start():
                    continue
                if b + m.start() > gap:
                    out.append((gap, b + m.start()))
                out.append((b + m.start(), b + m.end()))
                gap = b + m.end()
            if gap < e:
                out.append((gap, e))
        pieces = out
    return [e - b for b, e in pieces]


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests/llm/tokenizer_data/pretokenizer.cases"
    rng = random.Random(11)
    lines = []
    for name, regexes in PRE_TOKENIZERS.items():
        for _ in range(80):
            parts = []
            for _ in range(rng.randint(1, 12)):
                parts.append(rng.choice(SNIPPETS) if rng.random() < 0.5 else "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 5))))
            text = "".join(parts)
            lines += [name, text.encode("utf-8").hex(), " ".join(map(str, split(text, regexes)))]
    out.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"{out}: {len(lines) // 3} cases")


if __name__ == "__main__":
    main()
