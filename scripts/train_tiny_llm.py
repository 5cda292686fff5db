#!/usr/bin/python3
"""Trains tessera's embedded demo LLM: a tiny llama-architecture model on Debian's fortunes.

It is a demo of the machinery (tokenizer, GGUF, forward pass, sampling), not a useful model:
a few million parameters trained for about an hour on one CPU core write word salad in the
style of the fortune cookies. Any llama-family GGUF runs the same way.

    scripts/train_tiny_llm.py train   [--work DIR] [--steps 620] [--resume]    # an hour or more of CPU
    scripts/train_tiny_llm.py export  [--work DIR]         # weights + vocabulary for the converter
    build/native/examples/tessera-llm-convert/tessera-llm-convert DIR/export examples/models/tiny_llm.gguf
    scripts/train_tiny_llm.py verify  [--work DIR] [--gguf examples/models/tiny_llm.gguf]
    scripts/train_tiny_llm.py sweep-vocab [--steps 60]     # how the vocabulary size was chosen
    scripts/train_tiny_llm.py converter-fixture --tool T   # examples/tessera-llm-convert/testdata

Steps:
  corpus   /usr/share/games/fortunes/* (Debian's fortunes and fortunes-min; ascii-art left
           out): the files hold fortunes separated by lines holding only "%"; each is cleaned
           (overstrike backspaces resolved, mis-decoded UTF-8 repaired, control characters
           other than tab and newline dropped, trailing blanks stripped) into one document,
           duplicates removed. Documents whose SHA-1 is 0 mod 20 (about 5 %) are held out for
           validation and never trained on, the tokenizer included.
  tokenizer SentencePiece BPE with byte fallback, as Llama's tokenizer.model is configured
           (identity normalization, no whitespace folding, a dummy prefix space, digits split),
           so that tessera's "llama" tokenizer (llm/tokenizer.hpp) must encode every text
           exactly as SentencePiece does. Each document is [BOS] ids [EOS].
  model    llama as llama.cpp's `llama` architecture computes it on the GGUF tensors: RMSNorm,
           RoPE rotating adjacent pairs (x[2i], x[2i+1]) by pos * base^(-2i/head_dim),
           grouped-query attention (query head h reads KV head h / (heads / kv_heads)), SwiGLU,
           tied input/output embeddings (no output.weight: llama.cpp then uses token_embd).
  train    AdamW, warm-up then cosine decay, random windows of the training tokens, one thread
           (the machine is shared); a checkpoint every few minutes (--resume continues it).
  export   DIR/export/: one .npy per GGUF tensor in PyTorch's [out, in] layout (the converter
           writes it with ggml dims {in, out}, the same bytes), hparams.json with the
           hyper-parameters and the vocabulary (pieces, scores, types).
  verify   reads the GGUF back with its own parser, checks every tensor and the vocabulary
           against the model, runs the forward pass in numpy float64 on the GGUF's tensors
           and compares it with PyTorch's; then writes next to the model:
             tiny_llm_reference.json  prompts, PyTorch's logits and greedy continuations
                                      (the oracle for tessera's forward pass)
             tiny_llm_tokenizer.cases held-out fortunes as SentencePiece tokenizes them
                                      (tests/llm/tokenizer_default_model_test.cpp)
             tiny_llm_report.md       hyper-parameters, loss curves, sample generations

Needs Debian's python3-torch, python3-sentencepiece, python3-numpy, fortunes, fortunes-min and
libopenblas0-pthread (without it Debian's torch is 5x slower): scripts/install-deps.sh --models.
"""
import argparse
import hashlib
import json
import math
import os
import pathlib
import re
import struct
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORTUNES = pathlib.Path("/usr/share/games/fortunes")
SKIP_FILES = {"ascii-art"}  # pictures, not text
MODELS = ROOT / "examples" / "models"

# The model (chosen by the measurements in the report: see sweep-vocab and the README of the
# report for why these sizes).
HPARAMS = dict(
    vocab_size=8192,
    dim=192,
    n_layers=4,
    n_heads=6,
    n_kv_heads=2,
    hidden_dim=512,
    context_length=256,
    norm_eps=1e-5,
    rope_base=10000.0,
)
TRAIN = dict(batch=16, lr=2e-3, min_lr=2e-4, warmup_fraction=0.04, weight_decay=0.1, grad_clip=1.0, seed=1234)

# Prompts of the reference outputs (tessera's forward pass is checked on them later).
PROMPTS = ["", "The", "Q: What is the difference between", "Your lucky number is"]
GREEDY_STEPS = 16


# ---- corpus ------------------------------------------------------------------------------------
def clean_document(text):
    if re.search("[\u00c2-\u00f4][\u0080-\u00bf]", text):  # UTF-8 decoded as Latin-1 somewhere upstream
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    while "\b" in text:  # nroff overstrike: "_\bx" underlines, "x\bx" bolds; keep what is printed last
        text = re.sub("[^\b]?\b", "", text, count=1)
    text = "".join(c for c in text if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127))
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def load_documents():
    if not FORTUNES.is_dir():
        sys.exit(f"{FORTUNES} is missing: apt-get install fortunes fortunes-min")
    docs, seen = [], set()
    for path in sorted(FORTUNES.iterdir()):
        if path.is_symlink() or path.suffix == ".dat" or not path.is_file() or path.name in SKIP_FILES:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for raw in re.split(r"^%[ \t]*$", text, flags=re.M):
            doc = clean_document(raw)
            if doc and doc not in seen:
                seen.add(doc)
                docs.append(doc)
    return docs


def is_held_out(doc):
    return int(hashlib.sha1(doc.encode("utf-8")).hexdigest()[:8], 16) % 20 == 0


def split_documents():
    docs = load_documents()
    train = [d for d in docs if not is_held_out(d)]
    valid = [d for d in docs if is_held_out(d)]
    return train, valid


# ---- tokenizer ---------------------------------------------------------------------------------
def train_tokenizer(train_docs, vocab_size, prefix):
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train_docs), model_prefix=str(prefix), vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.9999, max_sentence_length=1 << 16,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=str(prefix) + ".model")


def token_types(sp):
    """llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte."""
    types = []
    for i in range(sp.get_piece_size()):
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 5 if sp.is_unused(i) else 1)
    return types


def encode_documents(sp, docs):
    ids = []
    for d in docs:
        ids.append(sp.bos_id())
        ids.extend(sp.encode(d))
        ids.append(sp.eos_id())
    return np.asarray(ids, dtype=np.int64)


# ---- model -------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, length, base):
    """cos and sin [length, head_dim / 2] of theta_i = pos * base^(-2i / head_dim)."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    theta = torch.arange(length, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(theta).float(), torch.sin(theta).float()


def apply_rope(x, cos, sin):
    """x [..., T, head_dim]: pairs (x[2i], x[2i+1]) rotated, llama.cpp's "normal" RoPE."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.n_heads, self.n_kv_heads = h["n_heads"], h["n_kv_heads"]
        self.head_dim = h["dim"] // h["n_heads"]
        dim, kv = h["dim"], h["n_kv_heads"] * (h["dim"] // h["n_heads"])
        self.attn_norm = RMSNorm(dim, h["norm_eps"])
        self.attn_q = nn.Linear(dim, dim, bias=False)
        self.attn_k = nn.Linear(dim, kv, bias=False)
        self.attn_v = nn.Linear(dim, kv, bias=False)
        self.attn_output = nn.Linear(dim, dim, bias=False)
        self.ffn_norm = RMSNorm(dim, h["norm_eps"])
        self.ffn_gate = nn.Linear(dim, h["hidden_dim"], bias=False)
        self.ffn_up = nn.Linear(dim, h["hidden_dim"], bias=False)
        self.ffn_down = nn.Linear(h["hidden_dim"], dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.attn_norm(x)
        q = self.attn_q(a).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.attn_k(a).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.attn_v(a).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.n_heads // self.n_kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim) + mask
        o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.attn_output(o)
        f = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(f)) * self.ffn_up(f))


class Llama(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.h = h
        self.token_embd = nn.Embedding(h["vocab_size"], h["dim"])
        self.blocks = nn.ModuleList(Block(h) for _ in range(h["n_layers"]))
        self.output_norm = RMSNorm(h["dim"], h["norm_eps"])
        cos, sin = rope_tables(h["dim"] // h["n_heads"], h["context_length"], h["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:  # GPT-2's init: residual projections scaled down by depth
                std = 0.02 / math.sqrt(2 * h["n_layers"]) if name.endswith(("attn_output.weight", "ffn_down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        T = ids.shape[1]
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.token_embd(ids)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], mask)
        return self.output_norm(x) @ self.token_embd.weight.t()  # tied output

    def parameter_count(self):
        return sum(p.numel() for p in self.parameters())


# ---- training ----------------------------------------------------------------------------------
def lr_at(step, steps, t):
    """Linear warm-up over a fraction of the steps, then cosine decay to min_lr; until the step
    count is known (steps None: it is set from the first steps' speed), the warm-up's start."""
    if steps is None:
        return t["lr"] * (step + 1) / 200
    warmup = max(10, int(t["warmup_fraction"] * steps))
    if step < warmup:
        return t["lr"] * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1 + math.cos(math.pi * progress))


def make_optimizer(model, t):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]}, {"params": other, "weight_decay": 0.0}],
                             lr=t["lr"], betas=(0.9, 0.95), eps=1e-8)


def windows(tokens, starts, length):
    idx = torch.as_tensor(starts)[:, None] + torch.arange(length + 1)[None, :]
    w = torch.as_tensor(tokens)[idx]
    return w[:, :-1], w[:, 1:]


@torch.no_grad()
def evaluate(model, tokens, length, max_windows=64):
    """Mean next-token loss over non-overlapping windows from the start of `tokens`."""
    model.eval()
    n = min(max_windows, (len(tokens) - 1) // length)
    starts = np.arange(n) * length
    total = 0.0
    for i in range(0, n, 16):
        x, y = windows(tokens, starts[i:i + 16], length)
        total += F.cross_entropy(model(x).flatten(0, 1), y.flatten(), reduction="sum").item()
    model.train()
    return total / (n * length)


def prepare(work, vocab_size, log):
    """Corpus split, tokenizer (trained once per vocabulary size) and the token streams."""
    train_docs, valid_docs = split_documents()
    prefix = work / f"spm_{vocab_size}"
    if not pathlib.Path(str(prefix) + ".model").exists():
        train_tokenizer(train_docs, vocab_size, prefix)
    sp = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
    train_ids, valid_ids = encode_documents(sp, train_docs), encode_documents(sp, valid_docs)
    train_bytes = sum(len(d.encode("utf-8")) + 1 for d in train_docs)
    valid_bytes = sum(len(d.encode("utf-8")) + 1 for d in valid_docs)
    log(f"corpus: {len(train_docs)} training documents ({train_bytes} bytes, {len(train_ids)} tokens), "
        f"{len(valid_docs)} held out ({valid_bytes} bytes, {len(valid_ids)} tokens); vocabulary {vocab_size}: "
        f"{valid_bytes / len(valid_ids):.2f} bytes per token on the held-out text")
    return sp, train_ids, valid_ids, valid_bytes


def train(work, h, t, minutes, resume, log, checkpoint_minutes=4.0, steps=None, tag="model"):
    """Trains for `steps` (or as many as fit in `minutes`, estimated after 8 steps when
    steps is None), checkpointing to work/<tag>.pt. Returns the history."""
    torch.manual_seed(t["seed"])
    sp, train_ids, valid_ids, valid_bytes = prepare(work, h["vocab_size"], log)
    ckpt_path = work / f"{tag}.pt"
    model = Llama(h)
    opt = make_optimizer(model, t)
    gen = torch.Generator().manual_seed(t["seed"])
    state = {"step": 0, "steps": steps, "history": [], "seconds": 0.0}
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        state = ck["state"]
        log(f"resumed at step {state['step']} of {state['steps']}")
    log(f"model: {model.parameter_count()} parameters, {json.dumps(h)}; training {json.dumps(t)}")

    def save():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                    "state": state, "hparams": h, "train": t}, tmp)
        os.replace(tmp, ckpt_path)

    T, B = h["context_length"], t["batch"]
    started = time.time() - state["seconds"]
    last_save = time.time()
    running, running_n = 0.0, 0
    eval_every = 50
    while state["steps"] is None or state["step"] < state["steps"]:
        step = state["step"]
        if state["steps"] is None and step == 8:
            per_step = (time.time() - started) / 8
            state["steps"] = max(40, int(minutes * 60 / per_step))
            log(f"{per_step:.2f} s a step: {state['steps']} steps in {minutes} minutes")
        for g in opt.param_groups:
            g["lr"] = lr_at(step, state["steps"], t)
        starts = torch.randint(0, len(train_ids) - T - 1, (B,), generator=gen).numpy()
        x, y = windows(train_ids, starts, T)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        opt.step()
        running += loss.item()
        running_n += 1
        state["step"] += 1
        state["seconds"] = time.time() - started
        done = state["steps"] is not None and state["step"] >= state["steps"]
        if state["step"] % eval_every == 0 or done:
            val = evaluate(model, valid_ids, T)
            tokens_per_byte = len(valid_ids) / valid_bytes
            rec = {"step": state["step"], "minutes": round(state["seconds"] / 60, 2), "train_loss": round(running / running_n, 4),
                   "valid_loss": round(val, 4), "valid_bits_per_byte": round(val * tokens_per_byte / math.log(2), 4),
                   "lr": round(lr_at(step, state["steps"], t), 6)}
            state["history"].append(rec)
            log(json.dumps(rec))
            running, running_n = 0.0, 0
        if done or time.time() - last_save > checkpoint_minutes * 60:
            save()
            last_save = time.time()
    save()
    return model, sp, state


# ---- sampling ----------------------------------------------------------------------------------
@torch.no_grad()
def generate(model, ids, steps, eos, temperature=0.0, top_k=0, gen=None):
    """Continues ids; greedy at temperature 0. Returns the new ids and each step's logits."""
    ids, new, rows = list(ids), [], []
    for _ in range(steps):
        logits = model(torch.tensor([ids[-model.h["context_length"]:]]))[0, -1]
        rows.append(logits.clone())
        if temperature == 0:
            nxt = int(logits.argmax())
        else:
            l = logits / temperature
            if top_k:
                kth = torch.topk(l, top_k).values[-1]
                l = torch.where(l < kth, torch.full_like(l, float("-inf")), l)
            nxt = int(torch.multinomial(l.softmax(-1), 1, generator=gen))
        new.append(nxt)
        ids.append(nxt)
        if nxt == eos:
            break
    return new, rows


# ---- GGUF reading (own parser: checks what the C++ converter wrote) -----------------------------
GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(path):
    data = pathlib.Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(GGUF_SCALARS[t])

    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    meta, types = {}, {}
    for _ in range(n_kv):
        key = string()
        types[key] = take("<I")
        meta[key] = value(types[key])
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take("<Q") for _ in range(take("<I"))]
        infos.append((name, dims, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, dims, ggml_type, offset in infos:
        n = int(np.prod(dims))
        dtype = {0: np.float32, 1: np.float16}[ggml_type]
        flat = np.frombuffer(data, dtype=dtype, count=n, offset=base + offset).astype(np.float32)
        tensors[name] = flat.reshape(list(reversed(dims)))  # ggml's ne[0] varies fastest: numpy's last axis
    return version, meta, types, tensors


def numpy_forward(meta, t, ids):
    """llama.cpp's llama graph on the GGUF's tensors in float64: logits [len(ids), vocab]."""
    a = meta["general.architecture"]
    dim, n_layers = meta[f"{a}.embedding_length"], meta[f"{a}.block_count"]
    n_heads, n_kv = meta[f"{a}.attention.head_count"], meta[f"{a}.attention.head_count_kv"]
    eps, base, n_rot = meta[f"{a}.attention.layer_norm_rms_epsilon"], meta[f"{a}.rope.freq_base"], meta[f"{a}.rope.dimension_count"]
    hd = dim // n_heads
    g = {k: v.astype(np.float64) for k, v in t.items()}

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x [T, heads, hd]
        pos = np.arange(x.shape[0], dtype=np.float64)[:, None]
        theta = pos * base ** (-np.arange(0, n_rot, 2) / n_rot)[None, :]
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        out = x.copy()
        x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        out[..., 0:n_rot:2], out[..., 1:n_rot:2] = x0 * c - x1 * s, x0 * s + x1 * c
        return out

    T = len(ids)
    x = g["token_embd.weight"][ids]
    causal = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(n_layers):
        p = f"blk.{l}."
        h = rms(x, g[p + "attn_norm.weight"])
        q = rope((h @ g[p + "attn_q.weight"].T).reshape(T, n_heads, hd))
        k = rope((h @ g[p + "attn_k.weight"].T).reshape(T, n_kv, hd))
        v = (h @ g[p + "attn_v.weight"].T).reshape(T, n_kv, hd)
        o = np.empty((T, n_heads, hd))
        for head in range(n_heads):
            kv = head // (n_heads // n_kv)
            s = q[:, head] @ k[:, kv].T / math.sqrt(hd) + causal
            s = np.exp(s - s.max(-1, keepdims=True))
            o[:, head] = (s / s.sum(-1, keepdims=True)) @ v[:, kv]
        x = x + o.reshape(T, dim) @ g[p + "attn_output.weight"].T
        f = rms(x, g[p + "ffn_norm.weight"])
        gate = f @ g[p + "ffn_gate.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * (f @ g[p + "ffn_up.weight"].T)) @ g[p + "ffn_down.weight"].T
    out = g.get("output.weight", g["token_embd.weight"])
    return rms(x, g["output_norm.weight"]) @ out.T


# ---- commands ----------------------------------------------------------------------------------
def logger(path):
    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
    return log


def load_trained(work):
    ck = torch.load(work / "model.pt")
    model = Llama(ck["hparams"])
    model.load_state_dict(ck["model"])
    model.eval()
    sp = spm.SentencePieceProcessor(model_file=str(work / f"spm_{ck['hparams']['vocab_size']}.model"))
    return model, sp, ck


def tensors_of(model):
    """GGUF name -> float32 array in PyTorch's layout ([out, in] for matrices)."""
    out = {"token_embd.weight": model.token_embd.weight}
    for i, b in enumerate(model.blocks):
        for name in ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]:
            out[f"blk.{i}.{name}.weight"] = getattr(b, name).weight
    out["output_norm.weight"] = model.output_norm.weight
    return {k: v.detach().numpy().astype(np.float32) for k, v in out.items()}


def write_export(out, name, h, tensors, tokenizer):
    """The converter's input: one .npy per tensor (PyTorch layout) and hparams.json."""
    out.mkdir(parents=True, exist_ok=True)
    for tensor, arr in tensors.items():
        np.save(out / f"{tensor}.npy", np.ascontiguousarray(arr, dtype=np.float32))
    meta = {"name": name, "hparams": h, "tensors": list(tensors), "tokenizer": tokenizer}
    (out / "hparams.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def cmd_export(args):
    model, sp, ck = load_trained(args.work)
    n = sp.get_piece_size()
    tokenizer = {
        "pieces": [sp.id_to_piece(i) for i in range(n)],
        "scores": [sp.get_score(i) for i in range(n)],
        "types": token_types(sp),
        "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(),
        "add_bos_token": True, "add_eos_token": False, "add_space_prefix": True,
    }
    tensors = tensors_of(model)
    write_export(args.work / "export", "tessera tiny fortunes llama", ck["hparams"], tensors, tokenizer)
    print(f"wrote {len(tensors)} tensors and hparams.json to {args.work / 'export'}")


def cmd_converter_fixture(args):
    """The CLI checks' input (examples/tessera-llm-convert/testdata): a llama of random weights
    with dim 4, one layer, 2 query heads on 1 KV head and a vocabulary of 5; bad_attn_k.npy is its
    attn_k transposed. With --tool, also converts it into expected.gguf and checks that file
    with the parser above (every tensor's dims reversed and bytes equal, the metadata)."""
    rng = np.random.default_rng(5)
    h = dict(vocab_size=5, dim=4, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=8, context_length=16, norm_eps=1e-6,
             rope_base=10000.0)
    shapes = {"token_embd.weight": (5, 4), "blk.0.attn_norm.weight": (4,), "blk.0.attn_q.weight": (4, 4),
              "blk.0.attn_k.weight": (2, 4), "blk.0.attn_v.weight": (2, 4), "blk.0.attn_output.weight": (4, 4),
              "blk.0.ffn_norm.weight": (4,), "blk.0.ffn_gate.weight": (8, 4), "blk.0.ffn_up.weight": (8, 4),
              "blk.0.ffn_down.weight": (4, 8), "output_norm.weight": (4,), "output.weight": (5, 4)}
    tensors = {k: rng.uniform(-1, 1, v).astype(np.float32) for k, v in shapes.items()}
    tokenizer = {"pieces": ["<unk>", "<s>", "</s>", "\u2581a", "b"], "scores": [0.0, 0.0, 0.0, -1.0, -2.5],
                 "types": [2, 3, 3, 1, 1], "bos_id": 1, "eos_id": 2, "unk_id": 0,
                 "add_bos_token": True, "add_eos_token": False, "add_space_prefix": True}
    write_export(args.out, "converter fixture", h, tensors, tokenizer)
    np.save(args.out / "bad_attn_k.npy", np.ascontiguousarray(tensors["blk.0.attn_k.weight"].T))
    if args.tool:
        import subprocess
        gguf = args.out / "expected.gguf"
        subprocess.run([str(args.tool), str(args.out), str(gguf)], check=True)
        version, meta, _, g = read_gguf(gguf)
        assert version == 3 and meta["general.architecture"] == "llama" and meta["llama.attention.head_count_kv"] == 1
        assert meta["tokenizer.ggml.tokens"] == tokenizer["pieces"] and meta["tokenizer.ggml.token_type"] == tokenizer["types"]
        assert meta["tokenizer.ggml.scores"] == tokenizer["scores"]
        assert set(g) == set(tensors) and all(np.array_equal(g[k], v) for k, v in tensors.items())
        print(f"{gguf}: checked")


def cmd_verify(args):
    model, sp, ck = load_trained(args.work)
    h = ck["hparams"]
    version, meta, types, g = read_gguf(args.gguf)
    size = os.path.getsize(args.gguf)
    problems = []

    def check(cond, what):
        if not cond:
            problems.append(what)

    check(version == 3, f"GGUF version {version}")
    a = "llama"
    expect = {"general.architecture": a, f"{a}.context_length": h["context_length"], f"{a}.embedding_length": h["dim"],
              f"{a}.block_count": h["n_layers"], f"{a}.feed_forward_length": h["hidden_dim"],
              f"{a}.attention.head_count": h["n_heads"], f"{a}.attention.head_count_kv": h["n_kv_heads"],
              f"{a}.rope.dimension_count": h["dim"] // h["n_heads"], "tokenizer.ggml.model": "llama",
              "tokenizer.ggml.bos_token_id": sp.bos_id(), "tokenizer.ggml.eos_token_id": sp.eos_id(),
              "tokenizer.ggml.unknown_token_id": sp.unk_id(), "tokenizer.ggml.add_bos_token": True}
    for k, v in expect.items():
        check(meta.get(k) == v, f"{k} = {meta.get(k)!r}, expected {v!r}")
    check(abs(meta.get(f"{a}.attention.layer_norm_rms_epsilon", 0) - h["norm_eps"]) < 1e-12, "norm eps")
    check(meta.get(f"{a}.rope.freq_base") == h["rope_base"], "rope base")
    n = sp.get_piece_size()
    check(meta["tokenizer.ggml.tokens"] == [sp.id_to_piece(i) for i in range(n)], "token pieces differ")
    check(np.array_equal(np.float32(meta["tokenizer.ggml.scores"]), np.float32([sp.get_score(i) for i in range(n)])), "scores differ")
    check(meta["tokenizer.ggml.token_type"] == token_types(sp), "token types differ")
    ref = tensors_of(model)
    check(set(g) == set(ref), f"tensor names {sorted(set(g) ^ set(ref))}")
    for name, arr in ref.items():
        if name in g:
            check(g[name].shape == arr.shape and np.array_equal(g[name], arr), f"tensor {name} differs (shape {g[name].shape} vs {arr.shape})")
    # The forward pass on the GGUF's tensors (numpy, float64) against PyTorch's.
    cases, worst = [], 0.0
    for text in PROMPTS:
        prompt = [sp.bos_id()] + sp.encode(text)
        greedy, _ = generate(model, prompt, GREEDY_STEPS, sp.eos_id())
        seq = prompt + greedy
        with torch.no_grad():
            torch_logits = model(torch.tensor([seq]))[0].double().numpy()
        np_logits = numpy_forward(meta, g, seq)
        scale = max(1.0, float(np.abs(np_logits).max()))
        worst = max(worst, float(np.abs(np_logits - torch_logits).max()) / scale)
        top2 = np.sort(torch_logits, axis=-1)[:, -2:]
        last = len(prompt) - 1
        clear = (top2[last:-1, 1] - top2[last:-1, 0]) > 1e-3  # steps a float32/float64 difference cannot flip
        check(np.array_equal(np_logits[last:-1].argmax(-1)[clear], np.asarray(greedy)[clear]), f"numpy greedy differs for {text!r}")
        cases.append({
            "prompt": text, "tokens": prompt, "greedy": greedy, "rows": [last, last + 1],
            "logits": [[float(f"{v:.6g}") for v in torch_logits[r]] for r in (last, last + 1)],
            "margins": [round(float(top2[len(prompt) - 1 + i, 1] - top2[len(prompt) - 1 + i, 0]), 5) for i in range(len(greedy))],
            "text": sp.decode(prompt[1:] + greedy),
        })
    check(worst < 1e-4, f"numpy forward pass on the GGUF differs from PyTorch by {worst:.2e} (relative)")
    print(f"{args.gguf}: {size} bytes, {len(g)} tensors; numpy float64 forward on the GGUF vs PyTorch: "
          f"max |diff| / max |logit| = {worst:.2e}")
    if problems:
        sys.exit("verify failed:\n  " + "\n  ".join(problems))
    out_dir = pathlib.Path(args.gguf).resolve().parent
    stem = pathlib.Path(args.gguf).stem
    reference = {"model": pathlib.Path(args.gguf).name, "note": "PyTorch float32 logits (6 significant digits) of the model as stored (F32). "
                 "tokens: the prompt's ids, BOS first; greedy: the argmax continuation (stops at EOS); rows: positions "
                 "in tokens + greedy whose logits are given (the last prompt token's, which pick greedy[0], and the "
                 "next); margins: top-1 minus top-2 logit at each greedy step; text: prompt and continuation decoded", "cases": cases}
    (out_dir / f"{stem}_reference.json").write_text(json.dumps(reference) + "\n", encoding="utf-8")
    write_tokenizer_cases(sp, out_dir / f"{stem}_tokenizer.cases")
    write_report(model, sp, ck, out_dir / f"{stem}_report.md", pathlib.Path(args.gguf), worst)
    print(f"wrote {stem}_reference.json, {stem}_tokenizer.cases, {stem}_report.md in {out_dir}")


def write_tokenizer_cases(sp, path, count=200):
    """Held-out fortunes (and a few edge cases) as SentencePiece encodes them: three lines a
    case, the text as hex UTF-8, the ids (no BOS), the decoded text as hex."""
    _, valid = split_documents()
    texts = valid[:count] + ["", " ", "  leading spaces", "trailing space ", "tab\there", "line\n\nbreaks\n",
                             "digits 1234567890", "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600", "<s> </s> <unk> as text",
                             "\u2581 literal", "a" * 300]
    lines = []
    for text in texts:
        ids = sp.encode(text)
        lines += [text.encode("utf-8").hex(), " ".join(map(str, ids)), sp.decode(ids).encode("utf-8").hex()]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def write_report(model, sp, ck, path, gguf, worst):
    h, t, st = ck["hparams"], ck["train"], ck["state"]
    gen = torch.Generator().manual_seed(7)
    samples = []
    for text in PROMPTS:
        prompt = [sp.bos_id()] + sp.encode(text)
        greedy, _ = generate(model, prompt, 48, sp.eos_id())
        sampled = [generate(model, prompt, 64, sp.eos_id(), temperature=0.8, top_k=40, gen=gen)[0] for _ in range(2)]
        samples.append((text, sp.decode(prompt[1:] + greedy), [sp.decode(prompt[1:] + s) for s in sampled]))
    hist = st["history"]
    pick = hist if len(hist) <= 24 else [hist[i * (len(hist) - 1) // 23] for i in range(24)]
    lines = [
        "# tiny_llm.gguf: the embedded demo model", "",
        "A tiny llama-architecture model trained by `scripts/train_tiny_llm.py` on one CPU core on Debian's "
        "fortunes (`/usr/share/games/fortunes`, packages fortunes and fortunes-min). It is a demo of "
        "tessera's LLM path (GGUF, tokenizer, forward pass, sampling) and writes word salad in the corpus's "
        "style; any llama-family GGUF runs the same way.", "",
        f"- parameters: {model.parameter_count():,} (tied input/output embeddings); file {gguf.stat().st_size:,} bytes, F32",
        f"- hyper-parameters: `{json.dumps(h)}`",
        f"- training: `{json.dumps(t)}`, {st['step']} steps of {t['batch']} x {h['context_length']} tokens, "
        f"{st['seconds'] / 60:.1f} minutes on one thread",
        f"- tokenizer: SentencePiece BPE, {sp.get_piece_size()} pieces with byte fallback, identity normalization",
        f"- numpy float64 forward pass on the GGUF's tensors vs PyTorch: max |diff| / max |logit| = {worst:.1e}", "",
        "## Loss (nats per token; bits per byte on the held-out fortunes)", "",
        "| step | minutes | train loss | held-out loss | held-out bits/byte | lr |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['step']} | {r['minutes']} | {r['train_loss']} | {r['valid_loss']} | {r['valid_bits_per_byte']} | {r['lr']} |" for r in pick]
    lines += ["", "## Samples (PyTorch; greedy, then two at temperature 0.8, top-k 40, seed 7)", ""]
    for text, greedy, sampled in samples:
        lines += [f"### prompt {text!r}", "", "greedy:", "```", greedy, "```"]
        for s in sampled:
            lines += ["sampled:", "```", s, "```"]
        lines.append("")
    sweep = ck.get("vocab_sweep") or load_sweep(pathlib.Path(ck.get("work", "")))
    if sweep:
        lines += ["## Vocabulary size (sweep-vocab: the same model and training FLOPs, held-out bits per byte)", "",
                  "| vocabulary | parameters | steps | bytes/token | held-out loss | held-out bits/byte |", "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {s['vocab_size']} | {s['parameters']:,} | {s['steps']} | {s['bytes_per_token']} | {s['valid_loss']} | "
                  f"{s['valid_bits_per_byte']} |" for s in sweep]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def load_sweep(work):
    p = work / "vocab_sweep.json"
    return json.loads(p.read_text()) if p.is_file() else None


def cmd_train(args):
    args.work.mkdir(parents=True, exist_ok=True)
    log = logger(args.work / "train.log")
    h = dict(HPARAMS)
    if args.vocab:
        h["vocab_size"] = args.vocab
    train(args.work, h, dict(TRAIN), args.minutes, args.resume, log, steps=None if args.minutes else args.steps)
    ck = torch.load(args.work / "model.pt")
    ck["work"] = str(args.work)
    torch.save(ck, args.work / "model.pt")


def flops_per_token(h):
    """Training FLOPs per token (forward + backward = 3x forward): the matrix products, the
    tied output projection and attention over the full window as computed here."""
    d, L, T, kv = h["dim"], h["n_layers"], h["context_length"], h["n_kv_heads"] * (h["dim"] // h["n_heads"])
    matrices = L * (2 * d * d + 2 * d * kv + 3 * d * h["hidden_dim"]) + h["vocab_size"] * d
    return 3 * (2 * matrices + L * 4 * T * d)


def cmd_sweep(args):
    """Short runs of the same model at several vocabulary sizes with the same compute (FLOPs
    of `--steps` steps at vocabulary `--budget-vocab`): held-out bits per byte. A bigger vocabulary
    compresses the text into fewer tokens but costs embedding parameters and output-layer
    FLOPs. Compute, not minutes, is held equal: the machine is shared, its speed varies."""
    args.work.mkdir(parents=True, exist_ok=True)
    log = logger(args.work / "sweep.log")
    budget = args.steps * TRAIN["batch"] * HPARAMS["context_length"] * flops_per_token(dict(HPARAMS, vocab_size=args.budget_vocab))
    results = []
    for v in args.sizes:
        h = dict(HPARAMS, vocab_size=v)
        steps = round(budget / (TRAIN["batch"] * h["context_length"] * flops_per_token(h)))
        model, sp, st = train(args.work, h, dict(TRAIN), 0, False, log, steps=steps, tag=f"sweep_{v}")
        _, valid = split_documents()
        vb = sum(len(d.encode("utf-8")) + 1 for d in valid)
        results.append({"vocab_size": v, "parameters": model.parameter_count(), "steps": st["step"],
                        "bytes_per_token": round(vb / len(encode_documents(sp, valid)), 3),
                        "valid_loss": st["history"][-1]["valid_loss"], "valid_bits_per_byte": st["history"][-1]["valid_bits_per_byte"]})
        log(json.dumps(results[-1]))
    (args.work / "vocab_sweep.json").write_text(json.dumps(results, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ["train", "export", "verify", "sweep-vocab", "converter-fixture"]:
        p = sub.add_parser(name)
        p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/work/scratch/tiny-llm"),
                       help="checkpoints, tokenizer, logs and the export (default /work/scratch/tiny-llm)")
        if name == "train":
            p.add_argument("--steps", type=int, default=620, help="training steps (default 620: about 3.5 epochs)")
            p.add_argument("--minutes", type=float, default=None,
                           help="instead of --steps: as many steps as fit in this time (measured on the first 8)")
            p.add_argument("--vocab", type=int, default=0, help=f"vocabulary size (default {HPARAMS['vocab_size']})")
            p.add_argument("--resume", action="store_true", help="continue from WORK/model.pt")
        if name == "verify":
            p.add_argument("--gguf", type=pathlib.Path, default=MODELS / "tiny_llm.gguf")
        if name == "converter-fixture":
            p.add_argument("--out", type=pathlib.Path, default=ROOT / "examples" / "tessera-llm-convert" / "testdata")
            p.add_argument("--tool", type=pathlib.Path, help="tessera-llm-convert: also write and check expected.gguf")
        if name == "sweep-vocab":
            p.add_argument("--steps", type=int, default=60, help="the compute of this many steps ...")
            p.add_argument("--budget-vocab", type=int, default=4096, help="... at this vocabulary size")
            p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TINY_LLM_THREADS", "1")))  # the machine is shared
    {"train": cmd_train, "export": cmd_export, "verify": cmd_verify, "sweep-vocab": cmd_sweep,
     "converter-fixture": cmd_converter_fixture}[args.cmd](args)


if __name__ == "__main__":
    main()
