// flip's vote bitmap lost votes at cluster sizes that are multiples of 8 and misread a trailing
// all-zero byte (reference/flip.md §1.2). Here every announcement's hears/held/ineligible sets
// must come back exactly, for every cluster size 1..64, through the real signed codec.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Announcement } from '../../src/core/types.js';
import { createCodec } from '../../src/wire/index.js';

const SECRET = 'flip-bitmap-round-trip-secret';
const T0 = 1_700_000_000_000;

/** Encodes on one node and decodes on another: the sets that arrive, in ascending order. */
function roundTrip(size: number) {
  const names = Array.from({ length: size + 1 }, (_, i) => `n${i}`);
  const sender = createCodec({ secret: SECRET, self: 'n0', knownNodes: (name) => names.includes(name) });
  const receiver = createCodec({ secret: SECRET, self: `n${size}`, knownNodes: (name) => names.includes(name) });
  let now = T0;
  return (hears: number[], held: number[], ineligible: number[]) => {
    const announcement: Announcement = {
      node: 'n0', version: 1, fingerprint: 'ab'.repeat(32), active: true, inactiveReason: null, leaving: false, held, ineligible, hears,
    };
    const decoded = receiver.decode(sender.encodeAnnouncement(announcement, ++now), now, '192.0.2.10:2200');
    if (!decoded.ok) throw new Error(`size ${size}: rejected (${decoded.reason}: ${decoded.detail})`);
    if (decoded.kind !== 'announcement') throw new Error(`size ${size}: decoded a ${decoded.kind}`);
    return { hears: decoded.announcement.hears, held: decoded.announcement.held, ineligible: decoded.announcement.ineligible };
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** None, all, every single index, all but each one, the first and last 8 (byte edges). */
function patterns(size: number): number[][] {
  const all = range(size);
  return [
    [], all,
    ...all.map((i) => [i]),
    ...all.map((i) => all.filter((j) => j !== i)),
    all.slice(0, 8), all.slice(-8),
  ];
}

describe('announcement bitmaps round-trip for cluster sizes 1..64', () => {
  it.each(range(64).map((i) => i + 1))('size %i: every structured subset', (size) => {
    const send = roundTrip(size);
    const all = range(size);
    for (const subset of patterns(size)) {
      const complement = all.filter((i) => !subset.includes(i));
      // hears and held complement each other, so one of them always ends in zero bits.
      expect(send(subset, complement, subset)).toEqual({ hears: subset, held: complement, ineligible: subset });
    }
  });

  it('random subsets at every size', () => {
    const sizeAndSubset = fc.integer({ min: 1, max: 64 }).chain((size) =>
      fc.tuple(fc.constant(size), fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: size })));
    const senders = new Map<number, ReturnType<typeof roundTrip>>();
    fc.assert(fc.property(sizeAndSubset, ([size, subset]) => {
      let send = senders.get(size);
      if (!send) senders.set(size, (send = roundTrip(size)));
      const sorted = [...subset].sort((a, b) => a - b);
      // Unsorted input with a duplicate: order and repetition do not matter on the wire.
      expect(send([...subset, ...subset.slice(0, 1)], sorted, [])).toEqual({ hears: sorted, held: sorted, ineligible: [] });
    }), { numRuns: 2000, seed: 0x5eed });
  });
});
