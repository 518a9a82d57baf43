// An in-memory stand-in for the native addon (bindings/types.ts), for unit tests of the agent's
// kernel-facing classes and for the simulator: links, addresses and neighbours are plain lists,
// netlink events go to the watchers at once, and frames sent are recorded. Failures are
// injected per operation (`failNext`) with the errno the kernel would give.

import type { AddressRequest, Family, FrameSender, InterfaceAddress, NativeApi, NativeError, Neighbour, NetEvent, NetInterface, Route, RouteRequest, Watcher } from '../../bindings/types.js';

export type SentFrame =
  | { kind: 'garp'; ifindex: number; ip: string; form: 'request' | 'reply' }
  | { kind: 'arp-reply'; ifindex: number; ip: string; targetIp: string; targetMac: string }
  | { kind: 'na'; ifindex: number; ip: string };

type Operation = 'addAddress' | 'deleteAddress' | 'ensureAddress' | 'ensureNoAddress' | 'listAddresses' | 'listNeighbours' | 'send';

export function nativeError(code: string, syscall: string, detail: Partial<NativeError> = {}): NativeError {
  const errnos: Record<string, number> = { EPERM: 1, ENODEV: 19, EEXIST: 17, EADDRNOTAVAIL: 99, ENOBUFS: 105, ETIMEDOUT: 110 };
  return Object.assign(new Error(`${syscall} failed (${code})`), { code, errno: errnos[code] ?? 0, syscall, ...detail });
}

export class FakeNative implements NativeApi {
  readonly links: NetInterface[] = [];
  readonly addresses: InterfaceAddress[] = [];
  readonly neighbours: Neighbour[] = [];
  readonly frames: SentFrame[] = [];
  readonly routes: Route[] = [];
  private readonly watchers = new Set<(events: NetEvent[]) => void>();
  private readonly failures: { operation: Operation; error: NativeError; times: number }[] = [];

  constructor(links: readonly string[] = ['eth0']) {
    for (const name of links) this.addLink(name);
  }

  addLink(name: string): NetInterface {
    const index = this.links.reduce((max, l) => Math.max(max, l.index), 1) + 1;
    const mac = `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`;
    const link: NetInterface = { name, index, mac, mtu: 1500, flags: 0x11043, up: true, running: true, lowerUp: true };
    this.links.push(link);
    return link;
  }

  /** The next `times` calls of `operation` throw `error` (ENODEV, EPERM, ...). */
  failNext(operation: Operation, code: string, times = 1): void {
    this.failures.push({ operation, error: nativeError(code, operation), times });
  }

  setCarrier(name: string, up: boolean): void {
    const link = this.link(name);
    link.lowerUp = up;
    link.running = up;
    this.emit([{ type: 'link', action: 'new', index: link.index, name, mac: link.mac, flags: link.flags, up: link.up, running: link.running, lowerUp: link.lowerUp }]);
  }

  /** Someone ran `ip addr del`: the address goes, and watchers hear of it. */
  deleteByHand(address: string): void {
    const at = this.addresses.findIndex((a) => a.address === address);
    if (at < 0) throw new Error(`fake native: ${address} is not present`);
    const [gone] = this.addresses.splice(at, 1);
    this.emit([{ type: 'address', action: 'delete', ...gone! }]);
  }

  has(address: string, ifname?: string): boolean {
    return this.addresses.some((a) => a.address === address && (ifname === undefined || a.interface === ifname));
  }

  listInterfaces(): NetInterface[] {
    return this.links.map((l) => ({ ...l }));
  }

  listAddresses(family?: Family): InterfaceAddress[] {
    this.maybeFail('listAddresses');
    return this.addresses.filter((a) => family === undefined || a.family === family).map((a) => ({ ...a }));
  }

  addAddress(req: AddressRequest): void {
    this.maybeFail('addAddress');
    if (this.find(req) !== undefined) throw nativeError('EEXIST', 'RTM_NEWADDR', { interface: req.interface, address: req.address });
    this.insert(req);
  }

  deleteAddress(req: AddressRequest): void {
    this.maybeFail('deleteAddress');
    if (!this.remove(req)) throw nativeError('EADDRNOTAVAIL', 'RTM_DELADDR', { interface: req.interface, address: req.address });
  }

  ensureAddress(req: AddressRequest): boolean {
    this.maybeFail('ensureAddress');
    const present = this.find(req);
    if (present !== undefined) {
      if (req.lifetimeSeconds !== undefined) setLifetime(present, req.lifetimeSeconds);
      return false;
    }
    this.insert(req);
    return true;
  }

  ensureNoAddress(req: AddressRequest): boolean {
    this.maybeFail('ensureNoAddress');
    return this.remove(req);
  }

  ensureDummyLink(name: string): { created: boolean; kind: 'dummy' | 'ifb' } {
    if (this.links.some((l) => l.name === name)) return { created: false, kind: 'dummy' };
    this.addLink(name);
    return { created: true, kind: 'dummy' };
  }

  deleteLink(name: string): boolean {
    const at = this.links.findIndex((l) => l.name === name);
    if (at < 0) return false;
    this.links.splice(at, 1);
    return true;
  }

  ensureRoute(req: RouteRequest): boolean {
    this.link(req.interface);
    if (this.findRoute(req) !== undefined) return false;
    const route: Route = { family: req.destination.includes(':') ? 6 : 4, destination: req.destination, prefixLength: req.prefixLength, table: req.table, protocol: req.protocol, interface: req.interface };
    if (req.source !== undefined) route.source = req.source;
    this.routes.push(route);
    return true;
  }

  ensureNoRoute(req: RouteRequest): boolean {
    const present = this.findRoute(req);
    if (present === undefined) return false;
    this.routes.splice(this.routes.indexOf(present), 1);
    return true;
  }

  listRoutes(table: number): Route[] {
    return this.routes.filter((r) => r.table === table).map((r) => ({ ...r }));
  }

  listNeighbours(family?: Family): Neighbour[] {
    this.maybeFail('listNeighbours');
    return this.neighbours.filter((n) => family === undefined || n.family === family).map((n) => ({ ...n }));
  }

  watch(onEvents: (events: NetEvent[]) => void): Watcher {
    this.watchers.add(onEvents);
    return { close: () => this.watchers.delete(onEvents), unref() {}, ref() {} };
  }

  openFrameSender(): FrameSender {
    const send = (frame: SentFrame) => {
      this.maybeFail('send');
      this.frames.push(frame);
    };
    return {
      garp: (ifindex, ip, form) => send({ kind: 'garp', ifindex, ip, form }),
      arpReply: (ifindex, ip, targetIp, targetMac) => send({ kind: 'arp-reply', ifindex, ip, targetIp, targetMac }),
      unsolicitedNa: (ifindex, ip) => send({ kind: 'na', ifindex, ip }),
      close() {},
    };
  }

  openlog(): void {}
  syslog(): void {}
  closelog(): void {}
  /** No keeper in memory: an agent built on this fake runs with the lease alone (and logs so). */
  fenceKeeperPath(): string {
    throw nativeError('ENOSYS', 'memfd_create');
  }

  emit(events: NetEvent[]): void {
    for (const watcher of [...this.watchers]) watcher(events);
  }

  private link(name: string): NetInterface {
    const link = this.links.find((l) => l.name === name);
    if (link === undefined) throw nativeError('ENODEV', 'if_nametoindex', { interface: name });
    return link;
  }

  private findRoute(req: RouteRequest): Route | undefined {
    return this.routes.find((r) => r.table === req.table && r.destination === req.destination && r.prefixLength === req.prefixLength && r.protocol === req.protocol && r.interface === req.interface);
  }

  private find(req: AddressRequest): InterfaceAddress | undefined {
    return this.addresses.find((a) => a.interface === req.interface && a.address === req.address && a.prefixLength === req.prefixLength);
  }

  private insert(req: AddressRequest): void {
    const link = this.link(req.interface);
    const family: Family = req.address.includes(':') ? 6 : 4;
    const address: InterfaceAddress = {
      family, address: req.address, prefixLength: req.prefixLength, ifindex: link.index, interface: link.name,
      flags: 0, tentative: false, nodad: family === 6, secondary: false,
    };
    if (req.label !== undefined) address.label = req.label;
    if (req.lifetimeSeconds !== undefined) setLifetime(address, req.lifetimeSeconds);
    this.addresses.push(address);
    this.emit([{ type: 'address', action: 'new', ...address }]);
  }

  private remove(req: AddressRequest): boolean {
    const present = this.find(req);
    if (present === undefined) return false;
    this.addresses.splice(this.addresses.indexOf(present), 1);
    this.emit([{ type: 'address', action: 'delete', ...present }]);
    return true;
  }

  private maybeFail(operation: Operation): void {
    const failure = this.failures.find((f) => f.operation === operation);
    if (failure === undefined) return;
    if (--failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
    throw failure.error;
  }
}

function setLifetime(address: InterfaceAddress, seconds: number): void {
  if (Number.isFinite(seconds)) address.validLifetime = seconds;
  else delete address.validLifetime;
}
