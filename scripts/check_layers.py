#!/usr/bin/env python3
"""Checks that tessera's includes point only down the stack.

    wasm -> llm / trees / nn / onnx -> kernels -> simd -> core
    io -> core (and io may use trees' IR to build models; nothing below io includes io)

Also: core/ and kernels/ never include <iostream>, <regex> or JSON/protobuf code.
Exit status 1 with a list of violations, 0 when clean.
"""
import pathlib
import re
import sys

# layer -> the layers it may include (besides itself and the top-level config headers)
ALLOWED = {
    "core": set(),
    "simd": {"core"},
    "runtime": {"core"},
    "kernels": {"core", "simd", "runtime"},
    "nn": {"core", "simd", "runtime", "kernels"},
    "trees": {"core", "simd", "runtime", "kernels"},
    "io": {"core", "trees", "runtime"},
    "onnx": {"core", "simd", "runtime", "kernels", "nn", "io"},
    "llm": {"core", "simd", "runtime", "kernels", "nn", "io"},
    "wasm": {"core", "simd", "runtime", "kernels", "nn", "trees", "io", "onnx", "llm"},
    "detail": {"core", "simd", "runtime"},
}
TOP_LEVEL_OK = {"config.hpp", "version.hpp", "fwd.hpp"}
FORBIDDEN_SYSTEM = {
    "core": re.compile(r"<(iostream|regex|nlohmann/.*|google/protobuf/.*)>"),
    "kernels": re.compile(r"<(iostream|regex|nlohmann/.*|google/protobuf/.*)>"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def main(root: pathlib.Path) -> int:
    inc = root / "include" / "tessera"
    problems = []
    for path in sorted(inc.rglob("*.hpp")):
        rel = path.relative_to(inc)
        if len(rel.parts) == 1:
            continue  # umbrellas and top-level headers may include anything
        layer = rel.parts[0]
        text = path.read_text(encoding="utf-8")
        for m in INCLUDE.finditer(text):
            target = m.group(2)
            if layer in FORBIDDEN_SYSTEM and FORBIDDEN_SYSTEM[layer].match("<" + target + ">"):
                problems.append(f"{rel}: {layer}/ must not include <{target}>")
            if not target.startswith("tessera/"):
                continue
            parts = target.split("/")
            if len(parts) == 2:
                if parts[1] not in TOP_LEVEL_OK:
                    problems.append(f"{rel}: includes umbrella <{target}>")
                continue
            dep = parts[1]
            if dep != layer and dep not in ALLOWED.get(layer, set()):
                problems.append(f"{rel}: layer '{layer}' must not include <{target}>")
    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
