#!/usr/bin/env python3
"""Self-checks of the re-implementation and exporter (CPU, tiny random model, < 1 minute).

    /usr/bin/python3 models/export/test_export.py        # exits 1 on any failure

* strict loader (missing / unexpected / wrong shape are errors), safetensors round trip (f32/bf16)
* KV-cached step-by-step decoding == one full-sequence forward
* gen_range none / all / middle == an independent per-token naive implementation that sends each
  token through its own expert
* causal vs full masks, attention_mask zeros, batch 2
* image helpers: size rule (round-half-even), patchify/unpatchify inverse, schedule
* tiny fp32 bundle: onnx.checker full_check, onnxruntime-node parity (via node), manifest I/O
* tiny fp16 bundle: exports, passes the checker, KV I/O float16, runs in onnxruntime-node close to fp32
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402

torch.set_num_threads(1)

import build_tiny  # noqa: E402
import reference as R  # noqa: E402
from modeling import load_checkpoint, load_strict, UniMedVL, rotate_half  # noqa: E402
from safetensors_io import save_safetensors, load_safetensors  # noqa: E402
from graphs import build_graphs  # noqa: E402
import graph_cases  # noqa: E402

NODE = os.path.join(ROOT, "node_modules", ".bin", "node")
RESULTS = []


def check(name):
    def deco(fn):
        def run():
            try:
                fn()
                RESULTS.append((name, True, ""))
                print(f"PASS {name}", flush=True)
            except Exception as e:  # noqa: BLE001
                RESULTS.append((name, False, str(e)))
                print(f"FAIL {name}: {e}", flush=True)
                traceback.print_exc()
        run.__name__ = fn.__name__
        TESTS.append(run)
        return run
    return deco


TESTS = []
TMP = tempfile.mkdtemp(prefix="unimedvl-test-")
CKPT = os.path.join(TMP, "ckpt")
os.makedirs(CKPT)
build_tiny.write_checkpoint(CKPT, 1234)
MODEL, AE, CFG = load_checkpoint(CKPT)
LM = MODEL.language_model


def close(a, b, tol, what):
    d = (a.float() - b.float()).abs().max().item()
    if not d <= tol:
        raise AssertionError(f"{what}: max abs diff {d:.3g} > {tol}")
    return d


def empty_past(b=1):
    c = CFG.llm
    return [(torch.zeros(b, c.num_key_value_heads, 0, c.head_dim), torch.zeros(b, c.num_key_value_heads, 0, c.head_dim))
            for _ in range(c.num_hidden_layers)]


def lm(x, pos, mask, causal, gr, past):
    return LM(x, pos, mask, torch.tensor(causal), torch.tensor(gr), past)


# ------------------------------------------------------------------ naive per-token reference

def naive(x, pos, mask, causal, gen_set, past):
    """Token-by-token, head-by-head; each token uses the expert given by gen_set."""
    c = CFG.llm
    nh, nkv, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    g = nh // nkv
    b, s, _ = x.shape
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    h = x.clone()
    presents = []
    for li, layer in enumerate(LM.model.layers):
        a = layer.self_attn
        pk, pv = past[li]
        P = pk.shape[2]
        ks = torch.zeros(b, nkv, s, hd)
        vs = torch.zeros(b, nkv, s, hd)
        qs = torch.zeros(b, nh, s, hd)
        for bi in range(b):
            for i in range(s):
                sfx = "_moe_gen" if i in gen_set else ""
                ln = layer.input_layernorm_moe_gen if sfx else layer.input_layernorm
                t = ln(h[bi, i])
                q = getattr(a, "q_proj" + sfx)(t).view(nh, hd)
                k = getattr(a, "k_proj" + sfx)(t).view(nkv, hd)
                v = getattr(a, "v_proj" + sfx)(t).view(nkv, hd)
                q = getattr(a, "q_norm" + sfx)(q)
                k = getattr(a, "k_norm" + sfx)(k)
                f = pos[bi, i].float() * inv
                e = torch.cat([f, f])
                q = q * e.cos() + rotate_half(q) * e.sin()
                k = k * e.cos() + rotate_half(k) * e.sin()
                qs[bi, :, i], ks[bi, :, i], vs[bi, :, i] = q, k, v
        K = torch.cat([pk, ks], 2)
        V = torch.cat([pv, vs], 2)
        presents.append((K, V))
        new_h = h.clone()
        for bi in range(b):
            outs = []
            for i in range(s):
                o = torch.zeros(nh, hd)
                for hq in range(nh):
                    kv = hq // g
                    allowed = [j for j in range(P + s) if mask[bi, j] == 1 and (j < P or not causal or j - P <= i)]
                    sc = torch.stack([(qs[bi, hq, i] * K[bi, kv, j]).sum() / math.sqrt(hd) for j in allowed])
                    p = torch.softmax(sc, 0)
                    o[hq] = sum(p[n] * V[bi, kv, j] for n, j in enumerate(allowed))
                sfx = "_moe_gen" if i in gen_set else ""
                outs.append(getattr(a, "o_proj" + sfx)(o.reshape(-1)))
            for i in range(s):
                r = h[bi, i] + outs[i]
                if i in gen_set:
                    r = r + layer.mlp_moe_gen(layer.post_attention_layernorm_moe_gen(r))
                else:
                    r = r + layer.mlp(layer.post_attention_layernorm(r))
                new_h[bi, i] = r
        h = new_h
    out = torch.stack([torch.stack([(LM.model.norm_moe_gen if i in gen_set else LM.model.norm)(h[bi, i])
                                    for i in range(s)]) for bi in range(b)])
    return out, presents


def rand_past(p, b=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = CFG.llm
    return [(torch.randn(b, c.num_key_value_heads, p, c.head_dim, generator=g),
             torch.randn(b, c.num_key_value_heads, p, c.head_dim, generator=g)) for _ in range(c.num_hidden_layers)]


@check("gen_range none/all/middle/edge == per-token experts (naive reference)")
def _():
    g = torch.Generator().manual_seed(3)
    for (s, p, causal, gr) in [(5, 0, True, (5, 5)), (5, 3, False, (0, 5)), (6, 2, False, (1, 5)),
                               (4, 3, True, (2, 4)), (3, 1, True, (0, 1))]:
        x = torch.randn(1, s, CFG.llm.hidden_size, generator=g)
        pos = torch.tensor([[7, 7, 8, 9, 9, 9][:s]])
        mask = torch.ones(1, p + s, dtype=torch.int64)
        past = rand_past(p, seed=s + p)
        h1, pr1 = lm(x, pos, mask, causal, list(gr), past)
        h2, pr2 = naive(x, pos, mask, causal, set(range(*gr)), past)
        close(h1, h2, 2e-5, f"hidden s={s} p={p} gr={gr}")
        for (k1, v1), (k2, v2) in zip(pr1, pr2):
            close(k1, k2, 2e-5, "present key")
            close(v1, v2, 2e-5, "present value")


@check("attention_mask zeros and batch 2 == naive")
def _():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, CFG.llm.hidden_size, generator=g)
    pos = torch.tensor([[2, 3, 4], [5, 5, 5]])
    mask = torch.ones(2, 5, dtype=torch.int64)
    mask[0, 1] = 0
    mask[1, 0] = 0
    past = rand_past(2, b=2, seed=9)
    for causal in (True, False):
        h1, _ = lm(x, pos, mask, causal, [1, 2], past)
        h2, _ = naive(x, pos, mask, causal, {1}, past)
        close(h1, h2, 2e-5, f"masked causal={causal}")


@check("KV-cached step-by-step decode == full-sequence forward")
def _():
    g = torch.Generator().manual_seed(5)
    s = 7
    x = torch.randn(1, s, CFG.llm.hidden_size, generator=g)
    pos = torch.arange(10, 10 + s).unsqueeze(0)
    full, fpres = lm(x, pos, torch.ones(1, s, dtype=torch.int64), True, [s, s], empty_past())
    past = empty_past()
    outs = []
    for i in range(s):
        h, past = lm(x[:, i:i + 1], pos[:, i:i + 1], torch.ones(1, i + 1, dtype=torch.int64), True, [1, 1], past)
        outs.append(h)
    close(torch.cat(outs, 1), full, 2e-5, "stepwise vs full")
    for (k1, v1), (k2, v2) in zip(past, fpres):
        close(k1, k2, 1e-5, "cache key")
        close(v1, v2, 1e-5, "cache value")
    # block prefill in two chunks (causal) == full as well
    h_a, p_a = lm(x[:, :3], pos[:, :3], torch.ones(1, 3, dtype=torch.int64), True, [3, 3], empty_past())
    h_b, _ = lm(x[:, 3:], pos[:, 3:], torch.ones(1, s, dtype=torch.int64), True, [4, 4], p_a)
    close(torch.cat([h_a, h_b], 1), full, 2e-5, "chunked prefill")


@check("non-causal block: every new token sees all new tokens (order-equivariant)")
def _():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(1, 5, CFG.llm.hidden_size, generator=g)
    pos = torch.full((1, 5), 4)
    past = rand_past(3, seed=1)
    mask = torch.ones(1, 8, dtype=torch.int64)
    h, _ = lm(x, pos, mask, False, [5, 5], past)
    perm = torch.tensor([4, 2, 0, 1, 3])
    hp, _ = lm(x[:, perm], pos, mask, False, [5, 5], past)
    close(hp, h[:, perm], 2e-5, "permutation")


@check("strict loader rejects missing, unexpected and mis-shaped keys; safetensors bf16 round trip")
def _():
    sd = load_safetensors(os.path.join(CKPT, "ema.safetensors"))
    for mutate in ("missing", "unexpected", "shape"):
        bad = dict(sd)
        if mutate == "missing":
            bad.pop("language_model.model.layers.1.self_attn.k_norm_moe_gen.weight")
        elif mutate == "unexpected":
            bad["vit_model.vision_model.encoder.layers.2.layer_norm1.weight"] = torch.ones(32)
        else:
            bad["llm2vae.bias"] = torch.zeros(65)
        try:
            load_strict(UniMedVL(CFG), bad, "ema")
        except RuntimeError as e:
            assert mutate.replace("shape", "shape mismatch") in str(e) or mutate in str(e), str(e)
        else:
            raise AssertionError(f"{mutate} accepted")
    p = os.path.join(TMP, "bf16.safetensors")
    t = {"a": torch.randn(3, 5).to(torch.bfloat16), "b": torch.arange(6, dtype=torch.int64)}
    save_safetensors(t, p)
    back = load_safetensors(p)
    assert back["a"].dtype == torch.bfloat16 and torch.equal(back["a"], t["a"]) and torch.equal(back["b"], t["b"])
    # real layout keys present
    for k in ["language_model.model.norm_moe_gen.weight", "vit_pos_embed.pos_embed", "latent_pos_embed.pos_embed",
              "time_embedder.mlp.2.bias", "vit_model.vision_model.embeddings.patch_embedding.weight",
              "language_model.model.layers.0.self_attn.q_proj_moe_gen.bias", "connector.fc2.weight"]:
        assert k in sd, k
    assert tuple(sd["vit_model.vision_model.embeddings.patch_embedding.weight"].shape) == (32, 588)
    assert tuple(sd["vit_pos_embed.pos_embed"].shape) == (4900, 96)
    assert tuple(sd["latent_pos_embed.pos_embed"].shape) == (4096, 96)
    assert not any(k.startswith("vit_model.vision_model.encoder.layers.2.") for k in sd)


@check("preprocessing helpers: size rule (round half even), patchify inverse, schedule")
def _():
    assert R.target_size(40, 30, **R.VIT_RULE) == (504, 378)
    assert R.target_size(40, 30, **R.VAE_RULE) == (48, 32)
    assert R.target_size(48, 32, **R.VIT_RULE) == (560, 378)  # 567/14 = 40.5 -> 40 (half even)
    assert R.target_size(4000, 3000, **R.VIT_RULE) == (980, 728)
    assert R.target_size(2000, 2000, **R.VAE_RULE) == (1024, 1024)
    lat = torch.randn(1, 16, 4, 6)
    tok = R.patchify(lat)
    assert tok.shape == (6, 64)
    assert torch.equal(tok[4, (1 * 2 + 0) * 16 + 3], lat[0, 3, 2 * 1 + 1, 2 * 1 + 0])
    assert torch.equal(R.unpatchify(tok, 2, 3), lat)
    ts, dts = R.schedule(50, 3.0)
    assert ts.shape[0] == 49 and abs(float(ts[0]) - 1.0) < 1e-7
    assert abs(float(ts[1]) - 3 * (48 / 49) / (1 + 2 * (48 / 49))) < 1e-6
    assert R.latent_position_ids(2, 3).tolist() == [[0, 1, 2, 64, 65, 66]]


@check("generation ViT rule: 980/387/14/1806336 on the VAE-resized image; the fixture check fails on the old rule")
def _():
    assert R.target_size(48, 32, **R.GEN_VIT_RULE) == (574, 392)  # the understanding rule gives 560x378
    assert R.target_size(256, 256, **R.GEN_VIT_RULE) == (392, 392)  # 28x28 = 784 ViT tokens (understanding rule: 378, 729)
    assert R.target_size(512, 512, **R.GEN_VIT_RULE) == (518, 518)
    assert R.target_size(1024, 1024, **R.GEN_VIT_RULE) == (980, 980)
    assert R.target_size(1024, 1024, **R.VIT_RULE) == (980, 980)
    import fixtures as fx
    import verify_tiny
    committed = os.path.join(ROOT, "models", "tiny", "reference")
    saved = R.GEN_VIT_RULE
    for rule, expect_clean in ((saved, True), (R.VIT_RULE, False)):
        out = os.path.join(TMP, f"fx_{rule['min_size']}")
        R.GEN_VIT_RULE = rule
        try:
            fx.write_all(CKPT, out, 1234)
        finally:
            R.GEN_VIT_RULE = saved
        errs = []
        verify_tiny.compare_reference(committed, os.path.join(out, "reference"), errs)
        edit_errs = [e for e in errs if "edit" in e]
        if expect_clean:
            assert not errs, errs[:5]
        else:
            print(f"  old rule: {len(edit_errs)} edit fixture differences, e.g. {edit_errs[0]}")
            assert edit_errs and len(edit_errs) == len(errs), errs[:5]


def node_cases(bundle, cases_dir):
    r = subprocess.run([NODE, os.path.join(HERE, "run_graph_cases.mjs"), bundle, cases_dir],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


@check("tiny fp32 export: onnx checker (full_check), manifest I/O, onnxruntime-node parity <= 1e-4")
def _():
    from export import export_bundle
    import check_bundle
    out = os.path.join(TMP, "fp32")
    export_bundle(CKPT, out, "fp32", name="t")
    check_bundle.check(out, run_node=True)
    cd = os.path.join(TMP, "cases32")
    graph_cases.write_cases(build_graphs(MODEL, AE), CFG, cd)
    res = node_cases(out, cd)
    worst = max(r["maxAbsDiff"] for r in res)
    print(f"  fp32 parity: {len(res)} cases, worst max abs diff {worst:.3g}")
    assert len(res) >= 16 and worst <= 1e-4


@check("tiny fp16 export: checker, KV float16 I/O, runs in onnxruntime-node near fp32 PyTorch")
def _():
    from export import export_bundle
    import check_bundle
    out = os.path.join(TMP, "fp16")
    export_bundle(CKPT, out, "fp16", name="t16")
    m = check_bundle.check(out, run_node=True)
    kv = [i for i in m["graphs"]["language_model"]["inputs"] if i["name"].startswith("past_key_values")]
    assert all(i["dtype"] == "float16" for i in kv)
    model16, ae16, _ = load_checkpoint(CKPT, torch.float16)
    cd = os.path.join(TMP, "cases16")
    graph_cases.write_cases(build_graphs(model16, ae16), CFG, cd, kv_dtype=torch.float16, kv_name="float16",
                            tolerance=5e-2)
    res = node_cases(out, cd)
    worst = max(r["maxAbsDiff"] for r in res)
    print(f"  fp16 graph vs fp16-mode PyTorch: worst max abs diff {worst:.3g}")
    assert worst <= 5e-2
    # fp16-mode PyTorch vs fp32 PyTorch on the language model
    x = graph_cases.cases(CFG, torch.float32)[8][2]
    h32 = build_graphs(MODEL, AE)["language_model"](*x)[0]
    x16 = list(x)
    x16[5:] = [t.half() for t in x16[5:]]
    h16 = build_graphs(model16, ae16)["language_model"](*x16)[0]
    d = (h32 - h16).abs().max().item()
    print(f"  fp16 vs fp32 language_model hidden: max abs diff {d:.3g}")
    assert d < 5e-2


@check("> 2 GB path: per-tensor external files consolidated into one .onnx.data run identically")
def _():
    import onnx
    from export import export_bundle, consolidate_external
    out = os.path.join(TMP, "ext")
    export_bundle(CKPT, out, "fp32", name="ext", graphs=["language_model"])
    per = os.path.join(TMP, "ext_per_tensor")
    os.makedirs(per)
    m = onnx.load(os.path.join(out, "language_model.onnx"))
    onnx.save_model(m, os.path.join(per, "language_model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=False, size_threshold=0)
    assert len(os.listdir(per)) > 10
    m2 = onnx.load(os.path.join(per, "language_model.onnx"), load_external_data=False)
    os.remove(os.path.join(out, "language_model.onnx"))
    consolidate_external(m2, per, os.path.join(out, "language_model.onnx.data"), "language_model.onnx.data")
    onnx.save_model(m2, os.path.join(out, "language_model.onnx"))
    assert os.path.getsize(os.path.join(out, "language_model.onnx")) < 200_000
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    man["graphs"]["language_model"]["external_data"] = ["language_model.onnx.data"]
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f)
    import check_bundle
    check_bundle.full_check(os.path.join(out, "language_model.onnx"), True)
    cd = os.path.join(TMP, "cases_ext")
    graph_cases.write_cases(build_graphs(MODEL, AE), CFG, cd, only={"language_model"})
    res = node_cases(out, cd)
    assert len(res) == 5 and max(r["maxAbsDiff"] for r in res) <= 1e-4, res


def main():
    for t in TESTS:
        t()
    shutil.rmtree(TMP, ignore_errors=True)
    n_ok = sum(1 for _, ok, _ in RESULTS if ok)
    n_bad = len(RESULTS) - n_ok
    print(f"{n_ok} passed, {n_bad} failed")
    sys.exit(1 if n_bad else 0)


if __name__ == "__main__":
    main()
