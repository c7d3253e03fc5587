import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/shared/concat-bytes.ts';

describe('concatBytes', () => {
  it('joins parts in order, pads with zeros to a longer length, and returns a lone part as is', () => {
    expect([...concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)])]).toEqual([1, 2, 3]);
    expect([...concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)], 4)]).toEqual([1, 2, 3, 0]);
    const lone = Uint8Array.of(9);
    expect(concatBytes([lone])).toBe(lone);
    expect([...concatBytes([lone], 2)]).toEqual([9, 0]);
    expect(concatBytes([]).length).toBe(0);
  });
});
