// The protocol's vocabulary: what goes into core (events), what comes out (actions), and what
// nodes tell each other (announcements). Core imports only *types* from config; it does no I/O,
// keeps no clock and draws no randomness: `now` (milliseconds, monotonic per node) is an argument.

import type { ClusterConfig } from '../config/model.js';

/** What one node tells the others every interval (signed and replay-guarded by src/wire). */
export interface Announcement {
  /** Sender's node name. */
  node: string;
  version: number;
  /** ClusterConfig.fingerprint of the sender's config. */
  fingerprint: string;
  /** Mature and no health reason false. */
  active: boolean;
  /** null when active. "booting", "administrative", a plugin's reason, ... */
  inactiveReason: string | null;
  /** Clean stop: peers act at once instead of waiting for `stale`. */
  leaving: boolean;
  /** Group indices the sender actually holds (meaningful when fingerprints match). */
  held: number[];
  /** Group indices the sender cannot hold (e.g. carrier lost on their interface). */
  ineligible: number[];
  /** Node indices (config.nodes order) the sender currently hears (fresh announcements). */
  hears: number[];
}

/** One neighbour-table entry shared between nodes. */
export interface ArpEntry { ip: string; mac: string; }

export type CoreEvent =
  /** Timer: the agent calls step with this at (or after) the wakeAt the last step returned. */
  | { type: 'tick' }
  | { type: 'announcement'; from: string; announcement: Announcement }
  /** config.active(ok, reason) from a plugin or vippyctl activate/deactivate. */
  | { type: 'health'; reason: string; ok: boolean }
  /** Carrier state of a local interface changed. */
  | { type: 'carrier'; interface: string; up: boolean }
  /** A health check's verdict changed (or the check was set up): it covers groups per config.checks. */
  | { type: 'check'; name: string; ok: boolean; reason: string }
  /** Local file (re)loaded: SIGHUP or start. */
  | { type: 'config-loaded'; config: ClusterConfig }
  /** A peer offered a whole config (reassembled and authenticated by wire, merged by config). */
  | { type: 'config-offer'; from: string; config: ClusterConfig }
  /** The agent failed (or succeeded) to apply a plumb/unplumb action. */
  | { type: 'apply-result'; group: number; held: boolean; ok: boolean; error?: string }
  /** Local neighbour table scan. */
  | { type: 'neighbours'; entries: ArpEntry[] }
  /** A slice of a peer's neighbour table. */
  | { type: 'arp-slice'; from: string; entries: ArpEntry[]; complete: boolean }
  /** Clean stop requested (SIGTERM/SIGINT). */
  | { type: 'stop' };

export type LogLevel = 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';

export type Action =
  | { type: 'send'; announcement: Announcement }
  /**
   * Bring every address of the group up on this node, then notify the network. `reason` is for
   * people; `cause` names it in one word (metrics); `from`: the peer that held it last (a
   * takeover), absent when nobody did.
   */
  | { type: 'plumb'; group: number; reason: string; cause: 'placement' | 'takeover'; from?: string }
  | { type: 'unplumb'; group: number; reason: string; cause: TransitionCause }
  /** (Re)send the ARP/NA notification for a held group. */
  | { type: 'notify'; group: number; reason: 'takeover' | 'conflict-repair' | 'refresh' }
  /** Send this node's whole config to the cluster (a peer has an older or conflicting one). */
  | { type: 'send-config' }
  /** Share this node's neighbour table with the cluster. */
  | { type: 'send-arp-cache'; entries: ArpEntry[] }
  /** Adopt this config: persist it (keeping local interface names) and use it. */
  | { type: 'adopt-config'; config: ClusterConfig; from: string }
  | { type: 'state-change'; ownership: Ownership; previous: Ownership }
  | { type: 'log'; level: LogLevel; event: string; message: string; fields?: Record<string, unknown> };

/**
 * Why a group is plumbed or unplumbed, in one word: placement (either way), takeover (from a
 * holder judged gone), drain (vippyctl deactivate), check (another health reason), conflict
 * (another node holds it too), quorum (lost, or too few hear this node), config (the group or
 * this node left it), shutdown, paused.
 */
export type TransitionCause = 'placement' | 'takeover' | 'drain' | 'check' | 'conflict' | 'quorum' | 'config' | 'shutdown' | 'paused';

/** vippy's ownership map: "_" for unowned, then node name → group indices. */
export type Ownership = Record<string, number[]>;

export interface StepResult {
  actions: Action[];
  /** When core next needs a 'tick' (absolute, same clock as `now`). */
  wakeAt: number;
}

/** What placement (src/core/placement.ts) decides from: the same inputs give the same answer on every node. */
export interface PlacementInput {
  config: ClusterConfig;
  /** Nodes that are active and counted, in config.nodes order. */
  active: readonly string[];
  /** Nodes that cannot hold a given group (e.g. its interface has no carrier there). */
  ineligible: (group: number) => ReadonlySet<string> | undefined;
  /** Who holds each group now (from announcements): stickiness for preempt=false and balanced. */
  holders: ReadonlyMap<number, string>;
  /** False while a returning preferred node is still inside its preempt_delay. */
  /** With a group: also eligible for that group for preempt_delay (a check or carrier back). */
  preferenceReady: (node: string, group?: number) => boolean;
}

/** Per group index: the nodes that should hold it (empty = unowned; >1 only for flip's replicated). */
export type PlacementResult = ReadonlyArray<readonly string[]>;
