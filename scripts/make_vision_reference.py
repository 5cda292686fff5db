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

  examples/tessera-detect/testdata/          a small photo (PNG), a YOLOv8-layout raw output for
                                            it at 640x640 letterbox, class names, and the JSON
                                            line tessera-detect must print, computed here with
                                            numpy (Ultralytics' letterbox and scale_boxes
                                            arithmetic, greedy NMS)

  tests/fuzz/vision_corpus/                  seeds of the vision fuzz harness: small PNGs (gray,
                                            RGBA, 16-bit, paletted), JPEGs (baseline, progressive,
                                            grayscale, with EXIF orientation), names files and dicts

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


DETECT = ROOT / "examples" / "tessera-detect" / "testdata"


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype="<f4"))


def nms(boxes, scores, classes, iou_thr):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        ok = True
        for k in kept:
            if classes[k] != classes[i]:
                continue
            a, b = boxes[i], boxes[k]
            iw = min(a[2], b[2]) - max(a[0], b[0])
            ih = min(a[3], b[3]) - max(a[1], b[1])
            inter = iw * ih if iw > 0 and ih > 0 else 0.0
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > iou_thr:
                ok = False
                break
        if ok:
            kept.append(i)
    return kept


def detect_fixture():
    """A 200 x 120 photo letterboxed to 640 x 640 (r = 3.2, 640 x 384 at y = 128), a [1, 7, 40]
    yolov8 output with 3 classes: overlapping boxes of one class, of different classes, a NaN
    score, a score at the threshold, one box reaching out of the photo."""
    DETECT.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:120, 0:200]
    photo = np.stack([xx * 255 // 199, yy * 255 // 119, (xx + yy) % 256], axis=2).astype(np.uint8)  # compresses well
    cv2.imwrite(str(DETECT / "photo.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    names = ["person", "bicycle", "traffic light"]
    (DETECT / "names.txt").write_text("\n".join(names) + "\n")
    rng = np.random.default_rng(7)
    n, c = 40, 3
    out = np.zeros((1, 4 + c, n), np.float32)
    out[0, 0] = rng.uniform(0, 640, n)
    out[0, 1] = rng.uniform(128, 512, n)
    out[0, 2] = rng.uniform(10, 200, n)
    out[0, 3] = rng.uniform(10, 200, n)
    out[0, 4:] = rng.uniform(0, 0.3, (c, n))
    hand = [  # cx, cy, w, h, scores
        (200.3, 300.7, 120.1, 180.9, (0.913, 0.05, 0.01)),
        (206.9, 302.2, 118.4, 176.6, (0.811, 0.10, 0.02)),   # same class, overlapping: suppressed
        (203.1, 298.9, 121.7, 181.3, (0.02, 0.771, 0.03)),   # another class on top: kept
        (500.2, 200.4, 90.6, 60.2, (0.0, 0.0, 0.6337)),
        (630.4, 500.1, 80.8, 50.3, (0.4471, 0.0, 0.0)),      # reaches past the photo: clipped
        (100.0, 150.0, 40.0, 40.0, (float("nan"), 0.9, 0.0)),  # NaN beside a real score
        (320.0, 320.0, 50.0, 50.0, (0.25, 0.0, 0.0)),        # exactly the threshold: dropped
    ]
    for i, (cx, cy, w, h, sc) in enumerate(hand):
        out[0, :, i] = (cx, cy, w, h) + tuple(sc)
    write_npy(DETECT / "yolov8_output.npy", out)
    # Reference post-processing (conf 0.25, IoU 0.45, class-aware), float32 box corners as a
    # float32 model would compute them, then Ultralytics' un-letterboxing and clipping.
    o = out[0]
    boxes, scores, classes = [], [], []
    for a in range(n):
        cx, cy, w, h = (np.float32(v) for v in o[:4, a])
        s = o[4:, a]
        valid = [k for k in range(c) if not np.isnan(s[k])]
        if not valid:
            continue
        k = max(valid, key=lambda k: (s[k], -k))
        if not s[k] > np.float32(0.25):
            continue
        half_w, half_h = w * np.float32(0.5), h * np.float32(0.5)
        boxes.append([float(cx - half_w), float(cy - half_h), float(cx + half_w), float(cy + half_h)])
        scores.append(float(s[k]))
        classes.append(k)
    kept = nms(boxes, scores, classes, float(np.float32(0.45)))
    r = min(640 / 120, 640 / 200)
    pad_x, pad_y = round((640 - 200 * r) / 2 - 0.1), round((640 - 120 * r) / 2 - 0.1)
    dets = []
    for i in kept:
        x1, y1, x2, y2 = boxes[i]
        x1, x2 = (min(max((v - pad_x) / r, 0), 200) for v in (x1, x2))
        y1, y2 = (min(max((v - pad_y) / r, 0), 120) for v in (y1, y2))
        vals = [scores[i] * 1e4] + [v * 10 for v in (x1, y1, x2 - x1, y2 - y1)]
        assert all(abs(v - np.floor(v) - 0.5) > 1e-3 for v in vals), "a value on a rounding tie"
        dets.append('{"class_id": %d, "class_name": "%s", "confidence": %s, "bbox_xywh": [%s]}' % (
            classes[i], names[classes[i]], fmt(scores[i], 4), ", ".join(fmt(v, 1) for v in (x1, y1, x2 - x1, y2 - y1))))
    (DETECT / "expected.jsonl").write_text('{"image": "photo.png", "detections": [%s]}\n' % ", ".join(dets))
    return len(dets)


def fmt(v, decimals):
    """tessera's json_number: round, drop trailing zeros but keep one."""
    s = ("%." + str(decimals) + "f") % v
    s = s.rstrip("0")
    return s + "0" if s.endswith(".") else s


def fuzz_corpus():
    import io
    import zlib
    from PIL import Image
    out = ROOT / "tests" / "fuzz" / "vision_corpus"
    out.mkdir(parents=True, exist_ok=True)
    img = pattern(16, 12, 3)
    seeds = {
        "rgb.png": cv2.imencode(".png", img)[1].tobytes(),
        "gray.png": cv2.imencode(".png", img[:, :, 0])[1].tobytes(),
        "rgba.png": cv2.imencode(".png", np.dstack([img, img[:, :, :1]]))[1].tobytes(),
        "rgb16.png": cv2.imencode(".png", img.astype(np.uint16) * 257)[1].tobytes(),
        "baseline.jpg": cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes(),
        "progressive.jpg": cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(),
        "gray.jpg": cv2.imencode(".jpg", img[:, :, 0])[1].tobytes(),
        "names.txt": b"person\nbicycle\ntraffic light\n",
        "names_dict.txt": b"{0: 'person', 1: \"teddy's bear\", 2: 'caf\\xe9\\u732b'}",
    }
    b = io.BytesIO()
    Image.fromarray(img).convert("P", palette=Image.ADAPTIVE, colors=8).save(b, format="PNG")
    seeds["palette.png"] = b.getvalue()
    b = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(b, format="JPEG", exif=exif.tobytes())
    seeds["exif6.jpg"] = b.getvalue()

    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    sig = b"\x89PNG\r\n\x1a\n"
    seeds["huge_header.png"] = sig + chunk(b"IHDR", (100000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    seeds["zlib_bomb.png"] = sig + chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])) + \
        chunk(b"IDAT", zlib.compress(b"\0" * (1 << 20), 9)) + chunk(b"IEND", b"")
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    return len(seeds)


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
    print(f"wrote {DETECT}: {detect_fixture()} expected detections")
    print(f"wrote {fuzz_corpus()} seeds to tests/fuzz/vision_corpus")


if __name__ == "__main__":
    main()
