import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestHex, md5Into } from '../../src/core/placement-md5.js';

const encoder = new TextEncoder();

function md5Hex(prefix: string, suffix: string): string {
  const out = new Uint32Array(4);
  md5Into(encoder.encode(prefix), encoder.encode(suffix), out, 0);
  return digestHex(out, 0);
}

describe('placement md5', () => {
  it('matches an independently computed digest', () => {
    // printf 'node1|10.0.0.1' | md5sum
    expect(md5Hex('node1|', '10.0.0.1')).toBe('b7f26f7a014c18210cb2222d808c06c3');
    // printf '' | md5sum
    expect(md5Hex('', '')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('matches node:crypto at every padding boundary (55, 56, 63, 64, 119, 120 bytes)', () => {
    for (const length of [55, 56, 63, 64, 119, 120, 200]) {
      const text = 'x'.repeat(length);
      expect(md5Hex(text.slice(0, 7), text.slice(7)), `length ${length}`).toBe(createHash('md5').update(text).digest('hex'));
    }
  });

  it('matches node:crypto on arbitrary unicode input, split anywhere', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }), (prefix, suffix) => {
        expect(md5Hex(prefix, suffix)).toBe(createHash('md5').update(prefix + suffix).digest('hex'));
      }),
      { numRuns: 500 },
    );
  });

  it('orders digests by their words as their hex strings order', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (x, y) => {
        const out = new Uint32Array(8);
        md5Into(encoder.encode(x), new Uint8Array(0), out, 0);
        md5Into(encoder.encode(y), new Uint8Array(0), out, 4);
        const byWords = [0, 1, 2, 3].map((w) => Math.sign(out[w]! - out[4 + w]!)).find((s) => s !== 0) ?? 0;
        const hx = digestHex(out, 0);
        const hy = digestHex(out, 4);
        expect(byWords).toBe(hx < hy ? -1 : hx > hy ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});
