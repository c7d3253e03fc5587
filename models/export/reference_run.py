#!/usr/bin/env python3
"""Runs the reference host loops (reference.py) on the tiny model for one request and writes every
intermediate the TypeScript engine is compared with: the engine-vs-reference regression tests
(test/model/reference-loop.test.ts) and `npm run bench -- model` call it.

    /usr/bin/python3 models/export/reference_run.py SPEC.json

SPEC: {"out": dir, "bundle": "models/tiny" (its manifest's tiny.seed rebuilds the same random
checkpoint), "scenario": "understand" | "edit",
       "image": {"kind": "ct_small" | "gradient", "size": [w, h]} (the source image; written to
       out/input.png), "prompt": str, "max_new_tokens": int (understand), "num_timesteps": int,
       "analyze_first": null | {"max_new_tokens": int}, "noise_seed": int, "threads": int,
       "record_velocities": bool}
Writes out/result.json (+ .bin tensors, raw little-endian; entries {file, dtype, shape}) with the
resized sizes, ViT token counts, context lengths, the analysis answer, per-step velocities of
every branch ([steps, n, 64]), the final latent tokens, the uint8 image, and wall times of the
context build, each flow step and each decode step (perf_counter, for the bench).
"""
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import build_tiny  # noqa: E402
import byte_tokenizer  # noqa: E402
import reference as R  # noqa: E402
import tensor_io  # noqa: E402
from graphs import build_graphs  # noqa: E402
from modeling import load_checkpoint  # noqa: E402


def source_image(spec):
    """The source image: pydicom's CT_small (128x128, 16-bit) windowed to 8 bits and resized with PIL
    bicubic to `size`, or the 40x30 gradient of the fixtures."""
    kind = spec.get("kind", "ct_small")
    w, h = spec.get("size", [256, 256])
    if kind == "gradient":
        import fixtures
        return fixtures.gradient_image(w, h)
    import pydicom
    from pydicom.data import get_testdata_file
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    a = ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
    lo, hi = 40 - 200, 40 + 200  # soft-tissue window
    u8 = (np.clip((a - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(u8, "L").resize((w, h), Image.BICUBIC).convert("RGB")


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(int(spec.get("threads", 1)))
    bundle = spec.get("bundle", os.path.join(HERE, "..", "tiny"))
    with open(os.path.join(bundle, "manifest.json")) as f:
        seed = json.load(f).get("tiny", {}).get("seed", 1234)
    ckpt = tempfile.mkdtemp(prefix="unimedvl-refrun-")
    try:
        build_tiny.write_checkpoint(ckpt, seed)
        model, ae, cfg = load_checkpoint(ckpt, torch.float32)
        with open(os.path.join(ckpt, "tokenizer.json")) as f:
            ids = R.special_ids_from_tokenizer_json(json.load(f))
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
    g = build_graphs(model, ae)
    eng = R.Engine(g, cfg, ids, byte_tokenizer.encode)
    src = R.to_rgb(source_image(spec.get("image", {})))
    src.save(os.path.join(out, "input.png"), format="PNG")
    gen = torch.Generator().manual_seed(int(spec.get("noise_seed", 7)))
    res = {"spec": spec, "input": {"png": "input.png", "width": src.size[0], "height": src.size[1]}}
    with torch.no_grad():
        if spec["scenario"] == "understand":
            t0 = time.perf_counter()
            ctx = eng.new_context()
            vit = R.resize(src, R.VIT_RULE)
            eng.add_vit_image(ctx, R.pixels(vit))
            eng.add_text(ctx, spec["prompt"])
            t1 = time.perf_counter()
            times = []
            last = [time.perf_counter()]

            def tick():
                now = time.perf_counter()
                times.append((now - last[0]) * 1000)
                last[0] = now
            answer, steps, stopped = decode_timed(eng, ctx, int(spec["max_new_tokens"]), tick)
            res.update(vit={"width": vit.size[0], "height": vit.size[1], "tokens": (vit.size[0] // 14) * (vit.size[1] // 14)},
                       answer_ids=answer, next_ids=[s["next_id"] for s in steps], stopped_on_eos=stopped,
                       step0_logits=tensor_io.save(steps[0]["logits"], out, "step0_logits.bin"),
                       last_logits=tensor_io.save(steps[-1]["logits"], out, "last_logits.bin"),
                       timing={"prefill_ms": (t1 - t0) * 1000, "decode_step_ms": times})
        else:
            run_edit(eng, spec, src, gen, out, res)
    tensor_io.write_json(res, os.path.join(out, "result.json"))


def decode_timed(eng, ctx, max_new_tokens, tick):
    """reference.Engine.decode_text with a clock tick after every decoder call (wraps lm_head)."""
    lm_head = eng.g["lm_head"]

    def head(h):
        r = lm_head(h)
        tick()
        return r
    eng.g = {**eng.g, "lm_head": head}
    try:
        return eng.decode_text(ctx, max_new_tokens)
    finally:
        eng.g = {**eng.g, "lm_head": lm_head}


def run_edit(eng, spec, src, gen, out, res):
    t0 = time.perf_counter()
    vae_img = R.resize(src, R.VAE_RULE)
    W, H = vae_img.size
    vae_noise = torch.randn(1, eng.cfg.vae.z_channels, H // 8, W // 8, generator=gen)
    n = (H // 16) * (W // 16)
    noise = torch.randn(n, 64, generator=gen)
    prompt = spec["prompt"]
    if spec.get("analyze_first"):
        instruction, answer, steps, stopped = eng.analyze_first([vae_img], prompt, byte_tokenizer.decode,
                                                                int(spec["analyze_first"]["max_new_tokens"]))
        res["analysis"] = {"answer_ids": answer, "stopped_on_eos": stopped, "decode_steps": len(steps),
                           "instruction": instruction}
    else:
        instruction = prompt
    ctxs = eng.build_contexts([("image", vae_img), ("text", instruction)], vae_noise=vae_noise)
    t1 = time.perf_counter()
    vit = R.resize(vae_img, R.GEN_VIT_RULE)
    cond, no_text, no_img = ctxs
    res.update(vae={"width": W, "height": H, "tokens": n},
               vit={"width": vit.size[0], "height": vit.size[1], "tokens": (vit.size[0] // 14) * (vit.size[1] // 14)},
               contexts={"cond": [cond.kv_len, cond.rope], "no_text": [no_text.kv_len, no_text.rope],
                         "no_img": [no_img.kv_len, no_img.rope]},
               noise=tensor_io.save(noise, out, "noise.bin"),
               vae_sample_noise=tensor_io.save(vae_noise, out, "vae_sample_noise.bin"))
    rec = {"v_cond": [], "v_no_text": [], "v_no_img": [], "v": []}
    times = []
    last = [time.perf_counter()]

    def record(i, t, dt, st, si, x, v_cond, v_text, v_img, v):
        now = time.perf_counter()
        times.append((now - last[0]) * 1000)
        if spec.get("record_velocities", True):
            for k, val in (("v_cond", v_cond), ("v_no_text", v_text), ("v_no_img", v_img), ("v", v)):
                rec[k].append(val if val is not None else torch.zeros_like(v_cond))
        last[0] = time.perf_counter()
    last[0] = time.perf_counter()
    x = eng.flow(ctxs, H, W, noise, 4.0, 2.0, [0.0, 1.0], "text_channel", 0.0, int(spec.get("num_timesteps", 50)), 3.0,
                 record=record)
    _, _, u8 = eng.decode(x, H, W)
    res["velocities"] = {k: tensor_io.save(torch.stack(v), out, f"{k}.bin") for k, v in rec.items() if v}
    res["final_x"] = tensor_io.save(x, out, "final_x.bin")
    res["image_u8"] = tensor_io.save(u8, out, "image_u8.bin")
    res["timing"] = {"context_ms": (t1 - t0) * 1000, "flow_step_ms": times}


if __name__ == "__main__":
    main()
