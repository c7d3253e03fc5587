import type { SlicePolicy } from './task-profile-schema.ts';

/** Centres of `count` equal bins over [0, depth): spread out, and never the outermost slices of a long volume. */
function binCentres(depth: number, count: number): number[] {
  const picks = new Set<number>();
  for (let i = 0; i < count; i++) picks.add(Math.floor(((i + 0.5) * depth) / count));
  return [...picks];
}

/**
 * Slice indices (0-based, in the volume's spatial order) a task runs on, sorted and deterministic.
 * - middle: floor(depth / 2);
 * - evenly-spaced N: the centres of N equal bins (all slices when N >= depth);
 * - all, max N: every slice, or N evenly spaced ones when the volume is deeper than N.
 * A 2-D image (depth 1) gives [0] for every policy; depth 0 gives [].
 */
export function selectSlices(depth: number, policy: SlicePolicy): number[] {
  if (!Number.isInteger(depth) || depth < 0) throw new RangeError('depth must be a non-negative integer');
  if (depth === 0) return [];
  switch (policy.mode) {
    case 'middle':
      return [Math.floor(depth / 2)];
    case 'evenly-spaced':
      return policy.count >= depth ? range(depth) : binCentres(depth, policy.count);
    case 'all':
      return depth <= policy.max ? range(depth) : binCentres(depth, policy.max);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
