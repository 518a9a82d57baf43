// Wake scheduling: when core next needs a 'tick', and until when the last evaluation's
// decisions stay valid (the fast path for repeated announcements relies on the second).

import type { MembershipView } from './membership.js';
import type { NodeState } from './state.js';
import { hearsWindowMs, UNCERTAIN_AFTER_INTERVALS } from './liveness.js';

/**
 * Earliest future time something must be re-evaluated (at), and the earliest future time any
 * condition the evaluation depends on may change, with or without a wake of its own (stableUntil).
 */
export class Wake {
  at = Infinity;
  stableUntil = Infinity;
  constructor(private readonly now: number) {}
  add(time: number): void {
    if (time > this.now && time < this.at) this.at = time;
    this.changesAt(time);
  }
  /**
   * A condition may change just after `time` (one reached now counts: it changes at any later
   * moment). The evaluation may read it without a wake of its own: it is re-checked on the next event.
   */
  changesAt(time: number): void {
    if (time >= this.now && time < this.stableUntil) this.stableUntil = time;
  }
  /** The same times, seen from `now` (not earlier than this one's). */
  copy(now = this.now): Wake {
    const copy = new Wake(now);
    copy.at = this.at;
    copy.stableUntil = this.stableUntil;
    return copy;
  }
}

/** Peers' silences that change the view: going out of the hears window, stale, overdue. Woken one ms after each. */
export function addSilenceTimes(state: NodeState, view: MembershipView, wake: Wake): void {
  const { timing } = state.config;
  const hearsWindow = hearsWindowMs(state.config);
  const uncertainAfter = timing.intervalMs * UNCERTAIN_AFTER_INTERVALS;
  for (const peer of view.fresh) {
    wake.changesAt(peer.lastHeard + hearsWindow);
    wake.add(peer.lastHeard + hearsWindow + 1);
    wake.changesAt(peer.lastHeard + timing.staleMs);
    wake.add(peer.lastHeard + timing.staleMs + 1);
  }
  for (const peer of view.members) {
    wake.changesAt(peer.lastHeard + uncertainAfter);
    wake.add(peer.lastHeard + uncertainAfter + 1);
  }
}
