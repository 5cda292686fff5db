#!/usr/bin/env /usr/bin/python3
"""Trains a small CNN on scikit-learn's bundled 8x8 digits (load_digits: 1797 images, no
download) and exports it to ONNX for tessera's examples and the ONNX runtime's tests.

  network   conv3x3(1->16)-BN-ReLU-maxpool2, conv3x3(16->32)-BN-ReLU-maxpool2, linear(128->10)
  input     `input` float32 [batch, 1, 8, 8]: pixel value / 16 (load_digits' values are 0..16)
  output    `logits` float32 [batch, 10]
  split     stratified 80 / 20 (train_test_split, random_state 0); the 20 % is never trained on

Writes examples/models/:
  digits_cnn.onnx               the model (opset 13, dynamic batch)
  digits_cnn_inputs.npy         the first 16 held-out digits, [16, 1, 8, 8], as fed to the model
  digits_cnn_outputs.npy        PyTorch's logits for them, [16, 10]
  digits_cnn_labels.npy         their true labels, int64 [16] (examples/digits.cpp)
  digits_cnn.json               held-out accuracy, labels of the 16 digits, training settings

Usage: scripts/train_digits_cnn.py [--epochs 60] [--seed 0]
Needs Debian's python3-torch, python3-onnx, python3-sklearn (scripts/install-deps.sh --models).
"""
import argparse
import json
import pathlib

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "models"


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def shifted(x, gen):
    """Random shifts of up to one pixel (zero fill): cheap augmentation for 8x8 digits."""
    out = torch.zeros_like(x)
    dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
    ys, yd = (slice(max(0, -dy), 8 - max(0, dy)), slice(max(0, dy), 8 - max(0, -dy)))
    xs, xd = (slice(max(0, -dx), 8 - max(0, dx)), slice(max(0, dx), 8 - max(0, -dx)))
    out[:, :, yd, xd] = x[:, :, ys, xs]
    return out


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    x_tr, x_te, y_tr, y_te = (torch.from_numpy(a) for a in (x_tr, x_te, y_tr, y_te))

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(shifted(x_tr[idx], gen)), y_tr[idx])
            loss.backward()
            opt.step()
        sched.step()
    train_acc, test_acc = accuracy(model, x_tr, y_tr), accuracy(model, x_te, y_te)
    print(f"train accuracy {train_acc:.4f}, held-out accuracy {test_acc:.4f} ({len(y_te)} digits)")

    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "digits_cnn.onnx"
    torch.onnx.export(model, x_te[:1], str(path), opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    import onnx
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    sample = x_te[:16]
    with torch.no_grad():
        logits = model(sample)
    np.save(OUT / "digits_cnn_inputs.npy", sample.numpy().astype("<f4"))
    np.save(OUT / "digits_cnn_outputs.npy", logits.numpy().astype("<f4"))
    np.save(OUT / "digits_cnn_labels.npy", np.asarray(y_te[:16], dtype="<i8"))
    info = {"generator": "scripts/train_digits_cnn.py", "dataset": "sklearn.datasets.load_digits (8x8, 1797 images)",
            "split": "train_test_split(test_size=0.2, stratify=y, random_state=0)",
            "held_out_images": len(y_te), "held_out_accuracy": round(test_acc, 4), "train_accuracy": round(train_acc, 4),
            "epochs": args.epochs, "seed": args.seed, "input": {"name": "input", "shape": ["batch", 1, 8, 8],
                                                              "normalization": "pixel / 16"},
            "output": {"name": "logits", "shape": ["batch", 10]},
            "sample_labels": [int(v) for v in y_te[:16]], "sample_predictions": [int(v) for v in logits.argmax(1)],
            "operators": sorted({n.op_type for n in m.graph.node}), "opset": 13,
            "parameters": sum(p.numel() for p in model.parameters()), "torch": torch.__version__}
    (OUT / "digits_cnn.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes), operators {info['operators']}")


if __name__ == "__main__":
    main()
