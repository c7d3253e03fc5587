#!/usr/bin/env python3
"""CI check: regenerate the tiny bundle into a temp folder and compare it with the committed one.

    /usr/bin/python3 models/export/verify_tiny.py [--bundle models/tiny] [--keep DIR]

* committed bundle passes check_bundle (checker full_check, manifest sizes/sha256/I/O) and its
  graph cases replay in onnxruntime-node within tolerance;
* regenerated fixtures equal the committed ones: integers/strings exactly, floats within
  atol 1e-4 + rtol 1e-4 (JSON numbers and .bin tensors), images within 1 grey level;
* regenerated manifest equals the committed one except per-file sha256/size of .onnx files
  (exporter byte layout may differ across torch versions).
Exits 1 on any difference. Takes well under a minute on 2 cores.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ATOL, RTOL = 1e-4, 1e-4
_NP = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "bool": np.uint8, "uint8": np.uint8}


class Diff(Exception):
    pass


def cmp_json(a, b, path, errs):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            errs.append(f"{path}: keys differ {sorted(set(a) ^ set(b))}")
        for k in set(a) & set(b):
            cmp_json(a[k], b[k], f"{path}.{k}", errs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            errs.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            cmp_json(x, y, f"{path}[{i}]", errs)
    elif isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        if a != b:
            errs.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, int) and isinstance(b, int):
        if a != b:
            errs.append(f"{path}: {a} != {b}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if abs(a - b) > ATOL + RTOL * abs(b):
            errs.append(f"{path}: {a} != {b}")
    elif a != b:
        errs.append(f"{path}: {a!r} != {b!r}")


def bin_entries(obj, out):
    if isinstance(obj, dict):
        if "file" in obj and "dtype" in obj and "shape" in obj:
            out.append(obj)
        for v in obj.values():
            bin_entries(v, out)
    elif isinstance(obj, list):
        for v in obj:
            bin_entries(v, out)


def load_bin(root, e):
    return np.fromfile(os.path.join(root, e["file"]), dtype=np.dtype(_NP[e["dtype"]]).newbyteorder("<"))


def compare_reference(old, new, errs):
    for dirpath, _, files in os.walk(old):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), old)
            if not os.path.exists(os.path.join(new, rel)):
                errs.append(f"reference/{rel}: missing after regeneration")
    for dirpath, _, files in os.walk(new):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), new)
            po, pn = os.path.join(old, rel), os.path.join(new, rel)
            if not os.path.exists(po):
                errs.append(f"reference/{rel}: not committed")
                continue
            if f.endswith(".json"):
                with open(po) as a, open(pn) as b:
                    ja, jb = json.load(a), json.load(b)
                cmp_json(jb, ja, f"reference/{rel}", errs)
                base = os.path.dirname(po)
                basen = os.path.dirname(pn)
                entries = []
                bin_entries(ja, entries)
                for e in entries:
                    x, y = load_bin(basen, e), load_bin(base, e)
                    if x.shape != y.shape:
                        errs.append(f"{e['file']}: size differs")
                    elif e["dtype"] in ("float32", "float16"):
                        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
                        lim = ATOL + RTOL * np.abs(y.astype(np.float64))
                        if not np.all(d <= lim):
                            errs.append(f"{e['file']}: max abs diff {d.max():.3g}")
                    elif e["dtype"] == "uint8":
                        if np.abs(x.astype(np.int32) - y.astype(np.int32)).max(initial=0) > 1:
                            errs.append(f"{e['file']}: uint8 differs by more than 1")
                    elif not np.array_equal(x, y):
                        errs.append(f"{e['file']}: differs")
            elif f.endswith(".png"):
                a = np.asarray(Image.open(po).convert("RGB"), dtype=np.int32)
                b = np.asarray(Image.open(pn).convert("RGB"), dtype=np.int32)
                if a.shape != b.shape or np.abs(a - b).max(initial=0) > 1:
                    errs.append(f"reference/{rel}: image differs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=os.path.join(ROOT, "models", "tiny"))
    ap.add_argument("--keep", default=None)
    a = ap.parse_args()
    t0 = time.time()
    errs = []
    import check_bundle
    try:
        check_bundle.check(a.bundle, run_node=True, verbose=False)
    except Exception as e:  # noqa: BLE001
        errs.append(f"committed bundle: {e}")
    node = os.path.join(ROOT, "node_modules", ".bin", "node")
    r = subprocess.run([node, os.path.join(HERE, "run_graph_cases.mjs"), a.bundle,
                        os.path.join(a.bundle, "reference", "graphs")], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        errs.append("graph cases: " + r.stderr[-1500:])
    else:
        res = json.loads(r.stdout.strip().splitlines()[-1])
        worst = max(x["maxAbsDiff"] for x in res)
        print(f"onnxruntime-node parity on committed bundle: {len(res)} cases, worst {worst:.3g}")
        errs += [f"graph case {x['case']}: {x['maxAbsDiff']}" for x in res if not x["maxAbsDiff"] <= x["tolerance"]]
    tmp = a.keep or tempfile.mkdtemp(prefix="unimedvl-verify-")
    try:
        import build_tiny
        with open(os.path.join(a.bundle, "manifest.json")) as f:
            old_m = json.load(f)
        seed = old_m.get("tiny", {}).get("seed", 1234)
        build_tiny.build(tmp, seed)
        with open(os.path.join(tmp, "manifest.json")) as f:
            new_m = json.load(f)
        strip = lambda m: {**m, "files": [x if not x["path"].endswith(".onnx") else {"path": x["path"]} for x in m["files"]]}  # noqa: E731
        cmp_json(strip(new_m), strip(old_m), "manifest", errs)
        compare_reference(os.path.join(a.bundle, "reference"), os.path.join(tmp, "reference"), errs)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for e in errs[:50]:
        print("DIFF", e)
    print(f"verify_tiny: {'OK' if not errs else f'{len(errs)} differences'} in {time.time() - t0:.1f}s")
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
