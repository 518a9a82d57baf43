// Replay guard: which authenticated datagrams are fresh. Pure bookkeeping, the clock is an
// argument. Per sender it keeps the current boot id, the highest sequence number of that boot
// with a sliding window of the ones just below it (UDP may reorder), and the boot ids it has
// seen before. A restart (new boot id) is believed only if it is later than anything the old
// boot sent; a captured datagram of an earlier boot stays rejected.
//
// Limits, by design: a receiver that has never heard a sender (its own restart) accepts that
// sender's first boot it sees, so a datagram captured within the skew window could be replayed
// once to a freshly started node; the real traffic then supersedes it as a "restart".

export interface ReplayOptions {
  /** Accepted |sent_at - now|, ms. */
  skewMs: number;
}

export type ReplayVerdict =
  /** latest: the newest datagram of this sender so far (false: an older one, reordered in transit). */
  | { ok: true; latest: boolean }
  | { ok: false; reason: 'clock-skew' | 'replay' | 'stale-boot'; detail: string };

/** Sequence numbers this far below the highest are still accepted once (reordering). */
export const REPLAY_WINDOW = 64;
const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;
/** Earlier boot ids remembered per sender. */
const REMEMBERED_BOOTS = 16;

interface SenderState {
  boot: string;
  highestSeq: number;
  /** Bit k set: sequence number highestSeq - k has been accepted. */
  seen: bigint;
  /** Latest sent_at accepted from the current boot. */
  newestSentAt: number;
  earlierBoots: string[];
}

export class ReplayGuard {
  readonly #senders = new Map<string, SenderState>();
  readonly #skewMs: number;

  constructor(options: ReplayOptions) {
    if (!(options.skewMs > 0)) throw new RangeError(`wire: skewMs must be positive, got ${options.skewMs}`);
    this.#skewMs = options.skewMs;
  }

  /** Checks one datagram's header and, when it is fresh, records it. `now`: wall clock, ms. */
  admit(sender: string, boot: string, seq: number, sentAt: number, now: number): ReplayVerdict {
    // Written as !(a <= b) so that a NaN sent_at is rejected too.
    if (!(Math.abs(sentAt - now) <= this.#skewMs)) {
      return { ok: false, reason: 'clock-skew', detail: `sent_at is ${Math.round(sentAt - now)} ms from our clock (allowed ±${this.#skewMs} ms)` };
    }
    const state = this.#senders.get(sender);
    if (state === undefined) {
      this.#senders.set(sender, { boot, highestSeq: seq, seen: 1n, newestSentAt: sentAt, earlierBoots: [] });
      return { ok: true, latest: true };
    }
    if (boot !== state.boot) return this.#restart(state, boot, seq, sentAt);

    const latest = seq > state.highestSeq;
    if (latest) {
      const shift = seq - state.highestSeq;
      state.seen = shift >= REPLAY_WINDOW ? 1n : ((state.seen << BigInt(shift)) | 1n) & WINDOW_MASK;
      state.highestSeq = seq;
    } else {
      const behind = state.highestSeq - seq;
      if (behind >= REPLAY_WINDOW) {
        return { ok: false, reason: 'replay', detail: `seq ${seq} is ${behind} behind the highest seen (${state.highestSeq}), outside the window of ${REPLAY_WINDOW}` };
      }
      const bit = 1n << BigInt(behind);
      if (state.seen & bit) return { ok: false, reason: 'replay', detail: `seq ${seq} of this boot was already accepted` };
      state.seen |= bit;
    }
    if (sentAt > state.newestSentAt) state.newestSentAt = sentAt;
    return { ok: true, latest };
  }

  #restart(state: SenderState, boot: string, seq: number, sentAt: number): ReplayVerdict {
    if (state.earlierBoots.includes(boot)) {
      return { ok: false, reason: 'stale-boot', detail: `boot ${boot} was superseded by boot ${state.boot}` };
    }
    if (sentAt <= state.newestSentAt) {
      return {
        ok: false,
        reason: 'stale-boot',
        detail: `new boot ${boot} sent at ${sentAt}, not later than the newest datagram of current boot ${state.boot} (${state.newestSentAt})`,
      };
    }
    state.earlierBoots.push(state.boot);
    if (state.earlierBoots.length > REMEMBERED_BOOTS) state.earlierBoots.shift();
    state.boot = boot;
    state.highestSeq = seq;
    state.seen = 1n;
    state.newestSentAt = sentAt;
    return { ok: true, latest: true };
  }
}
