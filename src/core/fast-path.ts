// The fast path for the common case, a peer saying again what it said last time: when the
// last evaluation's decisions still hold and the repeat changes nothing but times, the step
// records it and skips the evaluation.

import type { Announcement } from './types.js';
import type { MembershipView } from './membership.js';
import type { NodeState } from './state.js';
import { hearsWindowMs, UNCERTAIN_AFTER_INTERVALS } from './liveness.js';
import { vouchFor } from './receiving.js';
import { addSilenceTimes, Wake } from './wake.js';

/** The last evaluation's wake and stability times without the terms that move with every announcement. */
export interface Settled {
  base: Wake;
  until: number;
}

/**
 * Ends an evaluation: remembers how long its decisions hold (not at all when it decided
 * something: held groups change what the next one sees) and returns the wake time.
 */
export function settle(state: NodeState, view: MembershipView, wake: Wake, decided: boolean): number {
  const base = wake.copy();
  addSilenceTimes(state, view, wake);
  state.settled = decided ? null : { base, until: wake.stableUntil };
  return wake.at;
}

/**
 * When evaluating now would decide nothing new (no threshold of time crossed since the last
 * evaluation, the sender counted fully then and its new word counts the same), records the
 * announcement and returns the wake time a full step would return. null: take the full step.
 */
export function repeatedAnnouncement(state: NodeState, from: string, announcement: Announcement, now: number): number | null {
  const { settled, config } = state;
  const peer = state.peers.get(from);
  if (settled === null || now >= settled.until || peer === undefined || peer.last === null || announcement.node !== from) return null;
  if (announcement.fingerprint !== config.fingerprint || announcement.version !== config.version || !sameAnnouncement(peer.last, announcement)) return null;
  // Its previous word still counts fully (a fresh member, within the hears window, not overdue,
  // heard since the view last changed and since this node started listening): the new one
  // changes nothing but the times.
  const view = state.last.view;
  if (view === null || !view.fresh.includes(peer) || !view.members.includes(peer)) return null;
  const { staleMs, intervalMs } = config.timing;
  const silent = now - peer.lastHeard;
  if (silent > staleMs || silent > hearsWindowMs(config) || silent > intervalMs * UNCERTAIN_AFTER_INTERVALS) return null;
  if (peer.lastHeard < state.viewSince || peer.lastHeard < state.listenSince) return null;
  vouchFor(state, from, announcement, now);
  peer.lastHeard = now;
  peer.last = announcement;
  const times = settled.base.copy(now);
  addSilenceTimes(state, view, times);
  settled.until = times.stableUntil;
  return times.at;
}

function sameAnnouncement(a: Announcement, b: Announcement): boolean {
  return a.version === b.version && a.fingerprint === b.fingerprint && a.active === b.active && a.inactiveReason === b.inactiveReason
    && a.leaving === b.leaving && sameIndices(a.held, b.held) && sameIndices(a.ineligible, b.ineligible) && sameIndices(a.hears, b.hears);
}

function sameIndices(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
