// The three objects plugins see, with the original vippy's names, methods, events and argument
// shapes (reference/vippy.md §2, §3, §7). They are views over the daemon: methods read its state
// or send core an event; the daemon emits the events, with arguments built here from core's
// index-based values: groups as the config writes them (the normalised `{ip, netmask, broadcast,
// network, name, state}` objects, the preferred node's name first), announcements with the
// original's fields.

import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { parseCidr, vipAddress } from '../config/addresses.js';
import { statusVip, vippyStatusConfig, type StatusAddress, type StatusConfig } from '../control/status.js';
import type { ClusterConfig, SyslogLevel, VipAddress } from '../config/model.js';
import type { Announcement, ArpEntry, Ownership } from '../core/types.js';
import { maskBits } from '../control/format.js';
import type { RejectReason } from '../wire/codec.js';

/** vippy's normalized interface object: {ip, netmask, broadcast, network, name, state} or {ip, prefixlen, name, state}. */
export type VippyIface = StatusAddress;

/** A group as the original's config.vips() gave it: the preferred node's name first when there is one. */
export type VippyGroup = StatusConfig['vips'][number];

export const vippyIface = (address: VipAddress): VippyIface => statusVip(address);

/** A plugin's iface object (as the events give it, or written by hand) → the address to plumb. */
export function ifaceAddress(iface: unknown): VipAddress {
  const { ip, netmask, prefixlen, name, state } = (iface ?? {}) as Record<string, unknown>;
  if (typeof ip !== 'string' || typeof name !== 'string') throw new TypeError('iface needs "ip" and "name" (the interface)');
  const bits = typeof prefixlen === 'number' ? prefixlen : typeof netmask === 'string' ? maskBits(netmask) : undefined;
  const address = parseCidr(bits === undefined ? ip : `${ip}/${bits}`);
  if (address === undefined) throw new TypeError(`iface ${JSON.stringify(iface)} is not an address`);
  return vipAddress(name, address, typeof state === 'string' ? state : undefined);
}

/** What the facades need from the daemon. */
export interface DaemonView {
  readonly self: string;
  config(): ClusterConfig;
  health(): { mature: boolean; active: boolean; inactiveReason: string | null };
  setHealth(reason: string, ok: boolean): void;
  ownership(): Ownership;
  arpCache(): ArpEntry[];
  /** One node's own neighbour table as this node knows it (its scan, or a peer's shared slices). */
  nodeArpTable(node: string): ArpEntry[];
  /** Wall-clock milliseconds of the last config change (start, reload, adoption). */
  generation(): number;
  log(level: SyslogLevel, message: string): void;
  /** network.up/down from a plugin: the kernel at once, as the original's ife did. */
  setAddress(address: VipAddress, up: boolean): { ok: boolean; error?: string };
  /** network.shutdown(): release everything and stop, as a SIGTERM does. */
  shutdown(): void;
}

/** The original's announcement hash: SHA-256 over version, groups, nodes, secret and nonce (reference §3). */
export function announcementHash(version: number, vips: readonly VippyGroup[], nodes: readonly string[], secret: string, nonce: string): string {
  const entry = (element: VippyGroup[number]) => (typeof element === 'string' ? element : 'ip' in element ? element.ip : element.point);
  const groups = vips.map((group) => group.map(entry).join(',')).join('\n');
  return createHash('sha256').update(`${version}\n${groups}\n${nodes.join('|')}\n${secret}\n${nonce}`).digest('hex');
}

/**
 * An announcement as the original's send-announce / recv-announce gave it: me, active, version,
 * vips, nodes, hash, nonce, arpcache (in that order), then this rebuild's own fields. vips and
 * nodes are this node's config (the original only accepted announcements whose hash matched it);
 * same_config says whether the sender's config really is the same.
 */
export interface VippyAnnouncement {
  me: string;
  active: boolean;
  version: number;
  vips: VippyGroup[];
  nodes: string[];
  hash: string;
  nonce: string;
  arpcache: Record<string, string>;
  inactive_reason: string | null;
  leaving: boolean;
  /** The sender's held groups, as in vips. */
  held: VippyGroup[];
  same_config: boolean;
}

export function vippyAnnouncement(config: ClusterConfig, announcement: Announcement, arpTable: readonly ArpEntry[]): VippyAnnouncement {
  const { vips, nodes } = vippyStatusConfig(config);
  const nonce = randomBytes(32).toString('hex');
  return {
    me: announcement.node,
    active: announcement.active,
    version: announcement.version,
    vips,
    nodes,
    hash: announcementHash(config.version, vips, nodes, config.secret, nonce),
    nonce,
    arpcache: Object.fromEntries(arpTable.map((entry) => [entry.ip, entry.mac])),
    inactive_reason: announcement.inactiveReason,
    leaving: announcement.leaving,
    held: announcement.fingerprint === config.fingerprint ? groupsAt(vips, announcement.held) : [],
    same_config: announcement.fingerprint === config.fingerprint,
  };
}

function groupsAt(vips: readonly VippyGroup[], indices: readonly number[]): VippyGroup[] {
  return indices.map((i) => vips[i]).filter((group): group is VippyGroup => group !== undefined);
}

/**
 * The original's ignore reasons where the cause is the same: 'hash' for a datagram signed with
 * another secret, 'node' for a sender that is not in `nodes`; this rebuild's reason otherwise.
 */
export function ignoreReason(reason: RejectReason): string {
  if (reason === 'bad-mac' || reason === 'unknown-key') return 'hash';
  if (reason === 'unknown-node') return 'node';
  return reason;
}

/** Emits send-announce, recv-announce, ignore, config-change, stop. */
export class VippyConfig extends EventEmitter {
  private readonly pluginList: string[];

  constructor(private readonly daemon: DaemonView, plugins: readonly string[] = []) {
    super();
    this.pluginList = [...plugins];
  }

  /** active(): the node's state; active(ok, reason): latch one health reason ("administrative" by default). */
  active(ok?: boolean, reason?: string): boolean {
    if (ok !== undefined) this.daemon.setHealth(reason || 'administrative', Boolean(ok));
    return this.daemon.health().active;
  }

  inactive_reason(): string | null {
    return this.daemon.health().inactiveReason;
  }

  mature(): boolean {
    return this.daemon.health().mature;
  }

  /** When the config last changed (ms since the epoch); mature() counts `mature` seconds from it. */
  generation(): number {
    return this.daemon.generation();
  }

  /** Seconds without an announcement after which a peer is stale. */
  stale(): number {
    return this.daemon.config().timing.staleMs / 1000;
  }

  log(level: SyslogLevel, message: string): void {
    this.daemon.log(level, message);
  }

  /** The node name this daemon runs as (`-n`, or a flip file's `id`). */
  hostname(): string {
    return this.daemon.self;
  }

  node(): string {
    return this.daemon.self;
  }

  version(): number {
    return this.daemon.config().version;
  }

  vips(): VippyGroup[] {
    return vippyStatusConfig(this.daemon.config()).vips;
  }

  nodes(): string[] {
    return vippyStatusConfig(this.daemon.config()).nodes;
  }

  /** As configured, normalised as the original did: "arp-cache", and networks as iface objects. */
  notify(): Array<'arp-cache' | VippyIface> {
    return this.daemon.config().notify.map((target) =>
      target.kind === 'arp-cache'
        ? 'arp-cache'
        : statusVip(vipAddress(target.interface, { ip: target.network, family: target.family, prefixLength: target.prefixLength }, undefined)),
    );
  }

  management_socket(): string {
    return this.daemon.config().management.path;
  }

  /** The plugin files: the config's `plugins`, then the `-p` ones. */
  plugins(): string[] {
    return this.pluginList;
  }

  /** Adds a file to plugins() (it does not load it, as in the original). */
  add_plugin(file: string): void {
    this.pluginList.push(file);
  }
}

/** Emits state-change(ownership, previous), up(iface) and down(iface) — intentions. */
export class VippyManager extends EventEmitter {
  /** The original placed nothing before its config first matured. */
  private placing = false;

  constructor(private readonly daemon: DaemonView) {
    super();
  }

  /** The ownership map: "_" and each active node → its groups as config.vips() gives them; {} until the node first matures. */
  state(): Record<string, VippyGroup[]> {
    if (!this.placing && !(this.placing = this.daemon.health().mature)) return {};
    return this.groupsOf(this.daemon.ownership());
  }

  /** Core's index-based ownership → the original's map of groups. */
  groupsOf(ownership: Ownership): Record<string, VippyGroup[]> {
    const { vips } = vippyStatusConfig(this.daemon.config());
    const named: Record<string, VippyGroup[]> = {};
    for (const [node, indices] of Object.entries(ownership)) named[node] = groupsAt(vips, indices);
    return named;
  }

  /** The cluster's merged ARP cache as { ip: mac }. */
  arpcache(): Record<string, string> {
    return Object.fromEntries(this.daemon.arpCache().map((e) => [e.ip, e.mac]));
  }
}

/**
 * Emits up(ok, iface) and down(ok, iface) — results. up(iface) and down(iface) act on the kernel
 * at once, as the original's did (vippyd's own reconciliation still keeps configured VIPs where
 * the placement puts them); shutdown() releases everything and stops the daemon.
 */
export class VippyNetwork extends EventEmitter {
  constructor(private readonly daemon: DaemonView) {
    super();
  }

  up(iface: unknown): boolean {
    return this.set(iface, true);
  }

  down(iface: unknown): boolean {
    return this.set(iface, false);
  }

  shutdown(): void {
    this.daemon.log('notice', 'shutting down');
    this.daemon.shutdown();
  }

  private set(iface: unknown, up: boolean): boolean {
    const address = ifaceAddress(iface);
    const result = this.daemon.setAddress(address, up);
    if (!result.ok) this.daemon.log('crit', `if_${up ? 'up' : 'down'}(${address.interface}/${address.ip}) failed: ${result.error}`);
    this.emit(up ? 'up' : 'down', result.ok, iface);
    return result.ok;
  }
}
