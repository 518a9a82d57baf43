// Reassembly of content too large for one datagram. Both trackers are bounded (sizes, slice
// counts, concurrent transfers, a timeout on `now`) because their input, although
// authenticated, arrives in any order, with gaps, from any number of senders.
import { createHash } from 'node:crypto';

export const SHA256_BYTES = 32;

export interface ConfigSliceFields {
  version: number;
  fingerprint: string;
  transferId: number;
  index: number;
  total: number;
  chunk: Uint8Array;
  totalLength: number;
  sha256: Uint8Array;
}

export type SliceOutcome<Done> =
  | { status: 'pending'; received: number; total: number }
  | ({ status: 'complete' } & Done)
  | { status: 'bad'; detail: string };

export interface ConfigDone { version: number; fingerprint: string; document: string }

export interface ConfigAssemblerOptions {
  /** Largest document accepted, bytes. */
  maxBytes: number;
  /** Transfers in progress at once (all senders together). */
  maxTransfers: number;
  /** A transfer not completed this long after its first slice is dropped. */
  timeoutMs: number;
}

interface Transfer {
  meta: Omit<ConfigSliceFields, 'index' | 'chunk'>;
  /** By index; a map, so memory follows what arrived rather than what `total` claims. */
  chunks: Map<number, Uint8Array>;
  bytes: number;
  startedAt: number;
}

export class ConfigAssembler {
  readonly #transfers = new Map<string, Transfer>();
  constructor(private readonly options: ConfigAssemblerOptions) {}

  /** Transfers in progress (for status and tests). */
  get pending(): number {
    return this.#transfers.size;
  }

  add(sender: string, slice: ConfigSliceFields, now: number): SliceOutcome<ConfigDone> {
    this.#expire(now);
    const invalid = this.#checkAlone(slice);
    if (invalid !== undefined) return { status: 'bad', detail: invalid };

    const key = `${sender}\0${slice.transferId}`;
    let transfer = this.#transfers.get(key);
    if (transfer === undefined) {
      if (this.#transfers.size >= this.options.maxTransfers) {
        return { status: 'bad', detail: `${this.options.maxTransfers} config transfers already in progress` };
      }
      const { index: _index, chunk: _chunk, ...meta } = slice;
      transfer = { meta, chunks: new Map(), bytes: 0, startedAt: now };
      this.#transfers.set(key, transfer);
    } else {
      const mismatch = differingField(transfer.meta, slice);
      if (mismatch !== undefined) {
        this.#transfers.delete(key);
        return { status: 'bad', detail: `transfer ${slice.transferId}: slice ${slice.index} disagrees on ${mismatch}; transfer dropped` };
      }
      if (transfer.chunks.has(slice.index)) {
        return { status: 'bad', detail: `transfer ${slice.transferId}: slice ${slice.index} arrived twice` };
      }
    }
    transfer.bytes += slice.chunk.length;
    if (transfer.bytes > slice.totalLength) {
      this.#transfers.delete(key);
      return { status: 'bad', detail: `transfer ${slice.transferId}: slices add up to more than total_length ${slice.totalLength}; transfer dropped` };
    }
    transfer.chunks.set(slice.index, slice.chunk);
    if (transfer.chunks.size < slice.total) return { status: 'pending', received: transfer.chunks.size, total: slice.total };

    this.#transfers.delete(key);
    const whole = Buffer.concat(Array.from({ length: slice.total }, (_, index) => transfer.chunks.get(index)!));
    const digest = createHash('sha256').update(whole).digest();
    if (whole.length !== slice.totalLength || !digest.equals(slice.sha256)) {
      return { status: 'bad', detail: `transfer ${slice.transferId}: reassembled document does not match its length/sha256; dropped` };
    }
    return { status: 'complete', version: slice.version, fingerprint: slice.fingerprint, document: whole.toString('utf8') };
  }

  /** Checks a slice needs no state for. */
  #checkAlone(s: ConfigSliceFields): string | undefined {
    if (!Number.isFinite(s.version)) return `version ${s.version} is not a finite number`;
    if (s.totalLength > this.options.maxBytes) return `total_length ${s.totalLength} exceeds the limit of ${this.options.maxBytes} bytes`;
    if (s.sha256.length !== SHA256_BYTES) return `sha256 is ${s.sha256.length} bytes, not ${SHA256_BYTES}`;
    // Every slice carries at least one byte, so there are never more slices than bytes.
    if (s.total < 1 || s.total > Math.max(1, s.totalLength)) return `total ${s.total} is impossible for ${s.totalLength} bytes`;
    if (s.index >= s.total) return `index ${s.index} is not below total ${s.total}`;
    if (s.chunk.length === 0 && s.totalLength > 0) return `slice ${s.index} is empty`;
    return undefined;
  }

  #expire(now: number): void {
    for (const [key, transfer] of this.#transfers) {
      if (now - transfer.startedAt > this.options.timeoutMs) this.#transfers.delete(key);
    }
  }
}

function differingField(meta: Transfer['meta'], slice: ConfigSliceFields): string | undefined {
  if (meta.version !== slice.version) return 'version';
  if (meta.fingerprint !== slice.fingerprint) return 'fingerprint';
  if (meta.total !== slice.total) return 'total';
  if (meta.totalLength !== slice.totalLength) return 'total_length';
  if (!Buffer.from(meta.sha256).equals(slice.sha256)) return 'sha256';
  return undefined;
}

/**
 * Which slices of a sender's current neighbour-table generation have arrived. Entries are
 * handed on slice by slice; "complete" tells the receiver it now holds the whole table.
 */
export class ArpTracker {
  readonly #senders = new Map<string, { boot: string; generation: number; total: number; seen: Uint8Array; received: number }>();
  constructor(private readonly maxSlices: number) {}

  add(sender: string, boot: string, generation: number, index: number, total: number): SliceOutcome<Record<never, never>> {
    if (total < 1 || total > this.maxSlices) return { status: 'bad', detail: `total ${total} is not in [1, ${this.maxSlices}]` };
    if (index >= total) return { status: 'bad', detail: `index ${index} is not below total ${total}` };
    let state = this.#senders.get(sender);
    if (state !== undefined && state.boot === boot && generation < state.generation) {
      return { status: 'bad', detail: `generation ${generation} is older than generation ${state.generation} in progress` };
    }
    if (state === undefined || state.boot !== boot || generation !== state.generation) {
      state = { boot, generation, total, seen: new Uint8Array((total + 7) >> 3), received: 0 };
      this.#senders.set(sender, state);
    } else if (state.total !== total) {
      return { status: 'bad', detail: `generation ${generation}: total ${total} disagrees with ${state.total}` };
    }
    const bit = 1 << (index & 7);
    if (state.seen[index >> 3] & bit) return { status: 'bad', detail: `generation ${generation}: slice ${index} arrived twice` };
    state.seen[index >> 3] |= bit;
    state.received++;
    return state.received === total ? { status: 'complete' } : { status: 'pending', received: state.received, total };
  }
}
