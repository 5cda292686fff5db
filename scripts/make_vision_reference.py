#!/usr/bin/env python3
"""Reference data for tests/vision, computed with OpenCV (Debian: python3-opencv), the library
whose cv2.resize(INTER_LINEAR) the detectors' own pipelines use.

  tests/vision/data/resize_reference.json   cv2.resize of synthetic images (the pattern below,
                                            which the C++ test regenerates), sizes up and down,
                                            1/3/4 channels; each output in full
  tests/vision/data/face_input_reference.json  for each photo of ../shared/models/face-detector:
                                            the face detector's input as its authors make it
                                            (cv2.imread, BGR->RGB, resize to 320x240,
                                            (x - 127) / 128): sum, sum of squares and the
                                            997 values at flat indices i * 7919 mod 230400

Usage: scripts/make_vision_reference.py [--shared ../shared]
"""
import argparse
import json
import pathlib

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "vision" / "data"

# (source width, height, destination width, height, channels)
RESIZE_CASES = [
    (37, 23, 16, 11, 3), (16, 11, 37, 23, 3), (50, 30, 64, 40, 3), (64, 48, 32, 24, 3),
    (7, 5, 48, 48, 1), (33, 65, 20, 50, 4), (1, 1, 5, 3, 3), (5, 1, 2, 4, 3), (100, 75, 21, 13, 3),
    (41, 29, 41, 29, 3), (128, 96, 64, 48, 1),
]
FACE_PHOTOS = ["1.jpg", "2.jpg", "13.jpg", "19.jpg", "26.jpg"]
SAMPLES = 997


def pattern(w, h, c):
    """The synthetic image the C++ test rebuilds: value = (7x^2 + 13y + 101c + 9((x*y) % 17)) % 256."""
    x = np.arange(w, dtype=np.int64)[None, :, None]
    y = np.arange(h, dtype=np.int64)[:, None, None]
    ch = np.arange(c, dtype=np.int64)[None, None, :]
    v = (7 * x * x + 13 * y + 101 * ch + 9 * ((x * y) % 17)) % 256
    return v.astype(np.uint8)


def resize_reference():
    cases = []
    for sw, sh, dw, dh, c in RESIZE_CASES:
        img = pattern(sw, sh, c)
        out = cv2.resize(img if c > 1 else img[:, :, 0], (dw, dh), interpolation=cv2.INTER_LINEAR)
        cases.append({"src": [sw, sh], "dst": [dw, dh], "channels": c,
                      "pixels": out.reshape(-1).tolist()})
    return {"generator": "scripts/make_vision_reference.py", "opencv": cv2.__version__, "cases": cases}


def face_reference(shared):
    photos = []
    for name in FACE_PHOTOS:
        path = shared / "models" / "face-detector" / name
        if not path.exists():
            continue
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        resized = cv2.resize(rgb, (320, 240))  # INTER_LINEAR, the default
        x = ((resized.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)  # [3, 240, 320]
        flat = x.reshape(-1)
        idx = (np.arange(SAMPLES, dtype=np.int64) * 7919) % flat.size
        photos.append({"photo": name, "source_size": [rgb.shape[1], rgb.shape[0]],
                       "sum": float(flat.astype(np.float64).sum()),
                       "sum_squares": float((flat.astype(np.float64) ** 2).sum()),
                       "sample": [float(v) for v in flat[idx]]})
    return {"generator": "scripts/make_vision_reference.py", "opencv": cv2.__version__,
            "input": [1, 3, 240, 320], "normalization": "(x - 127) / 128 on RGB", "photos": photos}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "resize_reference.json").write_text(json.dumps(resize_reference(), separators=(",", ":")) + "\n")
    faces = face_reference(pathlib.Path(args.shared))
    if faces["photos"]:
        (OUT / "face_input_reference.json").write_text(json.dumps(faces, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}/resize_reference.json and {len(faces['photos'])} face photos' reference")


if __name__ == "__main__":
    main()
