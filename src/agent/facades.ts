// The three objects plugins see, with the original vippy's names, methods and events
// (reference/vippy.md §7). They are views over the daemon: methods read its state or send
// core an event; the daemon emits the events.

import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { ClusterConfig, SyslogLevel, VipAddress } from '../config/model.js';
import type { ArpEntry, Ownership } from '../core/types.js';

/** vippy's normalized interface object: {ip, netmask, broadcast, network, name, state} or {ip, prefixlen, name, state}. */
export type VippyIface =
  | { ip: string; netmask: string; broadcast: string; network: string; name: string; state?: string }
  | { ip: string; prefixlen: number; name: string; state?: string };

export function vippyIface(address: VipAddress): VippyIface {
  if (address.family === 6) return { ip: address.ip, prefixlen: address.prefixLength, name: address.interface, state: address.state };
  return {
    ip: address.ip,
    netmask: address.netmask ?? '',
    broadcast: address.broadcast ?? '',
    network: address.network ?? '',
    name: address.interface,
    state: address.state,
  };
}

/** What the facades need from the daemon. */
export interface DaemonView {
  readonly self: string;
  config(): ClusterConfig;
  health(): { mature: boolean; active: boolean; inactiveReason: string | null };
  setHealth(reason: string, ok: boolean): void;
  ownership(): Ownership;
  arpCache(): ArpEntry[];
  log(level: SyslogLevel, message: string): void;
}

/** Emits send-announce, recv-announce, ignore, config-change, stop. */
export class VippyConfig extends EventEmitter {
  constructor(private readonly daemon: DaemonView) {
    super();
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

  log(level: SyslogLevel, message: string): void {
    this.daemon.log(level, message);
  }

  hostname(): string {
    return os.hostname();
  }

  node(): string {
    return this.daemon.self;
  }

  version(): number {
    return this.daemon.config().version;
  }

  vips(): Array<Array<string | VippyIface>> {
    return this.daemon.config().groups.map((group) => [
      ...(group.preferred ? [group.preferred] : []),
      ...group.addresses.map(vippyIface),
    ]);
  }

  nodes(): string[] {
    return this.daemon.config().nodes.map((node) => node.name);
  }

  notify(): ClusterConfig['notify'] {
    return this.daemon.config().notify;
  }
}

/** Emits state-change(ownership, previous), up(iface) and down(iface) — intentions. */
export class VippyManager extends EventEmitter {
  constructor(private readonly daemon: DaemonView) {
    super();
  }

  /** The ownership map with groups as vippy printed them (their address lists). */
  state(): Record<string, string[][]> {
    const groups = this.daemon.config().groups;
    const named: Record<string, string[][]> = {};
    for (const [node, indices] of Object.entries(this.daemon.ownership())) {
      named[node] = indices.map((i) => groups[i]?.addresses.map((a) => a.ip) ?? []);
    }
    return named;
  }

  /** The cluster's merged ARP cache as { ip: mac }. */
  arpcache(): Record<string, string> {
    return Object.fromEntries(this.daemon.arpCache().map((e) => [e.ip, e.mac]));
  }
}

/** Emits up(ok, iface) and down(ok, iface) — results. */
export class VippyNetwork extends EventEmitter {}
