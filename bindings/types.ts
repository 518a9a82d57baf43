// The typed face of the native addon (native/*.cc). Plain values in, plain values out; every
// failure is a NativeError. Only src/agent/ (and tests/benchmarks) import bindings/.

export type Family = 4 | 6;

export interface NetInterface {
  name: string;
  index: number;
  /** "aa:bb:cc:dd:ee:ff"; "" when the link has no hardware address (lo). */
  mac: string;
  mtu: number;
  /** Raw IFF_* flags. */
  flags: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up. */
  running: boolean;
  /** IFF_LOWER_UP: carrier. */
  lowerUp: boolean;
}

export interface InterfaceAddress {
  family: Family;
  address: string;
  prefixLength: number;
  ifindex: number;
  interface: string;
  /** IFA_LABEL (IPv4 only), e.g. "eth0:vip". */
  label?: string;
  /** IFA_BROADCAST (IPv4 only). */
  broadcast?: string;
  /** Raw IFA_F_* flags (from IFA_FLAGS when present). */
  flags: number;
  tentative: boolean;
  nodad: boolean;
  secondary: boolean;
  /** Whole seconds until the kernel deletes the address unless it is renewed; absent when permanent. */
  validLifetime?: number;
}

export interface AddressRequest {
  /** Interface name. */
  interface: string;
  address: string;
  prefixLength: number;
  /** IPv4 only. */
  label?: string;
  /** IPv4 only; "+" computes it from address and prefix. */
  broadcast?: string;
  /**
   * Valid and preferred lifetime: whole seconds (1 to 2^31-1) after which the kernel deletes the
   * address by itself, or Infinity for permanent. When given, ensureAddress also sets it on an
   * address that is already there (NLM_F_REPLACE): that renews a lease. Absent: permanent, and an
   * existing address is left as it is.
   */
  lifetimeSeconds?: number;
}

/** A host route in a kernel table under a given protocol number (routed announcing). */
export interface RouteRequest {
  destination: string;
  prefixLength: number;
  /** Output interface name (the route is scope link, no gateway). */
  interface: string;
  /** 1 to 2^31-1, not 253-255 (the default, main and local tables). */
  table: number;
  /** rtnetlink protocol number, 5 to 255 (0-4 are the kernel's own). */
  protocol: number;
  /** RTA_PREFSRC, same family. An IPv4 route with a source is deleted by the kernel with that local address. */
  source?: string;
  /** IPv6 only: RTA_EXPIRES. ensureRoute replaces a present route to renew it. */
  expiresSeconds?: number;
}

export interface Route {
  family: Family;
  destination: string;
  prefixLength: number;
  table: number;
  protocol: number;
  interface?: string;
  source?: string;
}

export type NeighbourState =
  | 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent' | 'none';

export interface Neighbour {
  family: Family;
  ip: string;
  mac: string;
  ifindex: number;
  interface: string;
  state: NeighbourState;
}

export type NetEvent =
  | { type: 'link'; action: 'new' | 'delete'; index: number; name: string; mac: string; flags: number; up: boolean; running: boolean; lowerUp: boolean }
  | ({ type: 'address'; action: 'new' | 'delete' } & InterfaceAddress)
  | ({ type: 'neighbour'; action: 'new' | 'delete' } & Neighbour)
  /** The kernel dropped events (ENOBUFS): re-dump whatever you track. The watcher goes on. */
  | { type: 'overrun' }
  /**
   * The watcher has stopped (a receive or poll failure other than dropped events): the last event
   * it delivers. Nothing more comes; open a new watcher.
   */
  | { type: 'failed'; error: NativeError };

export interface Watcher {
  close(): void;
  /** Do not keep the process alive for this watcher. */
  unref(): void;
  ref(): void;
}

export interface FrameSender {
  /** Gratuitous ARP for `ip` owned by this host on `ifindex`. request: oper 1, SPA=TPA=ip, THA ff:ff:..; reply: oper 2, THA = own MAC. */
  garp(ifindex: number, ip: string, form: 'request' | 'reply'): void;
  /** Unicast ARP reply "ip is at <own MAC>" to targetMac/targetIp. */
  arpReply(ifindex: number, ip: string, targetIp: string, targetMac: string): void;
  /** Unsolicited neighbour advertisement for `ip` to ff02::1 (override flag, hop limit 255). */
  unsolicitedNa(ifindex: number, ip: string): void;
  close(): void;
}

export type SyslogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';

export interface NativeApi {
  listInterfaces(): NetInterface[];
  listAddresses(family?: Family): InterfaceAddress[];
  /** Throws NativeError (EEXIST when present). IPv6 is added with IFA_F_NODAD. */
  addAddress(req: AddressRequest): void;
  /** Throws NativeError (EADDRNOTAVAIL when absent). */
  deleteAddress(req: AddressRequest): void;
  /**
   * Idempotent add: returns true when it added the address, false when it was already there (then
   * a given lifetimeSeconds is applied to it: one more request).
   */
  ensureAddress(req: AddressRequest): boolean;
  /** Idempotent delete: returns true when it removed something. */
  ensureNoAddress(req: AddressRequest): boolean;
  /**
   * Creates a dummy link (RTM_NEWLINK, IFLA_INFO_KIND "dummy"; "ifb" on kernels without the
   * dummy driver: it too has no ARP and keeps its carrier) and sets it up; an existing dummy or
   * ifb link of that name is set up. Another kind of link of that name: NativeError EEXIST
   * whose extack says which kind.
   */
  ensureDummyLink(name: string): { created: boolean; kind: 'dummy' | 'ifb' };
  /** RTM_DELLINK by name; false when there was no such link. */
  deleteLink(name: string): boolean;
  /** Idempotent route add: true when it added the route. */
  ensureRoute(req: RouteRequest): boolean;
  /** Idempotent route delete (matches table, destination, protocol, interface): true when it removed one. */
  ensureNoRoute(req: RouteRequest): boolean;
  /** Routes with a destination in one table, both families. */
  listRoutes(table: number): Route[];
  /** Complete neighbour entries only (incomplete, failed and NOARP entries, which include multicast and broadcast, are left out). */
  listNeighbours(family?: Family): Neighbour[];
  /**
   * One netlink socket (link, IPv4/IPv6 address, neighbour groups) polled on the main loop. Events
   * the kernel dropped are reported as an `overrun`; a failure that stops the watcher as a last
   * `failed` event.
   */
  watch(onEvents: (events: NetEvent[]) => void): Watcher;
  /** Send-only packet sockets (protocol 0: nothing is queued for reading). */
  openFrameSender(): FrameSender;
  openlog(ident: string, facility: string): void;
  syslog(level: SyslogLevel, message: string): void;
  closelog(): void;
  /**
   * The fence keeper's executable (native/fence/keeper.cc, embedded in the addon), written once
   * to a sealed memfd: "/proc/self/fd/<n>", for this process to start (src/agent/fence.ts).
   */
  fenceKeeperPath(): string;
}

/** Shape of every error thrown by the addon. */
export interface NativeError extends Error {
  /** errno name, e.g. "EEXIST", "EPERM", "ENODEV". */
  code: string;
  errno: number;
  syscall: string;
  interface?: string;
  address?: string;
  /** The kernel's extended-ACK text, when it sent one. */
  extack?: string;
}
