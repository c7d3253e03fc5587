"""Reference host loops for UniMedVL, in plain PyTorch over the eight bundle graphs.

THIS FILE IS THE SPEC FOR THE TYPESCRIPT ENGINE. Every host-side step (what the service must do
around the ONNX graphs) is written here explicitly; the graph modules (graphs.py) are the exact
PyTorch twins of the ONNX graphs, so porting = replacing `self.g[name](...)` by an ORT session run.

Conventions
-----------
* Batch size is 1 everywhere on the host side (b = 1).
* A *context* is one KV cache: a list of (key, value) per layer, each [1, kv_heads, kv_len,
  head_dim], plus two integers: `kv_len` (tokens in the cache) and `rope` (the next RoPE position).
  RoPE positions are NOT KV indexes: an image block occupies many KV slots but one position.
* Every `language_model` call gets `attention_mask = ones(kv_len + s)` (int64), the block's
  `position_ids`, `is_causal` and `gen_range`; its `present.*` outputs ARE the new cache
  (past ++ new) when the block is committed. Flow steps do not commit (cache unchanged).
* Special tokens are resolved by name (manifest.special_tokens): bos = <|im_start|>,
  eos = <|im_end|>, start_of_image = <|vision_start|>, end_of_image = <|vision_end|>.

Blocks (in the order they are appended to a context)
----------------------------------------------------
TEXT block   tokens [bos] + tokenizer.encode(text) (no special tokens added by the tokenizer) + [eos]
             embeds  = embed_tokens(ids)
             position_ids = rope, rope+1, ..., rope+L-1          (L = number of tokens)
             is_causal = true, gen_range = (L, L) (no generation expert)
             afterwards kv_len += L, rope += L
VIT block    tokens [start_of_image] + N patch tokens + [end_of_image]
             embeds  = concat(embed_tokens([soi]), vision_encoder(pixels)[0], embed_tokens([eoi]))
             position_ids = rope for ALL N+2 tokens
             is_causal = false (full attention inside the block, everything sees the cache)
             gen_range = (N+2, N+2) (all understanding expert)
             afterwards kv_len += N+2, rope += 1
VAE block    (conditioning image for generation / editing)
             latent = vae_encoder(pixels, sample_noise)   [1,16,h/8,w/8], already scaled/shifted
             tokens = patchify(latent)                     [n, 64]
             embeds = concat(embed_tokens([soi]), latent_embed(tokens, timestep=[0.0], latent_pos_ids),
                             embed_tokens([eoi]))
             position_ids = rope for all n+2 tokens; is_causal = false
             gen_range = (1, 1+n): the n latent tokens use the generation expert, the two markers the
             understanding expert
             afterwards kv_len += n+2, rope += 1
LATENT query block (one flow step, against a context, NOT committed)
             same layout as the VAE block but the latent tokens are x_t (the current noisy latent)
             and timestep = [t] (the shifted timestep of this step, float32);
             velocity = gen_head(last_hidden_state[:, 1:1+n])[0]   [n, 64]

Latent tokens and positions
---------------------------
* patchify: latent [16, 2h, 2w] (h, w = tokens per column/row = pixels/16) ->
  token index i = row*w + col (row-major); value index within a token j = (pi*2 + qi)*16 + c for
  the 2x2 sub-patch (pi = row in patch, qi = col in patch) and channel c:
  tokens[row*w+col, (pi*2+qi)*16+c] = latent[c, 2*row+pi, 2*col+qi].   unpatchify is the inverse.
* latent position id of token (row, col) = row*64 + col (64x64 table); max 64x64 tokens (1024 px).

Image preprocessing
-------------------
* to RGB: images with alpha are composited on white; other modes converted to RGB.
* size rule (max_size, min_size, stride, max_pixels) — Python semantics, `round` = round half to
  even (JS Math.round differs on .5!):
      scale = min(max_size / max(w, h), 1.0); scale = max(scale, min_size / min(w, h))
      (w', h') = apply(w, h, scale)  where apply rounds w*scale, h*scale with `round`, then
                 snaps each side v -> max(stride, int(round(v / stride) * stride))
      if w'*h' > max_pixels: (w', h') = apply(w', h', max_pixels / (w'*h'))
      if max(w', h') > max_size: (w', h') = apply(w', h', max_size / max(w', h'))
  ViT (understanding): (980, 378, 14, 2007040); VAE: (1024, 32, 16, 1806336);
  ViT of a generation context (GEN_VIT_RULE): (980, 387, 14, 1806336), applied to the VAE-resized image.
* resample: PIL `Image.resize((w', h'), BICUBIC)` (PIL bicubic always antialiases when
  downscaling; if the size is unchanged PIL returns an exact copy).
* pixel = (u8 / 255 - 0.5) / 0.5 in float32, laid out [1, 3, h, w] (CHW). The vision_encoder graph
  itself cuts 14x14 patches (vector order row-in-patch, col-in-patch, channel) and uses position
  id row*70 + col.
* Understanding (VQA/report): the image goes through the ViT rule directly (no VAE block).
* Editing (image-to-image): the image is first resized with the VAE rule (this is "the" input
  image and also fixes the output size); the VAE block uses it as is; the ViT block applies the
  generator's ViT rule GEN_VIT_RULE (not the understanding rule) to that already-resized image
  (inferencer.py InterleaveInferencer.interleave_inference + update_context_image with the
  vit_transform of interactive_image_generator.py). Order in the context: VAE block, then ViT block.

Flow matching sampler (rectified flow)
--------------------------------------
* x ~ N(0, 1) of shape [n, 64] float32 (given as input; the host draws it).
* ts = linspace(1, 0, num_timesteps) (float32), ts = shift*ts / (1 + (shift-1)*ts) (float32 ops),
  dts[i] = ts[i] - ts[i+1]; loop over i = 0 .. num_timesteps-2 with t = ts[i]:
  guidance active iff lower < t <= upper (cfg_interval); else both scales are 1.0 for that step.
  v_cond = velocity in the conditional context (always).
  v_text = velocity in the no-text context, computed iff text_scale_eff > 1.
  v_img  = velocity in the no-image context, computed iff img_scale_eff > 1.
  if text_scale_eff > 1:
     text_channel: u = v_text + s_t*(v_cond - v_text); u *= clamp(|v_cond|_tok / (|u|_tok + 1e-8),
                   renorm_min, 1) per token (L2 over the 64 values); then if s_i > 1:
                   v = v_img + s_i*(u - v_img) else v = u
     global/channel: u = v_text + s_t*(v_cond - v_text); if s_i > 1: u = v_img + s_i*(u - v_img);
                   scale = clamp(|v_cond| / (|u| + 1e-8), renorm_min, 1) with the L2 norm over the
                   whole [n,64] tensor (global) or per token (channel); v = u*scale
  else: v = v_cond  (image guidance is NOT applied when the text scale is <= 1: upstream quirk)
  x = x - v * dts[i]
* decode: unpatchify x -> [1,16,2h,2w]; image = vae_decoder(latent);
  u8 = trunc(clamp(image*0.5 + 0.5, 0, 1) * 255) (float32, truncation toward zero), HWC RGB.

Contexts for classifier-free guidance (input list = images and texts in order)
-----------------------------------------------------------------------------
Walking the inputs, with three contexts starting empty (kv_len 0, rope 0):
  image input: cond += VAE block + ViT block; then no_text := copy(cond)
  text input:  no_text := copy(cond); cond += TEXT block; no_img += TEXT block
So for [image, prompt] (editing): cond = [VAE, ViT, TEXT], no_text = [VAE, ViT], no_img = [TEXT]
and for [prompt] (text-to-image): cond = [TEXT], no_text = [] (empty), no_img = [TEXT].
The latent query block of every branch uses that branch's own `rope` and cache.

Understanding decode
--------------------
cond = [ViT block per image ..., TEXT block(prompt)]; then feed bos at position rope, is_causal
true, gen_range (1,1), commit; logits = lm_head(last_hidden_state)[0, -1]; next = argmax (first
max on ties); stop when next == eos or after max_new_tokens model calls; every new token is fed
at position rope+1, rope+2, ... The answer is the tokens after bos up to (excluding) eos; like
Bagel.generate_text the prediction of the last allowed call is not appended (an answer cut by the
limit has max_new_tokens - 1 tokens; that call only tells whether the answer ended there).

Analyze-first (interactive_image_generator.py, default "understanding mode" before an edit)
-------------------------------------------------------------------------------------------
understanding over [VAE-resized image (ViT block by GEN_VIT_RULE only), prompt], greedy, limit 800;
instruction = prompt + "\n\n" + answer text (when not empty); then the edit with that instruction.
"""
import copy
import math

import numpy as np
import torch
from PIL import Image

LATENT_GRID = 64


# ------------------------------------------------------------------------------ preprocessing

def py_round(x):
    return round(x)  # Python 3: round half to even


def make_divisible(v, stride):
    return max(stride, int(py_round(v / stride) * stride))


def apply_scale(w, h, scale, stride):
    nw, nh = py_round(w * scale), py_round(h * scale)
    return make_divisible(nw, stride), make_divisible(nh, stride)


def target_size(w, h, max_size, min_size, stride, max_pixels):
    """-> (new_w, new_h) exactly like the public MaxLongEdgeMinShortEdgeResize (img_num = 1)."""
    scale = min(max_size / max(w, h), 1.0)
    scale = max(scale, min_size / min(w, h))
    nw, nh = apply_scale(w, h, scale, stride)
    if nw * nh > max_pixels:
        scale = max_pixels / (nw * nh)
        nw, nh = apply_scale(nw, nh, scale, stride)
    if max(nw, nh) > max_size:
        scale = max_size / max(nw, nh)
        nw, nh = apply_scale(nw, nh, scale, stride)
    return nw, nh


VIT_RULE = dict(max_size=980, min_size=378, stride=14, max_pixels=2007040)
VAE_RULE = dict(max_size=1024, min_size=32, stride=16, max_pixels=1806336)
# the generator's ViT rule, applied to the VAE-resized image (interactive_image_generator.py DEFAULT_CONFIG
# vit_transform_size; data/transforms.py ImageTransform default max_pixels = 14*14*9*1024)
GEN_VIT_RULE = dict(max_size=980, min_size=387, stride=14, max_pixels=1806336)


def to_rgb(img):
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        bg.alpha_composite(img)
        return bg.convert("RGB")
    return img.convert("RGB")


def resize(img, rule):
    w, h = img.size
    nw, nh = target_size(w, h, **rule)
    return img.resize((nw, nh), Image.BICUBIC)


def pixels(img):
    """PIL RGB -> float32 [1,3,h,w] in [-1,1]: (u8/255 - 0.5)/0.5."""
    a = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float()
    a = a.div(255.0)
    a = (a - 0.5) / 0.5
    return a.unsqueeze(0).contiguous()


# ------------------------------------------------------------------------------ latents

def patchify(latent, p=2):
    """[1, C, 2h, 2w] -> [h*w, p*p*C] with token (row, col) row-major, values (pi, qi, c)."""
    _, c, H, W = latent.shape
    h, w = H // p, W // p
    x = latent[0].reshape(c, h, p, w, p).permute(1, 3, 2, 4, 0)  # h, w, pi, qi, c
    return x.reshape(h * w, p * p * c)


def unpatchify(tokens, h, w, c=16, p=2):
    x = tokens.reshape(h, w, p, p, c).permute(4, 0, 2, 1, 3)  # c, h, pi, w, qi
    return x.reshape(1, c, h * p, w * p)


def latent_position_ids(h, w):
    return (torch.arange(h).unsqueeze(1) * LATENT_GRID + torch.arange(w).unsqueeze(0)).reshape(1, -1)


def to_uint8(image):
    x = (image * 0.5 + 0.5).clamp(0, 1)[0].permute(1, 2, 0) * 255
    return x.to(torch.uint8)


def schedule(num_timesteps, shift):
    ts = torch.linspace(1, 0, num_timesteps)
    ts = shift * ts / (1 + (shift - 1) * ts)
    return ts[:-1], ts[:-1] - ts[1:]


# ------------------------------------------------------------------------------ engine

class Context:
    def __init__(self, n_layers, nkv, hd, dtype=torch.float32):
        self.past = [(torch.zeros(1, nkv, 0, hd, dtype=dtype), torch.zeros(1, nkv, 0, hd, dtype=dtype))
                     for _ in range(n_layers)]
        self.kv_len = 0
        self.rope = 0
        self.blocks = []  # bookkeeping for fixtures: what was appended, with positions/masks

    def clone(self):
        c = copy.copy(self)
        c.past = list(self.past)
        c.blocks = list(self.blocks)
        return c


class Engine:
    def __init__(self, graphs, cfg, special_ids, encode, trace=None):
        self.g = graphs
        self.cfg = cfg
        self.ids = special_ids  # name -> id (bos, eos, start_of_image, end_of_image)
        self.encode = encode
        self.trace = trace  # optional callback(event: dict) for fixtures

    def new_context(self):
        c = self.cfg.llm
        return Context(c.num_hidden_layers, c.num_key_value_heads, c.head_dim)

    def _emb(self, ids):
        return self.g["embed_tokens"](torch.tensor([ids], dtype=torch.int64))

    def run_lm(self, ctx, embeds, position_ids, is_causal, gen_range, commit, kind):
        s = embeds.shape[1]
        mask = torch.ones(1, ctx.kv_len + s, dtype=torch.int64)
        flat = []
        for k, v in ctx.past:
            flat += [k, v]
        pos = torch.tensor([position_ids], dtype=torch.int64)
        out = self.g["language_model"](embeds, pos, mask, torch.tensor(is_causal),
                                       torch.tensor(gen_range, dtype=torch.int64), *flat)
        hidden = out[0]
        info = {"kind": kind, "kv_len_before": ctx.kv_len, "rope_before": ctx.rope, "seq_len": s,
                "position_ids": list(position_ids), "attention_mask": {"length": ctx.kv_len + s, "value": 1},
                "is_causal": bool(is_causal), "gen_range": list(gen_range)}
        if commit:
            ctx.past = [(out[1 + 2 * i], out[2 + 2 * i]) for i in range(len(ctx.past))]
            ctx.kv_len += s
            ctx.blocks.append(info)
        return hidden, info

    # -- blocks
    def add_text(self, ctx, text):
        ids = [self.ids["bos"]] + self.encode(text) + [self.ids["eos"]]
        L = len(ids)
        pos = list(range(ctx.rope, ctx.rope + L))
        h, info = self.run_lm(ctx, self._emb(ids), pos, True, (L, L), True, "text")
        info["input_ids"] = ids
        ctx.rope += L
        return h

    def add_vit_image(self, ctx, px):
        patches = self.g["vision_encoder"](px)
        n = patches.shape[1]
        emb = torch.cat([self._emb([self.ids["start_of_image"]]), patches, self._emb([self.ids["end_of_image"]])], 1)
        h, info = self.run_lm(ctx, emb, [ctx.rope] * (n + 2), False, (n + 2, n + 2), True, "vit_image")
        info.update(num_patches=n, grid=[px.shape[2] // 14, px.shape[3] // 14])
        ctx.rope += 1
        return h

    def vae_tokens(self, px, sample_noise):
        latent = self.g["vae_encoder"](px, sample_noise)
        return latent, patchify(latent)

    def add_vae_image(self, ctx, px, sample_noise):
        latent, tokens = self.vae_tokens(px, sample_noise)
        h, w = px.shape[2] // 16, px.shape[3] // 16
        n = h * w
        le = self.g["latent_embed"](tokens.unsqueeze(0), torch.tensor([0.0]), latent_position_ids(h, w))
        emb = torch.cat([self._emb([self.ids["start_of_image"]]), le, self._emb([self.ids["end_of_image"]])], 1)
        hs, info = self.run_lm(ctx, emb, [ctx.rope] * (n + 2), False, (1, 1 + n), True, "vae_image")
        info.update(num_tokens=n, grid=[h, w], latent_position_ids=latent_position_ids(h, w)[0].tolist())
        ctx.rope += 1
        return latent, tokens

    def velocity(self, ctx, x, t, h, w):
        n = h * w
        le = self.g["latent_embed"](x.unsqueeze(0), torch.tensor([float(t)]), latent_position_ids(h, w))
        emb = torch.cat([self._emb([self.ids["start_of_image"]]), le, self._emb([self.ids["end_of_image"]])], 1)
        hidden, info = self.run_lm(ctx, emb, [ctx.rope] * (n + 2), False, (1, 1 + n), False, "latent_query")
        return self.g["gen_head"](hidden[:, 1:1 + n])[0], info

    # -- understanding
    def decode_text(self, ctx, max_new_tokens):
        """Greedy decode as Bagel.generate_text (bagel.py): `max_new_tokens` is its `max_length`, the
        number of decoder calls; the last call's prediction is never appended, so an answer cut by
        the limit has max_new_tokens - 1 tokens. -> (answer ids, steps, stopped_on_eos)."""
        tok = self.ids["bos"]
        out, steps = [], []
        for step in range(max_new_tokens):
            pos = ctx.rope + step
            hidden, _ = self.run_lm(ctx, self._emb([tok]), [pos], True, (1, 1), True, "decode")
            logits = self.g["lm_head"](hidden)[0, -1]
            nxt = int(torch.argmax(logits).item())
            steps.append({"step": step, "input_id": tok, "position_id": pos, "next_id": nxt, "logits": logits})
            if nxt == self.ids["eos"]:
                return out, steps, True
            if step == max_new_tokens - 1:
                break
            out.append(nxt)
            tok = nxt
        return out, steps, False

    def understand(self, images, prompt, max_new_tokens=500):
        ctx = self.new_context()
        for px in images:
            self.add_vit_image(ctx, px)
        self.add_text(ctx, prompt)
        out, steps, _ = self.decode_text(ctx, max_new_tokens)
        return out, steps, ctx

    def analyze_first(self, vae_images, prompt, decode, max_new_tokens=800):
        """The understanding pass interactive_image_generator.py runs before an edit (its default
        "understanding mode"): interleave_inference(understanding_output=True) over [VAE-resized
        images..., prompt] puts ViT blocks only (generator ViT rule on the VAE-resized image), then the
        prompt; gen_text(max_length=800, greedy). Its answer text is the decoded sequence cut like
        InterleaveInferencer.gen_text; the edit instruction becomes prompt + "\n\n" + answer when the
        answer is not empty. -> (instruction, answer ids, steps, stopped_on_eos)."""
        ctx = self.new_context()
        for img in vae_images:
            self.add_vit_image(ctx, pixels(resize(img, GEN_VIT_RULE)))
        self.add_text(ctx, prompt)
        answer, steps, stopped = self.decode_text(ctx, max_new_tokens)
        text = decode([self.ids["bos"]] + answer).split("<|im_end|>")[0].split("<|im_start|>")[1]
        return (f"{prompt}\n\n{text}" if text else prompt), answer, steps, stopped

    # -- generation
    def build_contexts(self, inputs, vae_noise=None):
        """inputs: list of ("image", pil_rgb_already_vae_resized) / ("text", str)."""
        cond, no_text, no_img = self.new_context(), self.new_context(), self.new_context()
        for kind, val in inputs:
            if kind == "image":
                px = pixels(val)
                self.add_vae_image(cond, px, vae_noise)
                vit_img = resize(val, GEN_VIT_RULE)
                self.add_vit_image(cond, pixels(vit_img))
                no_text = cond.clone()
            else:
                no_text = cond.clone()
                self.add_text(cond, val)
                self.add_text(no_img, val)
        return cond, no_text, no_img

    def flow(self, contexts, height, width, noise, text_scale, img_scale, interval, renorm_type,
             renorm_min=0.0, num_timesteps=50, shift=3.0, record=None):
        cond, no_text, no_img = contexts
        h, w = height // 16, width // 16
        x = noise.clone().float()
        ts, dts = schedule(num_timesteps, shift)
        for i in range(ts.shape[0]):
            t = ts[i]
            if t > interval[0] and t <= interval[1]:
                st, si = text_scale, img_scale
            else:
                st, si = 1.0, 1.0
            v_cond, _ = self.velocity(cond, x, t, h, w)
            v_text = self.velocity(no_text, x, t, h, w)[0] if st > 1.0 else None
            v_img = self.velocity(no_img, x, t, h, w)[0] if si > 1.0 else None
            if st > 1.0:
                if renorm_type == "text_channel":
                    u = v_text + st * (v_cond - v_text)
                    scale = (torch.norm(v_cond, dim=-1, keepdim=True)
                             / (torch.norm(u, dim=-1, keepdim=True) + 1e-8)).clamp(min=renorm_min, max=1.0)
                    u = u * scale
                    v = v_img + si * (u - v_img) if si > 1.0 else u
                else:
                    u = v_text + st * (v_cond - v_text)
                    if si > 1.0:
                        u = v_img + si * (u - v_img)
                    if renorm_type == "global":
                        nc, nu = torch.norm(v_cond), torch.norm(u)
                    elif renorm_type == "channel":
                        nc, nu = torch.norm(v_cond, dim=-1, keepdim=True), torch.norm(u, dim=-1, keepdim=True)
                    else:
                        raise ValueError(renorm_type)
                    v = u * (nc / (nu + 1e-8)).clamp(min=renorm_min, max=1.0)
            else:
                v = v_cond
            if record is not None:
                record(i, float(t), float(dts[i]), st, si, x, v_cond, v_text, v_img, v)
            x = x - v * dts[i]
        return x

    def decode(self, x, height, width):
        latent = unpatchify(x, height // 16, width // 16, self.cfg.vae.z_channels)
        image = self.g["vae_decoder"](latent)
        return latent, image, to_uint8(image)


def special_ids_from_tokenizer_json(tj):
    by = {t["content"]: t["id"] for t in tj["added_tokens"]}
    return {"bos": by["<|im_start|>"], "eos": by["<|im_end|>"],
            "start_of_image": by["<|vision_start|>"], "end_of_image": by["<|vision_end|>"]}
