#!/usr/bin/env /usr/bin/python3
"""YOLOv8n-shaped detectors with random (seeded) weights, exported to ONNX like Ultralytics'
export, with an input tensor and PyTorch's raw output saved for the ONNX runtime's tests.

The network is written here from the published YOLOv8 architecture (no Ultralytics code):
  backbone  Conv-BN-SiLU stem and downsamplers, C2f blocks (split, n bottlenecks, concat), SPPF
  neck      PAN: upsample + concat + C2f top-down, strided Conv + concat + C2f bottom-up
  head      decoupled, anchor-free: per level a box branch (4 x reg_max DFL logits) and a class
            branch; DFL (softmax over reg_max bins, expectation by a fixed 1x1 conv) and the
            box decode (distances to the anchor point -> cx, cy, w, h, times the stride) inside
            the graph, so the output is [1, 4 + C, anchors] like Ultralytics' ONNX export
Conv and BatchNorm are fused before export (as Ultralytics' export does), so the graph holds
Conv, Sigmoid, Mul, Add, Split, Concat, MaxPool, Resize, Reshape, Transpose, Softmax, Slice, Sub, Div.

Models:
  yolov8n   640 x 640, 80 classes, width 0.25 / depth 0.33 (3.2 M parameters, ~12 MB): output
            [1, 84, 8400]. Written to build/models/yolov8n_random/ (gitignored) by default.
  tiny      64 x 64, 3 classes, channels 4..16, a box branch 8 wide (YOLOv8's rule would give
            64; reg_max stays 16): output [1, 7, 84]. Small enough to commit
            (tests/models/yolov8_tiny/, < 200 KB with its input and output).
Each folder gets model.onnx, input.npy (float32 [1, 3, H, W] in [0, 1]), output.npy (PyTorch's
output for that input) and info.json (shapes, opset, seed, parameter count).

Usage: scripts/make_detector_models.py [--which tiny|yolov8n|both] [--out DIR] [--opset 17]
Needs Debian's python3-torch and python3-onnx (scripts/install-deps.sh --models installs them;
libopenblas0-pthread keeps torch fast).
"""
import argparse
import json
import math
import pathlib

import numpy as np
import torch
import torch.nn as nn

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Conv(nn.Module):
    """Conv2d (no bias) + BatchNorm + SiLU, 'same' padding."""

    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut):
        super().__init__()
        self.cv1 = Conv(c, c, 3)
        self.cv2 = Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """1x1 conv to 2c channels, split in halves, n bottlenecks on the second half, each output
    kept, all concatenated and mixed by a 1x1 conv."""

    def __init__(self, c1, c2, n=1, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max-pools, concatenated."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(4 * c_, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """Decoupled anchor-free head with DFL and the box decode in the graph. The input size is
    fixed (a static export, as Ultralytics' default), so the anchor points are constants."""

    def __init__(self, nc, ch, strides, size, reg_max=16, box_width=None):
        super().__init__()
        self.nc, self.reg_max = nc, reg_max
        self.grids = [(size // s, size // s) for s in strides]
        c2 = box_width or max(16, ch[0] // 4, 4 * reg_max)
        c3 = max(ch[0], min(nc, 100))
        self.box = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for x in ch)
        self.cls = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.dfl.weight.data[:] = torch.arange(reg_max, dtype=torch.float32).view(1, reg_max, 1, 1)
        points, stride = [], []
        for (h, w), s in zip(self.grids, strides):  # cell centres, in grid units
            sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                                    torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
            points.append(torch.stack((sx, sy), -1).view(-1, 2))
            stride.append(torch.full((h * w, 1), float(s)))
        self.register_buffer("anchor_points", torch.cat(points).transpose(0, 1).unsqueeze(0))  # [1, 2, A]
        self.register_buffer("stride", torch.cat(stride).transpose(0, 1).unsqueeze(0))        # [1, 1, A]

    def forward(self, feats):
        no = 4 * self.reg_max + self.nc
        x = [torch.cat((self.box[i](f), self.cls[i](f)), 1).reshape(1, no, h * w)
             for i, (f, (h, w)) in enumerate(zip(feats, self.grids))]
        x = torch.cat(x, 2)  # [1, 4 reg_max + nc, A]
        a = x.shape[2]
        box, cls = x.split((4 * self.reg_max, self.nc), 1)
        # DFL: the expected distance under a softmax over reg_max bins, per side.
        dist = self.dfl(box.reshape(1, 4, self.reg_max, a).transpose(2, 1).softmax(1)).reshape(1, 4, a)
        lt, rb = dist.split((2, 2), 1)
        x1y1, x2y2 = self.anchor_points - lt, self.anchor_points + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * self.stride
        return torch.cat((xywh, cls.sigmoid()), 1)


class YOLOv8(nn.Module):
    def __init__(self, nc, widths, depths, size, box_width=None):
        super().__init__()
        w0, w1, w2, w3, w4 = widths  # stem, P2, P3, P4, P5 channels
        n2, n3, n4, n5, nh = depths
        self.b0 = Conv(3, w0, 3, 2)
        self.b1 = Conv(w0, w1, 3, 2)
        self.b2 = C2f(w1, w1, n2, True)
        self.b3 = Conv(w1, w2, 3, 2)
        self.b4 = C2f(w2, w2, n3, True)  # P3
        self.b5 = Conv(w2, w3, 3, 2)
        self.b6 = C2f(w3, w3, n4, True)  # P4
        self.b7 = Conv(w3, w4, 3, 2)
        self.b8 = C2f(w4, w4, n5, True)
        self.b9 = SPPF(w4, w4)  # P5
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(w4 + w3, w3, nh)
        self.h15 = C2f(w3 + w2, w2, nh)  # P3 out
        self.h16 = Conv(w2, w2, 3, 2)
        self.h18 = C2f(w2 + w3, w3, nh)  # P4 out
        self.h19 = Conv(w3, w3, 3, 2)
        self.h21 = C2f(w3 + w4, w4, nh)  # P5 out
        self.detect = Detect(nc, (w2, w3, w4), (8, 16, 32), size, box_width=box_width)

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        t4 = self.h12(torch.cat((self.up(p5), p4), 1))
        o3 = self.h15(torch.cat((self.up(t4), p3), 1))
        o4 = self.h18(torch.cat((self.h16(o3), t4), 1))
        o5 = self.h21(torch.cat((self.h19(o4), p5), 1))
        return self.detect([o3, o4, o5])


def randomize_batchnorm(model, gen):
    """Random running statistics and affine parameters, so that fusing is not a no-op."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def fuse(model):
    """Folds each BatchNorm into its Conv (eval-mode arithmetic), as Ultralytics' export does."""
    for m in model.modules():
        if isinstance(m, Conv):
            conv, bn = m.conv, m.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
            fused.weight.data = conv.weight.data * scale.view(-1, 1, 1, 1)
            fused.bias.data = bn.bias.data - bn.running_mean * scale
            m.conv, m.bn = fused, nn.Identity()
    return model


def smooth_image(h, w, gen):
    """A deterministic photo-like input in [0, 1]: low-frequency colour fields plus noise."""
    coarse = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    img = img + 0.05 * torch.randn(1, 3, h, w, generator=gen)
    return img.clamp(0, 1)


CONFIGS = {
    # name: (input size, classes, widths, depths, box branch width (None: YOLOv8's rule), folder)
    "yolov8n": (640, 80, (16, 32, 64, 128, 256), (1, 2, 2, 1, 1), None, ROOT / "build" / "models" / "yolov8n_random"),
    "tiny": (64, 3, (4, 8, 8, 12, 16), (1, 1, 1, 1, 1), 8, ROOT / "tests" / "models" / "yolov8_tiny"),
}


def make(name, out_dir, opset, seed):
    import onnx

    size, nc, widths, depths, box_width, _ = CONFIGS[name]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = YOLOv8(nc, widths, depths, size, box_width)
    randomize_batchnorm(model, gen)
    model = fuse(model.eval())
    params = sum(p.numel() for p in model.parameters())
    x = smooth_image(size, size, gen)
    with torch.no_grad():
        y = model(x)
    anchors = sum((size // s) ** 2 for s in (8, 16, 32))
    assert tuple(y.shape) == (1, 4 + nc, anchors), y.shape
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    torch.onnx.export(model, x, str(path), opset_version=opset, input_names=["images"], output_names=["output0"],
                      do_constant_folding=True)
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    # Ultralytics puts the class names in the metadata as str() of a dict.
    names = {i: f"class{i}" for i in range(nc)}
    if nc == 80:
        names[0] = "person"
    for k, v in (("names", str(names)), ("stride", "32"), ("task", "detect"), ("imgsz", str([size, size]))):
        entry = m.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(m, str(path))
    np.save(out_dir / "input.npy", x.numpy().astype("<f4"))
    np.save(out_dir / "output.npy", y.numpy().astype("<f4"))
    ops = sorted({n.op_type for n in m.graph.node})
    info = {"generator": "scripts/make_detector_models.py", "model": name, "seed": seed, "opset": opset,
            "input": {"name": "images", "shape": list(x.shape)}, "output": {"name": "output0", "shape": list(y.shape)},
            "parameters": params, "operators": ops, "torch": torch.__version__, "onnx": onnx.__version__,
            "output_stats": {"box_min": float(y[0, :4].min()), "box_max": float(y[0, :4].max()),
                             "score_min": float(y[0, 4:].min()), "score_max": float(y[0, 4:].max())}}
    (out_dir / "info.json").write_text(json.dumps(info, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"{name}: {params} parameters, output {tuple(y.shape)}, opset {opset}, {total / 1024:.0f} KiB in {out_dir}")
    print(f"  operators: {', '.join(ops)}")
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--which", choices=["tiny", "yolov8n", "both"], default="both")
    ap.add_argument("--out", help="output folder (one model only)")
    ap.add_argument("--opset", type=int, default=17, choices=range(12, 18))
    ap.add_argument("--seed", type=int, default=20240)
    args = ap.parse_args()
    torch.set_num_threads(2)
    names = ["tiny", "yolov8n"] if args.which == "both" else [args.which]
    if args.out and len(names) > 1:
        ap.error("--out needs --which tiny or --which yolov8n")
    for name in names:
        total = make(name, pathlib.Path(args.out) if args.out else CONFIGS[name][5], args.opset, args.seed)
        if name == "tiny" and not args.out:
            assert total < 200 * 1024, f"the committed tiny model takes {total} bytes"


if __name__ == "__main__":
    main()
