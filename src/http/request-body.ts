import express, { type Request, type RequestHandler } from 'express';
import { JsonMalformedError, UnsupportedMediaTypeError } from '../shared/errors.ts';

const JSON_TYPES = new Set(['application/fhir+json', 'application/json']);

/**
 * Keeps the body as the exact bytes received (signatures are computed over them), whatever the content
 * type, up to the configured limit (413 past it). Compressed bodies are refused (415): the signature
 * covers the bytes on the wire and decompression would multiply the limit.
 */
export function readRawBody(limitBytes: number): RequestHandler {
  return express.raw({ type: () => true, limit: limitBytes, inflate: false });
}

export function rawBodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/**
 * The JSON body of a notification: undefined when empty (any or no content type is fine then);
 * otherwise application/fhir+json or application/json in UTF-8 (415) holding valid JSON (400).
 */
export function parseJsonBody(req: Request): unknown {
  const raw = rawBodyOf(req);
  if (raw.length === 0) return undefined;
  if (!isJsonContentType(req.headers['content-type'])) throw new UnsupportedMediaTypeError();
  try {
    // A UTF-8 byte order mark is legal in front of JSON text but JSON.parse refuses it.
    return JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw new JsonMalformedError({ cause });
  }
}

export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (!type || !JSON_TYPES.has(type)) return false;
  const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}
