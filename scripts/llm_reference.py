#!/usr/bin/env python3
"""An independent reference forward pass of GGUF transformer models, in numpy float64.

Reads a GGUF file with its own parser and dequantizers (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), runs the whole token sequence through the model the way the
papers and llama.cpp define each architecture (llama, qwen2, gemma3, phi3), and prints JSON:

    {"logits": [[...] per position of the prompt], "greedy": [ids], "greedy_logits": [[...]],
     "margins": [top1 - top2 of each greedy step]}

Greedy decoding re-runs the full sequence each step (the models it checks are tiny).

    llm_reference.py MODEL.gguf --tokens "1 2 3" [--steps 8] [--act-quant]

--act-quant quantizes each matrix product's activations as ggml does before multiplying
quantized weights (Q8_0 for Q8_0/Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants), so
quantized models can be compared tightly; without it activations stay float64.
Needs only numpy (Debian's python3-numpy).
"""
import argparse
import json
import math
import struct
import sys

import numpy as np

# ---- GGUF container -------------------------------------------------------------------------
VALUE_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
# type id -> (name, block elements, block bytes)
TYPES = {0: ("f32", 1, 4), 1: ("f16", 1, 2), 30: ("bf16", 1, 2), 8: ("q8_0", 32, 34), 2: ("q4_0", 32, 18),
         3: ("q4_1", 32, 20), 6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 12: ("q4_k", 256, 144),
         13: ("q5_k", 256, 176), 14: ("q6_k", 256, 210)}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        return self.take(VALUE_FORMATS[t])


def read_llama2c(data):
    """A llama2.c checkpoint: 7 int32 (dim, hidden, layers, heads, kv_heads, vocab (negative:
    separate classifier), seq_len), then f32 arrays (run.c's memory_map_weights order)."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    f = np.frombuffer(data, dtype=np.float32, offset=28).astype(np.float64)
    head = dim // heads
    kv = kv_heads * head
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = f[pos:pos + n].reshape(shape)
        pos += n
        return a
    t = {"token_embd.weight": take(vocab, dim)}
    attn_norm, wq, wk, wv, wo = take(layers, dim), take(layers, dim, dim), take(layers, kv, dim), take(layers, kv, dim), take(layers, dim, dim)
    ffn_norm, w1, w2, w3 = take(layers, dim), take(layers, hidden, dim), take(layers, dim, hidden), take(layers, hidden, dim)
    t["output_norm.weight"] = take(dim)
    take(seq_len * head)  # RoPE tables, unused
    t["output.weight"] = t["token_embd.weight"] if shared else take(vocab, dim)
    for l in range(layers):
        p = f"blk.{l}."
        for name, a in (("attn_norm", attn_norm), ("attn_q", wq), ("attn_k", wk), ("attn_v", wv), ("attn_output", wo),
                        ("ffn_norm", ffn_norm), ("ffn_gate", w1), ("ffn_down", w2), ("ffn_up", w3)):
            t[p + name + ".weight"] = a[l]
    for k in list(t):
        t[k + "#type"] = "f32"
    meta = {"general.architecture": "llama", "llama.embedding_length": dim, "llama.block_count": layers,
            "llama.attention.head_count": heads, "llama.attention.head_count_kv": kv_heads,
            "llama.feed_forward_length": hidden, "llama.attention.layer_norm_rms_epsilon": 1e-5,
            "llama.context_length": seq_len}
    return meta, t


def read_gguf(path):
    data = open(path, "rb").read()
    if data[:4] != b"GGUF":
        return read_llama2c(data)
    r = Reader(data)
    r.pos = 4
    version = r.take("<I")
    assert version in (2, 3), f"GGUF version {version}"
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (r.pos + align - 1) // align * align
    tensors = {}
    for name, dims, t, off in infos:
        tname, be, bb = TYPES[t]
        n = int(np.prod(dims))
        raw = np.frombuffer(data, dtype=np.uint8, count=n // be * bb, offset=base + off)
        tensors[name] = dequantize(tname, raw, n).reshape(list(reversed(dims)))
        tensors[name + "#type"] = tname
        if tname in ("q4_1", "q5_1"):  # each block's min, for Q8_1 products
            tensors[name + "#min"] = f16(raw.reshape(-1, bb)[:, 2:4]).reshape(-1, dims[0] // 32)
    return meta, tensors


# ---- dequantization (from the block layouts) ------------------------------------------------
def f16(raw_u8):
    """Little-endian f16 values (pairs of bytes) as a flat float64 array."""
    return raw_u8.copy().view(np.float16).astype(np.float64).reshape(-1)


def k4_scales(s):
    """6-bit scales and mins of Q4_K/Q5_K: s is (blocks, 12) uint8 -> (blocks, 8) each."""
    s = s.astype(np.int64)
    sc = np.zeros((s.shape[0], 8), np.int64)
    mn = np.zeros((s.shape[0], 8), np.int64)
    sc[:, :4] = s[:, 0:4] & 63
    mn[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


def dequantize(t, raw, n):
    if t == "f32":
        return raw.copy().view(np.float32).astype(np.float64)
    if t == "f16":
        return f16(raw)
    if t == "bf16":
        return (raw.copy().view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    _, be, bb = next(v for v in TYPES.values() if v[0] == t)
    b = raw.reshape(-1, bb)
    if t == "q8_0":
        return (f16(b[:, 0:2])[:, None] * b[:, 2:].view(np.int8)).reshape(-1)
    if t in ("q4_0", "q4_1", "q5_0", "q5_1"):
        d = f16(b[:, 0:2]).reshape(-1, 1)
        m = f16(b[:, 2:4]).reshape(-1, 1) if t.endswith("_1") else None
        qs_at = {"q4_0": 2, "q4_1": 4, "q5_0": 6, "q5_1": 8}[t]
        qs = b[:, qs_at:qs_at + 16].astype(np.int64)
        q = np.concatenate([qs & 0xF, qs >> 4], axis=1)
        if t.startswith("q5"):
            hoff = 2 if t == "q5_0" else 4
            qh = b[:, hoff:hoff + 4].copy().view(np.uint32).astype(np.int64)
            q = q | (((qh >> np.arange(32)) & 1) << 4)
        if t == "q4_0":
            return (d * (q - 8)).reshape(-1)
        if t == "q5_0":
            return (d * (q - 16)).reshape(-1)
        return (d * q + m).reshape(-1)
    if t in ("q4_k", "q5_k"):
        d, dmin = f16(b[:, 0:2])[:, None], f16(b[:, 2:4])[:, None]
        sc, mn = k4_scales(b[:, 4:16])
        qs_at = 16 if t == "q4_k" else 48
        qs = b[:, qs_at:qs_at + 128].astype(np.int64).reshape(-1, 4, 32)
        q = np.stack([qs & 0xF, qs >> 4], axis=2).reshape(-1, 8, 32)  # chunk c: low nibbles then high
        if t == "q5_k":
            qh = b[:, 16:48].astype(np.int64)  # bit 2c (+1) of qh[l] is the fifth bit
            hb = np.stack([(qh >> j) & 1 for j in range(8)], axis=1)  # (blocks, 8, 32)
            q = q | (hb << 4)
        return (d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]).reshape(-1)
    if t == "q6_k":
        ql = b[:, 0:128].astype(np.int64).reshape(-1, 2, 2, 32)  # half, (bytes 0-31 | 32-63), l
        qh = b[:, 128:192].astype(np.int64).reshape(-1, 2, 32)
        sc = b[:, 192:208].view(np.int8).astype(np.float64)
        d = f16(b[:, 208:210])[:, None]
        quarters = []
        for k in range(4):  # quarter k of a half: low nibbles of ql[k & 1] (k < 2), high (k >= 2)
            low = ql[:, :, k & 1, :] & 0xF if k < 2 else ql[:, :, k & 1, :] >> 4
            quarters.append(low | (((qh >> (2 * k)) & 3) << 4))
        q = np.stack(quarters, axis=2).reshape(-1, 256) - 32
        return (d * np.repeat(sc, 16, axis=1) * q).reshape(-1)
    raise ValueError(t)


# ---- ggml's activation quantization (for --act-quant) --------------------------------------
def to_f16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_q8(x, kind):
    """Rows of x as ggml quantizes them for a product: returns (dequantized, extra) where extra
    holds Q8_1's f16 block sums d * sum(q)."""
    x32 = x.astype(np.float32)
    if kind in ("q8_0", "q8_1"):
        blocks = x32.reshape(x.shape[0], -1, 32)
        amax = np.abs(blocks).max(axis=2, keepdims=True)
        d = amax / np.float32(127)
        idd = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
        q = round_half_away((blocks * idd).astype(np.float32).astype(np.float64))
        d16 = to_f16(d)
        deq = (d16 * q).reshape(x.shape)
        s = to_f16(d.astype(np.float64) * q.sum(axis=2, keepdims=True)) if kind == "q8_1" else None
        return deq, s
    blocks = x32.reshape(x.shape[0], -1, 256)  # q8_k
    idx = np.abs(blocks).argmax(axis=2)
    mx = np.take_along_axis(blocks, idx[:, :, None], axis=2)
    iscale = np.where(mx != 0, np.float32(-127) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
    q = np.minimum(127, np.rint((iscale * blocks).astype(np.float32).astype(np.float64)))
    d = np.where(iscale != 0, (np.float32(1) / np.where(iscale != 0, iscale, 1)).astype(np.float32), 0)
    return (d.astype(np.float64) * q).reshape(x.shape), None


ACT_KIND = {"q8_0": "q8_0", "q4_0": "q8_0", "q5_0": "q8_0", "q4_1": "q8_1", "q5_1": "q8_1",
            "q4_k": "q8_k", "q5_k": "q8_k", "q6_k": "q8_k"}


class Model:
    def __init__(self, path, act_quant):
        self.meta, self.t = read_gguf(path)
        self.arch = self.meta["general.architecture"]
        if self.arch not in ("llama", "qwen2", "gemma3", "phi3"):
            raise SystemExit(f"unsupported architecture {self.arch}")
        self.act_quant = act_quant
        a = lambda k, d=None: self.meta.get(f"{self.arch}.{k}", d)
        self.dim, self.layers = a("embedding_length"), a("block_count")
        self.heads = a("attention.head_count")
        self.kv_heads = a("attention.head_count_kv", self.heads)
        self.head_dim = a("attention.key_length", self.dim // self.heads)
        self.head_dim_v = a("attention.value_length", self.head_dim)
        self.hidden = a("feed_forward_length")
        self.eps = a("attention.layer_norm_rms_epsilon")
        self.n_rot = a("rope.dimension_count", self.head_dim)
        self.base = a("rope.freq_base", 10000.0)
        self.window = a("attention.sliding_window", 0) if self.arch == "gemma3" else 0
        self.pattern = a("attention.sliding_window_pattern", 6)
        self.softcap = a("final_logit_softcapping", 0.0)
        self.neox = self.arch != "llama"
        self.scale = 1 / math.sqrt(self.head_dim)
        if self.arch == "gemma3" and self.layers == 62:
            self.scale = 1 / math.sqrt(self.dim // self.heads)
        self.output = "output.weight" if "output.weight" in self.t else "token_embd.weight"

    def matmul(self, x, name):
        """x (tokens, K) times the weight (rows, K) transposed, as ggml would (--act-quant)."""
        w, wt = self.t[name], self.t[name + "#type"]
        if not self.act_quant or wt not in ACT_KIND:
            return x @ w.T
        kind = ACT_KIND[wt]
        xq, s = quantize_q8(x, kind)
        y = xq @ w.T
        if kind == "q8_1":  # the weights' min multiplies the stored (f16) block sums
            raw_min = self.t[name + "#min"]  # (rows, blocks)
            exact = xq.reshape(x.shape[0], -1, 32).sum(axis=2)  # (tokens, blocks)
            y += (s[:, :, 0] - exact) @ raw_min.T
        return y

    def rms(self, x, w):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, positions, base):
        """x: (tokens, heads, head_dim)."""
        half = self.n_rot // 2
        inv = base ** (-2.0 * np.arange(half) / self.n_rot)
        if "rope_freqs.weight" in self.t:
            inv = inv / self.t["rope_freqs.weight"]
        ang = positions[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x = x.copy()
        if self.neox:
            a, b = x[..., :half].copy(), x[..., half:self.n_rot].copy()
            x[..., :half], x[..., half:self.n_rot] = a * c - b * s, a * s + b * c
        else:
            a, b = x[..., 0:self.n_rot:2].copy(), x[..., 1:self.n_rot:2].copy()
            x[..., 0:self.n_rot:2], x[..., 1:self.n_rot:2] = a * c - b * s, a * s + b * c
        return x

    def forward(self, tokens):
        T = len(tokens)
        t = self.t
        x = t["token_embd.weight"][tokens].copy()
        if self.arch == "gemma3":
            x *= math.sqrt(self.dim)
        pos = np.arange(T, dtype=np.float64)
        qd, kvd = self.heads * self.head_dim, self.kv_heads * self.head_dim
        group = self.heads // self.kv_heads
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self.rms(x, t[p + "attn_norm.weight"])
            if p + "attn_qkv.weight" in t:
                qkv = self.matmul(h, p + "attn_qkv.weight")
                q, k, v = qkv[:, :qd], qkv[:, qd:qd + kvd], qkv[:, qd + kvd:]
            else:
                q, k, v = self.matmul(h, p + "attn_q.weight"), self.matmul(h, p + "attn_k.weight"), self.matmul(h, p + "attn_v.weight")
                if p + "attn_q.bias" in t:
                    q, k, v = q + t[p + "attn_q.bias"], k + t[p + "attn_k.bias"], v + t[p + "attn_v.bias"]
            q = q.reshape(T, self.heads, self.head_dim)
            k = k.reshape(T, self.kv_heads, self.head_dim)
            v = v.reshape(T, self.kv_heads, self.head_dim_v)
            if p + "attn_q_norm.weight" in t:
                q, k = self.rms(q, t[p + "attn_q_norm.weight"]), self.rms(k, t[p + "attn_k_norm.weight"])
            sliding = self.window > 0 and (self.pattern == 0 or l % self.pattern < self.pattern - 1)
            base = 10000.0 if sliding else self.base
            q, k = self.rope(q, pos, base), self.rope(k, pos, base)
            att = np.zeros((T, self.heads, self.head_dim_v))
            for hd in range(self.heads):
                kh, vh = k[:, hd // group, :], v[:, hd // group, :]
                scores = (q[:, hd, :] @ kh.T) * self.scale
                mask = np.tril(np.ones((T, T), bool))
                if sliding:
                    mask &= (pos[:, None] - pos[None, :]) < self.window
                scores = np.where(mask, scores, -np.inf)
                scores = np.exp(scores - scores.max(axis=1, keepdims=True))
                att[:, hd, :] = (scores / scores.sum(axis=1, keepdims=True)) @ vh
            o = self.matmul(att.reshape(T, -1), p + "attn_output.weight")
            if p + "attn_output.bias" in t:
                o = o + t[p + "attn_output.bias"]
            if p + "post_attention_norm.weight" in t:
                o = self.rms(o, t[p + "post_attention_norm.weight"])
            x = x + o
            h = self.rms(x, t[p + "ffn_norm.weight"])
            if p + "ffn_gate.weight" in t:
                gate, up = self.matmul(h, p + "ffn_gate.weight"), self.matmul(h, p + "ffn_up.weight")
            else:  # phi3: gate and up fused, gate first
                gu = self.matmul(h, p + "ffn_up.weight")
                gate, up = gu[:, :self.hidden], gu[:, self.hidden:]
            if self.arch == "gemma3":
                act = 0.5 * gate * (1 + np.tanh(math.sqrt(2 / math.pi) * (gate + 0.044715 * gate ** 3)))
            else:
                act = gate / (1 + np.exp(-gate))
            f = self.matmul(act * up, p + "ffn_down.weight")
            if p + "post_ffw_norm.weight" in t:
                f = self.rms(f, t[p + "post_ffw_norm.weight"])
            x = x + f
        logits = self.matmul(self.rms(x, t["output_norm.weight"]), self.output)
        if self.softcap:
            logits = self.softcap * np.tanh(logits / self.softcap)
        return logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="prompt ids, space separated")
    ap.add_argument("--steps", type=int, default=0, help="greedy continuation length")
    ap.add_argument("--act-quant", action="store_true")
    ap.add_argument("--rows", default="", help="only these prompt positions' logits (e.g. '0 7'); all by default")
    ap.add_argument("--digits", type=int, default=0, help="round logits to this many significant digits")
    args = ap.parse_args()
    m = Model(args.model, args.act_quant)
    tokens = [int(v) for v in args.tokens.split()]
    logits = m.forward(tokens)
    rows = [int(v) for v in args.rows.split()] if args.rows else list(range(len(tokens)))
    fmt = (lambda a: [float(f"{v:.{args.digits}g}") for v in a]) if args.digits else (lambda a: [float(v) for v in a])
    out = {"tokens": tokens, "rows": rows, "logits": [fmt(logits[r]) for r in rows], "greedy": [], "greedy_logits": [], "margins": []}
    seq, last = list(tokens), logits[-1]
    for _ in range(args.steps):
        order = np.argsort(-last, kind="stable")
        out["greedy"].append(int(order[0]))
        out["margins"].append(float(last[order[0]] - last[order[1]]))
        seq.append(int(order[0]))
        last = m.forward(seq)[-1]
        out["greedy_logits"].append(fmt(last))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
