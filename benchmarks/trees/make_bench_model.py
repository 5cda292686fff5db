#!/usr/bin/python3
"""Trains the tree benchmark's forest and writes its inputs (deterministic, cached).

Synthetic Higgs-like data: 21 "low-level" kinematic features (transverse momenta, etas,
phis, b-tags of a lepton, missing energy and four jets) and 7 "high-level" invariant-mass
like features derived from them, with a label from a noisy nonlinear function of both. About
1% of the jet features are missing (NaN) so the forest learns default directions.

Writes into --out-dir:
  model.json   XGBoost JSON (500 trees, max_depth 8, binary:logistic by default)
  model.onnx   the same forest as ai.onnx.ml TreeEnsembleClassifier (needs python3-onnx)
  rows.f32     --rows x 28 float32, row-major, little-endian (the timed input)
  xgb_prob.f32 XGBoost's own probabilities for rows.f32 (to check tessera's output)
  meta.json    shapes and parameters
Nothing is rewritten when meta.json already records the same parameters.
"""
import argparse
import json
import os
import sys

import numpy as np

N_FEATURES = 28


def make_data(n, rng):
    lep_pt = rng.exponential(1.0, n) + 0.3
    lep_eta = rng.normal(0, 1.0, n)
    lep_phi = rng.uniform(-np.pi, np.pi, n)
    met = rng.exponential(1.0, n)
    met_phi = rng.uniform(-np.pi, np.pi, n)
    cols = [lep_pt, lep_eta, lep_phi, met, met_phi]
    jets = []
    for _ in range(4):
        pt = rng.exponential(0.9, n) + 0.2
        eta = rng.normal(0, 1.2, n)
        phi = rng.uniform(-np.pi, np.pi, n)
        btag = rng.choice([0.0, 1.0, 2.17], n, p=[0.6, 0.25, 0.15])
        jets.append((pt, eta, phi, btag))
        cols += [pt, eta, phi, btag]
    low = np.stack(cols, axis=1)
    # High-level features: masses of object combinations (m_jj, m_jjj, m_lv, m_jlv, m_bb, m_wbb, m_wwbb).
    def mass(*objs):
        px = sum(o[0] * np.cos(o[2]) for o in objs)
        py = sum(o[0] * np.sin(o[2]) for o in objs)
        pz = sum(o[0] * np.sinh(o[1]) for o in objs)
        e = sum(o[0] * np.cosh(o[1]) for o in objs)
        return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    lep = (lep_pt, lep_eta, lep_phi)
    nu = (met, np.zeros(n), met_phi)
    j = [(p[0], p[1], p[2]) for p in jets]
    high = np.stack([
        mass(j[0], j[1]), mass(j[0], j[1], j[2]), mass(lep, nu), mass(j[0], lep, nu),
        mass(j[2], j[3]), mass(j[0], j[1], lep, nu), mass(*j, lep, nu)], axis=1)
    x = np.concatenate([low, high], axis=1).astype(np.float32)
    score = (0.8 * np.tanh(high[:, 4] - 1.5) + 0.6 * np.sin(high[:, 1]) - 0.5 * np.abs(high[:, 2] - 1.2)
             + 0.4 * (jets[0][3] > 1) * (jets[1][3] > 0) + 0.3 * lep_eta * jets[0][1] - 0.2 * met
             + 0.25 * np.cos(lep_phi - met_phi) + rng.normal(0, 0.6, n))
    y = (score > np.median(score)).astype(np.float32)
    # Missing jets: blank a jet's four features together for ~1% of rows per jet.
    for k in range(2, 4):
        miss = rng.uniform(size=n) < 0.01
        x[miss, 5 + 4 * k: 9 + 4 * k] = np.nan
    return x, y


def to_onnx(booster, path, n_features):
    """Writes the booster as an ai.onnx.ml TreeEnsembleClassifier (binary, LOGISTIC)."""
    import onnx
    from onnx import helper, TensorProto
    cfg = json.loads(booster.save_config())
    base_score = float(cfg["learner"]["learner_model_param"]["base_score"])
    base_margin = float(np.log(base_score / (1.0 - base_score)))
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                         "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true", "class_treeids", "class_nodeids",
                         "class_ids", "class_weights"]}
    for t, dump in enumerate(booster.get_dump(dump_format="json")):
        stack = [json.loads(dump)]
        while stack:
            nd = stack.pop()
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(nd["nodeid"])
            if "leaf" in nd:
                a["nodes_featureids"].append(0)
                a["nodes_values"].append(0.0)
                a["nodes_modes"].append("LEAF")
                a["nodes_truenodeids"].append(0)
                a["nodes_falsenodeids"].append(0)
                a["nodes_missing_value_tracks_true"].append(0)
                a["class_treeids"].append(t)
                a["class_nodeids"].append(nd["nodeid"])
                a["class_ids"].append(0)
                a["class_weights"].append(float(nd["leaf"]))
                continue
            a["nodes_featureids"].append(int(nd["split"].lstrip("f")))
            a["nodes_values"].append(float(nd["split_condition"]))
            a["nodes_modes"].append("BRANCH_LT")
            a["nodes_truenodeids"].append(nd["yes"])
            a["nodes_falsenodeids"].append(nd["no"])
            a["nodes_missing_value_tracks_true"].append(1 if nd["missing"] == nd["yes"] else 0)
            stack.extend(nd["children"])
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"],
                            domain="ai.onnx.ml", post_transform="LOGISTIC",
                            classlabels_int64s=[0, 1], base_values=[base_margin], **a)
    graph = helper.make_graph(
        [node], "tessera_bench_forest",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])])
    model = helper.make_model(graph, producer_name="tessera-bench",
                              opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--train-rows", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    params = dict(trees=args.trees, depth=args.depth, rows=args.rows, train_rows=args.train_rows,
                  seed=args.seed, features=N_FEATURES, version=1)
    meta_path = os.path.join(args.out_dir, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            if json.load(f).get("params") == params:
                print(f"make_bench_model: {args.out_dir} is up to date", file=sys.stderr)
                return
    import xgboost as xgb
    rng = np.random.RandomState(args.seed)
    x_train, y_train = make_data(args.train_rows, rng)
    x_test, _ = make_data(args.rows, rng)
    dtrain = xgb.DMatrix(x_train, label=y_train)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": args.depth, "eta": 0.1,
                         "tree_method": "hist", "nthread": 2, "seed": args.seed,
                         "subsample": 0.8, "colsample_bytree": 0.9, "min_child_weight": 1.0},
                        dtrain, num_boost_round=args.trees)
    booster.save_model(os.path.join(args.out_dir, "model.json"))
    x_test.tofile(os.path.join(args.out_dir, "rows.f32"))
    booster.set_param({"nthread": 1})
    prob = booster.inplace_predict(x_test).astype(np.float32)
    prob.tofile(os.path.join(args.out_dir, "xgb_prob.f32"))
    onnx_ok = True
    try:
        to_onnx(booster, os.path.join(args.out_dir, "model.onnx"), N_FEATURES)
    except ImportError as e:
        onnx_ok = False
        print(f"make_bench_model: no ONNX model ({e}); install python3-onnx", file=sys.stderr)
    with open(meta_path, "w") as f:
        json.dump({"params": params, "rows": args.rows, "features": N_FEATURES, "onnx": onnx_ok}, f)
    print(f"make_bench_model: wrote {args.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
