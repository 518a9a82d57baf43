// The body of GET /status. The first four keys are exactly the original vippy's (reference
// vippy.md §6), in its order, so old tooling keeps working; everything new lives under new keys.

import type { ClusterConfig, NoQuorumPolicy, VipAddress } from '../config/model.js';
import type { Ownership } from '../core/types.js';

/** vippy's normalised IPv4 entry. `name` is the interface. */
export interface StatusIPv4Address {
  ip: string;
  netmask: string;
  broadcast: string;
  network: string;
  name: string;
  state?: string;
}

/** vippy's normalised IPv6 entry. */
export interface StatusIPv6Address {
  ip: string;
  prefixlen: number;
  name: string;
  state?: string;
}

export type StatusAddress = StatusIPv4Address | StatusIPv6Address;

/** A flip data point that is not plumbed as an address by vippyd: its name and its system. */
export interface StatusPoint {
  point: string;
  system: string;
}

/** A vippy group: the preferred node's name first when there is one, then the addresses (or a flip point). */
export type StatusGroup = Array<string | StatusAddress | StatusPoint>;

export interface StatusConfig {
  version: number;
  vips: StatusGroup[];
  nodes: string[];
}

/** vippy's normalized entry: `{ip, netmask, broadcast, network, name, state}` or `{ip, prefixlen, name, state}`. */
export function statusVip(address: VipAddress): StatusAddress {
  const state = address.state === undefined ? {} : { state: address.state };
  return address.family === 4
    ? { ip: address.ip, netmask: address.netmask!, broadcast: address.broadcast!, network: address.network!, name: address.interface, ...state }
    : { ip: address.ip, prefixlen: address.prefixLength, name: address.interface, ...state };
}

const statusConfigs = new WeakMap<ClusterConfig, StatusConfig>();

/**
 * The `config` object of GET /status, exactly as the original showed it (no secret). A flip data
 * point without addresses shows as `{point, system}`. Built once per config, so that status,
 * plugins' `config.vips()` and their ownership maps share the same group objects, as the
 * original's did.
 */
export function vippyStatusConfig(config: ClusterConfig): StatusConfig {
  let built = statusConfigs.get(config);
  if (built === undefined) {
    built = {
      version: config.version,
      vips: config.groups.map((group) => [
        ...(group.preferred === undefined ? [] : [group.preferred]),
        ...(group.addresses.length === 0 && group.point !== undefined
          ? [{ point: group.point, system: group.system ?? '' }]
          : group.addresses.map(statusVip)),
      ]),
      nodes: config.nodes.map((node) => node.name),
    };
    statusConfigs.set(config, built);
  }
  return built;
}

export interface StatusStats {
  net: { ignore: number; 'send-announce': number; 'recv-announce': number };
  'state-changes': number;
  /** New: datagrams refused, by reason (bad-mac, replay, malformed, unknown-node, ...). */
  rejected?: Record<string, number>;
}

export interface StatusState {
  mature: boolean;
  active: boolean;
  inactive_reason: string | null;
  /** "_" for unowned, then node → its groups (the group arrays themselves, as vippy shows them). */
  ownership: Record<string, StatusGroup[]>;
}

export interface QuorumStatus {
  /** Nodes (self included) needed to act. */
  required: number;
  /** Nodes seen now, self included. */
  seen: number;
  met: boolean;
  policy: NoQuorumPolicy;
}

export interface PeerStatus {
  node: string;
  /** A fresh authenticated announcement is in hand. */
  up: boolean;
  active: boolean;
  inactive_reason: string | null;
  leaving: boolean;
  /** Milliseconds since its last good announcement; null when never heard. */
  last_heard_ms: number | null;
  version: number | null;
  /** Its config fingerprint equals ours. */
  same_config: boolean | null;
  /** Group indices it says it holds. */
  held: number[];
  /** Group indices it says it may not hold (a failing check, no carrier, a failed plumb). */
  ineligible?: number[];
}

/** flip systems with scripts: where one data point's alive/down script stands on this node. */
export interface ScriptPointStatus {
  system: string;
  /** The state wanted here (alive: assigned to this node). */
  state: 'alive' | 'down';
  /** That state's script has exited 0. */
  done: boolean;
  running: boolean;
  /** Runs of the wanted state so far. */
  attempts: number;
  lastError: string | null;
  lastExitCode: number | null;
}

/** One health check as /checks and /status show it. Times are ISO 8601; durations milliseconds. */
export interface CheckStatusBody {
  name: string;
  kind: string;
  /** What it looks at, e.g. "tcp 127.0.0.1:80". */
  target: string;
  state: 'pass' | 'fail';
  since: string;
  /** The run (or event) that decided the state, or "initial state". */
  reason: string;
  consecutive_passes: number;
  consecutive_fails: number;
  runs: number;
  last_result: 'pass' | 'fail' | null;
  last_reason: string | null;
  last_duration_ms: number | null;
  last_run_at: string | null;
  /** The end of the last exec run's output. */
  output: string | null;
  interval_ms: number;
  rise: number;
  fall: number;
  /** "all" (a node check) or the group indices it covers. */
  groups: 'all' | number[];
}

/** Why this node may not hold a group (a failing check, no carrier, a failed plumb). */
export interface IneligibleGroup {
  group: number;
  reasons: string[];
}

/** How one group is announced, and what this node has announced for it (nothing unless it holds it). */
export interface AnnounceGroupStatus {
  group: number;
  mode: 'l2' | 'routed';
  /** "203.0.113.10/32 on vippy0", "203.0.113.10/32 in table 100 (protocol 201)". */
  announced: string[];
}

/** Present when the config has routed groups. */
export interface AnnounceStatus {
  interface: string;
  table: number | null;
  protocol: number;
  groups: AnnounceGroupStatus[];
}

export interface Status {
  identity: string;
  stats: StatusStats;
  config: StatusConfig;
  state: StatusState;
  quorum?: QuorumStatus;
  peers?: PeerStatus[];
  /** Group indices this node actually has plumbed. */
  held?: number[];
  /** Data point → its script state (flip configs whose systems have scripts). */
  scripts?: Record<string, ScriptPointStatus>;
  /** Routed announcing (configs with routed groups). */
  announce?: AnnounceStatus;
  /** Groups this node may not hold now, and why. */
  ineligible?: IneligibleGroup[];
  /** Health checks (when the config has any). */
  checks?: CheckStatusBody[];
}

/**
 * The status body with its keys in the documented order, whatever order the caller built the
 * parts in (JSON keeps insertion order, and old tools print it as-is).
 */
export function statusBody(parts: Status): Status {
  const { identity, stats, config, state, quorum, peers, held, scripts, announce, ineligible, checks } = parts;
  const body: Status = {
    identity,
    stats: {
      net: {
        ignore: stats.net.ignore,
        'send-announce': stats.net['send-announce'],
        'recv-announce': stats.net['recv-announce'],
      },
      'state-changes': stats['state-changes'],
      ...(stats.rejected ? { rejected: stats.rejected } : {}),
    },
    config: { version: config.version, vips: config.vips, nodes: config.nodes },
    state: {
      mature: state.mature,
      active: state.active,
      inactive_reason: state.inactive_reason,
      ownership: state.ownership,
    },
  };
  if (quorum) body.quorum = quorum;
  if (peers) body.peers = peers;
  if (held) body.held = held;
  if (scripts) body.scripts = scripts;
  if (announce) body.announce = announce;
  if (ineligible) body.ineligible = ineligible;
  if (checks) body.checks = checks;
  return body;
}

/** Core's index-based ownership → vippy's map of group arrays (`vips` in config order). */
export function statusOwnership(ownership: Ownership, vips: readonly StatusGroup[]): Record<string, StatusGroup[]> {
  const result: Record<string, StatusGroup[]> = {};
  for (const [node, groups] of Object.entries(ownership)) {
    result[node] = groups.map((index) => {
      const group = vips[index];
      if (!group) throw new RangeError(`ownership of ${node} names group ${index}, but the config has ${vips.length} groups`);
      return group;
    });
  }
  return result;
}
