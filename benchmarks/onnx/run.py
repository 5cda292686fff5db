#!/usr/bin/python3
"""The ONNX benchmark in one command: times onnxruntime-node and onnxruntime-web and tessera
(native, and WASM under node) on the same models and inputs, and prints every record as a
harness JSON line with its ratio (peer time over tessera's: above 1, tessera is faster).

  /usr/bin/python3 benchmarks/onnx/run.py --native-build BUILD [--wasm-build WBUILD]
                                          [--threads 1,2] [--batch B] [--out records.jsonl] [--quick]
                                          [--no-memory | --memory-only]

Models: the repo's digits CNN and YOLOv8-tiny; without --quick also resnet18 and mobilenet_v2
at 224x224 and YOLOv8n at 640x640 (random weights, written once by scripts/make_onnx_models.py
--bench and scripts/make_detector_models.py), and ../shared/models/face-detector's two UltraFace
models when present. Needs python3-torch and python3-onnx and, for the peers,
scripts/install-bench-peers.sh. WASM contenders (tessera and onnxruntime-web) run under
`node --no-liftoff`. Natively, each model also runs alone in a fresh process on each side
(bench_onnx --memory, peer_ort.mjs --memory, 1 thread) for the peak resident memory that loading
and running it took. Build first: cmake --build BUILD --target bench_onnx (and WBUILD).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_FLAGS = ["--no-liftoff"]


def log(msg):
    print(f"run.py: {msg}", file=sys.stderr, flush=True)


def run_lines(cmd):
    log(" ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        log(f"failed (exit {p.returncode}): {' '.join(cmd)}")
        return None
    return [line for line in p.stdout.splitlines() if line.startswith("{")]


def input_shapes(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    shapes = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = i.type.tensor_type.shape.dim
        shapes[i.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    return shapes


def finish(records, out):
    for r in records:
        print(r)
    if out:
        with open(out, "w") as f:
            f.write("\n".join(records) + "\n")
    return 0 if records else 1


def peak_memory_records(cases, work, native, node, js, common):
    """One fresh process per model and side: the peak resident memory of load + runs."""
    records = []
    for c in cases:
        one = os.path.join(work, "memory_case.json")
        with open(one, "w") as f:
            json.dump([c], f)
        peer = []
        if node and os.path.isdir(os.path.join(js, "onnxruntime-node")):
            peer = run_lines([node, os.path.join(HERE, "peer_ort.mjs"), "--backend", "node", "--cases", one,
                              "--threads", "1", "--memory"] + common) or []
        peer_file = os.path.join(work, "memory_peer.jsonl")
        with open(peer_file, "w") as f:
            f.write("\n".join(peer) + "\n")
        records += run_lines([native, "--json", "--threads", "1", "--memory", "--peers", peer_file,
                              "--model", c["path"], "--case", c["name"]] + common) or []
    return records


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native-build", required=True)
    ap.add_argument("--wasm-build")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, the repo's models only")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory runs")
    args = ap.parse_args()
    reps = 2 if args.quick else args.reps

    cases = [{"name": "digits_cnn", "path": os.path.join(ROOT, "examples/models/digits_cnn.onnx")},
             {"name": "yolov8_tiny", "path": os.path.join(ROOT, "tests/models/yolov8_tiny/model.onnx")}]
    faces = os.path.join(ROOT, "..", "shared", "models", "face-detector")
    if not args.quick:
        # The models, random weights from the repo's scripts (PyTorch), made once.
        models = os.path.join(os.path.abspath(args.native_build), "bench_onnx_models")
        if not os.path.isfile(os.path.join(models, "mobilenet_v2.onnx")):
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "make_onnx_models.py"), "--bench", models],
                           check=True)
        yolo = os.path.join(models, "yolov8n")
        if not os.path.isfile(os.path.join(yolo, "model.onnx")):
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "make_detector_models.py"),
                            "--which", "yolov8n", "--out", yolo], check=True)
        cases += [{"name": "resnet18", "path": os.path.join(models, "resnet18.onnx")},
                  {"name": "mobilenet_v2", "path": os.path.join(models, "mobilenet_v2.onnx")},
                  {"name": "yolov8n_640", "path": os.path.join(yolo, "model.onnx")}]
        for m in ("version-slim-320", "version-RFB-320"):
            if os.path.isfile(os.path.join(faces, m + ".onnx")):
                cases.append({"name": "ultraface_" + m, "path": os.path.realpath(os.path.join(faces, m + ".onnx"))})
    for c in cases:
        c["shapes"] = input_shapes(c["path"])
    work = os.path.join(os.path.abspath(args.native_build), "bench_onnx_data")
    os.makedirs(work, exist_ok=True)
    cases_json = os.path.join(work, "cases.json")
    with open(cases_json, "w") as f:
        json.dump(cases, f)
    model_args = []
    for c in cases:
        model_args += ["--model", c["path"], "--case", c["name"]]
    common = ["--reps", str(reps), "--batch", str(args.batch)]

    node = shutil.which("node") or shutil.which("nodejs")
    js = os.path.join(ROOT, "benchmarks", "js", "node_modules")
    native = os.path.join(args.native_build, "benchmarks", "bench_onnx")
    if args.memory_only:
        records = peak_memory_records(cases, work, native, node, js, ["--batch", str(args.batch)])
        return finish(records, args.out)
    peers = []
    if node and os.path.isdir(os.path.join(js, "onnxruntime-node")):
        peers += run_lines([node, os.path.join(HERE, "peer_ort.mjs"), "--backend", "node", "--cases", cases_json,
                            "--threads", args.threads] + common) or []
    if node and args.wasm_build and os.path.isdir(os.path.join(js, "onnxruntime-web")):
        peers += run_lines([node] + NODE_FLAGS + [os.path.join(HERE, "peer_ort.mjs"), "--backend", "web",
                            "--cases", cases_json, "--threads", "1"] + common) or []
    if not peers:
        log("no peer timed (scripts/install-bench-peers.sh installs onnxruntime-node and -web)")
    peers_file = os.path.join(work, "peers.jsonl")
    with open(peers_file, "w") as f:
        f.write("\n".join(peers) + "\n")

    records = []
    for t in args.threads.split(","):
        records += run_lines([native, "--json", "--threads", t, "--peers", peers_file] + common + model_args) or []
    if not args.no_memory:
        records += peak_memory_records(cases, work, native, node, js, ["--batch", str(args.batch)])
    if args.wasm_build and node:
        wasm = os.path.join(args.wasm_build, "benchmarks", "bench_onnx.js")
        records += run_lines([node] + NODE_FLAGS + [wasm, "--json", "--threads", "1", "--peers", peers_file]
                             + common + model_args) or []
    return finish(records, args.out)


if __name__ == "__main__":
    sys.exit(main())
