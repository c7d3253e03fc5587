// Persisted outputs of a run's analyze stage, read by its publish stage (and, later, by a review step)
// by run id. Redis, not a folder: every worker host on one Redis sees them, with no shared disk to set
// up; a size bound keeps one run from filling Redis's memory and a TTL keeps unpublished outputs for a
// bounded time. Published outputs are deleted at once (the PACS and FHIR server hold them then).
import type { Redis } from 'ioredis';
import { ResultsTooLargeError } from '../shared/errors.ts';

/** A JSON manifest (the pipeline's own shape) and the binary objects it names by index. */
export interface PersistedOutputs {
  manifest: unknown;
  blobs: Uint8Array[];
}

export interface ResultsStore {
  /** Throws ResultsTooLargeError (nothing kept) above the bound. */
  put(runId: string, outputs: PersistedOutputs): Promise<void>;
  get(runId: string): Promise<PersistedOutputs | undefined>;
  has(runId: string): Promise<boolean>;
  delete(runId: string): Promise<void>;
}

export function createResultsStore(redis: Redis, prefix: string, options: { ttlMs: number; maxBytes: number }): ResultsStore {
  const key = (runId: string) => `${prefix}:results:${runId}`;
  return {
    async put(runId, outputs) {
      const manifest = Buffer.from(JSON.stringify(outputs.manifest), 'utf8');
      const size = manifest.length + outputs.blobs.reduce((n, b) => n + b.byteLength, 0);
      if (size > options.maxBytes) throw new ResultsTooLargeError();
      const fields: (string | Buffer)[] = ['manifest', manifest];
      outputs.blobs.forEach((blob, index) => fields.push(`blob:${index}`, Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)));
      // One transaction: a reader sees all of a run's outputs or none.
      await redis.multi().del(key(runId)).hset(key(runId), ...fields).pexpire(key(runId), options.ttlMs).exec();
    },
    async get(runId) {
      const hash = await redis.hgetallBuffer(key(runId));
      const manifest = hash.manifest;
      if (!manifest) return undefined;
      const blobs: Uint8Array[] = [];
      for (let index = 0; hash[`blob:${index}`]; index += 1) blobs.push(new Uint8Array(hash[`blob:${index}`]!));
      return { manifest: JSON.parse(manifest.toString('utf8')), blobs };
    },
    async has(runId) {
      return (await redis.hexists(key(runId), 'manifest')) === 1;
    },
    async delete(runId) {
      await redis.del(key(runId));
    },
  };
}
