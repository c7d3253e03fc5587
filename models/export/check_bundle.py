#!/usr/bin/env python3
"""Check a bundle: onnx.checker (full_check) on every graph, graph I/O == manifest (names, dtypes,
shapes incl. symbolic dims), every file's size + sha256, and (optionally) that onnxruntime-node
loads every graph with the same I/O names.

    /usr/bin/python3 models/export/check_bundle.py models/tiny [--node]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import onnx  # noqa: E402

from export import sha256  # noqa: E402

ONNX_DT = {1: "float32", 10: "float16", 7: "int64", 9: "bool", 2: "uint8", 6: "int32"}


def _io(values):
    out = []
    for v in values:
        tt = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
        out.append({"name": v.name, "dtype": ONNX_DT.get(tt.elem_type, str(tt.elem_type)), "shape": dims})
    return out


def full_check(path, external):
    """onnx.checker.check_model(..., full_check=True) without its side effect: with a *path*,
    onnx <= 1.14 runs infer_shapes_path(path) which overwrites the model file in place. Small
    graphs are checked as loaded protos; graphs with external data (> 2 GB) by path, with the
    strict shape-inference pass written to a temp file instead of over the model."""
    if not external and os.path.getsize(path) < 2 * 1024 ** 3:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return
    onnx.checker.check_model(path)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=os.path.dirname(path))
    os.close(fd)
    try:
        onnx.shape_inference.infer_shapes_path(path, tmp, check_type=True, strict_mode=True)
    finally:
        os.remove(tmp)


def check(bundle, run_node=False, verbose=True):
    with open(os.path.join(bundle, "manifest.json")) as f:
        m = json.load(f)
    for fe in m["files"]:
        p = os.path.join(bundle, fe["path"])
        assert os.path.getsize(p) == fe["size"], f"size mismatch {fe['path']}"
        assert sha256(p) == fe["sha256"], f"sha256 mismatch {fe['path']}"
    listed = {fe["path"] for fe in m["files"]}
    for name, g in m["graphs"].items():
        path = os.path.join(bundle, g["file"])
        for f in [g["file"]] + g["external_data"]:
            assert f in listed, f"{f} not in manifest files"
        full_check(path, bool(g["external_data"]))
        model = onnx.load(path, load_external_data=False)
        got_in = _io(model.graph.input)
        got_out = _io(model.graph.output)
        init = {i.name for i in model.graph.initializer}
        got_in = [i for i in got_in if i["name"] not in init]
        for want, got, what in ((g["inputs"], got_in, "inputs"), (g["outputs"], got_out, "outputs")):
            if want != got:
                raise AssertionError(f"{name} {what} differ from manifest:\n want {want}\n got  {got}")
        if verbose:
            print(f"ok {name}: checker full_check, {len(got_in)} inputs / {len(got_out)} outputs match manifest", flush=True)
        del model
    if run_node:
        node = os.path.join(ROOT, "node_modules", ".bin", "node")
        r = subprocess.run([node, os.path.join(HERE, "run_graph_cases.mjs"), os.path.abspath(bundle), "-", "--io-only"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("onnxruntime-node failed to load the bundle:\n" + r.stderr[-3000:])
        io = json.loads(r.stdout.strip().splitlines()[-1])
        for name, g in m["graphs"].items():
            assert io[name]["inputNames"] == [i["name"] for i in g["inputs"]], name
            assert io[name]["outputNames"] == [o["name"] for o in g["outputs"]], name
        if verbose:
            print("ok onnxruntime-node loads every graph; I/O names match the manifest", flush=True)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("--node", action="store_true", help="also load every graph in onnxruntime-node")
    a = ap.parse_args()
    check(a.bundle, a.node)
    print("bundle OK")


if __name__ == "__main__":
    main()
