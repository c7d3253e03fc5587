"""Per-graph parity cases: inputs and PyTorch outputs of each bundle graph, dumped as fixtures
that the TypeScript parity test (test/models/bundle-parity.int.test.ts) replays with
onnxruntime-node. Also used by check_real_width.py.

Case JSON (<dir>/<case>.json): {"graph", "case", "tolerance", "inputs": {name: entry},
"outputs": {name: entry}} with entries as in tensor_io.py (files relative to <dir>).
"""
import os

import torch

import tensor_io
from graphs import io_specs


def _lm_case(cfg, s, p, causal, gr, b=1, mask_zero=None, kv_dtype=torch.float32, seed=0, pos=None):
    g = torch.Generator().manual_seed(seed)
    H, nkv, hd, L = cfg.llm.hidden_size, cfg.llm.num_key_value_heads, cfg.llm.head_dim, cfg.llm.num_hidden_layers
    past = []
    for _ in range(L):
        past += [torch.randn(b, nkv, p, hd, generator=g).to(kv_dtype), torch.randn(b, nkv, p, hd, generator=g).to(kv_dtype)]
    mask = torch.ones(b, p + s, dtype=torch.int64)
    if mask_zero is not None:
        for bi, j in mask_zero:
            mask[bi, j] = 0
    if pos is None:
        pos = torch.arange(p, p + s, dtype=torch.int64).unsqueeze(0).repeat(b, 1)
    return (torch.randn(b, s, H, generator=g), pos, mask, torch.tensor(causal), torch.tensor(gr, dtype=torch.int64), *past)


def cases(cfg, kv_dtype=torch.float32):
    """(case name, graph, inputs tuple) covering dynamic shapes, empty past and gen_range forms."""
    z = cfg.vae.z_channels
    g = torch.Generator().manual_seed(7)
    out = [
        ("embed_tokens_2x3", "embed_tokens", (torch.tensor([[1, 5, 7], [257, 258, 0]], dtype=torch.int64),)),
        ("vision_encoder_28x42", "vision_encoder", (torch.rand(1, 3, 28, 42, generator=g) * 2 - 1,)),
        ("vision_encoder_42x14", "vision_encoder", (torch.rand(1, 3, 42, 14, generator=g) * 2 - 1,)),
        ("vae_encoder_32x48", "vae_encoder", (torch.rand(1, 3, 32, 48, generator=g) * 2 - 1, torch.randn(1, z, 4, 6, generator=g))),
        ("vae_encoder_16x16", "vae_encoder", (torch.rand(1, 3, 16, 16, generator=g) * 2 - 1, torch.randn(1, z, 2, 2, generator=g))),
        ("latent_embed_6", "latent_embed", (torch.randn(1, 6, 4 * z, generator=g), torch.tensor([0.75]),
                                            torch.tensor([[0, 1, 2, 64, 65, 66]], dtype=torch.int64))),
        ("latent_embed_b2", "latent_embed", (torch.randn(2, 2, 4 * z, generator=g), torch.tensor([0.0, 1.0]),
                                             torch.tensor([[0, 4095], [64, 1]], dtype=torch.int64))),
        ("language_model_prefill_causal_nogen", "language_model",
         _lm_case(cfg, s=5, p=0, causal=True, gr=[5, 5], kv_dtype=kv_dtype, seed=1)),
        ("language_model_block_full_genmid", "language_model",
         _lm_case(cfg, s=6, p=3, causal=False, gr=[1, 5], kv_dtype=kv_dtype, seed=2, pos=torch.full((1, 6), 3))),
        ("language_model_decode_step", "language_model",
         _lm_case(cfg, s=1, p=7, causal=True, gr=[1, 1], kv_dtype=kv_dtype, seed=3)),
        ("language_model_genall_masked", "language_model",
         _lm_case(cfg, s=3, p=4, causal=False, gr=[0, 3], kv_dtype=kv_dtype, seed=4, mask_zero=[(0, 1)])),
        ("language_model_batch2_causal", "language_model",
         _lm_case(cfg, s=3, p=2, causal=True, gr=[3, 3], b=2, kv_dtype=kv_dtype, seed=5, mask_zero=[(1, 0)])),
        ("lm_head_3", "lm_head", (torch.randn(1, 3, cfg.llm.hidden_size, generator=g),)),
        ("gen_head_4", "gen_head", (torch.randn(1, 4, cfg.llm.hidden_size, generator=g),)),
        ("vae_decoder_4x6", "vae_decoder", (torch.randn(1, z, 4, 6, generator=g),)),
        ("vae_decoder_2x2", "vae_decoder", (torch.randn(1, z, 2, 2, generator=g),)),
    ]
    return out


def write_cases(graph_mods, cfg, out_dir, kv_dtype=torch.float32, kv_name="float32", tolerance=1e-4, only=None):
    specs = io_specs(cfg, kv_name)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, graph, args in cases(cfg, kv_dtype):
        if only and graph not in only:
            continue
        with torch.no_grad():
            res = graph_mods[graph](*args)
        if not isinstance(res, tuple):
            res = (res,)
        spec = specs[graph]
        ins = {io["name"]: tensor_io.save(a, out_dir, f"{name}/{io['name']}.bin") for io, a in zip(spec["inputs"], args)}
        outs = {io["name"]: tensor_io.save(r, out_dir, f"{name}/{io['name']}.bin") for io, r in zip(spec["outputs"], res)}
        tensor_io.write_json({"graph": graph, "case": name, "tolerance": tolerance, "inputs": ins, "outputs": outs},
                             os.path.join(out_dir, f"{name}.json"))
        written.append(name)
    return written
