import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Announcement, ArpEntry } from '../../src/core/types.js';
import { createCodec, REJECT_REASONS, type Codec, type CodecOptions, type Decoded, type RejectReason } from '../../src/wire/index.js';
import { bitmapToIndices, indicesToBitmap } from '../../src/wire/bitmap.js';
import { computeMac, deriveKey } from '../../src/wire/keyring.js';
import { vippy } from '../../src/wire/gen/vippy.js';

const SECRET = 'correct horse battery staple';
const NODES = Array.from({ length: 16 }, (_, i) => `node${i + 1}`);
const T0 = 1_700_000_000_000; // wall clock, ms
const SRC = '192.0.2.10:1234';

function codec(self: string, extra: Partial<CodecOptions> = {}): Codec {
  return createCodec({ secret: SECRET, self, knownNodes: (name) => NODES.includes(name), ...extra });
}

function bootOf(byte: number): Buffer {
  return Buffer.alloc(16, byte);
}

function announcementOf(node: string, overrides: Partial<Announcement> = {}): Announcement {
  return {
    node, version: 4, fingerprint: 'ab'.repeat(32), active: true, inactiveReason: null, leaving: false,
    held: [0, 5, 63], ineligible: [], hears: [0, 1, 2], ...overrides,
  };
}

/** Signs an arbitrary payload the way a peer holding the secret could. */
function signed(payload: vippy.Payload.$Properties, { secret = SECRET, version = 1 } = {}): Buffer {
  const key = deriveKey(secret);
  const bytes = vippy.Payload.encode(payload).finish();
  return Buffer.from(vippy.Envelope.encode({ version, keyId: key.id, payload: bytes, mac: computeMac(key, bytes) }).finish());
}

function header(sender: string, seq: number, sentAt = T0, bootId = bootOf(7)): vippy.Header.$Properties {
  return { sender, bootId, seq, sentAt };
}

function expectRejected(outcome: Decoded, reason: RejectReason): void {
  expect(outcome.ok ? outcome : outcome.reason, outcome.ok ? 'accepted' : outcome.detail).toBe(reason);
}

function accepted<K extends string>(outcome: Decoded, kind: K): Extract<Decoded, { kind: K }> {
  if (!outcome.ok) throw new Error(`rejected: ${outcome.reason}: ${outcome.detail}`);
  expect(outcome.kind).toBe(kind);
  return outcome as Extract<Decoded, { kind: K }>;
}

const totalRejections = (c: Codec) => Object.values(c.rejections).reduce((a, b) => a + b, 0);

describe('bitmaps', () => {
  it('round-trips any index set', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat(2000)), (indices) => {
      expect(bitmapToIndices(indicesToBitmap(indices, 'held', 2001))).toEqual([...indices].sort((a, b) => a - b));
    }));
  });

  it('rejects indices that are negative, fractional or past the limit, naming the field', () => {
    expect(() => indicesToBitmap([-1], 'held', 10)).toThrow(/held: index -1/);
    expect(() => indicesToBitmap([1.5], 'hears', 10)).toThrow(/hears: index 1.5/);
    expect(() => indicesToBitmap([10], 'ineligible', 10)).toThrow(/ineligible: index 10 is not an integer in \[0, 10\)/);
  });
});

describe('announcements', () => {
  it('round-trip every field', () => {
    const a = codec('node1');
    const b = codec('node2');
    const sent = announcementOf('node1', { active: false, inactiveReason: 'booting', leaving: true, ineligible: [2, 9], hears: [15] });
    const got = accepted(b.decode(a.encodeAnnouncement(sent, T0), T0, SRC), 'announcement');
    expect(got.sender).toBe('node1');
    expect(got.announcement).toEqual(sent);
    const active = announcementOf('node1');
    expect(accepted(b.decode(a.encodeAnnouncement(active, T0), T0, SRC), 'announcement').announcement).toEqual(active);
    expect(b.accepted).toBe(2);
  });

  it('a 16-node, 64-group announcement fits well under 1,200 bytes', () => {
    const a = codec('node16');
    const everything = Array.from({ length: 64 }, (_, i) => i);
    const datagram = a.encodeAnnouncement(announcementOf('node16', {
      version: 2 ** 40, active: false, inactiveReason: 'plugin: disk check failed on /var/lib/database', leaving: true,
      held: everything, ineligible: everything, hears: Array.from({ length: 16 }, (_, i) => i),
    }), T0);
    expect(datagram.length).toBeLessThan(1200);
    expect(datagram.length).toBeLessThanOrEqual(260); // measured 235: ~8 bytes per 64-group list
    expect(accepted(codec('node1').decode(datagram, T0, SRC), 'announcement').announcement.held).toEqual(everything);
  });

  it('refuses to sign what it cannot carry, with the reason', () => {
    const a = codec('node1');
    expect(() => a.encodeAnnouncement(announcementOf('node2'), T0)).toThrow(/"node2".*"node1"/);
    expect(() => a.encodeAnnouncement(announcementOf('node1', { held: [-3] }), T0)).toThrow(/held: index -3/);
    expect(() => a.encodeAnnouncement(announcementOf('node1', { version: NaN }), T0)).toThrow(/version NaN/);
    expect(() => a.encodeAnnouncement(announcementOf('node1', { inactiveReason: 'x'.repeat(1200) }), T0)).toThrow(/over the 1200-byte datagram limit/);
  });
});

describe('each rejection reason', () => {
  const valid = () => codec('node1', { bootId: bootOf(1) }).encodeAnnouncement(announcementOf('node1'), T0);
  const cases: Record<RejectReason, () => { receiver?: Codec; datagram: Uint8Array; now?: number; before?: (r: Codec) => void }> = {
    'too-short': () => ({ datagram: Buffer.alloc(20) }),
    'too-large': () => ({ datagram: Buffer.alloc(1201) }),
    'malformed-envelope': () => ({ datagram: Buffer.concat([Buffer.from([0x1a, 0x7f]), Buffer.alloc(60)]) }),
    'unsupported-version': () => ({ datagram: signed({ header: header('node1', 0), announcement: {} }, { version: 2 }) }),
    'unknown-key': () => ({ datagram: signed({ header: header('node1', 0), announcement: {} }, { secret: 'another secret' }) }),
    'bad-mac': () => {
      const datagram = valid();
      datagram[datagram.length - 1] ^= 1;
      return { datagram };
    },
    'malformed-payload': () => ({ datagram: signed({ announcement: {} }) }),
    'unknown-node': () => ({ datagram: codec('intruder').encodeAnnouncement(announcementOf('intruder'), T0) }),
    own: () => {
      const receiver = codec('node1');
      return { receiver, datagram: receiver.encodeAnnouncement(announcementOf('node1'), T0) };
    },
    'name-clash': () => ({ receiver: codec('node1'), datagram: valid() }),
    replay: () => {
      const datagram = valid();
      return { datagram, before: (r) => expect(r.decode(datagram, T0, SRC).ok).toBe(true) };
    },
    'stale-boot': () => {
      const oldBoot = codec('node1', { bootId: bootOf(1) });
      const first = oldBoot.encodeAnnouncement(announcementOf('node1'), T0);
      const later = oldBoot.encodeAnnouncement(announcementOf('node1'), T0 + 100);
      const restart = codec('node1', { bootId: bootOf(2) }).encodeAnnouncement(announcementOf('node1'), T0 + 1000);
      return {
        datagram: later,
        before: (r) => {
          expect(r.decode(first, T0, SRC).ok).toBe(true);
          expect(r.decode(restart, T0, SRC).ok).toBe(true);
        },
      };
    },
    'clock-skew': () => ({ datagram: valid(), now: T0 + 30_001 }),
    'bad-slice': () => ({
      datagram: signed({
        header: header('node1', 0),
        configSlice: { version: 1, fingerprint: 'f', transferId: 9, index: 3, total: 2, chunk: Buffer.from('ab'), totalLength: 4, sha256: Buffer.alloc(32) },
      }),
    }),
  };

  it('covers every declared reason', () => {
    expect(Object.keys(cases).sort()).toEqual([...REJECT_REASONS].sort());
  });

  for (const reason of REJECT_REASONS) {
    it(reason, () => {
      const { receiver = codec('node2'), datagram, now = T0, before } = cases[reason]();
      before?.(receiver);
      const acceptedBefore = receiver.accepted;
      const outcome = receiver.decode(datagram, now, SRC);
      expectRejected(outcome, reason);
      if (!outcome.ok) expect(outcome.detail).toContain(SRC);
      expect(receiver.rejections[reason]).toBe(1);
      expect(totalRejections(receiver)).toBe(1);
      expect(receiver.accepted).toBe(acceptedBefore);
    });
  }

  it('an envelope with a field outside the MAC is malformed even when the MAC is good', () => {
    const datagram = Buffer.concat([valid(), Buffer.from([0x48, 0x01])]); // field 9, varint 1
    expectRejected(codec('node2').decode(datagram, T0, SRC), 'malformed-envelope');
  });

  it('a signed payload with a header but no body is malformed', () => {
    const outcome = codec('node2').decode(signed({ header: header('node1', 0) }), T0, SRC);
    expectRejected(outcome, 'malformed-payload');
    expect(outcome.ok || outcome.detail).toMatch(/no body from "node1"/);
  });

  it('ARP slices with impossible addresses are bad slices', () => {
    const datagram = signed({ header: header('node1', 0), arpSlice: { total: 1, entries: [{ ip: Buffer.alloc(5), mac: Buffer.alloc(6) }] } });
    const outcome = codec('node2').decode(datagram, T0, SRC);
    expectRejected(outcome, 'bad-slice');
    expect(outcome.ok || outcome.detail).toMatch(/ip is 5 bytes/);
  });
});

describe('integrity', () => {
  it('changing any single byte to any other value is rejected and counted', () => {
    const datagram = codec('node1').encodeAnnouncement(announcementOf('node1', { inactiveReason: 'x', active: false }), T0);
    const receiver = codec('node2');
    let tried = 0;
    for (let position = 0; position < datagram.length; position++) {
      for (let delta = 1; delta < 256; delta++) {
        const tampered = Buffer.from(datagram);
        tampered[position] = (tampered[position] + delta) & 0xff;
        expect(receiver.decode(tampered, T0, SRC).ok, `byte ${position} + ${delta}`).toBe(false);
        tried++;
      }
    }
    expect(totalRejections(receiver)).toBe(tried);
    expect(receiver.rejections['bad-mac']).toBeGreaterThan(0);
    // Forgeries leave no trace in the replay guard: the genuine datagram still gets through.
    expect(receiver.decode(datagram, T0, SRC).ok).toBe(true);
  });

  it('rotation: a receiver accepts an extra secret it was given, and only that', () => {
    const old = createCodec({ secret: 'old secret', self: 'node1', knownNodes: () => true });
    const datagram = old.encodeAnnouncement(announcementOf('node1'), T0);
    expect(codec('node2', { acceptSecrets: ['old secret'] }).decode(datagram, T0, SRC).ok).toBe(true);
    expectRejected(codec('node2').decode(datagram, T0, SRC), 'unknown-key');
    expect(old.keyId).toMatch(/^[0-9a-f]{8}$/);
    expect(old.keyId).not.toBe(codec('node2').keyId);
  });

  it('fuzz: 20,000 random and mutated datagrams never throw and are never accepted', () => {
    const sender = codec('node1');
    const bases = [
      sender.encodeAnnouncement(announcementOf('node1'), T0),
      ...sender.encodeConfigSlices(3, 'ff'.repeat(32), 'x'.repeat(3000), T0),
      ...sender.encodeArpSlices([{ ip: '192.0.2.1', mac: '02:00:00:00:00:01' }, { ip: '2001:db8::1', mac: '02:00:00:00:00:02' }], T0),
    ];
    const receiver = codec('node2');
    const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
    const mutant = fc.oneof(
      fc.uint8Array({ maxLength: 1300 }),
      fc.record({ base: fc.constantFrom(...bases), edits: fc.array(edit, { minLength: 1, maxLength: 8 }) }).map(({ base, edits }) => {
        const copy = Buffer.from(base);
        for (const { at, value } of edits) copy[at % copy.length] = value;
        return copy;
      }),
      fc.record({ base: fc.constantFrom(...bases), cut: fc.nat(), tail: fc.uint8Array({ maxLength: 40 }) })
        .map(({ base, cut, tail }) => Buffer.concat([base.subarray(0, cut % base.length), tail])),
    );
    let runs = 0;
    fc.assert(fc.property(mutant, (datagram) => {
      runs++;
      if (bases.some((base) => base.equals(datagram))) return; // a no-op mutation
      const outcome = receiver.decode(datagram, T0, SRC);
      expect(outcome.ok).toBe(false);
    }), { numRuns: 20_000, seed: 20240601 });
    expect(runs).toBe(20_000);
    expect(receiver.accepted).toBe(0);
    expect(totalRejections(receiver)).toBeGreaterThan(19_000);
  });
});

describe('replay guard through the codec', () => {
  it('accepts reordering within the window, rejects a repeat and anything older than the window', () => {
    const sender = codec('node1');
    const datagrams = Array.from({ length: 70 }, (_, i) => sender.encodeAnnouncement(announcementOf('node1'), T0 + i));
    const receiver = codec('node2');
    const latest = [4, 0, 2, 1, 3].map((i) => {
      const outcome = receiver.decode(datagrams[i], T0, SRC);
      expect(outcome.ok, `seq ${i}`).toBe(true);
      return outcome.ok && outcome.kind === 'announcement' && outcome.latest;
    });
    // Only the first (seq 4, the highest) was the newest; the rest arrived overtaken.
    expect(latest).toEqual([true, false, false, false, false]);
    expectRejected(receiver.decode(datagrams[2], T0, SRC), 'replay');
    expect(receiver.decode(datagrams[69], T0, SRC).ok).toBe(true);
    expect(receiver.decode(datagrams[6], T0, SRC).ok).toBe(true); // 63 behind: inside
    expectRejected(receiver.decode(datagrams[5], T0, SRC), 'replay'); // 64 behind: outside
  });

  it('believes a restart (new boot id, later), then rejects the old boot and a new boot that is not later', () => {
    const before = codec('node1', { bootId: bootOf(1) });
    const capturedEarly = before.encodeAnnouncement(announcementOf('node1'), T0);
    const newest = before.encodeAnnouncement(announcementOf('node1'), T0 + 500);
    const capturedLate = before.encodeAnnouncement(announcementOf('node1'), T0 + 900);
    const receiver = codec('node2');
    expect(receiver.decode(capturedEarly, T0, SRC).ok).toBe(true);
    expect(receiver.decode(newest, T0, SRC).ok).toBe(true);

    const backdated = codec('node1', { bootId: bootOf(9) }).encodeAnnouncement(announcementOf('node1'), T0 + 500);
    expectRejected(receiver.decode(backdated, T0, SRC), 'stale-boot');

    const after = codec('node1', { bootId: bootOf(2) });
    expect(receiver.decode(after.encodeAnnouncement(announcementOf('node1'), T0 + 1000), T0, SRC).ok).toBe(true);
    // Sent later than the restart's first datagram, but by a boot that has been superseded.
    expectRejected(receiver.decode(capturedLate, T0, SRC), 'stale-boot');
    expect(receiver.decode(after.encodeAnnouncement(announcementOf('node1'), T0 + 1001), T0, SRC).ok).toBe(true);
  });

  it('enforces the skew window on both sides, at a configurable width', () => {
    const datagram = () => codec('node1').encodeAnnouncement(announcementOf('node1'), T0);
    expect(codec('node2').decode(datagram(), T0 + 30_000, SRC).ok).toBe(true);
    expect(codec('node2').decode(datagram(), T0 - 30_000, SRC).ok).toBe(true);
    expectRejected(codec('node2').decode(datagram(), T0 - 30_001, SRC), 'clock-skew');
    expectRejected(codec('node2', { skewMs: 5_000 }).decode(datagram(), T0 + 5_001, SRC), 'clock-skew');
  });
});

describe('config transfer', () => {
  const document = JSON.stringify({
    version: 12,
    nodes: NODES,
    vips: Array.from({ length: 200 }, (_, i) => [`198.51.100.${i % 250}/24`, `2001:db8::${i.toString(16)}/64`]),
    // Non-ASCII survives the byte slicing.
    comment: 'größe ✓ '.repeat(1000),
  });

  it('a 20 kB document goes out in datagrams under 1,200 bytes and reassembles in any order', () => {
    expect(Buffer.byteLength(document)).toBeGreaterThan(20_000);
    const slices = codec('node1').encodeConfigSlices(12, 'cd'.repeat(32), document, T0);
    expect(slices.length).toBeGreaterThan(17);
    for (const slice of slices) expect(slice.length).toBeLessThanOrEqual(1200);
    const orders = fc.sample(fc.shuffledSubarray(slices, { minLength: slices.length, maxLength: slices.length }), { numRuns: 10, seed: 7 });
    for (const order of orders) {
      const receiver = codec('node2');
      const outcomes = order.map((slice) => receiver.decode(slice, T0, SRC));
      for (const pending of outcomes.slice(0, -1)) accepted(pending, 'config-pending');
      const done = accepted(outcomes[outcomes.length - 1], 'config');
      expect(done).toMatchObject({ sender: 'node1', version: 12, fingerprint: 'cd'.repeat(32), document });
    }
  });

  it('honours maxChunk, and an empty document is one slice', () => {
    const sender = codec('node1');
    expect(sender.encodeConfigSlices(1, 'f', 'x'.repeat(1000), T0, 100)).toHaveLength(10);
    const receiver = codec('node2');
    const [only, ...rest] = sender.encodeConfigSlices(1, 'f', '', T0);
    expect(rest).toEqual([]);
    expect(accepted(receiver.decode(only, T0, SRC), 'config').document).toBe('');
  });

  it('accepts a config from a signed sender that is not (yet) in our node list', () => {
    const [slice] = codec('node17').encodeConfigSlices(13, 'f', '{"nodes":["node17"]}', T0);
    expect(accepted(codec('node2').decode(slice, T0, SRC), 'config').sender).toBe('node17');
  });

  it('never completes with a slice missing, and drops a stalled transfer after the timeout', () => {
    const slices = codec('node1').encodeConfigSlices(12, 'f', document, T0);
    const receiver = codec('node2', { configTimeoutMs: 1_000 });
    for (const slice of slices.slice(0, -1)) accepted(receiver.decode(slice, T0, SRC), 'config-pending');
    // Too late: the transfer expired, so the last slice starts over instead of completing it.
    const late = accepted(receiver.decode(slices[slices.length - 1], T0 + 1_001, SRC), 'config-pending');
    expect(late.received).toBe(1);
  });

  it('a corrupt slice (correctly signed) never completes the transfer', () => {
    const whole = Buffer.from('{"version": 3}');
    const meta = { version: 3, fingerprint: 'f', transferId: 77, total: 2, totalLength: whole.length, sha256: Buffer.alloc(32, 1) };
    const receiver = codec('node2');
    accepted(receiver.decode(signed({ header: header('node3', 0), configSlice: { ...meta, index: 0, chunk: whole.subarray(0, 7) } }), T0, SRC), 'config-pending');
    const outcome = receiver.decode(signed({ header: header('node3', 1), configSlice: { ...meta, index: 1, chunk: whole.subarray(7) } }), T0, SRC);
    expectRejected(outcome, 'bad-slice');
    expect(outcome.ok || outcome.detail).toMatch(/sha256/);
  });

  it('bounds size and concurrent transfers', () => {
    const receiver = codec('node2', { maxConfigBytes: 10_000, maxConfigTransfers: 2 });
    expect(() => codec('node1', { maxConfigBytes: 10_000 }).encodeConfigSlices(1, 'f', 'x'.repeat(10_001), T0)).toThrow(/10001 bytes, over the 10000-byte limit/);
    const tooBig = signed({ header: header('node3', 0), configSlice: { version: 1, fingerprint: 'f', transferId: 1, total: 20, index: 0, chunk: Buffer.alloc(600), totalLength: 10_001, sha256: Buffer.alloc(32) } });
    expectRejected(receiver.decode(tooBig, T0, SRC), 'bad-slice');
    const sender = codec('node1');
    for (let transfer = 0; transfer < 2; transfer++) accepted(receiver.decode(sender.encodeConfigSlices(1, 'f', document.slice(0, 5000), T0)[0], T0, SRC), 'config-pending');
    const third = receiver.decode(sender.encodeConfigSlices(1, 'f', document.slice(0, 5000), T0)[0], T0, SRC);
    expectRejected(third, 'bad-slice');
    expect(third.ok || third.detail).toMatch(/2 config transfers already in progress/);
  });
});

describe('neighbour-table slices', () => {
  const entries: ArpEntry[] = Array.from({ length: 150 }, (_, i) => ({
    ip: i % 3 === 0 ? `2001:db8::${(i + 1).toString(16)}` : `203.0.113.${i % 250}`,
    mac: `02:00:5e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
  }));

  it('split into datagrams under 1,200 bytes; complete once every slice is in, in any order', () => {
    const slices = codec('node1').encodeArpSlices(entries, T0);
    expect(slices.length).toBeGreaterThan(1);
    for (const slice of slices) expect(slice.length).toBeLessThanOrEqual(1200);
    const receiver = codec('node2');
    const outcomes = [...slices].reverse().map((slice) => accepted(receiver.decode(slice, T0, SRC), 'arp'));
    expect(outcomes.map((o) => o.complete)).toEqual(slices.map((_, i) => i === slices.length - 1));
    const received = outcomes.flatMap((o) => o.entries);
    expect(received).toHaveLength(entries.length);
    expect(new Set(received.map((e) => `${e.ip} ${e.mac}`))).toEqual(new Set(entries.map((e) => `${e.ip} ${e.mac}`)));
  });

  it('an empty table is one complete slice; a new generation starts over', () => {
    const sender = codec('node1');
    const receiver = codec('node2');
    const [first] = sender.encodeArpSlices(entries, T0);
    expect(accepted(receiver.decode(first, T0, SRC), 'arp').complete).toBe(false);
    const empty = sender.encodeArpSlices([], T0);
    expect(empty).toHaveLength(1);
    expect(accepted(receiver.decode(empty[0], T0, SRC), 'arp')).toMatchObject({ entries: [], complete: true });
  });

  it('refuses to encode entries that are not addresses, naming the entry', () => {
    expect(() => codec('node1').encodeArpSlices([{ ip: '192.0.2.1', mac: '02:00:00:00:00:01' }, { ip: 'nope', mac: '02:00:00:00:00:01' }], T0)).toThrow(/entry 1: "nope"/);
    expect(() => codec('node1').encodeArpSlices([{ ip: '192.0.2.1', mac: '02:00:00:00:01' }], T0)).toThrow(/not a MAC address/);
  });

  it('are taken only from known nodes', () => {
    const [slice] = codec('stranger').encodeArpSlices(entries.slice(0, 2), T0);
    expectRejected(codec('node2').decode(slice, T0, SRC), 'unknown-node');
  });
});
