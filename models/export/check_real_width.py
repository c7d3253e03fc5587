#!/usr/bin/env python3
"""Real-width check: a random model with the real widths (hidden 3584, 28/4 heads of 128, MLP
18944, vocab 152064, SigLIP 1152/4304/16 heads, FLUX VAE 128x[1,2,4,4]) but ONE decoder layer and
one ViT layer, written as a bf16 checkpoint in the official layout, exported in fp16 with ONNX
external data (forced for the big graphs, as the real >2 GB graphs get it), checked with
onnx.checker full_check, loaded in onnxruntime-node with graph I/O compared to the manifest, and
every graph run once against the fp16 PyTorch modules.

    /usr/bin/python3 models/export/check_real_width.py [--vocab 152064] [--keep DIR]

Prints peak RSS and timings. Needs ~12 GB RAM and ~8 GB disk with the real vocabulary.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from modeling import (LLMConfig, ViTConfig, VAEConfig, ModelConfig, UniMedVL, AutoEncoder, meta_init,  # noqa: E402
                      RMSNorm, LayerNorm, GroupNorm32, PosTable, sincos_2d_table, load_checkpoint)
from safetensors_io import save_safetensors  # noqa: E402


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def write_random_checkpoint(ckpt, vocab, seed=0, layers=1):
    llm = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=layers, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=vocab, rope_theta=1000000.0, rms_norm_eps=1e-6,
               max_position_embeddings=32768, hidden_act="silu", tie_word_embeddings=False, model_type="qwen2",
               qk_norm=True, layer_module="Qwen2MoTDecoderLayer")
    vit = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=2, num_attention_heads=16, patch_size=14,
               num_channels=3, image_size=980, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh",
               model_type="siglip_vision_model")
    cfg = ModelConfig(llm=LLMConfig(**{k: v for k, v in llm.items() if k in LLMConfig.__dataclass_fields__}),
                      vit=ViTConfig(**{k: v for k, v in vit.items() if k in ViTConfig.__dataclass_fields__}),
                      vae=VAEConfig())
    cfg.vit.num_hidden_layers = 1
    g = torch.Generator().manual_seed(seed)
    for fname, module in (("ema.safetensors", None), ("ae.safetensors", None)):
        with meta_init():
            module = UniMedVL(cfg) if fname == "ema.safetensors" else AutoEncoder(cfg.vae)
        kinds = {}
        for mname, mod in module.named_modules():
            for pn, p in mod.named_parameters(recurse=False):
                kinds[f"{mname}.{pn}" if mname else pn] = (mod, pn, tuple(p.shape))
        sd = {}
        for k in sorted(kinds):
            mod, pn, shape = kinds[k]
            if isinstance(mod, PosTable):
                t = sincos_2d_table(shape[1], int(round(shape[0] ** 0.5)))
            elif isinstance(mod, (RMSNorm, LayerNorm, GroupNorm32)):
                t = torch.ones(shape) if pn == "weight" else torch.zeros(shape)
            else:
                fan_in = 1
                for s in shape[1:]:
                    fan_in *= s
                t = torch.empty(shape).normal_(0, 1.0 / max(fan_in, 1) ** 0.5 if len(shape) > 1 else 0.02, generator=g)
            sd[k] = t.to(torch.bfloat16)
        save_safetensors(sd, os.path.join(ckpt, fname), {"format": "pt"})
        del sd, module
    with open(os.path.join(ckpt, "llm_config.json"), "w") as f:
        json.dump(llm, f)
    with open(os.path.join(ckpt, "vit_config.json"), "w") as f:
        json.dump(vit, f)
    import byte_tokenizer
    byte_tokenizer.write(ckpt)
    return cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=152064)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--layers", type=int, default=1, help="decoder layers at the real width (the real model has 28)")
    ap.add_argument("--device", default="cpu", help="export device (cuda on a GPU host)")
    ap.add_argument("--export-only", action="store_true",
                    help="stop after the export and checker (scripts/gpu-check.sh runs the TS engine on the bundle)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    work = a.keep or tempfile.mkdtemp(prefix="unimedvl-realwidth-", dir=os.environ.get("TMPDIR", "/tmp"))
    ckpt, out, cases = os.path.join(work, "ckpt"), os.path.join(work, "bundle"), os.path.join(work, "cases")
    for d in (ckpt, out, cases):
        os.makedirs(d, exist_ok=True)
    times = {}
    ok = True
    try:
        t = time.time()
        cfg = write_random_checkpoint(ckpt, a.vocab, layers=a.layers)
        times["checkpoint"] = time.time() - t
        print(f"[real-width] random bf16 checkpoint written in {times['checkpoint']:.1f}s, peak RSS {peak_rss_gib():.2f} GiB", flush=True)

        from export import export_bundle
        t = time.time()
        # force external data on every graph over 64 MiB (the real >2 GB graphs take the same path)
        export_bundle(ckpt, out, "fp16", device=a.device, name=f"unimedvl-realwidth-{a.layers}layer",
                      external_min_bytes=64 * 2**20)
        times["export"] = time.time() - t
        print(f"[real-width] export fp16 in {times['export']:.1f}s, peak RSS {peak_rss_gib():.2f} GiB", flush=True)

        import check_bundle
        t = time.time()
        m = check_bundle.check(out, run_node=False)
        times["checker"] = time.time() - t
        ext = {g: v["external_data"] for g, v in m["graphs"].items() if v["external_data"]}
        print(f"[real-width] checker full_check OK in {times['checker']:.1f}s; external data: {ext}", flush=True)
        sizes = {f["path"]: f["size"] for f in m["files"]}
        print(f"[real-width] bundle size {sum(sizes.values()) / 2**30:.2f} GiB", flush=True)
        if a.export_only:
            print(f"[real-width] bundle at {out}", flush=True)
            return

        # parity cases from the fp16 PyTorch modules
        import graph_cases
        from graphs import build_graphs
        t = time.time()
        model, ae, cfg2 = load_checkpoint(ckpt, torch.float16)
        graph_cases.write_cases(build_graphs(model, ae), cfg2, cases, kv_dtype=torch.float16, kv_name="float16",
                                tolerance=0.25,
                                only={"embed_tokens", "vision_encoder", "latent_embed", "language_model", "lm_head",
                                      "gen_head", "vae_encoder", "vae_decoder"})
        del model, ae
        times["torch_cases"] = time.time() - t
        print(f"[real-width] PyTorch fp16 reference outputs in {times['torch_cases']:.1f}s, peak RSS {peak_rss_gib():.2f} GiB", flush=True)

        node = os.path.join(ROOT, "node_modules", ".bin", "node")
        t = time.time()
        r = subprocess.run(["/usr/bin/time", "-v", node, os.path.join(HERE, "run_graph_cases.mjs"), out, "-", "--io-only"],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-3000:])
        io = json.loads(r.stdout.strip().splitlines()[-1])
        node_rss = [ln for ln in r.stderr.splitlines() if "Maximum resident" in ln]
        for g, spec in m["graphs"].items():
            assert io[g]["inputNames"] == [i["name"] for i in spec["inputs"]], g
            assert io[g]["outputNames"] == [o["name"] for o in spec["outputs"]], g
            for meta, want in zip(io[g]["inputs"], spec["inputs"]):
                if meta.get("type") not in (None, "non-tensor"):
                    assert meta["type"] == want["dtype"], (g, meta, want)
        times["ort_load"] = time.time() - t
        print(f"[real-width] onnxruntime-node loads all 8 graphs, I/O names/dtypes == manifest "
              f"({times['ort_load']:.1f}s; {node_rss[0].strip() if node_rss else ''})", flush=True)
        t = time.time()
        r = subprocess.run(["/usr/bin/time", "-v", node, os.path.join(HERE, "run_graph_cases.mjs"), out, cases],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-3000:])
        res = json.loads(r.stdout.strip().splitlines()[-1])
        node_rss = [ln for ln in r.stderr.splitlines() if "Maximum resident" in ln]
        times["ort_run"] = time.time() - t
        for x in res:
            flag = "ok" if x["maxAbsDiff"] <= x["tolerance"] else "FAIL"
            ok &= flag == "ok"
            print(f"  {flag} {x['case']}: max abs diff {x['maxAbsDiff']:.4g} ({x['ms']:.0f} ms)")
        print(f"[real-width] ran {len(res)} cases in onnxruntime-node in {times['ort_run']:.1f}s "
              f"({node_rss[0].strip() if node_rss else ''})", flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"[real-width] {'OK' if ok else 'FAILED'}; python peak RSS {peak_rss_gib():.2f} GiB; times "
          + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
