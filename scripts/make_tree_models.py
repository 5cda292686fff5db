#!/usr/bin/python3
"""Builds the tree-ensemble test fixtures in tests/models/trees/ (deterministic).

XGBoost part (needs python3-xgboost 1.7.x, python3-sklearn, numpy): trains small models for
every supported objective and booster, saves each as <name>.json and <name>.ubj, and writes
<name>.csv with test rows (NaN = missing, values at split thresholds included) followed by
XGBoost's own margins (output_margin=True) and predictions, as float32 values printed with
%.9g (exact round trip).

LightGBM part (LightGBM itself is not installable here): writes small LightGBM text models
(<name>.txt) synthesised by this script in LightGBM's own layout (internal nodes numbered in
split order, leaves as ~index, decision_type bits, categorical bitsets), and the expected
outputs computed by an independent evaluator below, written from the format's documented
semantics, in double precision (%.17g).

CSV layout: header x0..x{F-1}, margin0..margin{K-1}, pred0..pred{P-1}; one row per case.

Also writes the default demo model: breast_cancer.json/.ubj (binary:logistic, 50 trees on
sklearn's bundled breast-cancer data) plus breast_cancer.csv, and copies the model to
examples/models/breast_cancer.json.

Run: /usr/bin/python3 scripts/make_tree_models.py
"""
import math
import os
import shutil
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "models", "trees")


def fmt32(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    return "%.9g" % v


def fmt64(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    return "%.17g" % v


def write_csv(name, X, margins, preds, fmt):
    X = np.asarray(X)
    margins = np.asarray(margins).reshape(len(X), -1)
    preds = np.asarray(preds).reshape(len(X), -1)
    nf, nm, npred = X.shape[1], margins.shape[1], preds.shape[1]
    cols = ["x%d" % i for i in range(nf)] + ["margin%d" % i for i in range(nm)] + ["pred%d" % i for i in range(npred)]
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in range(len(X)):
            vals = [fmt(v) for v in X[r]] + [fmt(v) for v in margins[r]] + [fmt(v) for v in preds[r]]
            f.write(",".join(vals) + "\n")


# ---------------------------------------------------------------------------------------------
# XGBoost
# ---------------------------------------------------------------------------------------------

def xgb_thresholds(booster):
    """(feature, threshold) of numerical splits, from the JSON dump."""
    import json
    raw = booster.save_raw(raw_format="json")
    doc = json.loads(bytes(raw).decode())
    gb = doc["learner"]["gradient_booster"]
    model = gb["model"] if gb["name"] == "gbtree" else gb["gbtree"]["model"]
    out = []
    for t in model["trees"]:
        st = t.get("split_type", [0] * len(t["left_children"]))
        for i, l in enumerate(t["left_children"]):
            if l != -1 and st[i] == 0:
                out.append((t["split_indices"][i], t["split_conditions"][i]))
    return out


def xgb_test_rows(rng, X, booster, n_random=12, n_thresh=10, nan_frac=0.15):
    """Random rows with some NaNs, plus rows sitting exactly on split thresholds (and one
    float32 step below) so `<` versus `<=` matters."""
    rows = X[rng.choice(len(X), n_random, replace=False)].astype(np.float32).copy()
    mask = rng.rand(*rows.shape) < nan_frac
    rows[mask] = np.nan
    extra = []
    th = xgb_thresholds(booster)
    for k in range(min(n_thresh, len(th))):
        f, t = th[(k * 7) % len(th)]
        base = X[rng.randint(len(X))].astype(np.float32).copy()
        on = base.copy()
        on[f] = np.float32(t)
        below = base.copy()
        below[f] = np.nextafter(np.float32(t), np.float32(-np.inf))
        extra += [on, below]
    if extra:
        rows = np.vstack([rows, np.array(extra, dtype=np.float32)])
    rows = np.vstack([rows, np.full((1, X.shape[1]), np.nan, dtype=np.float32)])  # all missing
    return rows


def xgb_save(name, booster, rows, feature_types=None):
    import xgboost as xgb
    booster.save_model(os.path.join(OUT, name + ".json"))
    booster.save_model(os.path.join(OUT, name + ".ubj"))
    kw = {}
    if feature_types is not None:
        kw = dict(feature_types=feature_types, enable_categorical=True)
    d = xgb.DMatrix(rows, missing=np.nan, **kw)
    margins = booster.predict(d, output_margin=True)
    preds = booster.predict(d)
    write_csv(name, rows, margins, preds, fmt32)


def make_xgboost(seed=20261123):
    import xgboost as xgb
    rng = np.random.RandomState(seed)
    n, nf = 240, 5
    X = rng.rand(n, nf) * 4 - 1
    X[rng.rand(n, nf) < 0.1] = np.nan  # training data with missing values: learned default directions
    z = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2 - np.nan_to_num(X[:, 2]) + 0.3 * rng.randn(n)
    y_bin = (z > 0.5).astype(float)
    y_reg = z
    y_prob = 1 / (1 + np.exp(-z))
    y_cnt = rng.poisson(np.exp(0.4 * np.clip(z, -3, 3)))
    y_multi = np.digitize(z, [-0.5, 1.2]).astype(float)

    common = dict(max_depth=3, eta=0.3, seed=1, nthread=1)

    def train(params, y, rounds, group=None, dmat=None):
        d = dmat if dmat is not None else xgb.DMatrix(X, y, missing=np.nan)
        if group is not None:
            d.set_group(group)
        p = dict(common)
        p.update(params)
        return xgb.train(p, d, rounds)

    specs = [
        ("xgb_binary_logistic", dict(objective="binary:logistic"), y_bin, 8),
        ("xgb_binary_logitraw", dict(objective="binary:logitraw"), y_bin, 6),
        ("xgb_reg_logistic", dict(objective="reg:logistic"), y_prob, 6),
        ("xgb_reg_squarederror", dict(objective="reg:squarederror"), y_reg, 8),
        ("xgb_count_poisson", dict(objective="count:poisson"), y_cnt, 6),
        ("xgb_multi_softprob", dict(objective="multi:softprob", num_class=3), y_multi, 4),
        ("xgb_multi_softmax", dict(objective="multi:softmax", num_class=3), y_multi, 4),
        ("xgb_base_score_logistic", dict(objective="binary:logistic", base_score=0.3), y_bin, 5),
        ("xgb_base_score_poisson", dict(objective="count:poisson", base_score=1.7), y_cnt, 5),
        ("xgb_base_score_reg", dict(objective="reg:squarederror", base_score=2.5), y_reg, 5),
        ("xgb_dart_binary", dict(objective="binary:logistic", booster="dart", rate_drop=0.4, skip_drop=0.0,
                                 one_drop=1), y_bin, 8),
        ("xgb_dart_multi", dict(objective="multi:softprob", num_class=3, booster="dart", rate_drop=0.5,
                                skip_drop=0.0, one_drop=1, normalize_type="forest"), y_multi, 4),
    ]
    for name, params, y, rounds in specs:
        b = train(params, y, rounds)
        xgb_save(name, b, xgb_test_rows(rng, X, b))

    # More regression objectives (positive targets for the log links).
    y_pos = np.exp(0.3 * np.clip(z, -3, 3)) + 0.05
    for name, params, y, rounds in [
            ("xgb_reg_gamma", dict(objective="reg:gamma"), y_pos, 5),
            ("xgb_reg_tweedie", dict(objective="reg:tweedie", tweedie_variance_power=1.4), y_pos, 5),
            ("xgb_reg_absoluteerror", dict(objective="reg:absoluteerror"), y_reg, 5),
            ("xgb_reg_pseudohubererror", dict(objective="reg:pseudohubererror"), y_reg, 5)]:
        b = train(params, y, rounds)
        xgb_save(name, b, xgb_test_rows(rng, X, b, n_random=8, n_thresh=4))

    # Ranking: groups of 10.
    b = train(dict(objective="rank:pairwise"), np.clip(np.round(y_prob * 3), 0, 3), 6, group=[10] * (n // 10))
    xgb_save("xgb_rank_pairwise", b, xgb_test_rows(rng, X, b))

    # Categorical features (XGBoost 1.7: feature_types 'c' with enable_categorical; the saved
    # model is the same as with a pandas category column). Column 0 and 2 are categorical.
    ncat = 40
    Xc = X.copy()
    Xc[:, 0] = rng.randint(0, ncat, n)
    Xc[:, 2] = rng.randint(0, 6, n)
    Xc[rng.rand(n) < 0.1, 0] = np.nan
    yc = (np.isin(Xc[:, 0], [1, 3, 5, 8, 13, 21, 34]).astype(float) * 2 + np.nan_to_num(Xc[:, 1])
          + (Xc[:, 2] == 4) + 0.1 * rng.randn(n))
    ft = ["c", "q", "c", "q", "q"]
    for name, onehot, obj, yy in [("xgb_categorical_reg", 1, "reg:squarederror", yc),
                                  ("xgb_categorical_onehot_binary", 64, "binary:logistic", (yc > 1.5).astype(float))]:
        d = xgb.DMatrix(Xc, yy, missing=np.nan, feature_types=ft, enable_categorical=True)
        b = xgb.train(dict(common, objective=obj, tree_method="hist", max_cat_to_onehot=onehot), d, 6)
        rows = xgb_test_rows(rng, Xc, b).astype(np.float32)
        cat_rows = []
        for v in [0, 1, 3, 5, 8, 13, 21, 34, 39, 2.7, 5.5, -1, -0.5, 40, 100, 1e9, np.nan]:
            r = Xc[rng.randint(n)].astype(np.float32).copy()
            r[0] = v
            cat_rows.append(r)
        for v in [0, 4, 3.9, 7, -2]:
            r = Xc[rng.randint(n)].astype(np.float32).copy()
            r[2] = v
            cat_rows.append(r)
        rows = np.vstack([rows, np.array(cat_rows, dtype=np.float32)])
        xgb_save(name, b, rows, feature_types=ft)

    # A deliberately tiny model (for every-prefix truncation tests).
    b = xgb.train(dict(objective="binary:logistic", max_depth=2, eta=0.5, seed=1, nthread=1),
                  xgb.DMatrix(X[:, :3], y_bin, missing=np.nan), 2)
    xgb_save("xgb_tiny", b, xgb_test_rows(rng, X[:, :3], b, n_random=6, n_thresh=3))

    # Base margins: XGBoost's margin of a model without trees is ProbToMargin(base_score).
    Xz, yz = np.zeros((2, 2)), np.array([0.0, 1.0])
    for name, obj, lo, hi in [("xgb_base_margin_logistic", "binary:logistic", 0.001, 0.999),
                              ("xgb_base_margin_poisson", "count:poisson", 0.01, 50.0)]:
        scores = rng.uniform(lo, hi, 400).astype(np.float32)
        margins = []
        for bs in scores:
            b = xgb.train({"objective": obj, "base_score": float(bs)}, xgb.DMatrix(Xz, yz), 0)
            margins.append(b.predict(xgb.DMatrix(Xz[:1]), output_margin=True)[0])
        write_csv(name, scores.reshape(-1, 1), np.array(margins, dtype=np.float32), np.zeros((400, 0)), fmt32)

    # Default demo model: breast cancer.
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    Xb, yb = data.data, data.target
    perm = np.random.RandomState(7).permutation(len(Xb))
    train_idx, test_idx = perm[:-12], perm[-12:]
    names = [s.replace(" ", "_") for s in data.feature_names]
    d = xgb.DMatrix(Xb[train_idx], yb[train_idx], feature_names=names)
    b = xgb.train(dict(objective="binary:logistic", max_depth=3, eta=0.3, seed=0, nthread=1), d, 50)
    b.save_model(os.path.join(OUT, "breast_cancer.json"))
    b.save_model(os.path.join(OUT, "breast_cancer.ubj"))
    rows = Xb[test_idx].astype(np.float32)
    dt = xgb.DMatrix(rows, feature_names=names)
    write_csv("breast_cancer", rows, b.predict(dt, output_margin=True), b.predict(dt), fmt32)
    ex = os.path.join(ROOT, "examples", "models")
    os.makedirs(ex, exist_ok=True)
    shutil.copy(os.path.join(OUT, "breast_cancer.json"), os.path.join(ex, "breast_cancer.json"))
    with open(os.path.join(ex, "breast_cancer_sample.csv"), "w") as f:
        f.write(",".join(names + ["xgboost_probability"]) + "\n")
        for r, p in zip(rows, b.predict(dt)):
            f.write(",".join(fmt32(v) for v in r) + "," + fmt32(p) + "\n")


# ---------------------------------------------------------------------------------------------
# LightGBM: synthesised text models and an independent evaluator
# ---------------------------------------------------------------------------------------------

K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (1e-35f) as a double


class LgbTree:
    """A tree in LightGBM's own arrays: internal nodes 0..L-2, child < 0 is leaf ~child."""

    def __init__(self):
        self.split_feature, self.threshold, self.decision_type = [], [], []
        self.left, self.right, self.leaf_value = [], [], [0.0]
        self.cat_boundaries, self.cat_threshold = [0], []
        self.leaf_parent = [-1]

    @property
    def num_leaves(self):
        return len(self.leaf_value)

    def split(self, leaf, feature, threshold, decision_type, left_value, right_value):
        """Splits `leaf` the way LightGBM's Tree::Split does: the new internal node gets the
        next index, the left child keeps the leaf index, the right child is a new leaf."""
        node = len(self.split_feature)
        parent = self.leaf_parent[leaf]
        if parent >= 0:
            if self.left[parent] == ~leaf:
                self.left[parent] = node
            else:
                self.right[parent] = node
        new_leaf = self.num_leaves
        self.split_feature.append(feature)
        self.threshold.append(threshold)
        self.decision_type.append(decision_type)
        self.left.append(~leaf)
        self.right.append(~new_leaf)
        self.leaf_value[leaf] = left_value
        self.leaf_value.append(right_value)
        self.leaf_parent[leaf] = node
        self.leaf_parent.append(node)

    def add_cat_set(self, cats):
        words = [0] * (max(cats) // 32 + 1)
        for c in cats:
            words[c // 32] |= 1 << (c % 32)
        idx = len(self.cat_boundaries) - 1
        self.cat_threshold += words
        self.cat_boundaries.append(len(self.cat_threshold))
        return idx

    def to_text(self, index, shrinkage):
        L = self.num_leaves
        num_cat = len(self.cat_boundaries) - 1
        lines = ["Tree=%d" % index, "num_leaves=%d" % L, "num_cat=%d" % num_cat]
        if L > 1:
            j = lambda xs: " ".join(xs)
            lines += [
                "split_feature=" + j(str(v) for v in self.split_feature),
                "split_gain=" + j("%.6g" % (10.0 / (i + 1)) for i in range(L - 1)),
                "threshold=" + j(fmt64(v) if (dt & 1) == 0 else str(int(v))
                                 for v, dt in zip(self.threshold, self.decision_type)),
                "decision_type=" + j(str(v) for v in self.decision_type),
                "left_child=" + j(str(v) for v in self.left),
                "right_child=" + j(str(v) for v in self.right),
            ]
        lines.append("leaf_value=" + " ".join(fmt64(v) for v in self.leaf_value))
        if L > 1:
            lines += [
                "leaf_weight=" + " ".join("%.6g" % (5.0 + i) for i in range(L)),
                "leaf_count=" + " ".join(str(5 + i) for i in range(L)),
                "internal_value=" + " ".join("0" for _ in range(L - 1)),
                "internal_weight=" + " ".join("%.6g" % (20.0 - i) for i in range(L - 1)),
                "internal_count=" + " ".join(str(20 - i) for i in range(L - 1)),
            ]
        if num_cat > 0:
            lines.append("cat_boundaries=" + " ".join(str(v) for v in self.cat_boundaries))
            lines.append("cat_threshold=" + " ".join(str(v) for v in self.cat_threshold))
        lines += ["is_linear=0", "shrinkage=%g" % shrinkage]
        return "\n".join(lines) + "\n\n\n"

    # ---- independent evaluator (LightGBM's Tree::GetLeaf semantics) ----
    def predict(self, x):
        if self.num_leaves == 1:
            return self.leaf_value[0]
        node = 0
        while node >= 0:
            dt = self.decision_type[node]
            v = x[self.split_feature[node]]
            if dt & 1:  # categorical: in the set -> left; NaN or negative -> right
                if math.isnan(v):
                    go_left = False
                else:
                    iv = int(v)  # truncation toward zero, like static_cast<int>
                    if iv < 0 or iv >= 2 ** 31:
                        go_left = False
                    else:
                        ci = int(self.threshold[node])
                        words = self.cat_threshold[self.cat_boundaries[ci]:self.cat_boundaries[ci + 1]]
                        go_left = iv // 32 < len(words) and (words[iv // 32] >> (iv % 32)) & 1 == 1
            else:
                missing_type = (dt >> 2) & 3
                default_left = (dt & 2) != 0
                if math.isnan(v) and missing_type != 2:
                    v = 0.0
                if (missing_type == 1 and -K_ZERO <= v <= K_ZERO) or (missing_type == 2 and math.isnan(v)):
                    go_left = default_left
                else:
                    go_left = v <= self.threshold[node]
            node = self.left[node] if go_left else self.right[node]
        return self.leaf_value[~node]


def lgb_model_text(trees, num_class, per_iter, objective, nf, cat_features, average_output=False,
                   pandas_categorical="null"):
    blocks = [t.to_text(i, 0.1) for i, t in enumerate(trees)]
    infos = []
    for f in range(nf):
        infos.append(":".join(str(c) for c in range(8)) if f in cat_features else "[-1:3]")
    head = ["tree", "version=v4", "num_class=%d" % num_class, "num_tree_per_iteration=%d" % per_iter,
            "label_index=0", "max_feature_idx=%d" % (nf - 1), "objective=" + objective]
    if average_output:
        head.append("average_output")
    head += ["feature_names=" + " ".join("feat_%d" % i for i in range(nf)),
             "feature_infos=" + " ".join(infos),
             "tree_sizes=" + " ".join(str(len(b.encode())) for b in blocks)]
    text = "\n".join(head) + "\n\n" + "".join(blocks) + "end of trees\n\n"
    text += "feature_importances:\n" + "".join("feat_%d=%d\n" % (i, nf - i) for i in range(nf))
    text += "\nparameters:\n[boosting: gbdt]\n[objective: %s]\nend of parameters\n" % objective.split()[0]
    text += "\npandas_categorical:" + pandas_categorical + "\n"
    return text


def random_lgb_tree(rng, nf, cat_features, num_leaves, grid):
    t = LgbTree()
    t.leaf_value[0] = float(rng.randn() * 0.3)
    while t.num_leaves < num_leaves:
        leaf = int(rng.randint(t.num_leaves))
        f = int(rng.randint(nf))
        lv, rv = float(rng.randn() * 0.3), float(rng.randn() * 0.3)
        if f in cat_features:
            k = int(rng.randint(1, 6))
            cats = sorted(set(int(c) for c in rng.choice(45, k, replace=False)))
            idx = t.add_cat_set(cats)
            missing = int(rng.choice([0, 2]))  # None or NaN (LightGBM writes both for categoricals)
            t.split(leaf, f, float(idx), 1 | (missing << 2), lv, rv)
        else:
            missing = int(rng.randint(3))  # 0 None, 1 Zero, 2 NaN
            default_left = int(rng.randint(2))
            th = K_ZERO if (missing == 1 and rng.rand() < 0.3) else float(rng.choice(grid))
            t.split(leaf, f, th, (default_left << 1) | (missing << 2), lv, rv)
    return t


def lgb_transform(objective, margins):
    name = objective.split()[0]
    sig = 1.0
    for tok in objective.split()[1:]:
        if tok.startswith("sigmoid:"):
            sig = float(tok[8:])
    if name in ("binary", "multiclassova"):
        return [1.0 / (1.0 + math.exp(-sig * m)) for m in margins]
    if name == "multiclass":
        wmax = max(margins)
        e = [math.exp(m - wmax) for m in margins]
        s = 0.0
        for v in e:
            s += v
        return [v / s for v in e]
    if name in ("poisson", "gamma", "tweedie"):
        return [math.exp(m) for m in margins]
    if name == "regression" and "sqrt" in objective.split():
        return [(1 if m > 0 else -1 if m < 0 else 0) * m * m for m in margins]
    return list(margins)


def lgb_rows(rng, nf, cat_features, grid, trees):
    rows = []
    for _ in range(14):
        r = [float(rng.choice(grid) if rng.rand() < 0.3 else rng.rand() * 4 - 1) for _ in range(nf)]
        for f in cat_features:
            r[f] = float(rng.randint(0, 45))
        for f in range(nf):
            if rng.rand() < 0.12:
                r[f] = float("nan")
        rows.append(r)
    specials = [0.0, -0.0, 1e-36, -1e-36, K_ZERO, 1e-34, float("nan")]
    for k, v in enumerate(specials * 2):
        r = [float(rng.rand() * 4 - 1) for _ in range(nf)]
        for f in cat_features:
            r[f] = float(rng.randint(0, 45))
        r[k % nf] = v
        rows.append(r)
    # exactly on thresholds and one double step below/above
    for t in trees[:6]:
        for node in range(len(t.split_feature)):
            if t.decision_type[node] & 1:
                continue
            r = [float(rng.rand() * 4 - 1) for _ in range(nf)]
            for f in cat_features:
                r[f] = float(rng.randint(0, 45))
            f, th = t.split_feature[node], t.threshold[node]
            for v in (th, math.nextafter(th, -math.inf), math.nextafter(th, math.inf)):
                rr = list(r)
                rr[f] = v
                rows.append(rr)
    for f in cat_features:
        for v in [-1.0, -0.5, 0.0, 0.9, 2.7, 31.0, 32.0, 33.5, 44.0, 63.0, 64.0, 1000.0, 3e9, float("nan")]:
            r = [float(rng.rand() * 4 - 1) for _ in range(nf)]
            for g in cat_features:
                r[g] = float(rng.randint(0, 45))
            r[f] = v
            rows.append(r)
    return rows


def make_lightgbm(seed=77):
    rng = np.random.RandomState(seed)
    grid = [round(float(v), 6) for v in np.linspace(-0.8, 2.8, 19)] + [0.1 + 0.2, 1.0 / 3.0]
    specs = [
        # name, objective, num_class, per_iter, iterations, nf, cat_features, leaves, average, pandas
        ("lgb_binary", "binary sigmoid:1", 1, 1, 6, 4, [], 6, False, "null"),
        ("lgb_binary_sigmoid07", "binary sigmoid:0.7", 1, 1, 4, 4, [2], 5, False, "null"),
        ("lgb_multiclass", "multiclass num_class:3", 3, 3, 3, 5, [1], 5, False, "null"),
        ("lgb_regression", "regression", 1, 1, 6, 5, [0, 3], 7, False,
         '[["a","b","c","d","e","f","g","h"],[10,20,30,40,50,60,70,80]]'),
        ("lgb_regression_sqrt", "regression sqrt", 1, 1, 4, 3, [], 4, False, "null"),
        ("lgb_poisson_rf", "poisson", 1, 1, 5, 4, [1], 6, True, "null"),
    ]
    for name, obj, num_class, per_iter, iters, nf, cats, leaves, avg, pandas in specs:
        trees = [random_lgb_tree(rng, nf, cats, int(rng.randint(2, leaves + 1)), grid)
                 for _ in range(iters * per_iter)]
        if name == "lgb_regression":
            stump = LgbTree()
            stump.leaf_value[0] = 0.0625
            trees.append(stump)  # a single-leaf tree (num_leaves=1)
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write(lgb_model_text(trees, num_class, per_iter, obj, nf, cats, avg, pandas))
        rows = lgb_rows(rng, nf, cats, grid, trees)
        margins, preds = [], []
        for r in rows:
            m = [0.0] * per_iter
            for i, t in enumerate(trees):
                m[i % per_iter] += t.predict(r)
            if avg:
                m = [v / (len(trees) // per_iter) for v in m]
            margins.append(m)
            preds.append(lgb_transform(obj, m))
        write_csv(name, rows, margins, preds, fmt64)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_xgboost()
    make_lightgbm()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("fixtures in %s: %d files, %d bytes" % (OUT, len(os.listdir(OUT)), total))
