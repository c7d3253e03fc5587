"""Minimal safetensors reader/writer using only numpy + torch (no `safetensors` package).

Format: 8-byte little-endian header length N, N bytes of JSON header
({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the raw
little-endian tensor data. Offsets are relative to the end of the header.
"""
import json
import struct
import warnings

import numpy as np
import torch

_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.int16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_TORCH_TO_ST = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
    return n, header


def load_safetensors(path, dtype=None, mmap=True):
    """Return {name: torch.Tensor}. With mmap the file is memory-mapped (no full read).

    dtype: optional torch dtype to convert floating tensors to (conversion copies).
    """
    n, header = read_header(path)
    base = 8 + n
    raw = np.memmap(path, dtype=np.uint8, mode="r") if mmap else np.fromfile(path, dtype=np.uint8)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        st = info["dtype"]
        if st not in _NP:
            raise ValueError(f"{path}: unsupported dtype {st} for {name}")
        b, e = info["data_offsets"]
        arr = raw[base + b: base + e].view(_NP[st]).reshape(info["shape"])
        if mmap:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # read-only memmap: tensors are never written
                t = torch.from_numpy(arr)
        else:
            t = torch.from_numpy(np.array(arr))
        if st == "BF16":
            t = t.view(torch.bfloat16)
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t
    return out


def save_safetensors(tensors, path, metadata=None):
    """Write {name: tensor} in safetensors layout (keys sorted, 8-byte aligned header)."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        st = _TORCH_TO_ST[t.dtype]
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)
