#!/usr/bin/python3
"""Times XGBoost's own predictor (Booster.inplace_predict) on the benchmark forest.

Prints one JSON object per line: {"peer":"xgboost","case":...,"threads":N,"value":...,"unit":...}
with case "batch" (rows/s over all rows, median of --reps) and "single_row" (ns per call,
median over repeated one-row calls, Python call overhead included as a user pays it).
"""
import argparse
import json
import time

import numpy as np
import xgboost as xgb


def median_seconds(fn, reps, min_seconds):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        calls = 0
        while True:
            fn()
            calls += 1
            t1 = time.perf_counter()
            if t1 - t0 >= min_seconds:
                break
        times.append((t1 - t0) / calls)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    with open(f"{args.data_dir}/meta.json") as f:
        meta = json.load(f)
    x = np.fromfile(f"{args.data_dir}/rows.f32", dtype=np.float32).reshape(meta["rows"], meta["features"])
    booster = xgb.Booster(model_file=f"{args.data_dir}/model.json")
    for t in [int(s) for s in args.threads.split(",")]:
        booster.set_param({"nthread": t})
        sec = median_seconds(lambda: booster.inplace_predict(x), args.reps, 0.0)
        print(json.dumps({"peer": "xgboost", "case": "batch", "threads": t, "unit": "rows/s",
                          "value": x.shape[0] / sec, "rows": x.shape[0],
                          "note": f"xgboost {xgb.__version__} inplace_predict nthread={t}"}), flush=True)
    booster.set_param({"nthread": 1})
    one = np.ascontiguousarray(x[:1])
    sec = median_seconds(lambda: booster.inplace_predict(one), args.reps, 0.2)
    print(json.dumps({"peer": "xgboost", "case": "single_row", "threads": 1, "unit": "ns",
                      "value": sec * 1e9, "note": f"xgboost {xgb.__version__} inplace_predict, 1 row, from Python"}),
          flush=True)


if __name__ == "__main__":
    main()
