"""The eight bundle graphs as nn.Modules over the shared UniMedVL modules, plus their I/O specs.

These wrappers are what gets exported to ONNX *and* what reference.py calls, so the PyTorch
reference and the ONNX bundle run the very same maths.
"""
import torch
from torch import nn

from modeling import UniMedVL, AutoEncoder, ModelConfig

VIT_GRID = 70  # vit position id = row * 70 + col


class EmbedTokens(nn.Module):
    def __init__(self, m: UniMedVL):
        super().__init__()
        self.embed = m.language_model.model.embed_tokens

    def forward(self, input_ids):
        return self.embed(input_ids)


class VisionEncoder(nn.Module):
    """pixel_values [1,3,h,w] in [-1,1], h and w multiples of 14 -> image_embeds [1,(h/14)(w/14),H].

    Patch vectors are (row-in-patch, col-in-patch, channel) ordered, patches row-major; each
    patch's position id is row*70+col, used both by the SigLIP learned table and by the fixed
    2-D sin-cos table added after the connector."""

    def __init__(self, m: UniMedVL):
        super().__init__()
        self.vit = m.vit_model.vision_model
        self.connector = m.connector
        self.pos = m.vit_pos_embed
        self.p = m.cfg.vit.patch_size

    def forward(self, pixel_values):
        p = self.p
        c = pixel_values.shape[1]
        gh = pixel_values.shape[2] // p
        gw = pixel_values.shape[3] // p
        x = pixel_values.reshape(c, gh, p, gw, p).permute(1, 3, 2, 4, 0).reshape(gh * gw, p * p * c)
        dev = pixel_values.device
        pos = (torch.arange(0, gh, device=dev).unsqueeze(1) * VIT_GRID
               + torch.arange(0, gw, device=dev).unsqueeze(0)).reshape(-1)
        h = self.vit(x.unsqueeze(0), pos.unsqueeze(0))
        return self.connector(h) + self.pos(pos.unsqueeze(0))


class VaeEncoder(nn.Module):
    def __init__(self, ae: AutoEncoder):
        super().__init__()
        self.ae = ae

    def forward(self, pixel_values, sample_noise):
        return self.ae.encode(pixel_values, sample_noise)


class LatentEmbed(nn.Module):
    def __init__(self, m: UniMedVL):
        super().__init__()
        self.vae2llm, self.time_embedder, self.pos = m.vae2llm, m.time_embedder, m.latent_pos_embed

    def forward(self, latent_tokens, timestep, latent_position_ids):
        return self.vae2llm(latent_tokens) + self.time_embedder(timestep).unsqueeze(1) + self.pos(latent_position_ids)


class LanguageModelGraph(nn.Module):
    def __init__(self, m: UniMedVL):
        super().__init__()
        self.lm = m.language_model
        self.n = m.cfg.llm.num_hidden_layers

    def forward(self, inputs_embeds, position_ids, attention_mask, is_causal, gen_range, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.n)]
        h, presents = self.lm(inputs_embeds, position_ids, attention_mask, is_causal, gen_range, past)
        out = [h]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


class LmHead(nn.Module):
    def __init__(self, m: UniMedVL):
        super().__init__()
        self.head = m.language_model.lm_head

    def forward(self, hidden_states):
        return self.head(hidden_states)


class GenHead(nn.Module):
    def __init__(self, m: UniMedVL):
        super().__init__()
        self.head = m.llm2vae

    def forward(self, hidden_states):
        return self.head(hidden_states)


class VaeDecoder(nn.Module):
    def __init__(self, ae: AutoEncoder):
        super().__init__()
        self.ae = ae

    def forward(self, latent):
        return self.ae.decode(latent)


GRAPH_NAMES = ["embed_tokens", "vision_encoder", "vae_encoder", "latent_embed", "language_model",
               "lm_head", "gen_head", "vae_decoder"]


def build_graphs(m: UniMedVL, ae: AutoEncoder):
    return {
        "embed_tokens": EmbedTokens(m).eval(),
        "vision_encoder": VisionEncoder(m).eval(),
        "vae_encoder": VaeEncoder(ae).eval(),
        "latent_embed": LatentEmbed(m).eval(),
        "language_model": LanguageModelGraph(m).eval(),
        "lm_head": LmHead(m).eval(),
        "gen_head": GenHead(m).eval(),
        "vae_decoder": VaeDecoder(ae).eval(),
    }


def io_specs(cfg: ModelConfig, kv_dtype="float32"):
    """Graph input/output names, dtypes and shapes (ints or symbolic dim names)."""
    H = cfg.llm.hidden_size
    V = cfg.llm.vocab_size
    nkv, hd, L = cfg.llm.num_key_value_heads, cfg.llm.head_dim, cfg.llm.num_hidden_layers
    z = cfg.vae.z_channels
    tok = cfg.latent_patch_size ** 2 * z
    f32, i64 = "float32", "int64"

    def t(name, dtype, shape):
        return {"name": name, "dtype": dtype, "shape": shape}

    past, present = [], []
    for i in range(L):
        for kv in ("key", "value"):
            past.append(t(f"past_key_values.{i}.{kv}", kv_dtype, ["batch", nkv, "past_sequence", hd]))
            present.append(t(f"present.{i}.{kv}", kv_dtype, ["batch", nkv, "total_sequence", hd]))
    return {
        "embed_tokens": {"inputs": [t("input_ids", i64, ["batch", "sequence"])],
                         "outputs": [t("inputs_embeds", f32, ["batch", "sequence", H])]},
        "vision_encoder": {"inputs": [t("pixel_values", f32, [1, 3, "height", "width"])],
                           "outputs": [t("image_embeds", f32, [1, "num_patches", H])]},
        "vae_encoder": {"inputs": [t("pixel_values", f32, [1, 3, "height", "width"]),
                                   t("sample_noise", f32, [1, z, "latent_height", "latent_width"])],
                        "outputs": [t("latent", f32, [1, z, "latent_height", "latent_width"])]},
        "latent_embed": {"inputs": [t("latent_tokens", f32, ["batch", "num_tokens", tok]),
                                    t("timestep", f32, ["batch"]),
                                    t("latent_position_ids", i64, ["batch", "num_tokens"])],
                         "outputs": [t("latent_embeds", f32, ["batch", "num_tokens", H])]},
        "language_model": {"inputs": [t("inputs_embeds", f32, ["batch", "sequence", H]),
                                      t("position_ids", i64, ["batch", "sequence"]),
                                      t("attention_mask", i64, ["batch", "total_sequence"]),
                                      t("is_causal", "bool", []),
                                      t("gen_range", i64, [2])] + past,
                           "outputs": [t("last_hidden_state", f32, ["batch", "sequence", H])] + present},
        "lm_head": {"inputs": [t("hidden_states", f32, ["batch", "sequence", H])],
                    "outputs": [t("logits", f32, ["batch", "sequence", V])]},
        "gen_head": {"inputs": [t("hidden_states", f32, ["batch", "sequence", H])],
                     "outputs": [t("velocity", f32, ["batch", "sequence", tok])]},
        "vae_decoder": {"inputs": [t("latent", f32, [1, z, "latent_height", "latent_width"])],
                        "outputs": [t("image", f32, [1, 3, "height", "width"])]},
    }


def example_inputs(cfg: ModelConfig, name, kv_dtype=torch.float32, seed=0):
    """Small inputs used for tracing and parity checks (distinct, non-degenerate sizes)."""
    g = torch.Generator().manual_seed(seed)
    H = cfg.llm.hidden_size
    z = cfg.vae.z_channels
    if name == "embed_tokens":
        return (torch.tensor([[1, 5, 7]], dtype=torch.int64),)
    if name == "vision_encoder":
        return (torch.rand(1, 3, 28, 42, generator=g) * 2 - 1,)
    if name == "vae_encoder":
        return (torch.rand(1, 3, 32, 48, generator=g) * 2 - 1, torch.randn(1, z, 4, 6, generator=g))
    if name == "latent_embed":
        return (torch.randn(1, 6, 4 * z, generator=g), torch.tensor([0.7]),
                torch.tensor([[0, 1, 2, 64, 65, 66]], dtype=torch.int64))
    if name == "language_model":
        s, p = 4, 3
        nkv, hd, L = cfg.llm.num_key_value_heads, cfg.llm.head_dim, cfg.llm.num_hidden_layers
        past = []
        for _ in range(L):
            past += [torch.randn(1, nkv, p, hd, generator=g).to(kv_dtype), torch.randn(1, nkv, p, hd, generator=g).to(kv_dtype)]
        return (torch.randn(1, s, H, generator=g), torch.tensor([[3, 3, 4, 5]], dtype=torch.int64),
                torch.ones(1, p + s, dtype=torch.int64), torch.tensor(True), torch.tensor([1, 3], dtype=torch.int64),
                *past)
    if name in ("lm_head", "gen_head"):
        return (torch.randn(1, 3, H, generator=g),)
    if name == "vae_decoder":
        return (torch.randn(1, z, 4, 6, generator=g),)
    raise KeyError(name)
