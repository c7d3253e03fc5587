import { createHash } from 'node:crypto';

/**
 * Short, non-reversible, stable handle of a value within a namespace (SHA-256, hex): what logs, queue
 * ids and Redis keys hold instead of UIDs and ids. The namespace keeps equal values of different kinds apart.
 */
export function stableHash(namespace: string, value: string, hexLength = 24): string {
  return createHash('sha256').update(`${namespace}:${value}`).digest('hex').slice(0, hexLength);
}
