"""Inference-time re-implementation of UniMedVL (BAGEL-7B-MoT architecture) in plain PyTorch.

Written from the published description of the model and the maths of the public inference code;
no code is copied from it. Parameter names and shapes follow the official checkpoint
(`ema.safetensors` + `ae.safetensors`) so that `load_strict` loads it with no missing or
unexpected keys.

Numerics: the residual stream and every norm / softmax / RoPE / activation are float32. Weights of
linear, convolution and embedding layers are float32 (fp32 bundle) or float16 (fp16 bundle). In
fp16 mode matrix products run in float16 (`_HalfLinear`, `_HalfMatMul`, `_HalfConv` are
autograd Functions whose ONNX symbolic is a plain fp16 MatMul/Conv; their eager forward computes in
fp32 on CPU because torch 1.13 has no fp16 GEMM on CPU, so tracing works anywhere).
"""
import json
import math
import os
from dataclasses import dataclass, field, asdict
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------


@dataclass
class LLMConfig:
    hidden_size: int = 3584
    intermediate_size: int = 18944
    num_hidden_layers: int = 28
    num_attention_heads: int = 28
    num_key_value_heads: int = 4
    vocab_size: int = 152064
    rope_theta: float = 1000000.0
    rms_norm_eps: float = 1e-6

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            d = json.load(f)
        keys = {k for k in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in keys})


@dataclass
class ViTConfig:
    hidden_size: int = 1152
    intermediate_size: int = 4304
    num_hidden_layers: int = 26  # layers actually built (= vit_config.json value - 1)
    num_attention_heads: int = 16
    patch_size: int = 14
    num_channels: int = 3
    layer_norm_eps: float = 1e-6
    max_patches_per_side: int = 70

    @classmethod
    def from_json(cls, path):
        """vit_config.json as shipped: the public loaders build one layer fewer than it says."""
        with open(path) as f:
            d = json.load(f)
        keys = {k for k in cls.__dataclass_fields__}
        c = cls(**{k: v for k, v in d.items() if k in keys})
        c.num_hidden_layers = d["num_hidden_layers"] - 1
        return c


@dataclass
class VAEConfig:
    ch: int = 128
    ch_mult: List[int] = field(default_factory=lambda: [1, 2, 4, 4])
    num_res_blocks: int = 2
    in_channels: int = 3
    out_ch: int = 3
    z_channels: int = 16
    scale_factor: float = 0.3611
    shift_factor: float = 0.1159

    @classmethod
    def from_state_dict(cls, sd):
        """Infer the autoencoder shape from ae.safetensors keys (works for the real and tiny VAE)."""
        ch = sd["encoder.conv_in.weight"].shape[0]
        levels = sorted({int(k.split(".")[2]) for k in sd if k.startswith("encoder.down.")})
        mult = [sd[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] // ch for i in levels]
        nres = len({int(k.split(".")[4]) for k in sd if k.startswith("encoder.down.0.block.")})
        z = sd["decoder.conv_in.weight"].shape[1]
        return cls(ch=ch, ch_mult=mult, num_res_blocks=nres, z_channels=z,
                   in_channels=sd["encoder.conv_in.weight"].shape[1], out_ch=sd["decoder.conv_out.weight"].shape[0])


@dataclass
class ModelConfig:
    llm: LLMConfig
    vit: ViTConfig
    vae: VAEConfig
    latent_patch_size: int = 2
    max_latent_size: int = 64
    vit_max_num_patch_per_side: int = 70
    timestep_freq_dim: int = 256

    def to_dict(self):
        return {"llm": asdict(self.llm), "vit": asdict(self.vit), "vae": asdict(self.vae),
                "latent_patch_size": self.latent_patch_size, "max_latent_size": self.max_latent_size,
                "vit_max_num_patch_per_side": self.vit_max_num_patch_per_side}


# --------------------------------------------------------------------------------------------
# parameter allocation (meta device while building a model that a checkpoint will fill)
# --------------------------------------------------------------------------------------------

_INIT_DEVICE = [None]


class meta_init:
    """Inside this context parameters are allocated on the meta device (no memory); load_strict
    then installs the checkpoint tensors. Works on torch 1.13 and 2.x."""

    def __enter__(self):
        _INIT_DEVICE.append("meta")
        return self

    def __exit__(self, *a):
        _INIT_DEVICE.pop()
        return False


def _zeros(*shape):
    return torch.zeros(*shape, device=_INIT_DEVICE[-1])


def _ones(*shape):
    return torch.ones(*shape, device=_INIT_DEVICE[-1])


# --------------------------------------------------------------------------------------------
# fp16-capable primitives
# --------------------------------------------------------------------------------------------


class _HalfLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        if x.is_cuda:
            y = F.linear(x, w, b)
        else:
            y = F.linear(x.float(), w.float(), None if b is None else b.float()).half()
        return y

    @staticmethod
    def symbolic(g, x, w, b):
        wt = g.op("Transpose", w, perm_i=[1, 0])
        y = g.op("MatMul", x, wt)
        if b is not None and not (hasattr(b, "node") and b.node().mustBeNone()):
            y = g.op("Add", y, b)
        return y


class _HalfMatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.is_cuda:
            return torch.matmul(a, b)
        return torch.matmul(a.float(), b.float()).half()

    @staticmethod
    def symbolic(g, a, b):
        return g.op("MatMul", a, b)


class _HalfConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        if x.is_cuda:
            return F.conv2d(x, w, b, stride, padding)
        return F.conv2d(x.float(), w.float(), b.float(), stride, padding).half()

    @staticmethod
    def symbolic(g, x, w, b, stride, padding):
        k = w.type().sizes()[2:] if w.type().sizes() is not None else None
        kw = {"strides_i": [stride, stride], "pads_i": [padding] * 4}
        if k:
            kw["kernel_shape_i"] = list(k)
        return g.op("Conv", x, w, b, **kw)


def _is_half(t):
    return t.dtype == torch.float16


def matmul(a, b):
    """a @ b for float32 inputs; in fp16 mode (b half) runs the product in fp16; returns fp32."""
    if _is_half(b):
        return _HalfMatMul.apply(a.half(), b).float()
    return torch.matmul(a, b)


class Lin(nn.Module):
    """nn.Linear with the same parameter names; fp16 weights -> fp16 GEMM, fp32 in/out."""

    def __init__(self, i, o, bias=True):
        super().__init__()
        self.weight = nn.Parameter(_zeros(o, i))
        self.bias = nn.Parameter(_zeros(o)) if bias else None

    def forward(self, x):
        if _is_half(self.weight):
            return _HalfLinear.apply(x.half(), self.weight, self.bias).float()
        return F.linear(x, self.weight, self.bias)


class Conv(nn.Module):
    def __init__(self, i, o, k, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(_zeros(o, i, k, k))
        self.bias = nn.Parameter(_zeros(o))
        self.stride, self.padding = stride, padding

    def forward(self, x):
        if _is_half(self.weight):
            return _HalfConv.apply(x.half(), self.weight, self.bias, self.stride, self.padding).float()
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class Emb(nn.Module):
    def __init__(self, n, d):
        super().__init__()
        self.weight = nn.Parameter(_zeros(n, d))

    def forward(self, ids):
        return F.embedding(ids, self.weight).float()


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(_ones(d))
        self.eps = eps

    def forward(self, x):
        x = x.float()
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight.float() * (x * torch.rsqrt(var + self.eps))


class LayerNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(_ones(d))
        self.bias = nn.Parameter(_zeros(d))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x.float(), (int(self.weight.shape[0]),), self.weight.float(), self.bias.float(), self.eps)


class GroupNorm32(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(_ones(c))
        self.bias = nn.Parameter(_zeros(c))
        self.c = c

    def forward(self, x):
        return F.group_norm(x.float(), 32, self.weight.float(), self.bias.float(), 1e-6)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


# --------------------------------------------------------------------------------------------
# Qwen2 Mixture-of-Transformers decoder
# --------------------------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self, h, m):
        super().__init__()
        self.gate_proj = Lin(h, m, bias=False)
        self.up_proj = Lin(h, m, bias=False)
        self.down_proj = Lin(m, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MoTAttention(nn.Module):
    def __init__(self, c: LLMConfig):
        super().__init__()
        h, nh, nkv, hd = c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.nh, self.nkv, self.hd = nh, nkv, hd
        for sfx in ("", "_moe_gen"):
            setattr(self, "q_proj" + sfx, Lin(h, nh * hd))
            setattr(self, "k_proj" + sfx, Lin(h, nkv * hd))
            setattr(self, "v_proj" + sfx, Lin(h, nkv * hd))
            setattr(self, "o_proj" + sfx, Lin(nh * hd, h, bias=False))
            setattr(self, "q_norm" + sfx, RMSNorm(hd, c.rms_norm_eps))
            setattr(self, "k_norm" + sfx, RMSNorm(hd, c.rms_norm_eps))

    def qkv(self, x, router):
        """q/k/v for all tokens: projections per expert on the split token sets (MatMuls accept
        empty sets), merged back in order; QK-norm uses the per-token expert's weight. Reshapes only
        ever see the full (non-empty) sequence."""
        b, s = x.shape[0], x.shape[1]
        q = router.apply(x, self.q_proj, self.q_proj_moe_gen).view(b, s, self.nh, self.hd)
        k = router.apply(x, self.k_proj, self.k_proj_moe_gen).view(b, s, self.nkv, self.hd)
        v = router.apply(x, self.v_proj, self.v_proj_moe_gen).view(b, s, self.nkv, self.hd)
        q = rms_select(q, self.q_norm, self.q_norm_moe_gen, router.gen_mask.view(-1, 1, 1))
        k = rms_select(k, self.k_norm, self.k_norm_moe_gen, router.gen_mask.view(-1, 1, 1))
        return q, k, v


def rms_select(x, norm_und, norm_gen, gen_mask):
    """RMSNorm whose weight is chosen per token: gen_mask (broadcastable to x without the last
    dim) is True where the token belongs to the generation expert."""
    x = x.float()
    xn = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm_und.eps)
    w = torch.where(gen_mask, norm_gen.weight.float(), norm_und.weight.float())
    return w * xn


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


class Router:
    """Routes a contiguous token range [start, end) of the sequence axis through the generation
    expert and the rest through the understanding expert, with dynamic-shape friendly ops
    (Range + Gather), so empty ranges cost nothing."""

    def __init__(self, s_len, gen_range):
        start, end = gen_range[0], gen_range[1]
        dev = gen_range.device  # index tensors live where the activations do (cuda export)
        self.und_idx = torch.cat([torch.arange(0, start, device=dev), torch.arange(end, s_len, device=dev)])
        self.gen_idx = torch.arange(start, end, device=dev)
        p = torch.arange(0, s_len, device=dev)
        n_gen = end - start
        n_und = s_len - n_gen
        self.inv = torch.where(p < start, p, torch.where(p < end, n_und + (p - start), p - n_gen))
        self.gen_mask = (p >= start) & (p < end)  # [s] bool

    def split(self, x):
        return x.index_select(1, self.und_idx), x.index_select(1, self.gen_idx)

    def merge(self, und, gen):
        return torch.cat([und, gen], dim=1).index_select(1, self.inv)

    def apply(self, x, f_und, f_gen):
        xu, xg = self.split(x)
        return self.merge(f_und(xu), f_gen(xg))


class MoTLayer(nn.Module):
    def __init__(self, c: LLMConfig):
        super().__init__()
        self.self_attn = MoTAttention(c)
        self.mlp = MLP(c.hidden_size, c.intermediate_size)
        self.mlp_moe_gen = MLP(c.hidden_size, c.intermediate_size)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.input_layernorm_moe_gen = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm_moe_gen = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x, router, cos, sin, bias, past_k, past_v, kv_dtype):
        a = self.self_attn
        b, s, _ = x.shape
        gm = router.gen_mask.view(-1, 1)
        q, k, v = a.qkv(rms_select(x, self.input_layernorm, self.input_layernorm_moe_gen, gm), router)
        q = q.transpose(1, 2)  # [b, nh, s, hd]
        k = k.transpose(1, 2)  # [b, nkv, s, hd]
        v = v.transpose(1, 2)
        # RoPE (fp32) after QK-norm
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.to(kv_dtype)
        v = v.to(kv_dtype)
        k_all = torch.cat([past_k, k], dim=2)
        v_all = torch.cat([past_v, v], dim=2)
        g = a.nh // a.nkv
        t = k_all.shape[2]
        ke = k_all[:, :, None].expand(b, a.nkv, g, t, a.hd).reshape(b, a.nh, t, a.hd)
        ve = v_all[:, :, None].expand(b, a.nkv, g, t, a.hd).reshape(b, a.nh, t, a.hd)
        if kv_dtype == torch.float16:
            scores = _HalfMatMul.apply(q.half(), ke.transpose(2, 3)).float()
        else:
            scores = torch.matmul(q, ke.transpose(2, 3))
        scores = scores * (1.0 / math.sqrt(a.hd)) + bias
        p = torch.softmax(scores, dim=-1)
        if kv_dtype == torch.float16:
            o = _HalfMatMul.apply(p.half(), ve).float()
        else:
            o = torch.matmul(p, ve)
        o = o.transpose(1, 2).reshape(b, s, a.nh * a.hd)
        o = router.apply(o, a.o_proj, a.o_proj_moe_gen)
        x = x + o
        xn = rms_select(x, self.post_attention_layernorm, self.post_attention_layernorm_moe_gen, gm)
        m = router.apply(xn, self.mlp, self.mlp_moe_gen)
        return x + m, k_all, v_all


class Qwen2MoTModel(nn.Module):
    def __init__(self, c: LLMConfig):
        super().__init__()
        self.embed_tokens = Emb(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([MoTLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.norm_moe_gen = RMSNorm(c.hidden_size, c.rms_norm_eps)


class LanguageModel(nn.Module):
    def __init__(self, c: LLMConfig):
        super().__init__()
        self.config = c
        self.model = Qwen2MoTModel(c)
        self.lm_head = Lin(c.hidden_size, c.vocab_size, bias=False)
        hd = c.head_dim
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, inputs_embeds, position_ids, attention_mask, is_causal, gen_range, past):
        """One call of the `language_model` graph.

        inputs_embeds f32 [b,s,H]; position_ids int64 [b,s]; attention_mask int64 [b,P+s]
        (1 = may be attended); is_causal bool 0-d (True: causal among the s new tokens, False: full
        among them; the P past tokens are always visible subject to attention_mask); gen_range
        int64 [2]: new tokens with index in [start, end) go through the generation expert (and
        `norm_moe_gen`), the others through the understanding expert (and `norm`); (s, s) = none.
        past: list of (key, value) [b, kv_heads, P, head_dim] (P may be 0).
        Returns last_hidden_state [b,s,H] f32 and the list of present (key, value) = past ++ new.
        """
        x = inputs_embeds.float()
        b, s, _ = x.shape
        t = attention_mask.shape[1]
        p_len = t - s
        router = Router(s, gen_range)
        # additive attention bias [b,1,s,t] built with arithmetic only
        qi = torch.arange(0, s, device=x.device).unsqueeze(1)
        kj = torch.arange(0, t, device=x.device).unsqueeze(0)
        causal_ok = (kj <= qi + p_len).float()  # [s,t]
        c = is_causal.float()
        allow = torch.clamp(causal_ok + (1.0 - c), max=1.0)  # is_causal False -> all ones
        allow = allow.unsqueeze(0).unsqueeze(0) * attention_mask.float().unsqueeze(1).unsqueeze(1)
        bias = (1.0 - allow) * -1e9
        # RoPE tables (fp32)
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq.float()  # [b,s,hd/2]
        emb = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)  # [b,1,s,hd]
        cos, sin = emb.cos(), emb.sin()
        kv_dtype = self.model.embed_tokens.weight.dtype
        presents = []
        for i, layer in enumerate(self.model.layers):
            pk, pv = past[i]
            x, k, v = layer(x, router, cos, sin, bias, pk.to(kv_dtype), pv.to(kv_dtype), kv_dtype)
            presents.append((k, v))
        x = rms_select(x, self.model.norm, self.model.norm_moe_gen, router.gen_mask.view(-1, 1))
        return x, presents


# --------------------------------------------------------------------------------------------
# SigLIP ViT (NaViT style: one image, no pooling head)
# --------------------------------------------------------------------------------------------


class ViTAttention(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        h = c.hidden_size
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = Lin(h, h), Lin(h, h), Lin(h, h), Lin(h, h)
        self.nh = c.num_attention_heads
        self.hd = h // self.nh

    def forward(self, x):
        b, n, h = x.shape
        q = self.q_proj(x).view(b, n, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, n, self.nh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.nh, self.hd).transpose(1, 2)
        half = _is_half(self.q_proj.weight)
        s = (_HalfMatMul.apply(q.half(), k.half().transpose(2, 3)).float() if half
             else torch.matmul(q, k.transpose(2, 3))) * (self.hd ** -0.5)
        p = torch.softmax(s, dim=-1)
        o = _HalfMatMul.apply(p.half(), v.half()).float() if half else torch.matmul(p, v)
        return self.out_proj(o.transpose(1, 2).reshape(b, n, h))


class ViTMLP(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        self.fc1 = Lin(c.hidden_size, c.intermediate_size)
        self.fc2 = Lin(c.intermediate_size, c.hidden_size)

    def forward(self, x):
        return self.fc2(gelu_tanh(self.fc1(x)))


class ViTLayer(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        self.layer_norm1 = LayerNorm(c.hidden_size, c.layer_norm_eps)
        self.self_attn = ViTAttention(c)
        self.layer_norm2 = LayerNorm(c.hidden_size, c.layer_norm_eps)
        self.mlp = ViTMLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class ViTEmbeddings(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        p = c.patch_size
        self.patch_embedding = Lin(p * p * c.num_channels, c.hidden_size)
        self.position_embedding = Emb(c.max_patches_per_side ** 2, c.hidden_size)


class ViTEncoder(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        self.layers = nn.ModuleList([ViTLayer(c) for _ in range(c.num_hidden_layers)])


class VisionModel(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        self.embeddings = ViTEmbeddings(c)
        self.encoder = ViTEncoder(c)
        self.post_layernorm = LayerNorm(c.hidden_size, c.layer_norm_eps)

    def forward(self, patches, pos_ids):
        x = self.embeddings.patch_embedding(patches) + self.embeddings.position_embedding(pos_ids)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.post_layernorm(x)


class SiglipWrapper(nn.Module):
    def __init__(self, c: ViTConfig):
        super().__init__()
        self.vision_model = VisionModel(c)


class Connector(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.fc1 = Lin(i, o)
        self.fc2 = Lin(o, o)

    def forward(self, x):
        return self.fc2(gelu_tanh(self.fc1(x)))


class PosTable(nn.Module):
    def __init__(self, n_side, d):
        super().__init__()
        self.pos_embed = nn.Parameter(_zeros(n_side * n_side, d), requires_grad=False)

    def forward(self, ids):
        return F.embedding(ids, self.pos_embed).float()


def sincos_2d_table(dim, grid):
    """2-D sin-cos table, row id = r*grid + c: first half encodes the column (w), second the row."""
    import numpy as np
    gh, gw = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    # gh here is the column index (w first), gw the row index, matching the DiT convention
    def one(d, pos):
        omega = np.arange(d // 2, dtype=np.float64) / (d / 2.0)
        omega = 1.0 / 10000 ** omega
        out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    emb = np.concatenate([one(dim // 2, gh), one(dim // 2, gw)], axis=1)
    return torch.from_numpy(emb).float()


class TimestepEmbedder(nn.Module):
    def __init__(self, h, freq=256):
        super().__init__()
        self.mlp = nn.Sequential(Lin(freq, h), nn.SiLU(), Lin(h, h))
        self.freq = freq

    def forward(self, t):
        half = self.freq // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(0, half, dtype=torch.float32, device=t.device) / half)
        args = t.float().unsqueeze(-1) * freqs
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


# --------------------------------------------------------------------------------------------
# FLUX autoencoder
# --------------------------------------------------------------------------------------------


def swish(x):
    return x * torch.sigmoid(x)


class ResBlock(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.norm1 = GroupNorm32(i)
        self.conv1 = Conv(i, o, 3, 1, 1)
        self.norm2 = GroupNorm32(o)
        self.conv2 = Conv(o, o, 3, 1, 1)
        self.nin_shortcut = Conv(i, o, 1) if i != o else None

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = GroupNorm32(c)
        self.q, self.k, self.v, self.proj_out = Conv(c, c, 1), Conv(c, c, 1), Conv(c, c, 1), Conv(c, c, 1)

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)
        k = self.k(h).reshape(b, c, hh * ww)
        v = self.v(h).reshape(b, c, hh * ww).transpose(1, 2)
        half = _is_half(self.q.weight)
        s = (_HalfMatMul.apply(q.half(), k.half()).float() if half else torch.matmul(q, k)) * (c ** -0.5)
        p = torch.softmax(s, dim=-1)
        o = _HalfMatMul.apply(p.half(), v.half()).float() if half else torch.matmul(p, v)
        o = o.transpose(1, 2).reshape(b, c, hh, ww)
        return x + self.proj_out(o)


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = Conv(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = Conv(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Mid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_1 = ResBlock(c, c)
        self.attn_1 = AttnBlock(c)
        self.block_2 = ResBlock(c, c)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class _Level(nn.Module):
    pass


class Encoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        self.conv_in = Conv(c.in_channels, c.ch, 3, 1, 1)
        in_mult = (1,) + tuple(c.ch_mult)
        self.down = nn.ModuleList()
        block_in = c.ch
        for i, m in enumerate(c.ch_mult):
            lvl = _Level()
            lvl.block = nn.ModuleList()
            block_in = c.ch * in_mult[i]
            for _ in range(c.num_res_blocks):
                lvl.block.append(ResBlock(block_in, c.ch * m))
                block_in = c.ch * m
            if i != len(c.ch_mult) - 1:
                lvl.downsample = Downsample(block_in)
            self.down.append(lvl)
        self.mid = _Mid(block_in)
        self.norm_out = GroupNorm32(block_in)
        self.conv_out = Conv(block_in, 2 * c.z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for lvl in self.down:
            for blk in lvl.block:
                h = blk(h)
            if hasattr(lvl, "downsample"):
                h = lvl.downsample(h)
        h = self.mid(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        n = len(c.ch_mult)
        block_in = c.ch * c.ch_mult[-1]
        self.conv_in = Conv(c.z_channels, block_in, 3, 1, 1)
        self.mid = _Mid(block_in)
        ups = [None] * n
        for i in reversed(range(n)):
            lvl = _Level()
            lvl.block = nn.ModuleList()
            for _ in range(c.num_res_blocks + 1):
                lvl.block.append(ResBlock(block_in, c.ch * c.ch_mult[i]))
                block_in = c.ch * c.ch_mult[i]
            if i != 0:
                lvl.upsample = Upsample(block_in)
            ups[i] = lvl
        self.up = nn.ModuleList(ups)
        self.norm_out = GroupNorm32(block_in)
        self.conv_out = Conv(block_in, c.out_ch, 3, 1, 1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for i in reversed(range(len(self.up))):
            lvl = self.up[i]
            for blk in lvl.block:
                h = blk(h)
            if hasattr(lvl, "upsample"):
                h = lvl.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class AutoEncoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        self.config = c
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)

    def encode(self, x, noise):
        """Sample the posterior with the given standard-normal noise, then scale/shift."""
        mean, logvar = torch.chunk(self.encoder(x), 2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * noise
        return self.config.scale_factor * (z - self.config.shift_factor)

    def decode(self, z):
        return self.decoder(z / self.config.scale_factor + self.config.shift_factor)


# --------------------------------------------------------------------------------------------
# top level (ema.safetensors namespace)
# --------------------------------------------------------------------------------------------


class UniMedVL(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        H = cfg.llm.hidden_size
        p = cfg.latent_patch_size
        patch_dim = p * p * cfg.vae.z_channels
        self.language_model = LanguageModel(cfg.llm)
        self.vit_model = SiglipWrapper(cfg.vit)
        self.connector = Connector(cfg.vit.hidden_size, H)
        self.vit_pos_embed = PosTable(cfg.vit_max_num_patch_per_side, H)
        self.latent_pos_embed = PosTable(cfg.max_latent_size, H)
        self.time_embedder = TimestepEmbedder(H, cfg.timestep_freq_dim)
        self.vae2llm = Lin(patch_dim, H)
        self.llm2vae = Lin(H, patch_dim)


def _check_keys(module, sd, what):
    want = dict(module.state_dict())
    missing = sorted(set(want) - set(sd))
    unexpected = sorted(set(sd) - set(want))
    bad_shape = sorted(k for k in set(want) & set(sd) if tuple(want[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or bad_shape:
        def few(lst):
            return ", ".join(lst[:10]) + (f" ... (+{len(lst) - 10})" if len(lst) > 10 else "")
        raise RuntimeError(f"{what}: strict load failed; missing [{few(missing)}]; unexpected "
                           f"[{few(unexpected)}]; shape mismatch [{few(bad_shape)}]")


def load_strict(module, sd, what, dtype=torch.float32):
    """Strict load: every parameter present with the right shape, nothing extra.

    dtype float16: linear/conv/embedding weights & biases become fp16, norm weights and the two
    position tables stay fp32 (norm/softmax/RoPE/position maths in fp32)."""
    _check_keys(module, sd, what)
    keep32 = set()
    for name, mod in module.named_modules():
        if isinstance(mod, (RMSNorm, LayerNorm, GroupNorm32, PosTable)):
            for pn, _ in mod.named_parameters(recurse=False):
                keep32.add(f"{name}.{pn}" if name else pn)
    with torch.no_grad():
        names = [k for k, _ in module.named_parameters()]
        for k in names:
            parent_name, _, leaf = k.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            tgt = torch.float32 if (k in keep32 or dtype == torch.float32) else dtype
            t = sd[k].to(tgt).contiguous()
            if t.data_ptr() == sd[k].data_ptr():
                t = t.clone()  # never keep parameters backed by the (read-only) file mapping
            parent._parameters[leaf] = nn.Parameter(t, requires_grad=False)
    return module


def load_checkpoint(ckpt_dir, dtype=torch.float32):
    """Build the model from a checkpoint dir (llm_config.json, vit_config.json, ema.safetensors,
    ae.safetensors) and load it strictly. Returns (UniMedVL, AutoEncoder, ModelConfig)."""
    from safetensors_io import load_safetensors
    llm = LLMConfig.from_json(os.path.join(ckpt_dir, "llm_config.json"))
    vit = ViTConfig.from_json(os.path.join(ckpt_dir, "vit_config.json"))
    ae_sd = load_safetensors(os.path.join(ckpt_dir, "ae.safetensors"))
    ae_sd = {k.replace("module.", ""): v for k, v in ae_sd.items()}
    vae = VAEConfig.from_state_dict(ae_sd)
    cfg = ModelConfig(llm=llm, vit=vit, vae=vae)
    with meta_init():
        model = UniMedVL(cfg)
        ae = AutoEncoder(vae)
    ae = load_strict(ae, ae_sd, "ae.safetensors", dtype)
    del ae_sd
    sd = load_safetensors(os.path.join(ckpt_dir, "ema.safetensors"))
    model = load_strict(model, sd, "ema.safetensors", dtype)
    del sd
    # inv_freq is a non-persistent buffer: recompute on a real device if built on meta
    lm = model.language_model
    hd = cfg.llm.head_dim
    lm.inv_freq = 1.0 / (cfg.llm.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    return model.eval(), ae.eval(), cfg


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _meta_ok():
    # torch >= 2.0 supports `with torch.device("meta")`; on 1.13 build normally (small models only)
    try:
        return int(torch.__version__.split(".")[0]) >= 2
    except Exception:
        return False
