#!/usr/bin/python3
"""Exports small random-weight CNNs from PyTorch to ONNX, with inputs and PyTorch's outputs,
for tessera's end-to-end tests (tests/onnx/models_test.cpp) and benchmarks.

Usage:
  /usr/bin/python3 scripts/make_onnx_models.py [OUT_DIR]          test fixtures (default
      tests/onnx/models): <name>.onnx, <name>.input_<i>.npy, <name>.output_<i>.npy. Committed:
      each model is a few KB to tens of KB, so the tests need no Python.
  /usr/bin/python3 scripts/make_onnx_models.py --bench OUT_DIR     resnet18 and mobilenet_v2 at
      224x224 (random weights; tens of MB, not committed) with an input and PyTorch's output.

Needs Debian's python3-torch and python3-onnx (and libopenblas0-pthread for torch's BLAS).
Weights are random (fixed seeds) and BatchNorm statistics are randomized too, so a folded
BatchNormalization is visible in the numbers. Outputs come from PyTorch in float32 eval mode.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def randomize_bn(module, gen):
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 0.8 + 0.4)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)


class ConvBnRelu(nn.Module):
    """Conv/BN/ReLU stacks, max pooling, 1x1 conv, global average pooling, linear head."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 12, 3, stride=2, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(12)
        self.c3 = nn.Conv2d(12, 16, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.relu(self.b2(self.c2(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu6(self.c3(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 pieces: depthwise + pointwise, ReLU6, HardSwish, residual add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.expand = nn.Sequential(nn.Conv2d(8, 24, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(24, 24, 3, 1, 1, groups=24, bias=False), nn.BatchNorm2d(24), nn.Hardswish())
        self.project = nn.Sequential(nn.Conv2d(24, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.dw5 = nn.Sequential(nn.Conv2d(8, 8, 5, 2, 2, groups=8), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.project(self.dw(self.expand(x)))
        return self.head(self.dw5(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class Residual(nn.Module):
    """ResNet basic blocks (identity and downsampling shortcuts), ceil_mode average pooling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)
        self.l1 = BasicBlock(8, 8, 1)
        self.l2 = BasicBlock(8, 16, 2)
        self.pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)

    def forward(self, x):
        return self.pool(self.l2(self.l1(F.relu(self.stem(x)))))


class UpsampleConcat(nn.Module):
    """An encoder/decoder: max pooling, nearest and bilinear upsampling, skip concatenation."""

    def __init__(self):
        super().__init__()
        self.e1 = nn.Conv2d(3, 6, 3, padding=1)
        self.e2 = nn.Conv2d(6, 10, 3, padding=1)
        self.d1 = nn.Conv2d(16, 6, 3, padding=1)
        self.d2 = nn.Conv2d(6 + 3, 4, 1)

    def forward(self, x):
        s1 = F.relu(self.e1(x))
        y = F.relu(self.e2(F.max_pool2d(s1, 2)))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = F.leaky_relu(self.d1(torch.cat([y, s1], 1)), 0.1)
        y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
        y = F.interpolate(y, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=True)
        return torch.sigmoid(self.d2(torch.cat([y, x], 1)))


class Transposed(nn.Module):
    """Transposed convolutions (stride 2, output_padding, groups), LeakyReLU, Tanh, Pad."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 8, 3, 2, 1)
        self.t1 = nn.ConvTranspose2d(8, 8, 3, 2, 1, output_padding=1, groups=2)
        self.t2 = nn.ConvTranspose2d(8, 3, 4, 2, 1)

    def forward(self, x):
        y = F.leaky_relu(self.c(x), 0.2)
        y = F.leaky_relu(self.t1(y), 0.2)
        y = F.pad(y, (1, 0, 2, 1), mode="reflect")
        return torch.tanh(self.t2(y))


class Attention(nn.Module):
    """A small transformer block: LayerNorm, multi-head self-attention (MatMul, Softmax),
    GELU MLP, residual adds."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / (d // h) ** 0.5, dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Conv1dNet(nn.Module):
    """1-D convolutions (dilation, groups), BatchNorm1d, max pooling, a dynamic batch."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(2, 8, 5, padding=2)
        self.b1 = nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 8, 3, dilation=2, padding=2, groups=4)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.b1(self.c1(x))), 2)
        x = F.elu(self.c2(x))
        return F.log_softmax(self.fc(x.mean(dim=2)), dim=1)


FIXTURES = [
    # name, module, input shapes, opset, dynamic batch (conv_bn_relu keeps its BatchNormalization
    # nodes: exported in training mode's graph form, see export())
    ("conv_bn_relu", ConvBnRelu, [(1, 3, 16, 16)], 13, False),
    ("inverted_residual", InvertedResidual, [(2, 3, 16, 16)], 14, False),
    ("residual", Residual, [(1, 3, 16, 16)], 11, False),
    ("upsample_concat", UpsampleConcat, [(1, 3, 16, 16)], 13, False),
    ("transposed", Transposed, [(1, 4, 10, 12)], 12, False),
    ("attention", Attention, [(2, 8, 16)], 17, False),
    ("conv1d", Conv1dNet, [(3, 2, 32)], 9, True),
]


def export(name, module, shapes, opset, dynamic, out_dir, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = module().eval()
    randomize_bn(model, gen)
    inputs = tuple(torch.randn(*s, generator=gen) for s in shapes)
    in_names = [f"input_{i}" for i in range(len(inputs))]
    with torch.no_grad():
        outs = model(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    out_names = [f"output_{i}" for i in range(len(outs))]
    dyn = {n: {0: "batch"} for n in in_names + out_names} if dynamic else None
    path = os.path.join(out_dir, name + ".onnx")
    # PyTorch folds BatchNorm into the conv when exporting in eval mode; PRESERVE keeps the
    # BatchNormalization nodes (still with the running statistics) so tessera's folding runs.
    keep_bn = name == "conv_bn_relu"
    torch.onnx.export(model, inputs, path, input_names=in_names, output_names=out_names, opset_version=opset,
                      dynamic_axes=dyn, do_constant_folding=not keep_bn,
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)
    for i, t in enumerate(inputs):
        np.save(os.path.join(out_dir, f"{name}.input_{i}.npy"), t.numpy().astype(np.float32))
    for i, t in enumerate(outs):
        np.save(os.path.join(out_dir, f"{name}.output_{i}.npy"), t.numpy().astype(np.float32))
    print(f"{path}: {os.path.getsize(path)} bytes")


def bench_models(out_dir):
    """resnet18 and mobilenet_v2 at 224x224, written without torchvision (not in Debian's
    python3-torch): the two architectures spelled out here."""
    os.makedirs(out_dir, exist_ok=True)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            blocks, cin = [], 64
            for cout, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
                blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            return self.fc(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))

    class MBBlock(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hid = cin * t
            layers = []
            if t != 1:
                layers += [nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6()]
            layers += [nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
                       nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.body = nn.Sequential(*layers)
            self.res = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.res else self.body(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
            cin = 32
            for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
                for i in range(n):
                    layers.append(MBBlock(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(1280, 1000)

        def forward(self, x):
            return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))

    for name, module in [("resnet18", ResNet18), ("mobilenet_v2", MobileNetV2)]:
        export(name, module, [(1, 3, 224, 224)], 13, False, out_dir, seed=7)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--bench":
        bench_models(args[1] if len(args) > 1 else "build/onnx-bench")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = args[0] if args else os.path.join(here, "..", "tests", "onnx", "models")
    os.makedirs(out_dir, exist_ok=True)
    for seed, (name, module, shapes, opset, dynamic) in enumerate(FIXTURES):
        export(name, module, shapes, opset, dynamic, out_dir, seed=100 + seed)


if __name__ == "__main__":
    main()
