// The reconciler makes the kernel's addresses match what core decided: it plumbs a group's
// addresses all-or-nothing, releases them, and (on netlink events and on a timer) repairs drift:
// a held address deleted by hand comes back, a configured address this node does not hold goes.
// It only ever touches addresses that appear in the config.
//
// Leases (timing.leaseSeconds > 0): held addresses carry a kernel lifetime that is renewed on
// every check() and on a timer well inside the lease, so the addresses of a killed or frozen
// daemon expire by themselves instead of staying on two hosts after a peer takes over.
//
// Routed groups (docs/routed.md): the addresses go on the dummy link vippyd owns (announce.interface,
// created by prepare()) as host addresses, and with announce.table also as routes in that table
// under vippyd's protocol number; the host's routing daemon exports either. An IPv4 route names
// its address as source, so the kernel deletes it with the address when a lease runs out; an
// IPv6 route carries the lease as its own expiry.

import ipaddr from 'ipaddr.js';
import type { AddressRequest, InterfaceAddress, NativeApi, NetEvent, NetInterface, RouteRequest } from '../../bindings/types.js';
import type { ClusterConfig, VipAddress, VipGroup } from '../config/model.js';
import type { FenceListener } from './fence.js';
import { describeError, type AgentLogger } from '../log/logger.js';

/** Shaped like core's 'apply-result' event: held = what was asked (true: plumb, false: release). */
export interface ApplyResult {
  group: number;
  held: boolean;
  ok: boolean;
  error?: string;
}

export interface Drift {
  group: number;
  address: string;
  interface: string;
  error?: string;
}

export interface CheckReport {
  /** Held addresses that were missing and are back. */
  restored: Drift[];
  /** Configured addresses of groups not held here that were present and are gone. */
  removed: Drift[];
  /** Repairs that failed (error set). */
  failed: Drift[];
}

export interface CarrierState {
  interface: string;
  up: boolean;
}

export type ReconcilerNative = Pick<
  NativeApi,
  'listInterfaces' | 'listAddresses' | 'ensureAddress' | 'ensureNoAddress' | 'ensureDummyLink' | 'ensureRoute' | 'ensureNoRoute' | 'listRoutes'
>;

export interface ReconcilerOptions {
  native: ReconcilerNative;
  config: ClusterConfig;
  log: AgentLogger;
  /** Carrier of an interface that carries VIPs changed (feed core a 'carrier' event). */
  onCarrier?: (state: CarrierState) => void;
  /**
   * Runs at the start of every check(), before anything is renewed or restored. The daemon steps
   * core here: after a freeze longer than stale, core must release everything before an address
   * whose lease expired meanwhile is restored (a renewal timer or a netlink event may come
   * before core's own wake-up).
   */
  beforeCheck?: () => void;
  /** Told of every address before it is added and after it is removed (the fence keeper). */
  fence?: FenceListener;
}

const IFNAMSIZ_CHARS = 15;

/** "<if>:vip" when it fits the kernel's 15-character label limit, else no label. */
export function vipLabel(ifname: string): string | undefined {
  const label = `${ifname}:vip`;
  return label.length <= IFNAMSIZ_CHARS ? label : undefined;
}

export function addressRequest(vip: VipAddress): AddressRequest {
  const req: AddressRequest = { interface: vip.interface, address: vip.ip, prefixLength: vip.prefixLength };
  if (vip.family === 4) {
    const label = vipLabel(vip.interface);
    if (label) req.label = label;
    // /31 and /32 have no broadcast address (RFC 3021).
    if (vip.prefixLength < 31) req.broadcast = vip.broadcast ?? '+';
  }
  return req;
}

/** Identity of an address on a link: interface, canonical IP text, prefix length. */
export function addressKey(ifname: string, ip: string, prefixLength: number): string {
  return `${ifname}|${ipaddr.parse(ip).toString()}/${prefixLength}`;
}

const vipKey = (a: VipAddress) => addressKey(a.interface, a.ip, a.prefixLength);
const routeKey = (ip: string, prefixLength: number) => `${ipaddr.parse(ip).toString()}/${prefixLength}`;
const isRouted = (group: VipGroup) => group.announce === 'routed';

/** Renew at least three times per lease (so two late renewals in a row still keep it) and once a second. */
export function renewalPeriodMs(leaseSeconds: number): number {
  return Math.min((leaseSeconds * 1000) / 3, 1000);
}
const carrierOf = (link: Pick<NetInterface, 'up' | 'lowerUp'>) => link.up && link.lowerUp;

export class Reconciler {
  private readonly native: ReconcilerNative;
  private readonly log: AgentLogger;
  private readonly onCarrier?: (state: CarrierState) => void;
  private readonly beforeCheck?: () => void;
  private readonly fence?: FenceListener;
  private config: ClusterConfig;
  /** Groups this node should hold, by index. */
  private readonly held = new Map<number, VipGroup>();
  /** Until core's first decision there is no desired state to enforce. */
  private decided = false;
  private carrier = new Map<string, boolean>();
  private configuredKeys = new Set<string>();
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(options: ReconcilerOptions) {
    this.native = options.native;
    this.log = options.log;
    this.onCarrier = options.onCarrier;
    this.beforeCheck = options.beforeCheck;
    this.fence = options.fence;
    this.config = options.config;
    this.indexConfig();
  }

  /**
   * Plumb one group: every address or none (the ones added by this attempt are rolled back).
   * The caller logs the outcome (one line per plumb: the daemon on success, core on failure).
   */
  plumb(index: number): ApplyResult {
    const group = this.config.groups[index];
    if (!group) return { group: index, held: true, ok: false, error: `no group ${index} in the config` };
    this.decided = true;
    const added: AddressRequest[] = [];
    const addedRoutes: RouteRequest[] = [];
    for (const vip of group.addresses) {
      const req = this.request(vip);
      const route = this.routeRequest(group, vip);
      try {
        if (this.add(req)) added.push(req);
        // After the address: an IPv4 route's source must be local already.
        if (route !== undefined && this.native.ensureRoute(route)) addedRoutes.push(route);
      } catch (err) {
        const error = `${vip.ip}/${vip.prefixLength} on ${vip.interface}${route ? ` (table ${route.table})` : ''}: ${describeError(err)}`;
        this.rollback(index, added, addedRoutes);
        return { group: index, held: true, ok: false, error };
      }
    }
    this.held.set(index, group);
    this.scheduleRenewal();
    return { group: index, held: true, ok: true };
  }

  /** Release one group: remove each address (best effort; every failure is reported). */
  unplumb(index: number): ApplyResult {
    const group = this.held.get(index) ?? this.config.groups[index];
    if (!group) return { group: index, held: false, ok: false, error: `no group ${index} in the config` };
    this.decided = true;
    this.held.delete(index);
    this.scheduleRenewal();
    const errors = this.removeAll(group, group.addresses);
    if (errors.length > 0) return { group: index, held: false, ok: false, error: errors.join('; ') };
    return { group: index, held: false, ok: true };
  }

  /** Hold exactly these groups: release the others held now, plumb the new ones. */
  apply(groupsToHold: readonly VipGroup[]): ApplyResult[] {
    this.decided = true;
    const wanted = new Set(groupsToHold.map((g) => g.index));
    const results: ApplyResult[] = [];
    for (const index of [...this.held.keys()]) if (!wanted.has(index)) results.push(this.unplumb(index));
    for (const group of groupsToHold) if (!this.held.has(group.index)) results.push(this.plumb(group.index));
    return results;
  }

  /** Whether an address event is about one of the config's VIPs. */
  isConfiguredAddress(event: Pick<InterfaceAddress, 'interface' | 'address' | 'prefixLength'>): boolean {
    return this.configuredKeys.has(addressKey(event.interface, event.address, event.prefixLength));
  }

  /** What this node announces for a group: its addresses where plumbed, and its routes (nothing unless held). */
  announced(index: number): string[] {
    const group = this.held.get(index);
    if (group === undefined) return [];
    return group.addresses.flatMap((vip) => {
      const route = this.routeRequest(group, vip);
      const address = `${vip.ip}/${vip.prefixLength} on ${vip.interface}`;
      return route === undefined ? [address] : [address, `${vip.ip}/${vip.prefixLength} in table ${route.table} (protocol ${route.protocol})`];
    });
  }

  /** Indices of the groups currently held (plumbed successfully and not released). */
  heldGroups(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /**
   * Compare the kernel with the desired state and repair it; with leases, also renew the lease
   * of every held address. Does nothing before the first plumb/unplumb/apply: at start-up the
   * addresses already present are reconciled only once core has computed who holds what (so a
   * restart does not drop a VIP it is about to keep).
   */
  check(): CheckReport {
    this.beforeCheck?.();
    return this.repair(this.leaseSeconds() > 0);
  }

  /** check(), renewing present held addresses too when `renew` (else only missing ones are plumbed). */
  private repair(renew: boolean): CheckReport {
    const report: CheckReport = { restored: [], removed: [], failed: [] };
    if (!this.decided) return report;
    const present = new Set(this.native.listAddresses().map((a) => addressKey(a.interface, a.address, a.prefixLength)));
    const heldKeys = this.heldKeys();
    const routes = this.presentRoutes();
    for (const [index, group] of this.held) {
      for (const vip of group.addresses) {
        const route = this.routeRequest(group, vip);
        if (route !== undefined) this.repairRoute(index, vip, route, routes, renew, report);
        const missing = !present.has(vipKey(vip));
        if (!missing && !renew) continue;
        const drift: Drift = { group: index, address: `${vip.ip}/${vip.prefixLength}`, interface: vip.interface };
        try {
          // true also when it vanished between the dump and this request.
          if (this.add(this.request(vip)) || missing) {
            report.restored.push(drift);
            this.log.warn(drift, 'held address was missing; restored');
          }
        } catch (err) {
          report.failed.push({ ...drift, error: describeError(err) });
          this.log.error({ ...drift, error: describeError(err) }, missing ? 'restoring a held address failed' : 'renewing the lease of a held address failed; retrying');
        }
      }
    }
    if (renew) this.scheduleRenewal();
    for (const group of this.config.groups) {
      if (this.held.has(group.index)) continue;
      for (const vip of group.addresses) {
        const route = this.routeRequest(group, vip);
        if (route !== undefined && routes.has(routeKey(vip.ip, vip.prefixLength))) {
          const drift: Drift = { group: group.index, address: `${vip.ip}/${vip.prefixLength}`, interface: `${vip.interface} table ${route.table}` };
          try {
            this.native.ensureNoRoute(route);
            report.removed.push(drift);
            this.log.warn(drift, 'route of a group not held here was present; removed');
          } catch (err) {
            report.failed.push({ ...drift, error: describeError(err) });
            this.log.error({ ...drift, error: describeError(err) }, 'removing a stray route failed');
          }
        }
        if (!present.has(vipKey(vip)) || heldKeys.has(vipKey(vip))) continue;
        const drift: Drift = { group: group.index, address: `${vip.ip}/${vip.prefixLength}`, interface: vip.interface };
        try {
          this.remove(addressRequest(vip));
          report.removed.push(drift);
          this.log.warn(drift, 'address of a group not held here was present; removed');
        } catch (err) {
          report.failed.push({ ...drift, error: describeError(err) });
          this.log.error({ ...drift, error: describeError(err) }, 'removing a stray configured address failed');
        }
      }
    }
    return report;
  }

  /**
   * Feed netlink events: carrier changes of VIP interfaces go to onCarrier; an address event that
   * contradicts the desired state (a held address deleted, a configured address not held here
   * added) or an overrun triggers check(). Returns the check's report if one ran. A held address
   * announced as new is no drift: every lease renewal echoes that way, and rechecking on it would
   * renew again, endlessly.
   */
  onNetEvents(events: readonly NetEvent[]): CheckReport | undefined {
    let recheck = false;
    let heldKeys: Set<string> | undefined;
    for (const event of events) {
      if (event.type === 'link') {
        this.noteCarrier(event.name, event.action === 'new' && carrierOf(event));
        // The dummy link was deleted by hand: make it again (its addresses come back with the check).
        if (event.action === 'delete' && event.name === this.config.routed?.interface && this.hasRoutedGroups()) {
          recheck = this.prepare() === undefined || recheck;
        }
      } else if (event.type === 'address') {
        const key = addressKey(event.interface, event.address, event.prefixLength);
        if (!this.configuredKeys.has(key)) continue;
        heldKeys ??= this.heldKeys();
        recheck ||= (event.action === 'new') !== heldKeys.has(key);
      } else if (event.type === 'overrun') {
        recheck = true;
        this.rescanCarrier();
      }
    }
    return recheck ? this.check() : undefined;
  }

  /** Carrier of every interface that carries VIPs (missing interfaces count as down). */
  carriers(): CarrierState[] {
    return [...this.carrier].map(([name, up]) => ({ interface: name, up }));
  }

  /**
   * Adopt a new config (reload or graduation): a held group stays held only if the new config
   * has the same addresses at the same index; otherwise it is released and core decides again.
   * Carrier tracking follows the new set of interfaces (read carriers() afterwards).
   */
  setConfig(config: ClusterConfig): ApplyResult[] {
    const results: ApplyResult[] = [];
    // A held group survives when the new config has a group with exactly its addresses, possibly
    // at another index (core remaps its held set the same way); the others are removed.
    // A routed group's identity includes where its routes go, so a changed table moves them.
    const identity = (group: VipGroup, config: ClusterConfig) => {
      const addresses = group.addresses.map(vipKey).sort().join();
      const routed = config.routed;
      return isRouted(group) && routed?.table !== undefined ? `${addresses}|table ${routed.table} proto ${routed.protocol}` : addresses;
    };
    const nextByIdentity = new Map(config.groups.map((group) => [identity(group, config), group]));
    const previous = [...this.held];
    this.held.clear();
    for (const [index, group] of previous) {
      const next = nextByIdentity.get(identity(group, this.config));
      if (next !== undefined) {
        this.held.set(next.index, next);
        continue;
      }
      // Removed under the old config's settings (its table), before switching.
      const errors = this.removeAll(group, group.addresses);
      results.push({ group: index, held: false, ok: errors.length === 0, ...(errors.length ? { error: errors.join('; ') } : {}) });
    }
    const leaseBefore = this.leaseSeconds();
    this.config = config;
    if (this.hasRoutedGroups()) {
      const error = this.prepare();
      if (error !== undefined) this.log.error({ interface: config.routed?.interface, error }, 'making the dummy link for routed groups failed');
    }
    this.indexConfig();
    // A changed lease applies at once (lease → off makes the held addresses permanent).
    if (this.leaseSeconds() !== leaseBefore) this.repair(true);
    this.scheduleRenewal();
    return results;
  }

  /** Remove every configured address that is present (clean stop): one result per group touched. */
  releaseAll(): ApplyResult[] {
    this.held.clear();
    this.scheduleRenewal();
    const present = new Set(this.native.listAddresses().map((a) => addressKey(a.interface, a.address, a.prefixLength)));
    const routes = this.presentRoutes();
    const results: ApplyResult[] = [];
    for (const group of this.config.groups) {
      const there = group.addresses.filter((a) => present.has(vipKey(a)) || (isRouted(group) && routes.has(routeKey(a.ip, a.prefixLength))));
      if (there.length === 0) continue;
      const errors = this.removeAll(group, there);
      results.push({ group: group.index, held: false, ok: errors.length === 0, ...(errors.length ? { error: errors.join('; ') } : {}) });
    }
    return results;
  }

  private leaseSeconds(): number {
    return this.config.timing.leaseSeconds ?? 0;
  }

  private hasRoutedGroups(): boolean {
    return this.config.groups.some(isRouted);
  }

  /**
   * Makes the dummy link routed groups are plumbed on (when the config has any) and sets it up.
   * Returns an error text instead of throwing; the daemon refuses to start on one.
   */
  prepare(): string | undefined {
    const name = this.config.routed?.interface;
    if (name === undefined || !this.hasRoutedGroups()) return undefined;
    try {
      const { created, kind } = this.native.ensureDummyLink(name);
      if (created) this.log.info({ interface: name, kind }, kind === 'dummy' ? 'dummy link for routed groups created' : 'this kernel has no dummy driver: ifb link for routed groups created');
      this.rescanCarrier(false);
      return undefined;
    } catch (err) {
      return `announce.interface "${name}": ${describeError(err)}`;
    }
  }

  /** The route a routed address also gets with announce.table; undefined otherwise. */
  private routeRequest(group: VipGroup, vip: VipAddress): RouteRequest | undefined {
    const routed = this.config.routed;
    if (!isRouted(group) || routed?.table === undefined) return undefined;
    const lease = this.leaseSeconds();
    return {
      destination: vip.ip,
      prefixLength: vip.prefixLength,
      interface: vip.interface,
      table: routed.table,
      protocol: routed.protocol,
      ...(vip.family === 4 ? { source: vip.ip } : lease > 0 ? { expiresSeconds: lease } : {}),
    };
  }

  /** Destinations of vippyd's routes (its protocol) in announce.table; empty without one. */
  private presentRoutes(): Set<string> {
    const routed = this.config.routed;
    if (routed?.table === undefined || !this.hasRoutedGroups()) return new Set();
    return new Set(this.native.listRoutes(routed.table)
      .filter((route) => route.protocol === routed.protocol)
      .map((route) => routeKey(route.destination, route.prefixLength)));
  }

  private repairRoute(index: number, vip: VipAddress, route: RouteRequest, present: ReadonlySet<string>, renew: boolean, report: CheckReport): void {
    const missing = !present.has(routeKey(vip.ip, vip.prefixLength));
    // IPv4 routes have no lifetime of their own (they go with their source address): nothing to renew.
    if (!missing && !(renew && route.expiresSeconds !== undefined)) return;
    const drift: Drift = { group: index, address: `${vip.ip}/${vip.prefixLength}`, interface: `${vip.interface} table ${route.table}` };
    try {
      // An IPv4 route needs its source address: plumb a missing address before the route.
      if (missing && vip.family === 4) this.add(this.request(vip));
      if (this.native.ensureRoute(route) || missing) {
        report.restored.push(drift);
        this.log.warn(drift, 'held route was missing; restored');
      }
    } catch (err) {
      report.failed.push({ ...drift, error: describeError(err) });
      this.log.error({ ...drift, error: describeError(err) }, missing ? 'restoring a held route failed' : 'renewing the expiry of a held route failed; retrying');
    }
  }

  /** What plumbing a held address asks for: with a lease, its lifetime; without, permanent (also for an existing address). */
  private request(vip: VipAddress): AddressRequest {
    const lease = this.leaseSeconds();
    return { ...addressRequest(vip), lifetimeSeconds: lease > 0 ? lease : Infinity };
  }

  private heldKeys(): Set<string> {
    return new Set([...this.held.values()].flatMap((group) => group.addresses.map(vipKey)));
  }

  /**
   * (Re)arms the renewal timer while leased addresses are held: it runs check(), which renews
   * every held lease and re-arms it, so a daemon's own checks push it back. Unref'd: it never
   * keeps a process alive by itself.
   */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    if (this.held.size === 0 || this.leaseSeconds() === 0) return;
    this.renewTimer = setTimeout(() => this.check(), renewalPeriodMs(this.leaseSeconds())).unref();
  }

  /** The only way an address is added: the fence hears of it first. */
  private add(req: AddressRequest): boolean {
    this.fence?.hold(req);
    return this.native.ensureAddress(req);
  }

  /** The only way an address is removed; the fence forgets it once it is gone. */
  private remove(req: AddressRequest): boolean {
    const removed = this.native.ensureNoAddress(req);
    this.fence?.drop(req);
    return removed;
  }

  private removeAll(group: VipGroup, addresses: readonly VipAddress[]): string[] {
    const errors: string[] = [];
    for (const vip of addresses) {
      // Route first: the routing daemon withdraws at once, whatever it exports.
      const route = this.routeRequest(group, vip);
      try {
        if (route !== undefined) this.native.ensureNoRoute(route);
      } catch (err) {
        errors.push(`${vip.ip}/${vip.prefixLength} in table ${route?.table}: ${describeError(err)}`);
      }
      try {
        this.remove(addressRequest(vip));
      } catch (err) {
        errors.push(`${vip.ip}/${vip.prefixLength} on ${vip.interface}: ${describeError(err)}`);
      }
    }
    return errors;
  }

  private rollback(index: number, added: readonly AddressRequest[], addedRoutes: readonly RouteRequest[]): void {
    for (const route of addedRoutes) {
      try {
        this.native.ensureNoRoute(route);
      } catch (err) {
        this.log.error({ group: index, address: route.destination, table: route.table, error: describeError(err) }, 'rollback failed: route left behind');
      }
    }
    for (const req of added) {
      try {
        this.remove(req);
      } catch (err) {
        this.log.error({ group: index, address: req.address, interface: req.interface, error: describeError(err) }, 'rollback failed: address left behind');
      }
    }
  }

  private indexConfig(): void {
    this.configuredKeys = new Set(this.config.groups.flatMap((g) => g.addresses.map(vipKey)));
    const names = new Set(this.config.groups.flatMap((g) => g.addresses.map((a) => a.interface)));
    this.carrier = new Map([...names].map((name) => [name, this.carrier.get(name) ?? false]));
    this.rescanCarrier(false);
  }

  private rescanCarrier(report = true): void {
    const links = new Map(this.native.listInterfaces().map((l) => [l.name, l]));
    for (const name of this.carrier.keys()) {
      const link = links.get(name);
      const up = link !== undefined && carrierOf(link);
      if (report) this.noteCarrier(name, up);
      else this.carrier.set(name, up);
    }
  }

  private noteCarrier(name: string, up: boolean): void {
    const before = this.carrier.get(name);
    if (before === undefined || before === up) return;
    this.carrier.set(name, up);
    this.log.warn({ interface: name, carrier: up }, up ? 'carrier back on a VIP interface' : 'carrier lost on a VIP interface');
    this.onCarrier?.({ interface: name, up });
  }
}
