#!/usr/bin/env python3
"""Side-by-side benchmark of two builds: did a change make any kernel slower?

    scripts/bench_ab.py OLD_BENCH NEW_BENCH [--rounds N] [--threshold R] [-- bench flags]
    scripts/bench_ab.py --old-rev REV --bench bench_kernels [--rounds N] [-- bench flags]

Runs the two benchmark binaries alternately (old, new, new, old, ...: ABBA, so a drift of
the shared machine's load hits both sides alike), reads their --json records and prints, per
(bench, case, threads, unit), the median of each side and new/old (for times old/new, so
above 1 is always faster). Rows below --threshold are marked. With --old-rev the old binary
is built from that revision in a temporary git worktree (same configure as build/native).
Records with a peer (Eigen, peak) appear once per peer: only tessera's own value is compared.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run_records(cmd):
    out = subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"bench_ab: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def build_old(root, rev, target):
    work = tempfile.mkdtemp(prefix="tessera-ab-")
    tree = os.path.join(work, "tree")
    subprocess.run(["git", "-C", root, "worktree", "add", "--detach", tree, rev], check=True,
                   stdout=subprocess.DEVNULL)
    build = os.path.join(tree, "build")
    subprocess.run(["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DTESSERA_BUILD_TESTS=OFF", "-DTESSERA_BUILD_EXAMPLES=OFF"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "--target", target], check=True, stdout=subprocess.DEVNULL)
    return tree, os.path.join(build, "benchmarks", target)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", nargs="?")
    ap.add_argument("new", nargs="?")
    ap.add_argument("--old-rev")
    ap.add_argument("--bench", default="bench_kernels", help="target name with --old-rev")
    ap.add_argument("--new-build", default="build/native")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threshold", type=float, default=0.95)
    args, extra = ap.parse_known_args()
    extra = [a for a in extra if a != "--"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tree = None
    if args.old_rev:
        tree, old = build_old(root, args.old_rev, args.bench)
        new = args.new or os.path.join(root, args.new_build, "benchmarks", args.bench)
    else:
        if not (args.old and args.new):
            ap.error("give OLD_BENCH NEW_BENCH, or --old-rev")
        old, new = args.old, args.new
    try:
        values = {"old": collections.defaultdict(list), "new": collections.defaultdict(list)}
        lower_is_better = {}
        for i in range(args.rounds):
            order = (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old))
            for side, binary in order:
                seen = set()
                for r in run_records([binary] + extra):
                    key = (r.get("bench"), r.get("case"), r.get("threads"), r.get("unit"))
                    if key in seen:  # the same measurement repeated once per peer
                        continue
                    seen.add(key)
                    values[side][key].append(r.get("tessera", 0))
                    lower_is_better[key] = r.get("unit") in ("us", "ns", "ms", "s")
    finally:
        if tree:
            subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree], check=False)
    print(f"{'bench':12} {'case':44} {'thr':>3} {'old':>10} {'new':>10} {'new/old':>7}")
    slower = 0
    for key in sorted(set(values["old"]) & set(values["new"]), key=str):
        o, n = statistics.median(values["old"][key]), statistics.median(values["new"][key])
        ratio = (o / n if lower_is_better[key] else n / o) if o and n else 0.0
        mark = "  <" if ratio < args.threshold else ""
        slower += bool(mark)
        print(f"{str(key[0])[:12]:12} {str(key[1])[:44]:44} {key[2]!s:>3} {o:10.4g} {n:10.4g} {ratio:7.3f}{mark}")
    unmatched = set(values["old"]) ^ set(values["new"])
    if unmatched:
        print(f"{len(unmatched)} records only on one side (renamed or new cases)")
    print(f"{slower} row(s) below {args.threshold}: rerun those alone before believing them")


if __name__ == "__main__":
    main()
