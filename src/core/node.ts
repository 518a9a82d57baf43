// One vippy node's protocol state machine, in the style of etcd-io/raft: the agent owns the
// state object, feeds it events with the current time, and carries out the actions it returns.
//
//   const node = createNode({ self, config, now });
//   let { actions, wakeAt } = step(node, { type: 'tick' }, now);   // first announcement
//   ... on every event (and a 'tick' at wakeAt): ({ actions, wakeAt } = step(node, event, now))
//   status(node)                                   // for /status, vippyctl and metrics
//   notifyTargets(node, group)                     // the ARP hit-list after plumbing a group
//
// Rules for the agent:
// - `now` is monotonic milliseconds on this node; step mutates `node`.
// - Call step with a 'tick' at (or soon after) every `wakeAt`; it is never more than one
//   interval away while the node runs, and Infinity after 'stop'.
// - Carry out actions in order. plumb/unplumb name a group index of the config in force when
//   the action is emitted: on 'config-loaded' and 'config-offer', the unplumbs that precede
//   the config switch (or the 'adopt-config' action) refer to the previous config.
// - A plumb implies a notification burst ('takeover'); 'notify' asks for another one.
// - Pass a sender's announcements in send order (see announcements.ts).
//
// Where each rule of DESIGN.md "Protocol" lives (reference/vippy.md §3-§4 for the vippy
// semantics kept), one concept a file:
//   announcements.ts      what this node says, and when (rate limits)
//   receiving.ts          what it learns from peers' announcements
//   liveness.ts           peers up or stale, mature, active, hears lists, pauses
//   membership.ts         the view: fresh, alive (vouched for), members of this config
//   quorum.ts             nodes seen, active nodes heard, being heard
//   self-assessment.ts    liveness + quorum → mode; transition log lines
//   eligibility.ts        health, carrier, failed plumbing, health checks → ineligible groups
//   view-tracking.ts      since when the placement-relevant view has held; preempt_delay
//   placement.ts          who should hold each group (pure; ownership.ts runs it over the view)
//   releasing.ts          letting go of what the mode or placement says not to hold
//   taking.ts             break-before-make: the guards before a take, hand-offs
//   conflict-repair.ts    re-notify once another holder has let go
//   leaving.ts            clean stop, peers leaving
//   config-graduation.ts  highest version wins, conflicts, reloads, offering our config
//   arp-cache-sharing.ts  neighbour tables (arp-cache.ts) shared and merged
//   notify-targets.ts     the hosts told of a takeover
//   wake.ts, fast-path.ts when to tick next; skipping evaluation for repeated announcements

import type { ArpEntry, CoreEvent, StepResult } from './types.js';
import { isFresh } from './membership.js';
import { clusterEntries } from './arp-cache.js';
import { notifyHosts, type NotifyHost } from './notify-targets.js';
import { nodeIndex, sortedHeld, StepOutput, type NodeState, type NodeStatus, type PeerView } from './state.js';
import { observePeers, resumeAfterPause } from './liveness.js';
import { assessSelf, lastEvaluation, logTransitions } from './self-assessment.js';
import { expireFailures, ineligibleNodes, noteApplyResult, noteCarrier, noteCheck, ineligibilityReasons, noteHealth, selfIneligible } from './eligibility.js';
import { trackActiveSince, trackPreferredEligibility, trackView } from './view-tracking.js';
import { aliveHolders, holderMap, placeGroups, reportOwnership } from './ownership.js';
import { releaseMisplaced } from './releasing.js';
import { flipStartupHomePoints, takeGroups } from './taking.js';
import { repairConflicts } from './conflict-repair.js';
import { announce } from './announcements.js';
import { leave } from './leaving.js';
import { receiveAnnouncement } from './receiving.js';
import { receiveConfigOffer, reloadConfig, shareConfig } from './config-graduation.js';
import { noteArpSlice, noteNeighbours, shareArpCache } from './arp-cache-sharing.js';
import { repeatedAnnouncement, settle } from './fast-path.js';
import { Wake } from './wake.js';

export { createNode } from './state.js';
export type { NodeState, NodeStatus, PeerView } from './state.js';
export type { NodeMode } from './self-assessment.js';

export function step(state: NodeState, event: CoreEvent, now: number): StepResult {
  const out = new StepOutput();
  if (state.stopped) return { actions: [], wakeAt: Infinity };
  if (now - state.lastStepAt > state.config.timing.staleMs) resumeAfterPause(state, now, out);
  state.lastStepAt = now;
  if (event.type === 'stop') {
    leave(state, now, out);
    return { actions: out.actions, wakeAt: Infinity };
  }
  if (event.type === 'announcement' && out.actions.length === 0) {
    const wakeAt = repeatedAnnouncement(state, event.from, event.announcement, now);
    if (wakeAt !== null) return { actions: out.actions, wakeAt };
  }
  handleEvent(state, event, now, out);
  const wakeAt = evaluate(state, now, out);
  return { actions: out.actions, wakeAt };
}

function handleEvent(state: NodeState, event: Exclude<CoreEvent, { type: 'stop' }>, now: number, out: StepOutput): void {
  switch (event.type) {
    case 'tick':
      return;
    case 'announcement':
      return receiveAnnouncement(state, event.from, event.announcement, now, out);
    case 'health':
      return noteHealth(state, event.reason, event.ok, out);
    case 'carrier':
      return noteCarrier(state, event.interface, event.up, out);
    case 'check':
      return noteCheck(state, event.name, event.ok, event.reason);
    case 'config-loaded':
      return reloadConfig(state, event.config, now, out);
    case 'config-offer':
      return receiveConfigOffer(state, event.from, event.config, now, out);
    case 'apply-result':
      return noteApplyResult(state, event, now, out);
    case 'neighbours':
      return noteNeighbours(state, event.entries);
    case 'arp-slice':
      return noteArpSlice(state, event.from, event.entries, event.complete);
  }
}

/** After every event: decide what to hold and what to say. Returns when to tick next. */
function evaluate(state: NodeState, now: number, out: StepOutput): number {
  const firstAction = out.actions.length;
  const wake = new Wake(now);
  wake.add(state.nextAnnounceAt);
  expireFailures(state, now, wake);
  const view = observePeers(state, now, wake, out);
  const self = assessSelf(state, view, now, wake);

  // Placement over the agreed view.
  const preferenceReady = trackActiveSince(state, self.activeNodes, now, wake);
  const ownIneligible = selfIneligible(state);
  const ineligible = ineligibleNodes(state, view, ownIneligible);
  const preferred = trackPreferredEligibility(state, ineligible, preferenceReady, now, wake);
  trackView(state, now, self.activeNodes, ineligible, preferenceReady, preferred.notReadyGroups);
  const owners = placeGroups(state, self.activeNodes, ineligible, holderMap(state, view), preferred.ready);
  const aliveHolderOf = aliveHolders(view);

  // Holding: release, take, repair.
  releaseMisplaced(state, self, view, owners, aliveHolderOf, out);
  const homeOnly = flipStartupHomePoints(state, self.mode, ownIneligible);
  if (self.mode === 'acting' || homeOnly !== undefined) {
    const mayTake = homeOnly === undefined ? (group: number) => owners[group]?.includes(state.self) ?? false : (group: number) => homeOnly.has(group);
    takeGroups(state, view, mayTake, aliveHolderOf, now, wake, out);
  }
  repairConflicts(state, aliveHolderOf, now, wake, out);

  // Reporting and saying so.
  const ownership = reportOwnership(state, self.activeNodes, owners, out);
  logTransitions(state, self, view, out);
  state.last = lastEvaluation(state, self, view, ownership);
  announce(state, self, ownIneligible, now, wake, out);
  shareConfig(state, view, now, wake, out);
  shareArpCache(state, now, wake, out);

  const decided = out.actions.slice(firstAction).some((action) => action.type === 'plumb' || action.type === 'unplumb' || action.type === 'notify');
  return settle(state, view, wake, decided);
}

// ---------------------------------------------------------------------------------------------
// Queries

export function status(state: NodeState): NodeStatus {
  const { config, last } = state;
  const selfIndex = nodeIndex(config, state.self);
  const peers: PeerView[] = config.nodes
    .filter((node) => node.name !== state.self)
    .map((node) => {
      const peer = state.peers.get(node.name);
      const announcement = peer?.last ?? null;
      return {
        name: node.name,
        fresh: peer !== undefined && isFresh(peer, state.lastStepAt, config.timing.staleMs),
        alive: last.view?.alive.has(node.name) ?? false,
        silentMs: announcement === null ? null : state.lastStepAt - peer!.lastHeard,
        version: announcement?.version ?? null,
        sameConfig: announcement?.fingerprint === config.fingerprint,
        active: announcement?.active ?? false,
        inactiveReason: announcement?.inactiveReason ?? null,
        leaving: announcement?.leaving ?? false,
        held: announcement?.held ?? [],
        ineligible: announcement?.ineligible ?? [],
        hearsUs: announcement?.hears.includes(selfIndex) ?? false,
      };
    });
  return {
    self: state.self,
    mode: last.mode,
    mature: last.mature,
    active: last.active,
    inactiveReason: last.inactiveReason,
    ownership: last.ownership,
    held: sortedHeld(state),
    peers,
    quorum: last.quorum,
    ineligible: ineligibilityReasons(state),
    version: config.version,
    fingerprint: config.fingerprint,
  };
}

/** The cluster-wide neighbour table (this node's scan plus fresh peers' slices). */
export function arpCache(state: NodeState): ArpEntry[] {
  return clusterEntries(state.arp, state.config.nodes.map((node) => node.name));
}

/**
 * The hosts to send gratuitous ARP to for `group`, per IPv4 VIP: `notify` targets ("arp-cache"
 * and networks) inside the VIP's own subnet, de-duplicated, MAC given when known.
 */
export function notifyTargets(state: NodeState, group: number, notify = state.config.notify): NotifyHost[] {
  const vipGroup = state.config.groups[group];
  if (vipGroup === undefined) throw new RangeError(`notifyTargets: group ${group} is not in config v${state.config.version} (${state.config.groups.length} groups)`);
  return notifyHosts(vipGroup, notify, arpCache(state), state.config.arp.notifyBudget);
}
