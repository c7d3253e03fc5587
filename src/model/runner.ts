/**
 * Thin typed wrappers around the eight graphs. Every call is one `session.run`; the host loops in
 * understand.ts / generate.ts own all bookkeeping. Tensors are float32 [batch=1, ...] unless noted.
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from './manifest.ts';
import type { Sessions } from './sessions.ts';

/**
 * A KV context: the cache of every layer plus the next RoPE position. Contexts are immutable
 * (graph outputs are fresh buffers), so branching a context (for guidance) is sharing it.
 */
export interface KvContext {
  /** past_key_values in graph order: layer 0 key, layer 0 value, layer 1 key, ... */
  kv: ort.Tensor[];
  length: number;
  rope: number;
}

export interface LmCall {
  /** [s, H] */
  embeds: Float32Array;
  /** s position ids */
  positions: number[] | BigInt64Array;
  causal: boolean;
  /** tokens [start, end) use the generation expert; null = none */
  genRange: [number, number] | null;
}

/** What one language_model call looked like (for fixtures and tests). */
export interface LmCallInfo {
  pastLength: number;
  seqLength: number;
  positions: number[];
  attentionMaskLength: number;
  causal: boolean;
  genRange: [number, number];
  grow: boolean;
}

/**
 * Several contexts' caches padded to one length and stacked along the batch axis, so one
 * language_model call serves every guidance branch (padding masked out by attention_mask).
 * Built once per flow: the contexts do not change during it.
 */
export interface StackedContexts {
  rows: KvContext[];
  kv: ort.Tensor[];
  /** the longest context: every row's past is padded to it */
  pastLength: number;
}

export class GraphRunner {
  readonly hidden: number;
  /**
   * Run the guidance branches of a flow step as one batched call (the engine turns it on for CUDA).
   * Off on WebGPU: its KV stays on the device, and stacking would bring every cache to the host and
   * upload it again on each step. Off on the CPU provider: measured slower there (see engine.ts).
   */
  batchGuidance = false;
  /** optional observer of every language_model call */
  observer: ((info: LmCallInfo) => void) | null = null;
  private readonly kvNames: string[];
  private readonly presentNames: string[];
  /** all-ones attention mask storage, grown on demand and handed out as views (masks are always all ones) */
  private ones = new BigInt64Array(0);
  /** KV outputs the WebGPU provider left on the device: freed by releaseKv or at the end of a request */
  private readonly deviceKv = new Set<ort.Tensor>();

  constructor(readonly sessions: Sessions, readonly manifest: ModelManifest) {
    this.hidden = manifest.hiddenSize;
    this.kvNames = [];
    this.presentNames = [];
    for (let i = 0; i < manifest.numLayers; i++) {
      for (const kind of ['key', 'value']) {
        this.kvNames.push(`past_key_values.${i}.${kind}`);
        this.presentNames.push(`present.${i}.${kind}`);
      }
    }
  }

  emptyContext(): KvContext {
    const { numKvHeads, headDim, kvDtype } = this.manifest;
    const empty = () => new ort.Tensor(kvDtype, kvDtype === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, numKvHeads, 0, headDim]);
    return { kv: this.kvNames.map(empty), length: 0, rope: 0 };
  }

  /** input_ids -> [s, H] */
  async embedTokens(ids: number[]): Promise<Float32Array> {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);
    const out = await this.sessions.embed_tokens.run({ input_ids: input });
    return out.inputs_embeds!.data as Float32Array;
  }

  /** [3, h, w] in [-1, 1] -> [(h/14)(w/14), H] */
  async encodeVision(chw: Float32Array, height: number, width: number): Promise<Float32Array> {
    const out = await this.sessions.vision_encoder.run({ pixel_values: new ort.Tensor('float32', chw, [1, 3, height, width]) });
    return out.image_embeds!.data as Float32Array;
  }

  /** [3, h, w] + N(0,1) sample noise [16, h/8, w/8] -> scaled latent [16, h/8, w/8] */
  async encodeVae(chw: Float32Array, height: number, width: number, noise: Float32Array): Promise<Float32Array> {
    const c = this.manifest.latent.channels;
    const d = this.manifest.latent.downsample;
    const out = await this.sessions.vae_encoder.run({
      pixel_values: new ort.Tensor('float32', chw, [1, 3, height, width]),
      sample_noise: new ort.Tensor('float32', noise, [1, c, height / d, width / d]),
    });
    return out.latent!.data as Float32Array;
  }

  /** latent tokens [n, 64] at timestep t -> [n, H] */
  async embedLatent(tokens: Float32Array, count: number, timestep: number, positionIds: BigInt64Array): Promise<Float32Array> {
    const out = await this.sessions.latent_embed.run({
      latent_tokens: new ort.Tensor('float32', tokens, [1, count, this.manifest.latent.tokenDim]),
      timestep: new ort.Tensor('float32', Float32Array.of(timestep), [1]),
      latent_position_ids: new ort.Tensor('int64', positionIds, [1, count]),
    });
    return out.latent_embeds!.data as Float32Array;
  }

  private onesView(length: number): BigInt64Array {
    if (this.ones.length < length) this.ones = new BigInt64Array(Math.max(length, 2 * this.ones.length, 1024)).fill(1n);
    return this.ones.subarray(0, length);
  }

  /** Feeds of one language_model call against `ctx` (exported for the benchmark's bare loop). */
  lmFeeds(ctx: KvContext, call: LmCall): Record<string, ort.Tensor> {
    const s = call.embeds.length / this.hidden;
    const positions = call.positions instanceof BigInt64Array ? call.positions : BigInt64Array.from(call.positions, (v) => BigInt(v));
    const range = call.genRange ?? [s, s];
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', call.embeds, [1, s, this.hidden]),
      position_ids: new ort.Tensor('int64', positions, [1, s]),
      attention_mask: new ort.Tensor('int64', this.onesView(ctx.length + s), [1, ctx.length + s]),
      is_causal: new ort.Tensor('bool', Uint8Array.of(call.causal ? 1 : 0), []),
      gen_range: new ort.Tensor('int64', BigInt64Array.of(BigInt(range[0]), BigInt(range[1])), [2]),
    };
    this.kvNames.forEach((name, i) => {
      feeds[name] = ctx.kv[i]!;
    });
    return feeds;
  }

  /**
   * One language_model call. With `grow` the new tokens join the cache (returned context advances
   * `length`; the caller sets `rope`); without it only the hidden states are fetched.
   */
  async runLanguageModel(ctx: KvContext, call: LmCall, grow: boolean): Promise<{ hidden: Float32Array; context: KvContext }> {
    const feeds = this.lmFeeds(ctx, call);
    const s = call.embeds.length / this.hidden;
    if (this.observer) {
      const range = call.genRange ?? [s, s];
      this.observer({
        pastLength: ctx.length, seqLength: s, positions: Array.from(call.positions, Number), attentionMaskLength: ctx.length + s,
        causal: call.causal, genRange: [range[0], range[1]], grow,
      });
    }
    if (!grow) {
      const out = await this.sessions.language_model.run(feeds, ['last_hidden_state']);
      return { hidden: out.last_hidden_state!.data as Float32Array, context: ctx };
    }
    const out = await this.sessions.language_model.run(feeds);
    const kv = this.presentNames.map((n) => out[n]!);
    for (const t of kv) if (t.location !== 'cpu') this.deviceKv.add(t);
    return {
      hidden: out.last_hidden_state!.data as Float32Array,
      context: { kv, length: ctx.length + s, rope: ctx.rope },
    };
  }

  /** Frees a context's device-resident KV (WebGPU) once no later call needs it; host KV is left to the GC. */
  releaseKv(ctx: KvContext): void {
    for (const t of ctx.kv) {
      if (this.deviceKv.delete(t)) t.dispose();
    }
  }

  /** Frees every device-resident KV still held: the end of a request. */
  releaseAllKv(): void {
    for (const t of this.deviceKv) t.dispose();
    this.deviceKv.clear();
  }

  /** Pads and stacks the contexts' KV (host tensors) into batched past_key_values, once. */
  async stackContexts(rows: KvContext[]): Promise<StackedContexts> {
    const { numKvHeads, headDim, kvDtype } = this.manifest;
    const pastLength = Math.max(...rows.map((r) => r.length));
    const kv: ort.Tensor[] = [];
    for (let i = 0; i < this.kvNames.length; i++) {
      const total = rows.length * numKvHeads * pastLength * headDim;
      const out = kvDtype === 'float16' ? new Uint16Array(total) : new Float32Array(total);
      for (const [b, row] of rows.entries()) {
        const src = (await row.kv[i]!.getData()) as Float32Array | Uint16Array;
        const rowLength = row.length * headDim;
        for (let h = 0; h < numKvHeads; h++) {
          const from = h * rowLength;
          out.set(src.subarray(from, from + rowLength), ((b * numKvHeads + h) * pastLength) * headDim);
        }
      }
      kv.push(new ort.Tensor(kvDtype, out, [rows.length, numKvHeads, pastLength, headDim]));
    }
    return { rows, kv, pastLength };
  }

  /**
   * One not-committed language_model call of the same new tokens against every stacked context:
   * row b sees its own past (padding masked) at its own positions. Returns hidden [B, s, H].
   */
  async runLanguageModelStacked(stacked: StackedContexts, call: Omit<LmCall, 'positions'> & { positions: number[][] }): Promise<Float32Array> {
    const B = stacked.rows.length;
    const s = call.embeds.length / this.hidden;
    const total = stacked.pastLength + s;
    const embeds = new Float32Array(B * call.embeds.length);
    const positions = new BigInt64Array(B * s);
    const mask = new BigInt64Array(B * total);
    for (let b = 0; b < B; b++) {
      embeds.set(call.embeds, b * call.embeds.length);
      for (let j = 0; j < s; j++) positions[b * s + j] = BigInt(call.positions[b]![j]!);
      mask.fill(1n, b * total, b * total + stacked.rows[b]!.length);
      mask.fill(1n, b * total + stacked.pastLength, (b + 1) * total);
    }
    const range = call.genRange ?? [s, s];
    if (this.observer) {
      for (const [b, row] of stacked.rows.entries()) {
        this.observer({
          pastLength: row.length, seqLength: s, positions: call.positions[b]!, attentionMaskLength: row.length + s,
          causal: call.causal, genRange: [range[0], range[1]], grow: false,
        });
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', embeds, [B, s, this.hidden]),
      position_ids: new ort.Tensor('int64', positions, [B, s]),
      attention_mask: new ort.Tensor('int64', mask, [B, total]),
      is_causal: new ort.Tensor('bool', Uint8Array.of(call.causal ? 1 : 0), []),
      gen_range: new ort.Tensor('int64', BigInt64Array.of(BigInt(range[0]), BigInt(range[1])), [2]),
    };
    this.kvNames.forEach((name, i) => {
      feeds[name] = stacked.kv[i]!;
    });
    const out = await this.sessions.language_model.run(feeds, ['last_hidden_state']);
    return out.last_hidden_state!.data as Float32Array;
  }

  /** hidden [s, H] -> logits [s, V] */
  async lmHead(hidden: Float32Array): Promise<Float32Array> {
    const s = hidden.length / this.hidden;
    const out = await this.sessions.lm_head.run({ hidden_states: new ort.Tensor('float32', hidden, [1, s, this.hidden]) });
    return out.logits!.data as Float32Array;
  }

  /** hidden [s, H] -> velocity [s, 64] */
  async genHead(hidden: Float32Array): Promise<Float32Array> {
    const s = hidden.length / this.hidden;
    const out = await this.sessions.gen_head.run({ hidden_states: new ort.Tensor('float32', hidden, [1, s, this.hidden]) });
    return out.velocity!.data as Float32Array;
  }

  /** scaled latent [16, h, w] -> image [3, 8h, 8w] */
  async decodeVae(latent: Float32Array, latentHeight: number, latentWidth: number): Promise<Float32Array> {
    const c = this.manifest.latent.channels;
    const out = await this.sessions.vae_decoder.run({ latent: new ort.Tensor('float32', latent, [1, c, latentHeight, latentWidth]) });
    return out.image!.data as Float32Array;
  }
}
