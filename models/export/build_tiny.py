#!/usr/bin/env python3
"""Build the tiny bundle: seeded random weights in the official checkpoint layout (written as
safetensors into a temp dir), exported by export.py's code path, plus reference fixtures.

    /usr/bin/python3 models/export/build_tiny.py --out models/tiny [--seed 1234] [--no-fixtures]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

torch.set_num_threads(1)

from modeling import (LLMConfig, ViTConfig, VAEConfig, ModelConfig, UniMedVL, AutoEncoder,  # noqa: E402
                      sincos_2d_table, RMSNorm, LayerNorm, GroupNorm32, Emb, Lin, Conv, PosTable)
from safetensors_io import save_safetensors  # noqa: E402
import byte_tokenizer  # noqa: E402

TINY_LLM = dict(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=6,
                num_key_value_heads=3, vocab_size=320, rope_theta=1000000.0, rms_norm_eps=1e-6,
                max_position_embeddings=32768, hidden_act="silu", tie_word_embeddings=False,
                qk_norm=True, layer_module="Qwen2MoTDecoderLayer", model_type="qwen2")
# vit_config.json says 3 layers: the loaders build one fewer (2), as for the real 27 -> 26
TINY_VIT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                patch_size=14, num_channels=3, image_size=980, layer_norm_eps=1e-6,
                hidden_act="gelu_pytorch_tanh", model_type="siglip_vision_model")
TINY_VAE = VAEConfig(ch=32, ch_mult=[1, 1, 1, 1], num_res_blocks=2)


def tiny_config():
    llm = LLMConfig(**{k: v for k, v in TINY_LLM.items() if k in LLMConfig.__dataclass_fields__})
    vit = ViTConfig(**{k: v for k, v in TINY_VIT.items() if k in ViTConfig.__dataclass_fields__})
    vit.num_hidden_layers = TINY_VIT["num_hidden_layers"] - 1
    return ModelConfig(llm=llm, vit=vit, vae=TINY_VAE)


def random_state(module, gen):
    """Seeded random weights, by module type (deterministic: sorted names, one generator)."""
    kinds = {}
    for mname, mod in module.named_modules():
        for pn, _ in mod.named_parameters(recurse=False):
            kinds[f"{mname}.{pn}" if mname else pn] = (mod, pn)
    sd = {}
    for k in sorted(kinds):
        mod, pn = kinds[k]
        shape = getattr(mod, pn).shape
        n = torch.randn(shape, generator=gen)
        if isinstance(mod, (RMSNorm, LayerNorm, GroupNorm32)):
            t = 1.0 + 0.1 * n if pn == "weight" else 0.05 * n
        elif isinstance(mod, PosTable):
            side = int(round(shape[0] ** 0.5))
            t = sincos_2d_table(shape[1], side)
        elif isinstance(mod, Emb):
            t = 0.5 * n
        elif isinstance(mod, (Lin, Conv)):
            if pn == "weight":
                fan_in = 1
                for s in shape[1:]:
                    fan_in *= s
                t = n / fan_in ** 0.5
            else:
                t = 0.05 * n
        else:
            raise RuntimeError(f"unhandled parameter {k}")
        sd[k] = t.float().contiguous()
    return sd


def write_checkpoint(ckpt, seed):
    cfg = tiny_config()
    gen = torch.Generator().manual_seed(seed)
    m = UniMedVL(cfg)
    ae = AutoEncoder(cfg.vae)
    save_safetensors(random_state(m, gen), os.path.join(ckpt, "ema.safetensors"), {"format": "pt"})
    save_safetensors(random_state(ae, gen), os.path.join(ckpt, "ae.safetensors"), {"format": "pt"})
    with open(os.path.join(ckpt, "llm_config.json"), "w") as f:
        json.dump(TINY_LLM, f, indent=1)
    with open(os.path.join(ckpt, "vit_config.json"), "w") as f:
        json.dump(TINY_VIT, f, indent=1)
    byte_tokenizer.write(ckpt)
    return cfg


def build(out, seed=1234, fixtures=True, keep_ckpt=None):
    from export import export_bundle
    t0 = time.time()
    torch.manual_seed(seed)
    if os.path.isdir(out):
        for f in os.listdir(out):
            p = os.path.join(out, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(out, exist_ok=True)
    ckpt = keep_ckpt or tempfile.mkdtemp(prefix="unimedvl-tiny-ckpt-")
    os.makedirs(ckpt, exist_ok=True)
    try:
        write_checkpoint(ckpt, seed)
        export_bundle(ckpt, out, "fp32", name="unimedvl-tiny", version="0.1.0",
                      extra_manifest={"tiny": {"seed": seed, "random_weights": True,
                                               "note": "random weights, same interface as the real bundle"}})
        if fixtures:
            import fixtures as fx
            fx.write_all(ckpt, out, seed)
    finally:
        if not keep_ckpt:
            shutil.rmtree(ckpt, ignore_errors=True)
    total = 0
    for root, _, fs in os.walk(out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in fs)
    print(f"[build_tiny] {out}: {total / 2**20:.2f} MiB in {time.time() - t0:.1f}s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-fixtures", action="store_true")
    ap.add_argument("--keep-checkpoint", default=None, help="write the random checkpoint here and keep it")
    a = ap.parse_args()
    build(a.out, a.seed, not a.no_fixtures, a.keep_checkpoint)


if __name__ == "__main__":
    main()
