// What one node remembers between steps, and how a step collects what it decides.

import type { ClusterConfig } from '../config/model.js';
import type { Action, LogLevel, Ownership, PlacementResult } from './types.js';
import { createPlacer, type Placer } from './placement.js';
import type { MembershipView, PeerRecord } from './membership.js';
import { emptyArpCache, type ArpCache } from './arp-cache.js';
import type { NodeMode } from './self-assessment.js';
import type { Settled } from './fast-path.js';

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
  /** Groups this node may not hold now, and why (ascending). */
  ineligible: Array<{ group: number; reasons: string[] }>;
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
  /** Health checks whose verdict is fail, with the reason (config.checks says which groups each covers). */
  checksFailing: Map<string, string>;
  /** Per group with a preferred node: since when that node has been eligible for it (preempt_delay). */
  preferredEligibleSince: Map<number, number>;
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
  last: LastEvaluation;
}

export interface LastEvaluation {
  mode: NodeMode;
  mature: boolean;
  active: boolean;
  inactiveReason: string | null;
  quorum: NodeStatus['quorum'];
  ownership: Ownership;
  view: MembershipView | null;
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
    checksFailing: new Map(),
    preferredEligibleSince: new Map(),
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

/** The actions one step decides, in the order the agent must carry them out. */
export class StepOutput {
  readonly actions: Action[] = [];
  log(level: LogLevel, event: string, message: string, fields?: Record<string, unknown>): void {
    this.actions.push(fields === undefined ? { type: 'log', level, event, message } : { type: 'log', level, event, message, fields });
  }
}

/** A node's position in config.nodes (the index `hears` lists use); -1 when not in it. */
export function nodeIndex(config: ClusterConfig, name: string): number {
  return config.nodes.findIndex((node) => node.name === name);
}

export function sortedHeld(state: NodeState): number[] {
  return [...state.held].sort((a, b) => a - b);
}
