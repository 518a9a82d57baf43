// Taking groups: break-before-make and the guards that keep two nodes from taking one group
// (DESIGN.md "Protocol", Quorum: "a node takes over a group from a silent peer only after
// stale plus a guard").
//
// - A group is taken only when no alive peer announces it held, and never while this node
//   cannot know who might hold or take it (see takeHold: listening after start, peers of
//   another config or known only by a peer's word, a peer whose hears list lacks this node, a
//   peer silent for less than stale + takeover guard).
// - Views must also have settled: a take waits until the placement-relevant view (active nodes,
//   ineligibility, preference readiness) has not changed for a guard period, so that two nodes
//   with briefly different views do not both take one unheld group.
// - A hand-off (an alive holder releases a group its placement moved) is taken at once, a
//   quarter interval after the change that caused it, when nothing else in the view has
//   changed for a guard period.
// - With quorum, silent holders' groups wait at least three intervals after stale, so that a
//   link that failed one way before failing both ways is still safe.

import type { ClusterConfig } from '../config/model.js';
import type { Announcement } from './types.js';
import { place } from './placement.js';
import type { NodeMode } from './self-assessment.js';
import type { MembershipView, PeerRecord } from './membership.js';
import { nodeIndex, type NodeState, type StepOutput } from './state.js';
import { HEARS_WINDOW_INTERVALS, hearsWindowMs } from './liveness.js';
import { UNHEARD_CONFIRM_INTERVALS } from './quorum.js';
import { othersSettledAt } from './view-tracking.js';
import type { AliveHolderOf } from './ownership.js';
import type { Wake } from './wake.js';

/**
 * Records the groups a peer of this config released while staying active (or leaving):
 * hand-offs, taken without the full view guard. Only a node that has listened for stale trusts
 * its own view enough for that.
 */
export function noteHandoffs(state: NodeState, peer: PeerRecord, announcement: Announcement, now: number): void {
  const { config } = state;
  if (peer.last === null || peer.last.fingerprint !== config.fingerprint || announcement.fingerprint !== config.fingerprint) return;
  const listened = now - state.listenSince >= config.timing.staleMs;
  if (listened && peer.last.active && (announcement.active || announcement.leaving)) {
    for (const group of peer.last.held) if (!announcement.held.includes(group)) state.handoffs.set(group, { at: now, from: peer.name });
  }
}

/**
 * Takes the groups this node may take (placement gives them to it; see flipStartupHomePoints for
 * the exception) that nobody holds, once the guards allow it. Called while acting.
 */
export function takeGroups(
  state: NodeState,
  view: MembershipView,
  mayTake: (group: number) => boolean,
  aliveHolderOf: AliveHolderOf,
  now: number,
  wake: Wake,
  out: StepOutput,
): void {
  const { config } = state;
  const { timing } = config;
  const hold = takeHold(state, view, now);
  for (const [group, { at }] of state.handoffs) if (now - at > timing.staleMs) state.handoffs.delete(group);
  // Every member must have spoken since this node's view last changed: a member that changed
  // at that moment (became active, took a group) and was cut off right after is not trusted
  // on an older word. Changed views are announced at once, so this costs one message.
  const heardSinceChange = view.members.every((peer) => peer.lastHeard >= state.viewSince);
  for (const group of config.groups.map((g) => g.index)) {
    if (state.held.has(group) || !mayTake(group) || aliveHolderOf(group) !== undefined) continue;
    if (!heardSinceChange) continue;
    if (now < hold.until) {
      wake.add(hold.until);
      continue;
    }
    const settledAt = viewSettledFor(state, group, now);
    if (now < settledAt) {
      wake.add(settledAt);
      continue;
    }
    state.held.add(group);
    const from = hold.lastHolder.get(group);
    const reason = from === undefined ? 'placement' : `takeover from ${from}`;
    out.actions.push(from === undefined ? { type: 'plumb', group, reason } : { type: 'plumb', group, reason, from });
    out.log('notice', 'takeover', `taking group ${group}: ${reason}`, { group, reason });
  }
}

const homePointCache = new WeakMap<ClusterConfig, Map<string, ReadonlySet<number>>>();

/**
 * flip's start-up (reference/flip.md §1.9): every peer counts as alive until a quorum says
 * otherwise, so a flip server without quorum under "freeze" still takes its home points, the
 * groups placement gives it when every node is active. undefined: not in that case.
 */
export function flipStartupHomePoints(state: NodeState, mode: NodeMode, ownIneligible: readonly number[]): ReadonlySet<number> | undefined {
  const { config, self } = state;
  if (mode !== 'frozen' || config.format !== 'flip') return undefined;
  const key = `${self} ${ownIneligible.join(',')}`;
  let byKey = homePointCache.get(config);
  if (byKey === undefined) homePointCache.set(config, (byKey = new Map()));
  let home = byKey.get(key);
  if (home === undefined) {
    const ineligible = new Set(ownIneligible);
    const owners = place({
      config,
      active: config.nodes.map((node) => node.name),
      ineligible: (group) => (ineligible.has(group) ? new Set([self]) : undefined),
      holders: new Map(),
      preferenceReady: () => true,
    });
    home = new Set(config.groups.map((group) => group.index).filter((group) => owners[group]?.includes(self)));
    byKey.set(key, home);
  }
  return home;
}

/**
 * When the view has settled enough to take `group` (now or earlier: it has). Nodes whose views
 * differ would both take an unheld group: take only from a view that has held for a guard
 * period, by which time every change before it has been announced. The exception is a
 * hand-off (an alive peer has just released the group) when only this node or the releaser
 * changed (a preferred node back, a holder losing carrier or leaving), those changes are a
 * moment old, and everyone else's part of the view has settled.
 */
function viewSettledFor(state: NodeState, group: number, now: number): number {
  const { timing } = state.config;
  const viewEnd = state.viewSince + timing.guardMs;
  if (now >= viewEnd) return viewEnd;
  const released = state.handoffs.get(group);
  if (released === undefined) return viewEnd;
  // Changes that happened at the same moment elsewhere arrive within a delivery delay:
  // give them a quarter interval after this node's and the releaser's own changes.
  const settledAt = Math.max(
    othersSettledAt(state, [state.self, released.from]) + timing.guardMs,
    (state.nodeViewChangedAt.get(state.self) ?? -Infinity) + timing.intervalMs / 4,
    (state.nodeViewChangedAt.get(released.from) ?? -Infinity) + timing.intervalMs / 4,
  );
  return now < settledAt ? Math.min(settledAt, viewEnd) : settledAt;
}

/**
 * Until when this node takes nothing at all (Infinity: until something changes), and who last
 * held each group. Every rule here is about not knowing who might hold or take a group:
 * - listening: right after start or a pause, until every peer is heard or stale + guard passed;
 * - a peer that may hold anything: alive with another config, alive only by a peer's word, or
 *   vouched for but never heard;
 * - a peer whose hears list lacks this node: its view lacks this node, so its placement may
 *   give itself what ours gives us;
 * - a peer gone silent (not leaving) less than stale + takeover guard ago, heard or only vouched
 *   for: it may have taken groups after its last announcement that reached us (or without us
 *   ever hearing it); by then it has let them go.
 */
function takeHold(state: NodeState, view: MembershipView, now: number): { until: number; lastHolder: Map<number, string> } {
  const { config, self } = state;
  const { staleMs, guardMs } = config.timing;
  const selfIndex = nodeIndex(config, self);
  const lastHolder = new Map<number, string>();
  const heardEveryone = config.nodes.every((node) => {
    const peer = state.peers.get(node.name);
    return node.name === self || (peer !== undefined && peer.lastHeard >= state.listenSince && view.alive.has(node.name));
  });
  let until = heardEveryone ? -Infinity : state.listenSince + staleMs + guardMs;
  const unknowable = view.foreign.length > 0 || view.unknownAlive.length > 0 || view.vouchedOnly.length > 0;
  const unaware = view.members.some((peer) => view.fresh.includes(peer) && !peer.last!.hears.includes(selfIndex));
  if (unknowable || unaware) until = Infinity;
  const takeoverWait = staleMs + takeoverGuard(config);
  for (const peer of state.peers.values()) {
    if (view.alive.has(peer.name) || peer.last?.leaving) continue;
    // A witness lists a peer for up to a hears window after hearing it last: that is when the
    // peer was surely alive.
    const lastWord = Math.max(peer.lastHeard, peer.lastVouched - hearsWindowMs(config));
    if (lastWord + takeoverWait > now) until = Math.max(until, lastWord + takeoverWait);
    if (peer.last?.fingerprint === config.fingerprint) for (const group of peer.last.held) lastHolder.set(group, peer.name);
  }
  return { until, lastHolder };
}

/**
 * How long after `stale` a silent holder's groups wait. With quorum, at least long enough for
 * the hears lists to have told the holder it is not heard and for it to have confirmed that
 * (two and a half intervals), plus half an interval for delivery: its link may have failed one
 * way first and both ways only later, so that it still counted its peers as fresh when they
 * stopped hearing it.
 */
function takeoverGuard(config: ClusterConfig): number {
  const { guardMs, intervalMs } = config.timing;
  return config.quorum > 1 ? Math.max(guardMs, (HEARS_WINDOW_INTERVALS + UNHEARD_CONFIRM_INTERVALS + 0.5) * intervalMs) : guardMs;
}
