#!/usr/bin/env python3
"""Checks that tessera's includes point only down the stack.

    wasm -> llm / onnx / nn / trees -> kernels -> simd, runtime -> core
    trees/load (model-format loaders) -> io, trees, core
    io (container readers: file, JSON, UBJSON, GGUF, protobuf wire format) -> core only
    onnx (ONNX model structure, graph importer, planner, session) -> io, nn, kernels, runtime, core
    nn (layers over the kernels) -> kernels, runtime, simd, core
    vision (images, pre/post-processing of detectors) -> kernels, simd, runtime, core, and of io
        only the plain file reader and text helpers (io/file.hpp, io/excerpt.hpp,
        io/json_string.hpp): it reads images, never models
    llm (transformer blocks, GGUF/llama2.c models, sessions) -> io, kernels, runtime, simd, core

and the rules the tree relies on besides:
  - xsimd is included only by simd/ (everything else goes through tessera/simd/simd.hpp);
  - Eigen is included only by tessera/eigen.hpp (it sets EIGEN_DONT_VECTORIZE for em++);
  - references (kernels/ref/, trees/predict_ref.hpp) never reach simd/, runtime/ or a fast
    kernel, not even through another header: they are the oracle the fast paths are tested
    against and must not share code with them;
  - the flat forest layout, its compiler and the compiled-header writer (trees/forest_view.hpp,
    trees/compile.hpp, trees/compiled.hpp) never reach simd/ or runtime/ either: a tool that
    only writes or embeds a model does not compile the predictor's kernels;
  - core/ and kernels/ never include <iostream>, <regex> or JSON/protobuf code;
  - the text side of llm/ (tokenizers, Unicode tables, detokenizer, sampling, chat templates)
    reaches only core/ and io/: a program that only tokenizes compiles no kernels.

Usage: check_layers.py [ROOT]      checks ROOT/include/tessera (ROOT defaults to .)
       check_layers.py --self-test  checks that every rule reports a planted violation
Exit status 1 with one line per violation (file:line: include: rule), 0 when clean.
"""
import pathlib
import re
import sys
import tempfile

# layer -> the layers it may include directly (besides itself and TOP_LEVEL_OK headers).
# A layer is a folder under include/tessera/; trees/load and kernels/ref are layers of their own.
ALLOWED = {
    "core": set(),
    "simd": {"core"},
    "runtime": {"core"},
    "kernels": {"core", "simd", "runtime", "kernels/ref"},
    "kernels/ref": {"core", "kernels"},  # shape/epilogue descriptions only: see REFERENCE_MUST_NOT_REACH
    "nn": {"core", "simd", "runtime", "kernels"},
    "nn/load": {"core", "io", "nn"},  # weight sources of nn/static_net.hpp that read containers
    "trees": {"core", "simd", "runtime", "kernels"},
    "trees/load": {"core", "io", "trees"},
    "io": {"core"},
    "onnx": {"core", "runtime", "kernels", "nn", "io"},
    "llm": {"core", "simd", "runtime", "kernels", "io"},  # transformer blocks and GGUF models: no nn/ layers
    "vision": {"core", "simd", "runtime", "kernels", "io"},  # io: see VISION_IO_OK
    "wasm": {"core", "simd", "runtime", "kernels", "nn", "trees", "trees/load", "io", "onnx", "llm", "vision"},
    "detail": {"core", "simd", "runtime"},
}
SUBLAYERS = ("trees/load", "kernels/ref", "nn/load")
TOP_LEVEL_OK = {"config.hpp", "version.hpp", "fwd.hpp", "detail/internal_check.hpp"}
FORBIDDEN_SYSTEM = re.compile(r"(iostream|regex|nlohmann/.*|google/protobuf/.*)$")
FORBIDDEN_SYSTEM_IN = {"core", "kernels", "kernels/ref"}
# (pattern of an external include, the only headers that may include it, the rule's wording)
EXTERNAL_GATES = [
    (re.compile(r"xsimd/"), lambda rel: layer_of(rel) == "simd",
     "xsimd is included only by simd/ (use tessera/simd/simd.hpp)"),
    (re.compile(r"(Eigen|unsupported/Eigen)/"), lambda rel: rel == "eigen.hpp",
     "Eigen is included only by tessera/eigen.hpp"),
]
REFERENCE_HEADERS = lambda rel: layer_of(rel) == "kernels/ref" or rel == "trees/predict_ref.hpp"
# What a reference must not reach: simd/ and runtime/, and so every fast kernel (they all use one).
REFERENCE_MUST_NOT_REACH = {"simd", "runtime"}
# Headers of the flat tree layout, kept free of the predictor's kernels (same bound).
KERNEL_FREE_HEADERS = {"trees/forest_view.hpp", "trees/compile.hpp", "trees/compiled.hpp"}
# vision/ reads image files but no model container: of io/ only these.
VISION_IO_OK = {"io/file.hpp", "io/excerpt.hpp", "io/json_string.hpp"}
# llm/'s text side: tokenizers, Unicode, detokenizer, sampling, chat templates.
LLM_TEXT_HEADERS = lambda rel: (rel.startswith(("llm/tokenizer", "llm/unicode"))
                                or rel in {"llm/detokenizer.hpp", "llm/sampling.hpp", "llm/chat_template.hpp"})
LLM_TEXT_MUST_NOT_REACH = {"simd", "runtime", "kernels", "nn"}
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


def layer_of(rel: str) -> str:
    for sub in SUBLAYERS:
        if rel.startswith(sub + "/"):
            return sub
    return rel.split("/")[0] if "/" in rel else ""


def scan(inc: pathlib.Path):
    """rel path -> [(line, include target)] for every header under inc."""
    headers = {}
    for path in sorted(inc.rglob("*.hpp")):
        text = path.read_text(encoding="utf-8")
        headers[path.relative_to(inc).as_posix()] = [
            (text.count("\n", 0, m.start()) + 1, m.group(2)) for m in INCLUDE.finditer(text)]
    return headers


def tessera_target(target: str):
    return target[len("tessera/"):] if target.startswith("tessera/") else None


def first_path_to(headers, start: str, bad_layers):
    """Shortest include chain from start to a header in bad_layers, or None."""
    parent, queue = {start: None}, [start]
    while queue:
        cur = queue.pop(0)
        for _, target in headers.get(cur, []):
            dep = tessera_target(target)
            if dep is None or dep in parent:
                continue
            parent[dep] = cur
            if layer_of(dep) in bad_layers:
                chain = [dep]
                while parent[chain[-1]] is not None:
                    chain.append(parent[chain[-1]])
                return list(reversed(chain))
            queue.append(dep)
    return None


def check(inc: pathlib.Path):
    headers = scan(inc)
    problems = []
    for rel, includes in headers.items():
        layer = layer_of(rel)
        where = lambda line: f"include/tessera/{rel}:{line}"
        if layer and layer not in ALLOWED:
            problems.append(f"{where(1)}: unknown layer '{layer}': add it to ALLOWED in scripts/check_layers.py")
            continue
        for line, target in includes:
            for pattern, may, rule in EXTERNAL_GATES:
                if pattern.match(target) and not may(rel):
                    problems.append(f"{where(line)}: <{target}>: {rule}")
            if layer in FORBIDDEN_SYSTEM_IN and FORBIDDEN_SYSTEM.match(target):
                problems.append(f"{where(line)}: <{target}>: {layer}/ must not include it")
            dep = tessera_target(target)
            if dep is None or not layer or dep in TOP_LEVEL_OK:
                continue  # umbrellas and top-level headers may include any tessera header
            if "/" not in dep:
                problems.append(f"{where(line)}: <{target}>: layers include headers, not umbrellas")
                continue
            dep_layer = layer_of(dep)
            if dep_layer != layer and dep_layer not in ALLOWED[layer]:
                allowed = ", ".join(sorted(ALLOWED[layer])) or "nothing"
                problems.append(f"{where(line)}: <{target}>: {layer}/ may include only {allowed}")
            elif layer == "vision" and dep_layer == "io" and dep not in VISION_IO_OK:
                problems.append(f"{where(line)}: <{target}>: vision/ reads images, not model containers "
                                f"(of io/ only {', '.join(sorted(VISION_IO_OK))})")
        if REFERENCE_HEADERS(rel):
            chain = first_path_to(headers, rel, REFERENCE_MUST_NOT_REACH)
            if chain:
                problems.append(f"include/tessera/{rel}: references must not reach simd/ or runtime/ "
                                f"(fast-kernel code): {' -> '.join(chain)}")
        if LLM_TEXT_HEADERS(rel):
            chain = first_path_to(headers, rel, LLM_TEXT_MUST_NOT_REACH)
            if chain:
                problems.append(f"include/tessera/{rel}: llm/'s text side reaches only core/ and io/: {' -> '.join(chain)}")
        if rel in KERNEL_FREE_HEADERS:
            chain = first_path_to(headers, rel, REFERENCE_MUST_NOT_REACH)
            if chain:
                problems.append(f"include/tessera/{rel}: the flat tree layout must not reach simd/ or runtime/ "
                                f"(the predictor's kernels): {' -> '.join(chain)}")
    return problems


def main(root: pathlib.Path) -> int:
    problems = check(root / "include" / "tessera")
    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} violation(s)")
    return 1 if problems else 0


def self_test() -> int:
    """Plants one violation of each rule in a small fake tree; every one must be reported."""
    clean = {
        "core/error.hpp": "",
        "simd/simd.hpp": "#include <xsimd/xsimd.hpp>\n#include <tessera/core/error.hpp>\n",
        "runtime/pool.hpp": "#include <tessera/core/error.hpp>\n",
        "kernels/epilogue.hpp": "#include <tessera/core/error.hpp>\n",
        "kernels/gemm.hpp": "#include <tessera/simd/simd.hpp>\n",
        "kernels/ref/gemm.hpp": "#include <tessera/kernels/epilogue.hpp>\n",
        "io/json.hpp": '#include "tessera/core/error.hpp"\n',
        "trees/forest.hpp": '#include "tessera/core/error.hpp"\n',
        "trees/predict_ref.hpp": '#include "tessera/trees/forest.hpp"\n',
        "trees/predict.hpp": '#include "tessera/simd/simd.hpp"\n#include "tessera/trees/compiled.hpp"\n',
        "trees/compiled.hpp": '#include "tessera/trees/forest.hpp"\n',
        "trees/load/xgboost_json.hpp": '#include "tessera/io/json.hpp"\n#include "tessera/trees/forest.hpp"\n',
        "eigen.hpp": "#include <Eigen/Core>\n",
        "io/file.hpp": '#include "tessera/core/error.hpp"\n',
        "io/gguf.hpp": '#include "tessera/core/error.hpp"\n',
        "vision/image.hpp": '#include "tessera/io/file.hpp"\n#include "tessera/kernels/gemm.hpp"\n',
        "llm/tokenizer.hpp": '#include "tessera/io/json.hpp"\n',
    }
    planted = {  # file -> (extra line, text the report must contain)
        "io/json.hpp": ('#include "tessera/trees/forest.hpp"\n', "io/ may include only core"),
        "trees/forest.hpp": ('#include "tessera/io/json.hpp"\n', "trees/ may include only"),
        "trees/predict_ref.hpp": ('#include "tessera/kernels/gemm.hpp"\n', "references must not reach"),
        "trees/compiled.hpp": ('#include "tessera/trees/predict.hpp"\n',
                               "trees/compiled.hpp -> trees/predict.hpp -> simd/simd.hpp"),
        "kernels/ref/gemm.hpp": ("#include <tessera/kernels/gemm.hpp>\n", "kernels/ref/gemm.hpp -> kernels/gemm.hpp -> simd/simd.hpp"),
        "kernels/gemm.hpp": ("#include <xsimd/xsimd.hpp>\n#include <iostream>\n", "xsimd is included only by simd/"),
        "runtime/pool.hpp": ("#include <Eigen/Core>\n", "Eigen is included only by tessera/eigen.hpp"),
        "core/error.hpp": ("#include <tessera/tessera.hpp>\n", "not umbrellas"),
        "vision/image.hpp": ('#include "tessera/io/gguf.hpp"\n', "vision/ reads images, not model containers"),
        "llm/tokenizer.hpp": ("#include <tessera/kernels/gemm.hpp>\n", "llm/'s text side reaches only core/ and io/"),
    }
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        inc = pathlib.Path(tmp) / "include" / "tessera"

        def write(files):
            for rel, text in files.items():
                (inc / rel).parent.mkdir(parents=True, exist_ok=True)
                (inc / rel).write_text(text, encoding="utf-8")

        write(clean)
        if check(inc):
            print("self-test: the clean tree is reported:", *check(inc), sep="\n  ")
            failures += 1
        for rel, (line, needle) in planted.items():
            write({rel: clean[rel] + line})
            found = check(inc)
            if not any(needle in p for p in found):
                print(f"self-test: a bad include in {rel} was not reported as '{needle}'; got {found}")
                failures += 1
            write({rel: clean[rel]})
        write({"kernels/gemm.hpp": clean["kernels/gemm.hpp"] + "#include <iostream>\n"})
        if not any("kernels/ must not include it" in p for p in check(inc)):
            print("self-test: <iostream> in kernels/ was not reported")
            failures += 1
    print(f"check_layers self-test: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
