#!/usr/bin/env python3
"""Export a UniMedVL checkpoint to the ONNX bundle described in shared/design/UNIMEDVL.md.

    python3 models/export/export.py --checkpoint DIR --out DIR [--dtype fp16|fp32] [--device cpu|cuda]

DIR holds ema.safetensors, ae.safetensors, llm_config.json, vit_config.json, tokenizer.json
(+ tokenizer_config.json if present). Uses the classic TorchScript exporter (opset 17); works with
torch 1.13 + onnx 1.12 and with torch 2.x (dynamo=False).
"""
import argparse
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import onnx  # noqa: E402

from modeling import load_checkpoint, ModelConfig  # noqa: E402
from graphs import GRAPH_NAMES, build_graphs, io_specs, example_inputs  # noqa: E402

OPSET = 17
TWO_GB = 2 * 1024 ** 3
BUNDLE_FORMAT = 1

SPECIAL_TOKENS = {
    "bos": "<|im_start|>",            # starts a text block; first token fed to the decoder
    "eos": "<|im_end|>",              # ends a text block; decode stop token
    "start_of_image": "<|vision_start|>",
    "end_of_image": "<|vision_end|>",
    "endoftext": "<|endoftext|>",
}

PREPROCESS = {
    "vit": {"max_size": 980, "min_size": 378, "stride": 14, "max_pixels": 2007040,
            "resample": "bicubic", "antialias": True, "rounding": "python-round-half-even",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "patch_size": 14, "max_patches_per_side": 70,
            "patch_vector_order": "row_in_patch,col_in_patch,channel", "position_id": "row*70+col",
            "background": "white"},
    "vae": {"max_size": 1024, "min_size": 32, "stride": 16, "max_pixels": 1806336,
            "resample": "bicubic", "antialias": True, "rounding": "python-round-half-even",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "background": "white"},
    # The generator's own ViT rule (interactive_image_generator.py DEFAULT_CONFIG vit_transform_size
    # (980, 387, 14), ImageTransform's default max_pixels 14*14*9*1024): applied by
    # InterleaveInferencer.interleave_inference to the image the VAE rule already resized, for the ViT
    # block of a generation context (and of the understanding pass that precedes an edit).
    "vit_generation": {"max_size": 980, "min_size": 387, "stride": 14, "max_pixels": 1806336,
                       "applies_to": "vae-resized image", "resample": "bicubic", "antialias": True,
                       "rounding": "python-round-half-even", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}

LATENT = {"channels": 16, "downsample": 8, "patch_size": 2, "token_dim": 64, "pixels_per_token": 16,
          "scale_factor": 0.3611, "shift_factor": 0.1159, "max_grid": 64, "position_id": "row*64+col",
          "token_order": "row_in_patch,col_in_patch,channel"}

DECODE = {"strategy": "greedy", "max_new_tokens": 500, "temperature": 1.0}

GUIDANCE = {
    "num_timesteps": 50, "timestep_shift": 3.0, "cfg_renorm_min": 0.0,
    "edit": {"cfg_text_scale": 4.0, "cfg_img_scale": 2.0, "cfg_interval": [0.0, 1.0], "cfg_renorm_type": "text_channel"},
    "t2i": {"cfg_text_scale": 4.0, "cfg_img_scale": 1.0, "cfg_interval": [0.4, 1.0], "cfg_renorm_type": "global"},
}

LICENSE = {
    "weights": "UniMedVL weights (General-Medical-AI/UniMedVL): see the model card; research use only",
    "code": "architecture re-implemented from the public description (uni-medical/UniMedVL, Apache-2.0 parts); no CC BY-NC code copied",
    "intended_use": "Research use only. Not a medical device; outputs must not be used for clinical decisions.",
}


def log(msg):
    print(f"[export {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _dynamic_axes(spec):
    axes = {}
    for io in spec["inputs"] + spec["outputs"]:
        d = {i: s for i, s in enumerate(io["shape"]) if isinstance(s, str)}
        if d:
            axes[io["name"]] = d
    return axes


def _onnx_export(module, args, path, spec):
    kw = dict(input_names=[i["name"] for i in spec["inputs"]],
              output_names=[o["name"] for o in spec["outputs"]],
              dynamic_axes=_dynamic_axes(spec), opset_version=OPSET, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(module, args, path, **kw)


def param_bytes(module):
    seen, n = set(), 0
    for p in list(module.parameters()) + list(module.buffers()):
        if id(p) in seen:
            continue
        seen.add(id(p))
        n += p.numel() * p.element_size()
    return n


def fix_io_shapes(model, spec):
    """Write the declared shapes (ints / symbolic names) onto the graph inputs and outputs."""
    by = {io["name"]: io for io in spec["inputs"] + spec["outputs"]}
    for v in list(model.graph.input) + list(model.graph.output):
        io = by.get(v.name)
        if io is None:
            continue
        shp = v.type.tensor_type.shape
        del shp.dim[:]
        for d in io["shape"]:
            nd = shp.dim.add()
            if isinstance(d, str):
                nd.dim_param = d
            else:
                nd.dim_value = d
    return model


def consolidate_external(model, src_dir, data_path, location, align=4096):
    """Rewrite every external initializer to live in one file (`location`), copying bytes."""
    from onnx.external_data_helper import _get_all_tensors, uses_external_data
    with open(data_path, "wb") as out:
        for t in _get_all_tensors(model):
            if not uses_external_data(t):
                continue
            info = {e.key: e.value for e in t.external_data}
            src = os.path.join(src_dir, info["location"])
            off = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else os.path.getsize(src) - off
            pos = out.tell()
            pad = (-pos) % align
            if pad:
                out.write(b"\0" * pad)
                pos += pad
            with open(src, "rb") as f:
                f.seek(off)
                remaining = length
                while remaining:
                    chunk = f.read(min(remaining, 1 << 24))
                    if not chunk:
                        raise IOError(f"short read in {src}")
                    out.write(chunk)
                    remaining -= len(chunk)
            del t.external_data[:]
            for k, v in (("location", location), ("offset", str(pos)), ("length", str(length))):
                e = t.external_data.add()
                e.key, e.value = k, v
            t.data_location = onnx.TensorProto.EXTERNAL


def export_graph(name, module, args, spec, out_dir, tmp_root, external_min_bytes=TWO_GB):
    """Export one graph; weights > 2 GB go to `<name>.onnx.data` (ONNX external data)."""
    final = os.path.join(out_dir, f"{name}.onnx")
    size = param_bytes(module)
    tmp = tempfile.mkdtemp(dir=tmp_root)
    try:
        p = os.path.join(tmp, f"{name}.onnx")
        _onnx_export(module, args, p, spec)
        files = [f for f in os.listdir(tmp)]
        if size < external_min_bytes and files == [f"{name}.onnx"]:
            m = fix_io_shapes(onnx.load(p), spec)
            onnx.save_model(m, final)
            return [f"{name}.onnx"]
        data = f"{name}.onnx.data"
        if files == [f"{name}.onnx"]:
            # exported inline (< 2 GB) but asked for external data: re-save with one data file
            m = fix_io_shapes(onnx.load(p), spec)
            onnx.save_model(m, final, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data, size_threshold=1024, convert_attribute=False)
            return [f"{name}.onnx", data]
        # > 2 GB: torch wrote one file per tensor; stream them into a single data file without
        # loading the weights (memory stays at one tensor)
        m = fix_io_shapes(onnx.load(p, load_external_data=False), spec)
        consolidate_external(m, tmp, os.path.join(out_dir, data), data)
        onnx.save_model(m, final)
        return [f"{name}.onnx", data]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def estimate(cfg: ModelConfig, wbytes):
    llm = cfg.llm
    per_expert = (llm.hidden_size * llm.num_attention_heads * llm.head_dim * 2
                  + llm.hidden_size * llm.num_key_value_heads * llm.head_dim * 2
                  + 3 * llm.hidden_size * llm.intermediate_size)
    n_llm = 2 * per_expert * llm.num_hidden_layers + 2 * llm.vocab_size * llm.hidden_size
    vit = cfg.vit
    n_vit = vit.num_hidden_layers * (4 * vit.hidden_size ** 2 + 2 * vit.hidden_size * vit.intermediate_size) \
        + (4900 + 588) * vit.hidden_size + vit.hidden_size * llm.hidden_size + llm.hidden_size ** 2 + 8996 * llm.hidden_size
    total = (n_llm + n_vit) * wbytes
    return {"params": n_llm + n_vit, "disk_bytes": int(total * 1.02),
            "peak_ram_bytes": int((n_llm + n_vit) * wbytes * 3.2),
            "largest_graph_bytes": int(2 * per_expert * llm.num_hidden_layers * wbytes)}


def export_bundle(ckpt_dir, out_dir, dtype="fp32", device="cpu", name="unimedvl", version="0.1.0",
                  graphs=None, extra_manifest=None, external_min_bytes=TWO_GB):
    t0 = time.time()
    tdtype = torch.float16 if dtype == "fp16" else torch.float32
    kv_dtype = "float16" if dtype == "fp16" else "float32"
    os.makedirs(out_dir, exist_ok=True)
    from modeling import LLMConfig, ViTConfig
    llm = LLMConfig.from_json(os.path.join(ckpt_dir, "llm_config.json"))
    vit = ViTConfig.from_json(os.path.join(ckpt_dir, "vit_config.json"))
    from modeling import VAEConfig
    est = estimate(ModelConfig(llm=llm, vit=vit, vae=VAEConfig()), 2 if dtype == "fp16" else 4)
    free = shutil.disk_usage(out_dir).free
    log(f"checkpoint {ckpt_dir} -> {out_dir} ({dtype}, device {device})")
    log(f"about {est['params'] / 1e9:.3f} B parameters; needs ~{est['disk_bytes'] / 2**30:.2f} GiB disk "
        f"(free {free / 2**30:.1f} GiB) and ~{est['peak_ram_bytes'] / 2**30:.2f} GiB RAM peak "
        f"(largest graph language_model ~{est['largest_graph_bytes'] / 2**30:.2f} GiB)")
    if free < est["disk_bytes"]:
        log("WARNING: not enough free disk for the estimate above")
    model, ae, cfg = load_checkpoint(ckpt_dir, tdtype)
    log(f"loaded checkpoint strictly in {time.time() - t0:.1f}s")
    if device != "cpu":
        model.to(device)
        ae.to(device)
    mods = build_graphs(model, ae)
    specs = io_specs(cfg, kv_dtype)
    manifest_graphs = {}
    tmp_root = tempfile.mkdtemp(prefix="unimedvl-export-", dir=out_dir)
    try:
        for gname in (graphs or GRAPH_NAMES):
            t1 = time.time()
            args = tuple(a.to(device) for a in example_inputs(cfg, gname, kv_dtype=tdtype))
            files = export_graph(gname, mods[gname], args, specs[gname], out_dir, tmp_root, external_min_bytes)
            manifest_graphs[gname] = {"file": files[0], "external_data": files[1:], **specs[gname]}
            sz = sum(os.path.getsize(os.path.join(out_dir, f)) for f in files)
            log(f"{gname}: {sz / 2**20:.2f} MiB in {time.time() - t1:.1f}s")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    for tf in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(ckpt_dir, tf)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out_dir, tf))
    write_manifest(out_dir, cfg, dtype, manifest_graphs, name=name, version=version, extra=extra_manifest)
    log(f"done in {time.time() - t0:.1f}s")
    return cfg


def write_manifest(out_dir, cfg, dtype, graphs, name="unimedvl", version="0.1.0", extra=None):
    llm = cfg.llm
    files = []
    for root, _, fs in os.walk(out_dir):
        for f in sorted(fs):
            p = os.path.join(root, f)
            rel = os.path.relpath(p, out_dir).replace(os.sep, "/")
            if rel == "manifest.json" or rel.startswith("reference/"):
                continue
            files.append({"path": rel, "size": os.path.getsize(p), "sha256": sha256(p)})
    files.sort(key=lambda x: x["path"])
    m = {
        "name": name,
        "version": version,
        "format_version": BUNDLE_FORMAT,
        "architecture": "unimedvl (BAGEL-7B-MoT: Qwen2 MoT + SigLIP + FLUX VAE)",
        "license": LICENSE,
        "dtype": dtype,
        "dtypes": {"weights": "float16" if dtype == "fp16" else "float32",
                   "norms_softmax_rope": "float32",
                   "kv_cache": "float16" if dtype == "fp16" else "float32",
                   "activations_io": "float32"},
        "model": {"hidden_size": llm.hidden_size, "intermediate_size": llm.intermediate_size,
                  "num_layers": llm.num_hidden_layers, "num_heads": llm.num_attention_heads,
                  "num_kv_heads": llm.num_key_value_heads, "head_dim": llm.head_dim,
                  "vocab_size": llm.vocab_size, "rms_norm_eps": llm.rms_norm_eps,
                  "vit": {"hidden_size": cfg.vit.hidden_size, "num_layers": cfg.vit.num_hidden_layers,
                          "num_heads": cfg.vit.num_attention_heads, "intermediate_size": cfg.vit.intermediate_size,
                          "patch_size": cfg.vit.patch_size},
                  "vae": {"ch": cfg.vae.ch, "ch_mult": cfg.vae.ch_mult, "num_res_blocks": cfg.vae.num_res_blocks,
                          "z_channels": cfg.vae.z_channels}},
        "rope_theta": llm.rope_theta,
        "special_tokens": SPECIAL_TOKENS,
        "tokenizer": {"file": "tokenizer.json",
                      "config": "tokenizer_config.json" if os.path.exists(os.path.join(out_dir, "tokenizer_config.json")) else None},
        "preprocess": PREPROCESS,
        "latent": LATENT,
        "decode": DECODE,
        "guidance": GUIDANCE,
        "graphs": graphs,
        "files": files,
    }
    if extra:
        m.update(extra)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (tracing device)")
    ap.add_argument("--name", default="unimedvl")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--graphs", default=None, help="comma separated subset (default: all eight)")
    ap.add_argument("--external-data-min-mb", type=float, default=2048,
                    help="graphs with at least this many MiB of weights use ONNX external data (default 2048)")
    a = ap.parse_args()
    torch.manual_seed(0)
    export_bundle(a.checkpoint, a.out, a.dtype, a.device, a.name, a.version,
                  graphs=a.graphs.split(",") if a.graphs else None,
                  external_min_bytes=int(a.external_data_min_mb * 2**20))


if __name__ == "__main__":
    main()
