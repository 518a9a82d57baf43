// The chat datagram codec: builds signed datagrams from announcements, configs and neighbour
// tables, and turns received bytes into authenticated, fresh content or a named, counted
// rejection. Order of checks on receipt: size, envelope shape, format version, key, MAC (in
// constant time, before any payload byte is interpreted), payload shape, sender, freshness
// (replay guard), then reassembly.
//
// Times here are WALL CLOCK milliseconds (Date.now()): sent_at is compared across machines.
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Announcement, ArpEntry } from '../core/types.js';
import { vippy } from './gen/vippy.js';
import { bitmapToIndices, indicesToBitmap } from './bitmap.js';
import { computeMac, createKeyring, KEY_ID_BYTES, macMatches, type Keyring } from './keyring.js';
import { ReplayGuard } from './replay.js';
import { ArpTracker, ConfigAssembler } from './slices.js';

export const FORMAT_VERSION = 1;
export const BOOT_ID_BYTES = 16;
/** Stay under the smallest path MTU we expect (1280 IPv6 minus headers): no IP fragmentation. */
export const DEFAULT_MAX_DATAGRAM = 1200;
export const DEFAULT_SKEW_MS = 30_000;
/** Version, key id and MAC fields alone take this much; anything shorter is not ours. */
export const MIN_DATAGRAM = 2 + (2 + KEY_ID_BYTES) + (2 + 32);

export const REJECT_REASONS = [
  'too-short', 'too-large', 'malformed-envelope', 'unsupported-version', 'unknown-key', 'bad-mac',
  'malformed-payload', 'unknown-node', 'own', 'name-clash', 'replay', 'stale-boot', 'clock-skew', 'bad-slice',
] as const;
/**
 * Why a datagram was dropped. 'own' is our own datagram looped back (normal with multicast, not
 * an error); 'name-clash' is a correctly signed datagram carrying our node name from another
 * process: two nodes configured with one name.
 */
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface CodecOptions {
  /** The cluster secret (ClusterConfig.secret): signs and verifies. */
  secret: string;
  /** Further secrets accepted on receipt, for rotating the secret without a flag day. */
  acceptSecrets?: readonly string[];
  /** This node's name. */
  self: string;
  /** Nodes whose announcements and neighbour tables we take (config slices come from anyone signed). */
  knownNodes: (name: string) => boolean;
  skewMs?: number;
  /** Largest datagram sent or accepted, bytes. */
  maxDatagram?: number;
  /** Largest config document sent or accepted, bytes. */
  maxConfigBytes?: number;
  maxConfigTransfers?: number;
  configTimeoutMs?: number;
  /** Most slices one neighbour table may take. */
  maxArpSlices?: number;
  /** 16 bytes identifying this process start; default: random. */
  bootId?: Uint8Array;
  /** Randomness (boot id, transfer ids); default crypto.randomBytes. */
  random?: (bytes: number) => Buffer;
}

export type Decoded =
  /** latest: false when a newer announcement of this sender has already been accepted (reordering). */
  | { ok: true; kind: 'announcement'; sender: string; announcement: Announcement; latest: boolean }
  /** A config slice arrived; the document is not complete yet. */
  | { ok: true; kind: 'config-pending'; sender: string; received: number; total: number }
  | { ok: true; kind: 'config'; sender: string; version: number; fingerprint: string; document: string }
  /** Entries of one slice; complete: every slice of this table generation has now arrived. */
  | { ok: true; kind: 'arp'; sender: string; entries: ArpEntry[]; complete: boolean }
  /** detail is built when read: a flood of rejections need not format a message each. */
  | { ok: false; reason: RejectReason; readonly detail: string };

export interface Codec {
  /** Hex id of the signing key (safe to log). */
  readonly keyId: string;
  /** Hex boot id of this process. */
  readonly bootId: string;
  /** Throws a RangeError when the announcement has a bad index or does not fit one datagram. */
  encodeAnnouncement(announcement: Announcement, now: number): Buffer;
  /** One transfer of a whole config document, in as many datagrams as it takes. */
  encodeConfigSlices(version: number, fingerprint: string, document: string, now: number, maxChunk?: number): Buffer[];
  /** One generation of this node's neighbour table (an empty table is one empty slice). */
  encodeArpSlices(entries: readonly ArpEntry[], now: number): Buffer[];
  /**
   * Never throws. `source` ("ip:port") only goes into rejection details. Keeps a reference to
   * recently accepted datagrams (to recognise their replays cheaply): do not reuse the buffer.
   */
  decode(datagram: Uint8Array, now: number, source: string): Decoded;
  readonly rejections: Readonly<Record<RejectReason, number>>;
  readonly accepted: number;
}

type Body = Omit<vippy.Payload.$Properties, 'header'>;
type Rejection = Extract<Decoded, { ok: false }>;

const MAX_UINT32 = 0xffff_ffff;
const MAX_UDP_PAYLOAD = 65_507;
const MAC_ADDRESS = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

/** Own datagrams remembered for the loop-back fast path (a config or ARP transfer is several). */
const RECENTLY_SENT = 32;
/** Accepted datagrams remembered to reject a replay of the same bytes without computing a MAC. */
const RECENTLY_ACCEPTED = 256;

export function createCodec(options: CodecOptions): Codec {
  /** Multicast loops every send back: these bytes are known to be ours without verifying a MAC. */
  const recentlySent = new RecentDatagrams(RECENTLY_SENT);
  const recentlyAccepted = new RecentDatagrams(RECENTLY_ACCEPTED);
  const maxDatagram = options.maxDatagram ?? DEFAULT_MAX_DATAGRAM;
  const maxConfigBytes = options.maxConfigBytes ?? 1 << 20;
  const random = options.random ?? randomBytes;
  const bootId = Buffer.from(options.bootId ?? random(BOOT_ID_BYTES));
  if (bootId.length !== BOOT_ID_BYTES) throw new RangeError(`wire: bootId must be ${BOOT_ID_BYTES} bytes, got ${bootId.length}`);
  if (options.self.length === 0) throw new RangeError('wire: self (the node name) must not be empty');
  if (!(maxDatagram >= 512 && maxDatagram <= MAX_UDP_PAYLOAD)) {
    throw new RangeError(`wire: maxDatagram must be within [512, ${MAX_UDP_PAYLOAD}] bytes, got ${maxDatagram}`);
  }

  const keyring: Keyring = createKeyring(options.secret, options.acceptSecrets);
  const bootHex = bootId.toString('hex');
  const guard = new ReplayGuard({ skewMs: options.skewMs ?? DEFAULT_SKEW_MS });
  const configs = new ConfigAssembler({
    maxBytes: maxConfigBytes,
    maxTransfers: options.maxConfigTransfers ?? 4,
    timeoutMs: options.configTimeoutMs ?? 30_000,
  });
  const arpSlices = new ArpTracker(options.maxArpSlices ?? 4096);
  const rejections = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  let accepted = 0;
  let seq = 0;
  let arpGeneration = 0;

  function payloadBytes(body: Body, headerSeq: number, now: number): Uint8Array {
    const header = { sender: options.self, bootId, seq: headerSeq, sentAt: now };
    return vippy.Payload.encode({ header, ...body }).finish();
  }

  function envelope(payload: Uint8Array): { datagram: Buffer; mac: Uint8Array } {
    const mac = computeMac(keyring.signing, payload);
    const bytes = vippy.Envelope.encode({ version: FORMAT_VERSION, keyId: keyring.signing.id, payload, mac }).finish();
    return { datagram: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), mac };
  }

  /** Signs one body as the next datagram of this boot. */
  function seal(body: Body, now: number, what: string): Buffer {
    const { datagram, mac } = envelope(payloadBytes(body, seq, now));
    if (datagram.length > maxDatagram) {
      throw new RangeError(`wire: ${what} needs ${datagram.length} bytes, over the ${maxDatagram}-byte datagram limit`);
    }
    recentlySent.add(mac, datagram);
    // Wraps after 2^32 datagrams (over a decade at 10/s); receivers then see a replayed seq.
    seq = (seq + 1) >>> 0;
    return datagram;
  }

  /**
   * Bytes left in a datagram for a body's variable part, given the body at its largest
   * otherwise. The length prefixes of the payload and of the body message may each grow by up
   * to two bytes as the variable part fills up.
   */
  function room(skeleton: Body): number {
    return maxDatagram - envelope(payloadBytes(skeleton, MAX_UINT32, 0)).datagram.length - 4;
  }

  function encodeAnnouncement(a: Announcement, now: number): Buffer {
    if (a.node !== options.self) throw new RangeError(`wire: announcement for node "${a.node}" but this codec signs as "${options.self}"`);
    requireFiniteVersion(a.version, 'announcement');
    const limit = maxDatagram * 8;
    const announcement: vippy.Announcement.$Properties = {
      version: a.version,
      fingerprint: a.fingerprint,
      active: a.active,
      leaving: a.leaving,
      held: indicesToBitmap(a.held, 'held', limit),
      ineligible: indicesToBitmap(a.ineligible, 'ineligible', limit),
      hears: indicesToBitmap(a.hears, 'hears', limit),
    };
    if (a.inactiveReason !== null) announcement.inactiveReason = a.inactiveReason;
    return seal({ announcement }, now, 'announcement');
  }

  function encodeConfigSlices(version: number, fingerprint: string, document: string, now: number, maxChunk = Infinity): Buffer[] {
    requireFiniteVersion(version, 'config');
    const whole = Buffer.from(document, 'utf8');
    if (whole.length > maxConfigBytes) throw new RangeError(`wire: config document is ${whole.length} bytes, over the ${maxConfigBytes}-byte limit`);
    const meta = {
      version,
      fingerprint,
      transferId: random(4).readUInt32BE(0),
      totalLength: whole.length,
      sha256: createHash('sha256').update(whole).digest(),
    };
    // Chunk field: 1 tag byte + up to 2 length bytes (chunks stay below 16 KiB).
    const fits = room({ configSlice: { ...meta, index: MAX_UINT32, total: MAX_UINT32 } }) - 3;
    const chunkSize = Math.min(maxChunk, fits, 16_383);
    if (!(chunkSize >= 1)) throw new RangeError(`wire: no room for config data in a ${maxDatagram}-byte datagram (chunk size ${chunkSize})`);
    const total = Math.max(1, Math.ceil(whole.length / chunkSize));
    const datagrams: Buffer[] = [];
    for (let index = 0; index < total; index++) {
      const chunk = whole.subarray(index * chunkSize, (index + 1) * chunkSize);
      datagrams.push(seal({ configSlice: { ...meta, index, total, chunk } }, now, `config slice ${index}`));
    }
    return datagrams;
  }

  function encodeArpSlices(entries: readonly ArpEntry[], now: number): Buffer[] {
    const records = entries.map((entry, i) => arpRecord(entry, i));
    const generation = arpGeneration;
    arpGeneration = (arpGeneration + 1) >>> 0;
    const space = room({ arpSlice: { generation, index: MAX_UINT32, total: MAX_UINT32 } });
    const groups: vippy.ArpRecord.$Properties[][] = [[]];
    let used = 0;
    for (const record of records) {
      // Field tag + length byte + ip field (2 + ip) + mac field (2 + 6).
      const cost = 2 + 2 + record.ip!.length + 2 + 6;
      if (used + cost > space) {
        groups.push([]);
        used = 0;
      }
      groups[groups.length - 1].push(record);
      used += cost;
    }
    return groups.map((group, index) =>
      seal({ arpSlice: { generation, index, total: groups.length, entries: group } }, now, `neighbour-table slice ${index}`),
    );
  }

  function decodeOrReject(datagram: Uint8Array, now: number, source: string): Decoded {
    if (datagram.length < MIN_DATAGRAM) return rejection('too-short', source, () => `${datagram.length} bytes, the minimum is ${MIN_DATAGRAM}`);
    if (datagram.length > maxDatagram) return rejection('too-large', source, () => `${datagram.length} bytes, the maximum is ${maxDatagram}`);
    const env = readEnvelope(datagram);
    if (typeof env === 'string') return rejection('malformed-envelope', source, () => `not a protobuf envelope (${env})`);
    if (recentlySent.has(env.mac, datagram)) return rejection('own', source, ownDatagram);
    if (env.version !== FORMAT_VERSION) return rejection('unsupported-version', source, () => `format version ${env.version}, we speak ${FORMAT_VERSION}`);
    if (env.keyId.length !== KEY_ID_BYTES) return rejection('unknown-key', source, () => `key id of ${env.keyId.length} bytes, ours have ${KEY_ID_BYTES}`);
    // Nearly always the signing key: found without formatting the id.
    const key = Buffer.compare(env.keyId, keyring.signing.id) === 0 ? keyring.signing : keyring.find(hex(env.keyId));
    if (key === undefined) return rejection('unknown-key', source, () => `key id ${hex(env.keyId)} is not ours (ours: ${keyring.signing.idHex}); is the secret the same?`);
    if (recentlyAccepted.has(env.mac, datagram)) return rejection('replay', source, () => 'the same bytes as a datagram accepted moments ago');
    if (!macMatches(key, env.payload, env.mac)) return rejection('bad-mac', source, () => `MAC does not verify with key ${key.idHex}`);

    const outcome = decodeSigned(env.payload, now, source);
    if (outcome.ok) recentlyAccepted.add(env.mac, datagram);
    return outcome;
  }

  /** The authenticated part: payload shape, sender, freshness, reassembly. */
  function decodeSigned(signed: Uint8Array, now: number, source: string): Decoded {
    let payload: vippy.Payload;
    try {
      payload = vippy.Payload.decode(signed);
    } catch (error) {
      return rejection('malformed-payload', source, () => `signed payload does not decode (${(error as Error).message})`);
    }
    // decode builds class instances (proto3 defaults on their prototypes); the generated .d.ts
    // types nested messages as the looser all-optional $Properties, hence the casts below.
    const header = payload.header as vippy.Header | null;
    if (header === null || header.sender.length === 0 || header.bootId.length !== BOOT_ID_BYTES) {
      return rejection('malformed-payload', source, () => 'header missing, or without sender or 16-byte boot id');
    }
    const sender = header.sender;
    const boot = hex(header.bootId);
    if (sender === options.self) {
      return boot === bootHex
        ? rejection('own', source, ownDatagram)
        : rejection('name-clash', source, () => `signed datagram named "${sender}" (us) from boot ${boot}, ours is ${bootHex}: two nodes share one name?`);
    }
    if (payload.body === undefined) return rejection('malformed-payload', source, () => `no body from "${sender}"`);
    if (payload.body !== 'configSlice' && !options.knownNodes(sender)) {
      return rejection('unknown-node', source, () => `"${sender}" is not a node of our config`);
    }
    // Stateless checks of the body come before the replay guard records the datagram.
    const announcement = payload.announcement as vippy.Announcement | null;
    if (announcement !== null && !Number.isFinite(announcement.version)) {
      return rejection('malformed-payload', source, () => `announcement from "${sender}" has version ${announcement.version}`);
    }
    const arpSlice = payload.arpSlice as vippy.ArpSlice | null;
    let entries: ArpEntry[] = [];
    if (arpSlice !== null) {
      try {
        entries = (arpSlice.entries as vippy.ArpRecord[]).map(arpEntry);
      } catch (error) {
        return rejection('bad-slice', source, () => `neighbour-table slice from "${sender}": ${(error as Error).message}`);
      }
    }
    const fresh = guard.admit(sender, boot, header.seq, header.sentAt, now);
    if (!fresh.ok) return rejection(fresh.reason, source, () => `"${sender}": ${fresh.detail}`);

    if (announcement !== null) {
      return {
        ok: true,
        kind: 'announcement',
        sender,
        latest: fresh.latest,
        announcement: {
          node: sender,
          version: announcement.version,
          fingerprint: announcement.fingerprint,
          active: announcement.active,
          inactiveReason: announcement.inactiveReason ?? null,
          leaving: announcement.leaving,
          held: bitmapToIndices(announcement.held),
          ineligible: bitmapToIndices(announcement.ineligible),
          hears: bitmapToIndices(announcement.hears),
        },
      };
    }
    if (arpSlice !== null) {
      const outcome = arpSlices.add(sender, boot, arpSlice.generation, arpSlice.index, arpSlice.total);
      if (outcome.status === 'bad') return rejection('bad-slice', source, () => `neighbour-table slice from "${sender}": ${outcome.detail}`);
      return { ok: true, kind: 'arp', sender, entries, complete: outcome.status === 'complete' };
    }
    const outcome = configs.add(sender, payload.configSlice as vippy.ConfigSlice, now);
    if (outcome.status === 'bad') return rejection('bad-slice', source, () => `config slice from "${sender}": ${outcome.detail}`);
    if (outcome.status === 'pending') return { ok: true, kind: 'config-pending', sender, received: outcome.received, total: outcome.total };
    return { ok: true, kind: 'config', sender, version: outcome.version, fingerprint: outcome.fingerprint, document: outcome.document };
  }

  return {
    keyId: keyring.signing.idHex,
    bootId: bootHex,
    encodeAnnouncement,
    encodeConfigSlices,
    encodeArpSlices,
    decode(datagram, now, source) {
      const outcome = decodeOrReject(datagram, now, source);
      if (outcome.ok) accepted++;
      else rejections[outcome.reason]++;
      return outcome;
    },
    rejections,
    get accepted() {
      return accepted;
    },
  };
}

/** A rejection whose detail is only formatted when someone reads it. */
class LazyRejection {
  readonly ok = false;
  constructor(readonly reason: RejectReason, private readonly source: string, private readonly explain: () => string) {}
  get detail(): string {
    return `from ${this.source}: ${this.explain()}`;
  }
}

function rejection(reason: RejectReason, source: string, explain: () => string): Rejection {
  return new LazyRejection(reason, source, explain);
}

const ownDatagram = () => 'our own datagram';

interface Envelope {
  version: number;
  keyId: Uint8Array;
  payload: Uint8Array;
  mac: Uint8Array;
}

/**
 * The envelope's fields, or what is wrong with its structure. A walk over the bytes that never
 * throws: protobufjs reports garbage by throwing, and an exception per hostile datagram (its
 * stack trace) costs more than the rest of the rejection. Field values are views, not copies.
 * Only the four envelope fields with their proto3 wire types are accepted: every byte must be
 * accounted for, nothing rides along outside the MAC unnoticed.
 */
function readEnvelope(bytes: Uint8Array): Envelope | string {
  const env: Envelope = { version: 0, keyId: EMPTY, payload: EMPTY, mac: EMPTY };
  const cursor = { at: 0 };
  while (cursor.at < bytes.length) {
    const fieldAt = cursor.at;
    const tag = readVarint32(bytes, cursor);
    if (tag < 0) return `truncated varint at byte ${fieldAt}`;
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === 0) {
      const version = readVarint32(bytes, cursor);
      if (version < 0) return `truncated varint at byte ${cursor.at}`;
      env.version = version;
      continue;
    }
    if (field < 2 || field > 4 || wireType !== 2) return `unknown field ${field} (wire type ${wireType}) at byte ${fieldAt}`;
    const length = readVarint32(bytes, cursor);
    if (length < 0) return `truncated length at byte ${cursor.at}`;
    if (length > bytes.length - cursor.at) return `field ${field} at byte ${fieldAt} claims ${length} bytes, ${bytes.length - cursor.at} left`;
    const value = bytes.subarray(cursor.at, cursor.at + length);
    cursor.at += length;
    // As in protobuf, a repeated field's last occurrence wins.
    if (field === 2) env.keyId = value;
    else if (field === 3) env.payload = value;
    else env.mac = value;
  }
  return env;
}

const EMPTY = new Uint8Array(0);

/**
 * A protobuf varint read as uint32 (higher bits dropped, as protobufjs does), advancing the
 * cursor; -1 when the bytes end first or it runs past the 10 bytes a varint may have.
 */
function readVarint32(bytes: Uint8Array, cursor: { at: number }): number {
  let value = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (cursor.at >= bytes.length) return -1;
    const byte = bytes[cursor.at++]!;
    if (shift < 32) value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return value >>> 0;
  }
  return -1;
}

/**
 * Recent datagrams by MAC (accepted ones, or this codec's own sends): the same bytes again are
 * recognised with a lookup and a comparison instead of an HMAC. Oldest forgotten first; a
 * replay of an older one is still caught by the replay guard, after the MAC check.
 */
class RecentDatagrams {
  readonly #byMac = new Map<number, Uint8Array>();
  readonly #order: number[] = [];
  #next = 0;
  constructor(readonly capacity: number) {}

  has(mac: Uint8Array, datagram: Uint8Array): boolean {
    const known = mac.length === 32 ? this.#byMac.get(macKey(mac)) : undefined;
    return known !== undefined && Buffer.compare(known, datagram) === 0;
  }

  add(mac: Uint8Array, datagram: Uint8Array): void {
    const key = macKey(mac);
    if (this.#order.length === this.capacity) this.#byMac.delete(this.#order[this.#next]!);
    this.#order[this.#next] = key;
    this.#next = (this.#next + 1) % this.capacity;
    // Kept by reference (a copy costs more than the rest of the bookkeeping): datagrams are not
    // reused once sent or received. Were the bytes changed later, a replay of them would only
    // miss this shortcut.
    this.#byMac.set(key, datagram);
  }
}

/** 48 bits of a MAC as a number: a cheap map key (a collision only costs the full comparison). */
function macKey(mac: Uint8Array): number {
  return mac[0]! + mac[1]! * 2 ** 8 + mac[2]! * 2 ** 16 + mac[3]! * 2 ** 24 + mac[4]! * 2 ** 32 + mac[5]! * 2 ** 40;
}

/** Hex of decoded bytes without copying them. */
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function requireFiniteVersion(version: number, what: string): void {
  if (!Number.isFinite(version)) throw new RangeError(`wire: ${what} version ${version} is not a finite number`);
}

function arpRecord(entry: ArpEntry, position: number): vippy.ArpRecord.$Properties {
  if (isIP(entry.ip) === 0) throw new RangeError(`wire: neighbour entry ${position}: "${entry.ip}" is not an IP address`);
  if (!MAC_ADDRESS.test(entry.mac)) throw new RangeError(`wire: neighbour entry ${position}: "${entry.mac}" is not a MAC address`);
  return { ip: Uint8Array.from(ipaddr.parse(entry.ip).toByteArray()), mac: Buffer.from(entry.mac.replaceAll(':', ''), 'hex') };
}

function arpEntry(record: vippy.ArpRecord, position: number): ArpEntry {
  if (record.ip.length !== 4 && record.ip.length !== 16) throw new RangeError(`entry ${position}: ip is ${record.ip.length} bytes, not 4 or 16`);
  if (record.mac.length !== 6) throw new RangeError(`entry ${position}: mac is ${record.mac.length} bytes, not 6`);
  const mac = Array.from(record.mac, (byte) => byte.toString(16).padStart(2, '0')).join(':');
  return { ip: ipaddr.fromByteArray(Array.from(record.ip)).toString(), mac };
}
