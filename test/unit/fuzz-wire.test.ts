// Hostile input for the chat decoder (issue 7 §3): random and mutated datagrams from a seeded
// mutator. The decoder must never throw, must accept only datagrams an honest key holder signed
// (payload and MAC byte for byte), and a core node fed the way the daemon feeds it (accepted
// outcomes only) must not change state across rejected input.
//
// VIPPY_FUZZ_FULL=1 runs the full count (1,000,000 inputs) and prints the figures.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { createNode, status, step, type NodeState } from '../../src/core/index.js';
import type { Announcement } from '../../src/core/types.js';
import { createCodec, REJECT_REASONS, type Codec, type Decoded, type RejectReason } from '../../src/wire/index.js';
import { vippy } from '../../src/wire/gen/vippy.js';
import { Prng } from '../sim/prng.js';

const FULL = process.env.VIPPY_FUZZ_FULL === '1';
const INPUTS = FULL ? 1_000_000 : 25_000;
const SEED = Number(process.env.VIPPY_FUZZ_SEED ?? 0x5eed);
const SECRET = 'fuzzing-secret-0123456789';
const NODES = ['a', 'b', 'c'];
const T0 = 1_700_000_000_000;

const CONFIG_TEXT = JSON.stringify({
  chat: '239.255.77.1:5454',
  secret: SECRET,
  nodes: NODES,
  vips: [['a', { interface: 'eth0', ip: '192.0.2.201/24' }], [{ interface: 'eth0', ip: '192.0.2.202/24' }], [{ interface: 'eth0', ip: '2001:db8::202/64' }]],
  interval: 0.1,
  stale: 0.3,
  mature: 0.3,
});
const { config } = parseConfig(CONFIG_TEXT, 'fuzz.conf');

const KNOWN_REASONS = new Set<string>(REJECT_REASONS);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The senders, and every payload signed with the cluster secret (payload hex → MAC hex). */
class Senders {
  readonly signed = new Map<string, string>();
  readonly announced = new Map<string, Announcement>();
  readonly pool: Buffer[] = [];
  readonly #codecs: Record<string, Codec>;
  #round = 0;

  constructor(private readonly rng: Prng, receiver: Codec) {
    const codecOf = (self: string, secret = SECRET) => createCodec({ secret, self, knownNodes: (n) => NODES.includes(n) });
    this.#codecs = {
      a: codecOf('a'), c: codecOf('c'),
      // Signed correctly but not to be believed: our own name from another process, a stranger.
      b: codecOf('b'), zed: codecOf('zed'),
      // Our own datagrams looped back (multicast does that).
      self: receiver,
      // Well-formed envelopes under another key.
      intruder: codecOf('a', 'not-the-cluster-secret'),
    };
  }

  /** A fresh valid (or validly shaped) datagram, remembered in the pool for splicing and replay. */
  next(now: number): Buffer {
    const rng = this.rng;
    const who = rng.chance(0.85) ? rng.pick(['a', 'c']) : rng.pick(['b', 'zed', 'self', 'intruder']);
    const codec = this.#codecs[who]!;
    const node = who === 'intruder' ? 'a' : who === 'self' ? 'b' : who;
    const kind = rng.int(0, 9);
    let datagrams: Buffer[];
    if (kind < 7) {
      const announcement: Announcement = {
        node, version: 1, fingerprint: config.fingerprint, active: rng.chance(0.8), inactiveReason: null, leaving: rng.chance(0.05),
        held: rng.chance(0.5) ? [rng.int(0, 2)] : [], ineligible: [], hears: NODES.flatMap((_, i) => (rng.chance(0.7) ? [i] : [])),
      };
      if (!announcement.active) announcement.inactiveReason = 'fuzz';
      datagrams = [codec.encodeAnnouncement(announcement, now)];
      if (who === 'a' || who === 'c') this.announced.set(hex(payloadOf(datagrams[0]!)), announcement);
    } else if (kind < 9) {
      datagrams = codec.encodeArpSlices([{ ip: `192.0.2.${rng.int(1, 254)}`, mac: '02:00:00:00:00:' + rng.int(16, 255).toString(16) }], now);
    } else {
      datagrams = codec.encodeConfigSlices(2 + this.#round++, 'ff'.repeat(32), CONFIG_TEXT, now, rng.int(200, 2000));
    }
    if (who !== 'intruder') for (const d of datagrams) this.signed.set(hex(payloadOf(d)), hex(vippy.Envelope.decode(d).mac));
    return datagrams[0]!;
  }

  /** Datagrams the receiver has accepted: material for replays and splices. */
  remember(datagram: Buffer): void {
    if (this.pool.length < 256) this.pool.push(datagram);
    else this.pool[this.rng.int(0, 255)] = datagram;
  }
}

function payloadOf(datagram: Uint8Array): Uint8Array {
  return vippy.Envelope.decode(datagram).payload;
}

const MUTATIONS = [
  'bit-flips', 'byte-set', 'truncate', 'extend', 'splice', 'random-bytes', 'length-field', 'varint-bomb',
  'payload-flip', 'mac-flip', 'key-id', 'version', 'swap-mac', 'replay', 'valid',
] as const;
type Mutation = (typeof MUTATIONS)[number];

function mutate(rng: Prng, kind: Mutation, fresh: Buffer, pool: readonly Buffer[]): Buffer {
  const copy = Buffer.from(fresh);
  switch (kind) {
    case 'bit-flips':
      for (let n = rng.int(1, 8); n > 0; n--) copy[rng.int(0, copy.length - 1)]! ^= 1 << rng.int(0, 7);
      return copy;
    case 'byte-set':
      copy[rng.int(0, copy.length - 1)] = rng.pick([0x00, 0x7f, 0x80, 0xff, rng.int(0, 255)]);
      return copy;
    case 'truncate':
      return copy.subarray(0, rng.int(0, copy.length - 1));
    case 'extend':
      return Buffer.concat([copy, randomBytes(rng, rng.int(1, rng.chance(0.1) ? 2000 : 40))]);
    case 'splice': {
      const other = rng.pick(pool);
      return Buffer.concat([copy.subarray(0, rng.int(0, copy.length)), other.subarray(rng.int(0, other.length))]);
    }
    case 'random-bytes':
      return randomBytes(rng, rng.pick([0, 1, 10, 41, 42, 43, 100, rng.int(0, 1300)]));
    case 'length-field': {
      // Top-level fields are length-delimited (wire type 2): their length bytes follow the tags.
      const tags = [...copy.keys()].filter((i) => (copy[i]! & 7) === 2 && i + 1 < copy.length);
      const at = tags.length > 0 ? rng.pick(tags) + 1 : 0;
      copy[at] = rng.pick([0, 1, copy[at]! + 1, copy[at]! - 1, 0x7f, 0xff]) & 0xff;
      return copy;
    }
    case 'varint-bomb': {
      const at = rng.int(0, copy.length);
      return Buffer.concat([copy.subarray(0, at), Buffer.alloc(rng.int(5, 12), 0xff), copy.subarray(at)]);
    }
    case 'payload-flip':
    case 'mac-flip':
    case 'key-id':
    case 'version':
    case 'swap-mac': {
      // Well-formed envelope, one field changed: these reach the key and MAC checks.
      const env = vippy.Envelope.decode(copy);
      const fields: { version: number; keyId: Buffer; payload: Buffer; mac: Buffer } = { version: env.version, keyId: Buffer.from(env.keyId), payload: Buffer.from(env.payload), mac: Buffer.from(env.mac) };
      if (kind === 'payload-flip') {
        if (fields.payload.length > 0) fields.payload[rng.int(0, fields.payload.length - 1)]! ^= 1 << rng.int(0, 7);
        else fields.payload = Buffer.from([0]);
      } else if (kind === 'mac-flip') fields.mac[rng.int(0, fields.mac.length - 1)]! ^= 1 << rng.int(0, 7);
      else if (kind === 'key-id') fields.keyId = randomBytes(rng, rng.pick([0, 3, 4, 5]));
      else if (kind === 'version') fields.version = rng.pick([0, 2, 255, 0xffffffff]);
      else fields.mac = Buffer.from(vippy.Envelope.decode(rng.pick(pool)).mac);
      return Buffer.from(vippy.Envelope.encode(fields).finish());
    }
    case 'replay':
      return Buffer.from(rng.pick(pool));
    case 'valid':
      return copy;
  }
}

function randomBytes(rng: Prng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = rng.int(0, 255);
  return bytes;
}

/** What the daemon does with a decoded datagram (agent/daemon.ts onDatagram), minus the I/O. */
function deliver(node: NodeState, outcome: Decoded, now: number): void {
  if (!outcome.ok) return;
  if (outcome.kind === 'announcement') step(node, { type: 'announcement', from: outcome.sender, announcement: outcome.announcement }, now);
  else if (outcome.kind === 'arp') step(node, { type: 'arp-slice', from: outcome.sender, entries: outcome.entries, complete: outcome.complete }, now);
}

describe('wire decoder under hostile input', () => {
  it(`${INPUTS} random and mutated datagrams: no throw, only honestly signed ones accepted, core unmoved by the rest`, () => {
    const rng = new Prng(SEED);
    const receiver = createCodec({ secret: SECRET, self: 'b', knownNodes: (n) => NODES.includes(n) });
    const senders = new Senders(rng, receiver);
    const node = createNode({ self: 'b', config, now: 0 });
    step(node, { type: 'tick' }, 0);
    let snapshot = JSON.stringify(status(node));
    const byMutation = Object.fromEntries(MUTATIONS.map((m) => [m, { tried: 0, accepted: 0 }])) as Record<Mutation, { tried: number; accepted: number }>;
    // Warm-up: some accepted datagrams to replay and splice (not counted as fuzz input).
    while (senders.pool.length < 20) {
      const datagram = senders.next(T0);
      if (receiver.decode(datagram, T0, 'warm-up').ok) senders.remember(datagram);
    }
    const warmUp = { accepted: receiver.accepted, rejected: total(receiver.rejections) };
    const started = performance.now();

    for (let i = 0; i < INPUTS; i++) {
      // One millisecond per input: well inside the skew window, so freshness is judged on seq.
      const now = i;
      const wall = T0 + i;
      const kind = rng.pick(MUTATIONS);
      const input = mutate(rng, kind, senders.next(wall), senders.pool);
      let outcome: Decoded;
      try {
        outcome = receiver.decode(input, wall, '198.51.100.7:5454');
      } catch (error) {
        throw new Error(`decode threw on input ${i} (${kind}, seed ${SEED}): ${input.toString('hex')}: ${(error as Error).stack}`);
      }
      byMutation[kind].tried++;
      if (!outcome.ok) {
        if (!KNOWN_REASONS.has(outcome.reason)) throw new Error(`unknown rejection reason ${outcome.reason}`);
        continue;
      }
      byMutation[kind].accepted++;
      // Only what a holder of the cluster secret signed, byte for byte, gets through.
      const env = vippy.Envelope.decode(input);
      const payload = hex(env.payload);
      if (senders.signed.get(payload) !== hex(env.mac)) {
        throw new Error(`accepted without an honest MAC: input ${i} (${kind}, seed ${SEED}): ${input.toString('hex')}`);
      }
      if (outcome.kind === 'announcement') expect(outcome.announcement).toEqual(senders.announced.get(payload));
      // Between two accepted datagrams only rejected ones arrived: core must be where we left it.
      if (JSON.stringify(status(node)) !== snapshot) throw new Error(`core state changed across rejected input before input ${i}`);
      senders.remember(input);
      deliver(node, outcome, now);
      snapshot = JSON.stringify(status(node));
    }
    expect(JSON.stringify(status(node))).toBe(snapshot);

    const seconds = (performance.now() - started) / 1000;
    const rejected = receiver.rejections as Record<RejectReason, number>;
    expect(total(rejected) - warmUp.rejected + receiver.accepted - warmUp.accepted).toBe(INPUTS);
    // The mutator must reach the deep checks, or the run proves little.
    for (const reason of ['too-short', 'too-large', 'malformed-envelope', 'unsupported-version', 'unknown-key', 'bad-mac', 'replay', 'own', 'name-clash', 'unknown-node'] as const) {
      expect(rejected[reason], reason).toBeGreaterThan(0);
    }
    // Mutations that change signed bytes never pass; untouched fresh datagrams from a and c do.
    for (const kind of ['payload-flip', 'mac-flip', 'key-id', 'version', 'swap-mac', 'random-bytes', 'replay'] as const) {
      expect(byMutation[kind].accepted, kind).toBe(0);
    }
    expect(byMutation.valid.accepted).toBeGreaterThan(0);
    expect(peerNames(node)).toEqual(['a', 'c']);
    if (FULL) console.log(JSON.stringify({ inputs: INPUTS, seed: SEED, seconds: +seconds.toFixed(1), perSecond: Math.round(INPUTS / seconds), accepted: receiver.accepted, rejected, byMutation }));
  }, 600_000);
});

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function peerNames(node: NodeState): string[] {
  return status(node).peers.filter((p) => p.version !== null).map((p) => p.name).sort();
}
