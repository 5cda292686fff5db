#!/usr/bin/python3
"""The tree benchmark in one command: trains the forest, times the peers and tessera
(native and WASM), and prints every record as a harness JSON line (with its ratio).

  /usr/bin/python3 benchmarks/trees/run.py --native-build BUILD [--wasm-build WBUILD]
                                           [--out records.jsonl] [--quick]

Needs python3-xgboost (training, peer), optionally python3-onnx + scripts/install-bench-peers.sh
(onnxruntime-node, onnxruntime-web). WASM contenders (tessera and onnxruntime-web) run
under `node --no-liftoff`. Build first: cmake --build BUILD --target bench_trees (and WBUILD).
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


def run_lines(cmd, env=None):
    log(" ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        log(f"failed (exit {p.returncode}): {' '.join(cmd)}")
        return None
    return [line for line in p.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native-build", required=True)
    ap.add_argument("--wasm-build")
    ap.add_argument("--out")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    reps = 2 if args.quick else args.reps
    data = os.path.join(os.path.abspath(args.native_build), "bench_trees_data")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_bench_model.py"), "--out-dir", data], check=True)
    with open(os.path.join(data, "meta.json")) as f:
        meta = json.load(f)

    peers = []
    out = run_lines(["/usr/bin/python3", os.path.join(HERE, "peer_xgboost.py"), "--data-dir", data, "--reps", str(reps)])
    peers += out or []
    node = shutil.which("node") or shutil.which("nodejs")
    js = os.path.join(ROOT, "benchmarks", "js", "node_modules")
    if node and meta.get("onnx"):
        if os.path.isdir(os.path.join(js, "onnxruntime-node")):
            peers += run_lines([node, os.path.join(HERE, "peer_ort.mjs"), "--backend", "node", "--data-dir", data,
                                "--reps", str(reps), "--threads", "1,2"]) or []
        if os.path.isdir(os.path.join(js, "onnxruntime-web")):
            peers += run_lines([node] + NODE_FLAGS + [os.path.join(HERE, "peer_ort.mjs"), "--backend", "web",
                                "--data-dir", data, "--reps", str(reps)]) or []
    else:
        log("no onnxruntime peers (need node, python3-onnx and scripts/install-bench-peers.sh)")
    peers_path = os.path.join(data, "peers.jsonl")
    with open(peers_path, "w") as f:
        f.write("".join(line + "\n" for line in peers))

    common = ["--model", os.path.join(data, "model.json"), "--data", os.path.join(data, "rows.f32"),
              "--rows", str(meta["rows"]), "--check", os.path.join(data, "xgb_prob.f32"),
              "--peers", peers_path, "--json", "--reps", str(reps)]
    records = run_lines([os.path.join(args.native_build, "benchmarks", "bench_trees")] + common)
    if records is None:
        sys.exit(1)
    native_path = os.path.join(data, "native.jsonl")
    with open(native_path, "w") as f:
        f.write("".join(line + "\n" for line in records))
    if args.wasm_build:
        wasm_js = os.path.join(args.wasm_build, "benchmarks", "bench_trees.js")
        env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
        wasm = run_lines([node] + NODE_FLAGS + [wasm_js] + common + ["--native", native_path], env=env)
        if wasm is None:
            sys.exit(1)
        records += wasm
    text = "".join(line + "\n" for line in records)
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
