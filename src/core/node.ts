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
//
// Decisions (DESIGN.md "Protocol"; reference/vippy.md §3-§4 for the vippy semantics kept):
// - Mature = matureMs since the config last changed (start counts). Active = mature and no
//   health reason false. While booting the node keeps what it holds and takes nothing.
// - Quorum, two counts. Keeping groups needs `quorum` nodes seen (this node plus fresh peers,
//   whatever their health: which side of a partition am I on?), else no_quorum_policy applies.
//   Taking groups also needs `quorum` active nodes heard directly within 1.5 intervals (same
//   config, this node included), so a node cut off a moment ago, whose stale view still counts
//   its peers, takes nothing the majority is already placing without it.
// - Break-before-make: a group is taken only when no alive peer announces it held, and never
//   while this node cannot know who might hold or take it (see takeHold: listening after
//   start, peers of another config or known only by a peer's word, a peer whose hears list
//   lacks this node, a peer silent for less than stale + takeover guard). Views must also have
//   settled: a take waits until the placement-relevant view (active nodes, ineligibility,
//   preference readiness) has not changed for a guard period, so that two nodes with briefly
//   different views do not both take one unheld group. A hand-off (an alive holder releases a
//   group its placement moved) is taken at once, a quarter interval after the change that
//   caused it, when nothing else in the view has changed for a guard period.
// - A node learns from its peers' hears lists (peers heard within two intervals) that it is not
//   heard, and releases everything once that has lasted half an interval (one lost datagram, seen
//   by every peer at once on a flooded or lossy link, leaves it out of their lists only until the
//   next one arrives); with quorum, silent holders' groups wait at least three intervals after
//   stale, so that a link that failed one way before failing both ways is still safe.
// - A member whose announcements are overdue (1.5 intervals) counts as active in placement:
//   it may have become active meanwhile, and this node must not take what it may be taking.
// - The agent must pass announcements in send order per sender (drop one older than the last
//   delivered, by the envelope's sequence number): the wire accepts reordered datagrams.
// - A node that is not stepped for longer than `stale` (process paused) cannot know whether
//   its groups were taken over meanwhile: it releases everything and listens again.

import type { ClusterConfig } from '../config/model.js';
import type { Action, Announcement, ArpEntry, CoreEvent, LogLevel, Ownership, PlacementResult, StepResult } from './types.js';
import { createPlacer, place, type Placer } from './placement.js';
import { computeMembership, isFresh, type MembershipView, type PeerRecord } from './membership.js';
import { compareConfigs, remapHeld } from './config-change.js';
import { clusterEntries, dropPeer, emptyArpCache, localEntries, mergeSlice, setLocalEntries, type ArpCache } from './arp-cache.js';
import { notifyHosts, type NotifyHost } from './notify-targets.js';

/** At most this many announcements per interval (periodic included): changes go out at once, storms do not. */
const TRIGGERED_BURST = 5;
/** Peers listed in `hears`: heard within this many intervals. */
const HEARS_WINDOW_INTERVALS = 2;
/** Not heard by a quorum for this many intervals (continuously): release everything. */
const UNHEARD_CONFIRM_INTERVALS = 0.5;
/** A member silent for this many intervals may have changed: it counts as active in placement. */
const UNCERTAIN_AFTER_INTERVALS = 1.5;

/** What the node does with its groups right now, and why. */
export type NodeMode =
  /** Acting on placement: takes and releases. */
  | 'acting'
  /** Not mature yet (or resuming after a pause): keeps what it holds, takes nothing. */
  | 'booting'
  /** No quorum, policy freeze: keeps what it holds, takes nothing. */
  | 'frozen'
  /** Quorum of nodes seen but not of active ones (peers booting or unhealthy): keeps what it holds, takes nothing. */
  | 'waiting'
  /** No quorum, policy stop: holds nothing. */
  | 'no-quorum'
  /** Peers' hears lists show that fewer than quorum nodes hear it: holds nothing. */
  | 'unheard'
  /** A health reason is false: holds nothing. */
  | 'inactive'
  /** Its name is not in config.nodes: holds nothing. */
  | 'not-in-config'
  | 'stopped';

export interface PeerView {
  name: string;
  /** Heard directly within stale. */
  fresh: boolean;
  /** Fresh, or vouched for by a fresh peer. */
  alive: boolean;
  /** Milliseconds since its last announcement, at the last step (null: never heard). */
  silentMs: number | null;
  version: number | null;
  sameConfig: boolean;
  active: boolean;
  inactiveReason: string | null;
  leaving: boolean;
  held: number[];
  ineligible: number[];
  hearsUs: boolean;
}

export interface NodeStatus {
  self: string;
  mode: NodeMode;
  mature: boolean;
  active: boolean;
  inactiveReason: string | null;
  /** vippy's map: "_" → unowned groups, every active node → the groups placement gives it. */
  ownership: Ownership;
  /** Groups this node holds (asked the agent to plumb), ascending. */
  held: number[];
  peers: PeerView[];
  /** seen: this node and fresh peers; active: the active ones among them (same config); heardBy: this node and peers that hear it. */
  quorum: { needed: number; seen: number; active: number; ok: boolean; heardBy: number };
  version: number;
  fingerprint: string;
}

export interface NodeState {
  readonly self: string;
  config: ClusterConfig;
  configChangedAt: number;
  /** Takes wait until listenSince + stale + guard (start, or resume after a pause). */
  listenSince: number;
  /** After a pause the node is inactive ("resuming") until it has listened for stale. */
  resumingUntil: number;
  lastStepAt: number;
  /** Since when peers' hears lists show fewer than quorum nodes hearing this node (null: they do not). */
  unheardSince: number | null;
  stopped: boolean;
  /** Health reasons, latched per name (insertion order = report order). */
  health: Map<string, boolean>;
  carrierDown: Set<string>;
  /** Groups whose plumbing failed here: ineligible until the time given. */
  failedUntil: Map<number, number>;
  peers: Map<string, PeerRecord>;
  held: Set<number>;
  nextAnnounceAt: number;
  /** Send times within the last interval: triggered announcements are limited to a burst. */
  recentSends: number[];
  lastSentSignature: string;
  /** Incremental placement (keeps rendezvous rankings between calls) and its last answer. */
  placer: Placer;
  placement: { key: string; result: PlacementResult } | null;
  /** The placement-relevant view (active nodes, ineligibility, preference readiness) and since when it holds. */
  viewKey: string;
  viewSince: number;
  /** When the last announcement went out (compared with viewSince). */
  viewSentAt: number;
  /** Each node's part of that view, and when it last changed: a hand-off needs the others' settled. */
  nodeViews: Map<string, string>;
  nodeViewChangedAt: Map<string, number>;
  /** Since when each node has been continuously active in this node's view (preempt_delay). */
  activeSince: Map<string, number>;
  /** Groups an alive peer released (hand-off or leaving), when and by whom: taken without the view guard. */
  handoffs: Map<number, { at: number; from: string }>;
  /** Held groups another alive node announced too: notify once it has let go. */
  conflicts: Set<number>;
  repairNotifiedAt: Map<number, number>;
  configSendPending: boolean;
  configSentAt: number;
  conflictsLogged: Set<string>;
  arp: ArpCache;
  arpSendPending: boolean;
  arpSentAt: number;
  /**
   * How long the last evaluation's decisions hold (null: re-evaluate on the next event), so that
   * an announcement that only repeats its sender's previous one can skip the evaluation.
   */
  settled: Settled | null;
  /** Results of the last evaluation, for status() and for logging transitions once. */
  last: {
    mode: NodeMode;
    mature: boolean;
    active: boolean;
    inactiveReason: string | null;
    quorum: NodeStatus['quorum'];
    ownership: Ownership;
    view: MembershipView | null;
  };
}

export function createNode(options: { self: string; config: ClusterConfig; now: number }): NodeState {
  const { self, config, now } = options;
  return {
    self,
    config,
    configChangedAt: now,
    listenSince: now,
    resumingUntil: now,
    lastStepAt: now,
    unheardSince: null,
    stopped: false,
    health: new Map(),
    carrierDown: new Set(),
    failedUntil: new Map(),
    peers: new Map(),
    held: new Set(),
    nextAnnounceAt: now,
    recentSends: [],
    lastSentSignature: '',
    placer: createPlacer(config),
    placement: null,
    viewKey: '',
    viewSince: now,
    viewSentAt: -Infinity,
    nodeViews: new Map(),
    nodeViewChangedAt: new Map(),
    activeSince: new Map(),
    handoffs: new Map(),
    conflicts: new Set(),
    repairNotifiedAt: new Map(),
    configSendPending: false,
    configSentAt: -Infinity,
    conflictsLogged: new Set(),
    arp: emptyArpCache(),
    arpSendPending: false,
    arpSentAt: -Infinity,
    settled: null,
    last: {
      mode: 'booting',
      mature: false,
      active: false,
      inactiveReason: 'booting',
      quorum: { needed: config.quorum, seen: 1, active: 0, ok: config.quorum <= 1, heardBy: 1 },
      ownership: {},
      view: null,
    },
  };
}

/** Collects actions for one step. */
class Out {
  readonly actions: Action[] = [];
  log(level: LogLevel, event: string, message: string, fields?: Record<string, unknown>): void {
    this.actions.push(fields === undefined ? { type: 'log', level, event, message } : { type: 'log', level, event, message, fields });
  }
}

export function step(state: NodeState, event: CoreEvent, now: number): StepResult {
  const out = new Out();
  if (state.stopped) return { actions: [], wakeAt: Infinity };
  if (now - state.lastStepAt > state.config.timing.staleMs) resumeAfterPause(state, now, out);
  state.lastStepAt = now;
  if (event.type === 'stop') {
    stop(state, now, out);
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

/**
 * The fast path for the common case, a peer saying again what it said last time: when
 * evaluating now would decide nothing new (no threshold of time crossed since the last
 * evaluation, the sender counted fully then and its new word counts the same), record it and
 * return the wake time a full step would return. null: take the full step.
 */
function repeatedAnnouncement(state: NodeState, from: string, announcement: Announcement, now: number): number | null {
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
  silenceTimes(state, view, times);
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

function resumeAfterPause(state: NodeState, now: number, out: Out): void {
  out.log('warning', 'paused', `not stepped for ${now - state.lastStepAt} ms (longer than stale): releasing everything and listening again`);
  releaseAll(state, 'paused', out);
  state.listenSince = now;
  state.resumingUntil = now + state.config.timing.staleMs;
  state.unheardSince = null;
}

function releaseAll(state: NodeState, reason: string, out: Out): void {
  for (const group of [...state.held].sort((a, b) => a - b)) release(state, group, reason, out);
}

function release(state: NodeState, group: number, reason: string, out: Out): void {
  state.held.delete(group);
  state.conflicts.delete(group);
  out.actions.push({ type: 'unplumb', group, reason });
  out.log('notice', 'release', `releasing group ${group}: ${reason}`, { group, reason });
}

function stop(state: NodeState, now: number, out: Out): void {
  releaseAll(state, 'shutdown', out);
  state.stopped = true;
  out.actions.push({
    type: 'send',
    announcement: {
      node: state.self,
      version: state.config.version,
      fingerprint: state.config.fingerprint,
      active: false,
      inactiveReason: 'shutdown',
      leaving: true,
      held: [],
      ineligible: [],
      hears: hearsIndices(state, now),
    },
  });
  state.last = { ...state.last, mode: 'stopped', active: false, inactiveReason: 'shutdown' };
  out.log('notice', 'stopping', 'leaving the cluster: released everything, announced leaving');
}

// ---------------------------------------------------------------------------------------------
// Events

function handleEvent(state: NodeState, event: Exclude<CoreEvent, { type: 'stop' }>, now: number, out: Out): void {
  switch (event.type) {
    case 'tick':
      return;
    case 'announcement':
      return receiveAnnouncement(state, event.from, event.announcement, now, out);
    case 'health': {
      const before = state.health.get(event.reason);
      state.health.set(event.reason, event.ok);
      if (before !== event.ok) out.log('info', 'health', `health reason "${event.reason}" is now ${event.ok ? 'ok' : 'failing'}`, { reason: event.reason, ok: event.ok });
      return;
    }
    case 'carrier': {
      const wasDown = state.carrierDown.has(event.interface);
      if (event.up) state.carrierDown.delete(event.interface);
      else state.carrierDown.add(event.interface);
      if (wasDown === event.up) out.log('notice', 'carrier', `carrier ${event.up ? 'up' : 'down'} on ${event.interface}`, { interface: event.interface, up: event.up });
      return;
    }
    case 'config-loaded': {
      const previous = state.config;
      switchConfig(state, event.config, now, out);
      out.log('notice', 'config-reloaded', `config v${previous.version} -> v${event.config.version} (reloaded)`, { from: previous.version, to: event.config.version });
      return;
    }
    case 'config-offer':
      return receiveConfigOffer(state, event.from, event.config, now, out);
    case 'apply-result':
      return applyResult(state, event, now, out);
    case 'neighbours':
      if (setLocalEntries(state.arp, event.entries)) state.arpSendPending = true;
      return;
    case 'arp-slice':
      if (event.from !== state.self && nodeIndex(state.config, event.from) >= 0) mergeSlice(state.arp, event.from, event.entries, event.complete);
      return;
  }
}

function nodeIndex(config: ClusterConfig, name: string): number {
  return config.nodes.findIndex((node) => node.name === name);
}

function receiveAnnouncement(state: NodeState, from: string, announcement: Announcement, now: number, out: Out): void {
  // The agent may loop our own multicast back; wire already rejects unknown nodes.
  if (from === state.self || announcement.node !== from || nodeIndex(state.config, from) < 0) return;
  const peer = peerRecord(state, from);
  vouchFor(state, from, announcement, now);
  const wasLeaving = peer.last?.leaving ?? false;
  if (!isFresh(peer, now, state.config.timing.staleMs)) peer.freshSince = now;
  if (peer.last !== null && peer.last.fingerprint === state.config.fingerprint && announcement.fingerprint === state.config.fingerprint) {
    // A hand-off is a release by a node that stays active (placement moved the group), heard
    // by a node that has listened long enough to trust its own view.
    const listened = now - state.listenSince >= state.config.timing.staleMs;
    if (listened && peer.last.active && (announcement.active || announcement.leaving)) {
      for (const group of peer.last.held) if (!announcement.held.includes(group)) state.handoffs.set(group, { at: now, from });
    }
  }
  peer.lastHeard = now;
  peer.last = announcement;
  if (announcement.leaving && !wasLeaving) {
    dropPeer(state.arp, from);
    if (peer.wasAlive) out.log('notice', 'peer-leaving', `${from} is leaving`, { peer: from });
    peer.wasAlive = false;
  }
  const comparison = compareConfigs(state.config, announcement);
  if (comparison === 'older' || comparison === 'conflict-ours-wins') state.configSendPending = true;
  if (comparison === 'conflict-ours-wins' || comparison === 'conflict-theirs-wins') logConflict(state, from, announcement.version, announcement.fingerprint, out);
}

/** A peer of our config that lists others in its hears list vouches for them. */
function vouchFor(state: NodeState, from: string, announcement: Announcement, now: number): void {
  if (announcement.fingerprint !== state.config.fingerprint) return;
  for (const index of announcement.hears) {
    const name = state.config.nodes[index]?.name;
    if (name !== undefined && name !== state.self && name !== from) peerRecord(state, name).lastVouched = now;
  }
}

function peerRecord(state: NodeState, name: string): PeerRecord {
  let peer = state.peers.get(name);
  if (peer === undefined) {
    peer = { name, lastHeard: -Infinity, last: null, freshSince: -Infinity, lastVouched: -Infinity, wasAlive: false };
    state.peers.set(name, peer);
  }
  return peer;
}

function logConflict(state: NodeState, from: string, version: number, fingerprint: string, out: Out): void {
  const key = `${from} ${version} ${fingerprint}`;
  if (state.conflictsLogged.has(key)) return;
  state.conflictsLogged.add(key);
  const winner = fingerprint > state.config.fingerprint ? from : state.self;
  out.log('crit', 'config-conflict',
    `${from} runs a different config with the same version v${version}; the greater fingerprint wins (${winner}'s)`,
    { peer: from, version, ours: state.config.fingerprint, theirs: fingerprint });
}

function receiveConfigOffer(state: NodeState, from: string, config: ClusterConfig, now: number, out: Out): void {
  const comparison = compareConfigs(state.config, config);
  if (comparison === 'older' || comparison === 'conflict-ours-wins') state.configSendPending = true;
  if (comparison === 'conflict-ours-wins' || comparison === 'conflict-theirs-wins') logConflict(state, from, config.version, config.fingerprint, out);
  if (comparison !== 'newer' && comparison !== 'conflict-theirs-wins') return;
  const previous = state.config;
  switchConfig(state, config, now, out);
  out.actions.push({ type: 'adopt-config', config, from });
  out.log('notice', 'config-graduated', `config v${previous.version} -> v${config.version} (from ${from})`, { from, previousVersion: previous.version, version: config.version });
}

/** Replaces the config: groups that do not survive are released under their old index. */
function switchConfig(state: NodeState, next: ClusterConfig, now: number, out: Out): void {
  const previous = state.config;
  const { kept, dropped } = remapHeld(previous, next, state.held);
  for (const group of dropped) release(state, group, 'group no longer in the config', out);
  state.config = next;
  state.held = kept;
  if (previous.version !== next.version || previous.fingerprint !== next.fingerprint) state.configChangedAt = now;
  // Indices may have moved: forget per-group memory keyed by the old ones.
  state.placement = null;
  state.conflicts.clear();
  state.handoffs.clear();
  state.repairNotifiedAt.clear();
  state.failedUntil.clear();
  for (const name of state.peers.keys()) {
    if (nodeIndex(next, name) < 0) {
      state.peers.delete(name);
      dropPeer(state.arp, name);
    }
  }
  if (nodeIndex(next, state.self) < 0) out.log('crit', 'not-in-config', `${state.self} is not in this configuration (v${next.version}): holding nothing`);
}

function applyResult(state: NodeState, event: Extract<CoreEvent, { type: 'apply-result' }>, now: number, out: Out): void {
  if (event.ok) return;
  if (event.held) {
    // Could not bring it up: let another node have it for a while.
    state.held.delete(event.group);
    state.failedUntil.set(event.group, now + state.config.timing.staleMs);
    out.log('err', 'plumb-failed', `could not plumb group ${event.group}: ${event.error ?? 'unknown error'}; ineligible for ${state.config.timing.staleMs} ms`, { group: event.group });
  } else {
    out.log('crit', 'unplumb-failed', `could not unplumb group ${event.group}: ${event.error ?? 'unknown error'}`, { group: event.group });
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation: after every event, decide what to hold and what to say.

/**
 * Earliest future time something must be re-evaluated (at), and the earliest future time any
 * condition the evaluation depends on may change, with or without a wake of its own (stableUntil).
 */
class Wake {
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

/** The last evaluation's wake and stability times without the terms that move with every announcement. */
interface Settled {
  base: Wake;
  until: number;
}

/** Peers' silences that change the view: going out of the hears window, stale, overdue. Woken one ms after each. */
function silenceTimes(state: NodeState, view: MembershipView, wake: Wake): void {
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

function hearsWindowMs(config: ClusterConfig): number {
  return Math.min(config.timing.staleMs, HEARS_WINDOW_INTERVALS * config.timing.intervalMs);
}

/**
 * Peers heard within the last two intervals. Shorter than stale on purpose: a node whose
 * announcements stop getting through learns it from its peers' lists within about two
 * intervals, while it may still hear them, and lets go before anyone takes over.
 */
function hearsIndices(state: NodeState, now: number): number[] {
  const window = hearsWindowMs(state.config);
  const indices: number[] = [];
  state.config.nodes.forEach((node, index) => {
    const peer = state.peers.get(node.name);
    if (peer !== undefined && peer.last !== null && !peer.last.leaving && now - peer.lastHeard <= window) indices.push(index);
  });
  return indices;
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

function selfIneligible(state: NodeState): number[] {
  return state.config.groups
    .filter((group) => state.failedUntil.has(group.index) || group.addresses.some((a) => state.carrierDown.has(a.interface)))
    .map((group) => group.index);
}

function evaluate(state: NodeState, now: number, out: Out): number {
  const { config, self } = state;
  const timing = config.timing;
  const firstAction = out.actions.length;
  const wake = new Wake(now);
  wake.add(state.nextAnnounceAt);
  for (const [group, until] of state.failedUntil) {
    if (until <= now) state.failedUntil.delete(group);
    else wake.add(until);
  }

  // Membership.
  const hearsWindow = hearsWindowMs(config);
  const view = computeMembership(config, self, state.peers, now, hearsWindow);
  // Thresholds read below without a wake of their own: witnesses, and being heard at all.
  for (const peer of view.fresh) wake.changesAt(peer.freshSince + hearsWindow);
  wake.changesAt(state.listenSince + timing.staleMs);
  for (const peer of state.peers.values()) {
    const alive = view.alive.has(peer.name);
    if (peer.wasAlive && !alive && !peer.last?.leaving) out.log('notice', 'peer-stale', `${peer.name} aged out (silent for ${now - peer.lastHeard} ms)`, { peer: peer.name });
    if (!peer.wasAlive && alive) {
      out.log('info', 'peer-joined', `${peer.name} is up`, { peer: peer.name });
      if (state.arp.local.size > 0) state.arpSendPending = true;
    }
    peer.wasAlive = alive;
    if (!isFresh(peer, now, timing.staleMs)) dropPeer(state.arp, peer.name);
  }

  // This node.
  const inConfig = nodeIndex(config, self) >= 0;
  const mature = now - state.configChangedAt >= timing.matureMs;
  const resuming = now < state.resumingUntil;
  if (resuming) wake.add(state.resumingUntil);
  if (!mature) wake.add(state.configChangedAt + timing.matureMs);
  const failingReason = [...state.health].find(([, ok]) => !ok)?.[0];
  const active = inConfig && mature && !resuming && failingReason === undefined;
  const inactiveReason = active ? null : !inConfig ? 'not-in-config' : !mature ? 'booting' : resuming ? 'resuming' : failingReason!;
  const uncertainAfter = timing.intervalMs * UNCERTAIN_AFTER_INTERVALS;
  // A member whose announcements are overdue may have become active: it counts as active.
  const activeNodes = config.nodes
    .map((node) => node.name)
    .filter((name) => (name === self ? active : view.members.some((peer) => peer.name === name && (peer.last!.active || now - peer.lastHeard > uncertainAfter))));
  // Keeping needs nodes seen; taking needs active ones heard lately (see the header).
  const activeSeen = (active ? 1 : 0) + view.fresh.filter((peer) => peer.last!.active && peer.last!.fingerprint === config.fingerprint && now - peer.lastHeard <= uncertainAfter).length;
  const ignoreQuorum = config.quorum <= 1 || config.noQuorumPolicy === 'ignore';
  const quorumOk = config.quorum <= 1 || view.seen >= config.quorum;
  const activeQuorumOk = ignoreQuorum || activeSeen >= config.quorum;
  // Peers can only be expected to hear this node once it has been announcing for stale.
  const notHeard = config.quorum > 1 && now - state.listenSince > timing.staleMs && view.witnesses >= config.quorum && view.heardBy < config.quorum;
  state.unheardSince = notHeard ? (state.unheardSince ?? now) : null;
  const unheardConfirmedAt = (state.unheardSince ?? Infinity) + timing.intervalMs * UNHEARD_CONFIRM_INTERVALS;
  const unheard = now >= unheardConfirmedAt;
  if (notHeard && !unheard) wake.add(unheardConfirmedAt);
  const mode: NodeMode =
    !inConfig ? 'not-in-config'
      : unheard ? 'unheard'
        : failingReason !== undefined ? 'inactive'
          : !quorumOk && config.noQuorumPolicy === 'stop' ? 'no-quorum'
            : !mature || resuming ? 'booting'
              : !quorumOk && config.noQuorumPolicy === 'freeze' ? 'frozen'
                : !activeQuorumOk ? 'waiting'
                  : 'acting';

  // Placement over the agreed view.
  for (const name of [...state.activeSince.keys()]) if (!activeNodes.includes(name)) state.activeSince.delete(name);
  for (const name of activeNodes) if (!state.activeSince.has(name)) state.activeSince.set(name, now);
  const preferenceReady = (name: string) => {
    const since = state.activeSince.get(name);
    return since !== undefined && now - since >= timing.preemptDelayMs;
  };
  for (const since of state.activeSince.values()) wake.add(since + timing.preemptDelayMs);
  const ownIneligible = selfIneligible(state);
  const holders = holderMap(state, view);
  const owners = placement(state, now, activeNodes, view, ownIneligible, holders, preferenceReady);
  const mine = (group: number) => owners[group]?.includes(self) ?? false;
  const aliveHolder = new Map<number, PeerRecord>();
  for (const peer of view.members) for (const group of peer.last!.held) if (!aliveHolder.has(group)) aliveHolder.set(group, peer);
  const heldByAliveMember = (group: number) => aliveHolder.get(group);

  // Releases.
  const releaseReason: Partial<Record<NodeMode, string>> = {
    'not-in-config': 'not in the config',
    unheard: `only ${view.heardBy} of ${config.quorum} needed nodes hear this node`,
    inactive: `inactive: ${failingReason}`,
    'no-quorum': `no quorum (${view.seen} of ${config.quorum} seen)`,
  };
  for (const group of [...state.held].sort((a, b) => a - b)) {
    const reason = releaseReason[mode];
    if (reason !== undefined) {
      release(state, group, reason, out);
      continue;
    }
    if (mine(group)) continue;
    const other = heldByAliveMember(group);
    if (mode === 'acting') release(state, group, `placement gives it to ${owners[group]?.join(',') || 'nobody'}`, out);
    else if (other !== undefined) release(state, group, `${other.name} holds it too`, out);
  }

  // Takes. flip's start-up (reference/flip.md §1.9): every peer counts as alive until a quorum
  // says otherwise, so a flip server without quorum under "freeze" still takes its home points.
  const homeOnly = mode === 'frozen' && config.format === 'flip' ? homePoints(config, self, ownIneligible) : undefined;
  if (mode === 'acting' || homeOnly !== undefined) {
    const hold = takeHold(state, view, now);
    for (const [group, { at }] of state.handoffs) if (now - at > timing.staleMs) state.handoffs.delete(group);
    // Every member must have spoken since this node's view last changed: a member that changed
    // at that moment (became active, took a group) and was cut off right after is not trusted
    // on an older word. Changed views are announced at once, so this costs one message.
    const heardSinceChange = view.members.every((peer) => peer.lastHeard >= state.viewSince);
    for (const group of config.groups.map((g) => g.index)) {
      if (state.held.has(group) || !(homeOnly?.has(group) ?? mine(group)) || heldByAliveMember(group) !== undefined) continue;
      if (!heardSinceChange) continue;
      if (now < hold.until) {
        wake.add(hold.until);
        continue;
      }
      // Nodes whose views differ would both take an unheld group: take only from a view that
      // has held for a guard period, by which time every change before it has been announced.
      // The exception is a hand-off (an alive peer has just released the group) when only this
      // node or the releaser changed (a preferred node back, a holder losing carrier or
      // leaving), those changes are a moment old, and everyone else's part of the view has settled.
      const viewEnd = state.viewSince + timing.guardMs;
      const released = state.handoffs.get(group);
      if (now < viewEnd && released !== undefined) {
        // Changes that happened at the same moment elsewhere arrive within a delivery delay:
        // give them a quarter interval after this node's and the releaser's own changes.
        const settledAt = Math.max(
          othersSettledAt(state, [self, released.from]) + timing.guardMs,
          (state.nodeViewChangedAt.get(self) ?? -Infinity) + timing.intervalMs / 4,
          (state.nodeViewChangedAt.get(released.from) ?? -Infinity) + timing.intervalMs / 4,
        );
        if (now < settledAt) {
          wake.add(Math.min(settledAt, viewEnd));
          continue;
        }
      } else if (now < viewEnd) {
        wake.add(viewEnd);
        continue;
      }
      state.held.add(group);
      const previous = hold.lastHolder.get(group);
      const reason = previous === undefined ? 'placement' : `takeover from ${previous}`;
      out.actions.push({ type: 'plumb', group, reason });
      out.log('notice', 'takeover', `taking group ${group}: ${reason}`, { group, reason });
    }
  }

  // Conflict repair: the rightful owner re-notifies once the other holder has let go.
  for (const group of state.held) {
    if (heldByAliveMember(group) !== undefined) {
      state.conflicts.add(group);
      continue;
    }
    if (!state.conflicts.has(group)) continue;
    const allowedAt = (state.repairNotifiedAt.get(group) ?? -Infinity) + timing.staleMs;
    if (now < allowedAt) {
      wake.add(allowedAt);
      continue;
    }
    state.conflicts.delete(group);
    state.repairNotifiedAt.set(group, now);
    out.actions.push({ type: 'notify', group, reason: 'conflict-repair' });
  }

  // Ownership map and transitions.
  const ownership = ownershipMap(activeNodes, owners);
  const ownList = (map: Ownership) => JSON.stringify(map[self] ?? []);
  if (ownList(ownership) !== ownList(state.last.ownership)) {
    out.actions.push({ type: 'state-change', ownership, previous: state.last.ownership });
    out.log('info', 'state-changed', `state changed: ${self} owns [${(ownership[self] ?? []).join(', ')}]`);
  }
  logTransitions(state, { mode, mature, active, inactiveReason, quorumOk, seen: view.seen }, out);
  const quorum = { needed: config.quorum, seen: view.seen, active: activeSeen, ok: quorumOk, heardBy: view.heardBy };
  state.last = {
    mode, mature, active, inactiveReason, ownership, view,
    quorum,
  };

  // Saying so: periodic, and at once (rate-limited) when what we announce changes.
  const announcement: Announcement = {
    node: self,
    version: config.version,
    fingerprint: config.fingerprint,
    active,
    inactiveReason,
    leaving: false,
    held: [...state.held].sort((a, b) => a - b),
    ineligible: ownIneligible,
    hears: hearsIndices(state, now),
  };
  const signature = JSON.stringify(announcement);
  while (state.recentSends.length > 0 && now - state.recentSends[0]! >= timing.intervalMs) state.recentSends.shift();
  const due = now >= state.nextAnnounceAt;
  // A changed view is announced too, so that peers waiting to hear from everyone since their
  // own change (see the takes) hear from this node at once.
  const triggered = signature !== state.lastSentSignature || state.viewSentAt < state.viewSince;
  if (due || (triggered && state.recentSends.length < TRIGGERED_BURST)) {
    out.actions.push({ type: 'send', announcement });
    state.recentSends.push(now);
    state.lastSentSignature = signature;
    state.viewSentAt = now;
    if (due) state.nextAnnounceAt = Math.max(state.nextAnnounceAt + timing.intervalMs, now + 1);
    wake.add(state.nextAnnounceAt);
  } else if (triggered) {
    wake.add(state.recentSends[0]! + timing.intervalMs);
  }

  // Sharing: our config with peers that run an older or losing one, our neighbour table.
  // Only while some fresh peer still runs an older or losing config (the offer may have crossed
  // announcements that were already on their way).
  const needsOurConfig = view.fresh.some((peer) => ['older', 'conflict-ours-wins'].includes(compareConfigs(config, peer.last!)));
  if (state.configSendPending && !needsOurConfig) state.configSendPending = false;
  if (state.configSendPending) {
    const allowedAt = state.configSentAt + timing.staleMs;
    if (now >= allowedAt) {
      out.actions.push({ type: 'send-config' });
      state.configSentAt = now;
      state.configSendPending = false;
    } else {
      wake.add(allowedAt);
    }
  }
  if (state.arpSendPending) {
    const allowedAt = state.arpSentAt + timing.intervalMs;
    if (now >= allowedAt) {
      out.actions.push({ type: 'send-arp-cache', entries: localEntries(state.arp) });
      state.arpSentAt = now;
      state.arpSendPending = false;
    } else {
      wake.add(allowedAt);
    }
  }
  // Decisions taken now change what the next evaluation sees (held groups): it must run in full.
  const decided = out.actions.slice(firstAction).some((action) => action.type === 'plumb' || action.type === 'unplumb' || action.type === 'notify');
  const base = wake.copy();
  silenceTimes(state, view, wake);
  state.settled = decided ? null : { base, until: wake.stableUntil };
  return wake.at;
}

/** When the view, leaving out the given nodes' parts, last changed. */
function othersSettledAt(state: NodeState, except: readonly string[]): number {
  let latest = -Infinity;
  for (const [name, at] of state.nodeViewChangedAt) if (!except.includes(name) && at > latest) latest = at;
  return latest;
}

/** Who holds each group, from announcements of alive members and this node (lowest index wins). */
function holderMap(state: NodeState, view: MembershipView): Map<number, string> {
  const holders = new Map<number, string>();
  const byName = new Map(view.members.map((peer) => [peer.name, peer]));
  for (const node of state.config.nodes) {
    const held = node.name === state.self ? state.held : byName.get(node.name)?.last!.held;
    for (const group of held ?? []) if (!holders.has(group)) holders.set(group, node.name);
  }
  return holders;
}

function placement(
  state: NodeState,
  now: number,
  activeNodes: string[],
  view: MembershipView,
  ownIneligible: number[],
  holders: Map<number, string>,
  preferenceReady: (name: string) => boolean,
): PlacementResult {
  const ineligible = new Map<number, Set<string>>();
  const mark = (group: number, name: string) => {
    let set = ineligible.get(group);
    if (set === undefined) ineligible.set(group, (set = new Set()));
    set.add(name);
  };
  for (const group of ownIneligible) mark(group, state.self);
  for (const peer of view.members) for (const group of peer.last!.ineligible) mark(group, peer.name);
  const notReady = activeNodes.filter((name) => !preferenceReady(name));
  const viewKey = JSON.stringify([activeNodes, [...ineligible].map(([g, set]) => [g, [...set]]), notReady]);
  if (viewKey !== state.viewKey) {
    state.viewKey = viewKey;
    state.viewSince = now;
  }
  const ineligibleByNode = new Map<string, number[]>();
  for (const [group, names] of ineligible) for (const name of names) (ineligibleByNode.get(name) ?? ineligibleByNode.set(name, []).get(name)!).push(group);
  for (const node of state.config.nodes) {
    const part = `${activeNodes.includes(node.name)} ${notReady.includes(node.name)} ${ineligibleByNode.get(node.name) ?? ''}`;
    if (state.nodeViews.get(node.name) !== part) {
      state.nodeViews.set(node.name, part);
      state.nodeViewChangedAt.set(node.name, now);
    }
  }
  // Most steps leave the view unchanged; recomputing placement would dominate the step's cost.
  const key = viewKey + JSON.stringify([...holders]);
  if (state.placement?.key === key) return state.placement.result;
  const result = state.placer.update({
    config: state.config,
    active: activeNodes,
    ineligible: (group) => ineligible.get(group),
    holders,
    preferenceReady,
  });
  state.placement = { key, result };
  return result;
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

const homePointCache = new WeakMap<ClusterConfig, Map<string, ReadonlySet<number>>>();

/** The groups placement gives `self` when every node is active: a flip server's home points. */
function homePoints(config: ClusterConfig, self: string, ownIneligible: readonly number[]): ReadonlySet<number> {
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

function ownershipMap(activeNodes: readonly string[], owners: PlacementResult): Ownership {
  const map: Ownership = { _: [] };
  for (const name of activeNodes) map[name] = [];
  owners.forEach((nodes, group) => {
    if (nodes.length === 0) map._!.push(group);
    for (const name of nodes) (map[name] ??= []).push(group);
  });
  return map;
}

function logTransitions(
  state: NodeState,
  now: { mode: NodeMode; mature: boolean; active: boolean; inactiveReason: string | null; quorumOk: boolean; seen: number },
  out: Out,
): void {
  const before = state.last;
  const { quorum } = state.config;
  if (now.mature && !before.mature) out.log('info', 'mature', 'config is mature');
  if (now.active !== before.active) {
    if (now.active) out.log('notice', 'active', 'node is active');
    else out.log('warning', 'inactive', `node is inactive: ${now.inactiveReason}`, { reason: now.inactiveReason });
  }
  if (quorum > 1 && now.quorumOk !== before.quorum.ok) {
    if (now.quorumOk) out.log('notice', 'quorum-regained', `quorum reached (${now.seen} of ${quorum} seen)`);
    else out.log('warning', 'quorum-lost', `quorum lost (${now.seen} of ${quorum} seen), policy ${state.config.noQuorumPolicy}`);
  }
  if (now.mode !== before.mode && now.mode === 'unheard') {
    out.log('crit', 'one-way-failure', `fewer than ${quorum} nodes hear this node: releasing everything`);
  }
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
    held: [...state.held].sort((a, b) => a - b),
    peers,
    quorum: last.quorum,
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
