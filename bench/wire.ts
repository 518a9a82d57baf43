// Cost of the signed chat datagram: sign+encode and verify+decode of one announcement of a
// 16-node, 64-group cluster (target ≤ 20 µs each), its size, a 20 kB config transfer, and the
// cost of rejecting hostile datagrams by kind (a flood must be cheap to drop).
// Run: npx tsx bench/wire.ts  → bench/results/core.json, section "wire".
import os from 'node:os';
import type { Announcement } from '../src/core/types.js';
import { createCodec } from '../src/wire/index.js';
import { recordResults, summarize } from './lib/results.js';

const NODES = Array.from({ length: 16 }, (_, i) => `node${i + 1}`);
const GROUPS = 64;
const BATCH = 2_000;
const BATCHES = 15;
const NOW = Date.now();
const knownNodes = (name: string) => NODES.includes(name);

const announcement: Announcement = {
  node: 'node1', version: 42, fingerprint: 'a'.repeat(64), active: true, inactiveReason: null, leaving: false,
  // Worst case for size: this node holds every group and every group is ineligible somewhere.
  held: Array.from({ length: GROUPS }, (_, i) => i),
  ineligible: Array.from({ length: GROUPS }, (_, i) => i),
  hears: NODES.map((_, i) => i),
};

/** µs per operation, one sample per batch of BATCH operations. */
function perOp(batch: (round: number) => void): ReturnType<typeof summarize> {
  batch(-1); // warm-up
  const samples: number[] = [];
  for (let round = 0; round < BATCHES; round++) {
    const start = process.hrtime.bigint();
    batch(round);
    samples.push(Number(process.hrtime.bigint() - start) / 1_000 / BATCH);
  }
  return summarize(samples);
}

const sender = createCodec({ secret: 'bench secret', self: 'node1', knownNodes });
const encode = perOp(() => {
  for (let i = 0; i < BATCH; i++) sender.encodeAnnouncement(announcement, NOW);
});

// Every decode needs a datagram the receiver has not seen (the replay guard), so sign them first.
const datagrams = Array.from({ length: BATCH * (BATCHES + 1) }, () => sender.encodeAnnouncement(announcement, NOW));
const receiver = createCodec({ secret: 'bench secret', self: 'node2', knownNodes });
const decode = perOp((round) => {
  const offset = (round + 1) * BATCH;
  for (let i = 0; i < BATCH; i++) {
    if (!receiver.decode(datagrams[offset + i], NOW, 'bench').ok) throw new Error('bench datagram rejected');
  }
});

const document = JSON.stringify({ vips: Array.from({ length: 400 }, (_, i) => [`198.51.100.${i % 250}/24`]), pad: 'x'.repeat(12_000) });
// A whole transfer each sample: sign every slice, then verify and reassemble at a fresh receiver.
const transfer = summarize(Array.from({ length: 20 }, () => {
  const start = process.hrtime.bigint();
  const slices = sender.encodeConfigSlices(7, 'b'.repeat(64), document, NOW);
  const fresh = createCodec({ secret: 'bench secret', self: 'node2', knownNodes });
  const last = slices.map((slice) => fresh.decode(slice, NOW, 'bench')).at(-1);
  if (last?.ok !== true || last.kind !== 'config') throw new Error('bench config transfer did not complete');
  return Number(process.hrtime.bigint() - start) / 1_000;
}));
const slices = sender.encodeConfigSlices(7, 'b'.repeat(64), document, NOW);

// Rejections: the first inputs of each kind must be rejected for the expected reason, or the figure is void.
// Accepted in the decode benchmark above: the last one, and one 30,000 datagrams ago.
const latest = datagrams.at(-1)!;
const early = datagrams[BATCH]!;
let noise = 0x2545f491;
const randomByte = () => (noise = (Math.imul(noise, 1_103_515_245) + 12_345) >>> 0) >>> 24;
const hostile = {
  /** A just accepted datagram sent again, byte for byte: known without a MAC check. */
  replayRecent: { reason: 'replay', make: () => latest },
  /** An accepted datagram sent again long after: MAC, payload and replay guard. */
  replayOld: { reason: 'replay', make: () => early },
  /** One bit of the signed payload flipped: only the MAC can tell. */
  bitFlip: { reason: 'bad-mac', make: () => { const copy = Buffer.from(latest); copy[copy.length - 60]! ^= 4; return copy; } },
  /** Cut short: a length field points past the end. */
  truncated: { reason: 'malformed-envelope', make: () => latest.subarray(0, 50) },
  /** Random bytes of a typical datagram size. */
  random: { reason: 'malformed-envelope', make: () => Buffer.from(Array.from({ length: 700 }, randomByte)) },
} as const;
const rejectUs = Object.fromEntries(Object.entries(hostile).map(([kind, { reason, make }]) => {
  const inputs = Array.from({ length: BATCH }, make);
  for (const input of inputs.slice(0, 10)) {
    const outcome = receiver.decode(input, NOW, 'bench');
    if (outcome.ok || outcome.reason !== reason) throw new Error(`bench ${kind} datagram: expected ${reason}, got ${outcome.ok ? 'accepted' : outcome.reason}`);
  }
  return [kind, perOp(() => {
    for (const input of inputs) receiver.decode(input, NOW, 'bench');
  })];
}));

const figures = {
  announcement: {
    nodes: NODES.length,
    groups: GROUPS,
    datagramBytes: datagrams[0].length,
    signEncodeUs: encode,
    verifyDecodeUs: decode,
    targetUs: 20,
  },
  rejectUs,
  // Other work on the machine inflates the figures: the 1-minute load when the run ended.
  loadAverage: os.loadavg()[0],
  configTransfer: { documentBytes: Buffer.byteLength(document), slices: slices.length, largestSliceBytes: Math.max(...slices.map((s) => s.length)), transferUs: transfer },
};
const path = recordResults('core.json', 'wire', figures);
console.log(JSON.stringify(figures, null, 2));
console.log(`recorded in ${path}`);
