#!/usr/bin/env python3
"""Markdown table from benchmark harness records (JSON lines, as printed with --json).

  python3 scripts/perf_table.py records.jsonl [more.jsonl ...]   (or records on stdin)
  options: --bench NAME (only that bench), --columns a,b,c (default below),
           --pivot PEER,PEER: one row per case, and per target (native, wasm) the tessera
           value then its ratio against each named peer (how the conv table is laid out),
           --doc docs/performance.md --section NAME: replace the text between
           <!-- NAME:begin --> and <!-- NAME:end --> in that file instead of printing

Generic over the record fields: any field can be a column; "tessera" and "peer_value" are
printed with the record's unit, "ratio" as N.NNx. Records without a peer show "-". A line
above each table names the CPU and instruction set ("cpu", "isa") the records came from.
"""
import argparse
import json
import re
import sys

DEFAULT_COLUMNS = ["case", "target", "threads", "tessera", "peer", "peer_value", "ratio", "note"]


def fmt_value(v, unit):
    if isinstance(v, (int, float)):
        if v == 0:
            return "-"
        if abs(v) >= 1e6:
            s = f"{v / 1e6:.2f}M"
        elif abs(v) >= 1e4:
            s = f"{v / 1e3:.1f}k"
        else:
            s = f"{v:.4g}"
        return f"{s} {unit}".strip()
    return str(v)


def cell(rec, col):
    v = rec.get(col, "")
    if col in ("tessera", "peer_value"):
        return fmt_value(v, rec.get("unit", ""))
    if col == "ratio":
        return f"{v:.2f}x" if isinstance(v, (int, float)) and v else "-"
    if col == "peer":
        return v or "-"
    return str(v).replace("|", "\\|")


def pivot_table(records, peers):
    """Rows: cases in first-seen order. Per target: tessera, then ratio vs each peer."""
    targets = [t for t in ("native", "wasm") if any(r.get("target") == t for r in records)]
    cases, value, ratio = [], {}, {}
    for r in records:
        c, t = r.get("case", ""), r.get("target", "")
        if c not in cases:
            cases.append(c)
        value[(c, t)] = fmt_value(r.get("tessera", 0), r.get("unit", ""))
        if r.get("peer") in peers:
            ratio[(c, t, r["peer"])] = cell(r, "ratio")
    header = ["case"] + [h for t in targets for h in [t] + [f"vs {p}" for p in peers]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for c in cases:
        row = [c.replace("|", "\\|")]
        for t in targets:
            row.append(value.get((c, t), "-"))
            row += [ratio.get((c, t, p), "-") for p in peers]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def provenance(records):
    """One line naming the CPU and, per target, the instruction set the records came from."""
    cpus = sorted({r["cpu"] for r in records if r.get("cpu")})
    isas = []
    for t in ("native", "wasm"):
        names = sorted({r["isa"] for r in records if r.get("target") == t and r.get("isa")})
        if names:
            isas.append(f"{t} {', '.join(names)}")
    if not cpus and not isas:
        return ""
    return f"Measured on {', '.join(cpus) or 'an unrecorded CPU'}; ISA: {'; '.join(isas) or 'unrecorded'}.\n\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--bench")
    ap.add_argument("--columns", default=",".join(DEFAULT_COLUMNS))
    ap.add_argument("--doc")
    ap.add_argument("--section")
    ap.add_argument("--pivot")
    args = ap.parse_args()
    lines = []
    if args.files:
        for path in args.files:
            with open(path) as f:
                lines += f.read().splitlines()
    else:
        lines = sys.stdin.read().splitlines()
    records = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if args.bench and rec.get("bench") != args.bench:
            continue
        records.append(rec)
    if args.pivot:
        text = pivot_table(records, args.pivot.split(","))
    else:
        cols = args.columns.split(",")
        table = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        table += ["| " + " | ".join(cell(rec, c) for c in cols) + " |" for rec in records]
        text = "\n".join(table) + "\n"
    text = provenance(records) + text
    if not args.doc:
        sys.stdout.write(text)
        return
    begin, end = f"<!-- {args.section}:begin -->", f"<!-- {args.section}:end -->"
    with open(args.doc) as f:
        doc = f.read()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(doc):
        sys.exit(f"perf_table.py: {args.doc} has no {begin} ... {end} section")
    doc = pattern.sub(lambda _: begin + "\n" + text + end, doc)
    with open(args.doc, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
