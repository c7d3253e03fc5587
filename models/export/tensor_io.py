"""Fixture tensors: raw little-endian .bin files described by JSON entries.

Entry: {"file": "<relative path>", "dtype": "float32"|"float16"|"int64"|"bool"|"uint8", "shape": [..]}
bool is stored as one byte per element (0/1). Row-major (C order).
"""
import json
import os

import numpy as np
import torch

_NP = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "bool": np.uint8, "uint8": np.uint8,
       "int32": np.int32}


def dtype_name(t):
    return {torch.float32: "float32", torch.float16: "float16", torch.int64: "int64", torch.bool: "bool",
            torch.uint8: "uint8", torch.int32: "int32"}[t.dtype]


def save(t, root, rel):
    t = t.detach().cpu().contiguous()
    dn = dtype_name(t)
    arr = t.numpy().astype(_NP[dn]).astype(np.dtype(_NP[dn]).newbyteorder("<"), copy=False)
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(arr.tobytes())
    return {"file": rel, "dtype": dn, "shape": list(t.shape)}


def load(entry, root):
    arr = np.fromfile(os.path.join(root, entry["file"]), dtype=np.dtype(_NP[entry["dtype"]]).newbyteorder("<"))
    arr = arr.reshape(entry["shape"]) if entry["shape"] else arr.reshape(())
    t = torch.from_numpy(arr.astype(_NP[entry["dtype"]]))
    if entry["dtype"] == "bool":
        t = t.bool()
    return t


def write_json(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def digest(t, n=8):
    """Compact summary used by per-step fixtures: first n values (flattened), sum, abs-sum, argmax."""
    f = t.detach().double().reshape(-1)
    return {"first": [float(x) for x in f[:n]], "sum": float(f.sum()), "abs_sum": float(f.abs().sum()),
            "argmax": int(torch.argmax(f).item()), "numel": int(f.numel())}
