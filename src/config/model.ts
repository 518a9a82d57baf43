// The one normalized configuration every other part of vippy reads. Produced by src/config
// from a vippy JSON file (or a flip file); all durations are milliseconds.

export type Family = 4 | 6;
export type SyslogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';
export type NoQuorumPolicy = 'stop' | 'freeze' | 'ignore';
export type PlacementStrategy = 'vippy' | 'balanced' | 'shard' | 'replicated';
/** "l2": addresses on the NIC and GARP/NA; "routed": host routes the host's routing daemon exports. */
export type AnnounceMode = 'l2' | 'routed';

export interface VipAddress {
  /** Local NIC name. Not part of the fingerprint: it may differ per host. */
  interface: string;
  /** Bare address in canonical text form (no mask). */
  ip: string;
  family: Family;
  /** A missing mask means /32 (IPv4) or /128 (IPv6). */
  prefixLength: number;
  /** IPv4 only, for the vippy-compatible normalized shape. */
  netmask?: string;
  broadcast?: string;
  network?: string;
  /** vippy's undocumented per-entry "state" (e.g. "preplumbed"), carried through. */
  state?: string;
}

export interface VipGroup {
  /** Position in config order (0-based). Announcements refer to groups by this index. */
  index: number;
  /** vippy's rendezvous key: the smallest `ip` string of the group (vippy sorts by string). */
  key: string;
  /** Preferred node name (the optional first string element of a vippy group). */
  preferred?: string;
  /** Sorted by `ip` string, as the original vippy does. */
  addresses: VipAddress[];
  /** How the holder announces the group (the group's own option, else `routed.defaultMode`); absent: l2. */
  announce?: AnnounceMode;
  /** The group's own `{"announce": ...}` element, when it has one (it travels with the vips). */
  announceOption?: AnnounceMode;
  /** flip configs: the system and data point this group came from. */
  system?: string;
  point?: string;
  /**
   * Checks this group names (a vippy group's `{"checks": [...]}` entry, a flip system's
   * `checks`). Local to this host: not in the fingerprint, not sent to peers.
   */
  checks?: string[];
}

export interface NodeSpec {
  name: string;
  /** Unicast chat address (when given for every node, chat is unicast). */
  address?: string;
  port?: number;
  /** flip: lower number = earlier in member order. */
  priority?: number;
  /** flip: the systems this server takes part in (absent/empty = arbiter). */
  systems?: string[];
}

export type NotifyTarget =
  | { kind: 'arp-cache' }
  | { kind: 'network'; interface: string; family: Family; network: string; prefixLength: number };

export interface ArpSettings {
  /** Frames in the first burst on takeover (keepalived-like default 5). */
  burstCount: number;
  burstSpacingMs: number;
  /** Delay of the repeat burst after the first (0 = no repeat). */
  repeatDelayMs: number;
  /** Periodic re-announcement while holding (0 = off). */
  refreshIntervalMs: number;
  /** Notify targets (networks / arp-cache hosts) per second per group. */
  notifyRate: number;
  /** Addresses taken from notify networks per VIP and takeover (arp-cache hosts come on top). */
  notifyBudget?: number;
}

/** flip: a named set of data points divided among the servers that list it in `systems`. */
export interface FlipSystem {
  name: string;
  type: 'shard' | 'replicated';
  /** Scripts run as `script POINT CONFIG_JSON` (absent: built-in VIP plumbing for address data). */
  alive?: string;
  down?: string;
  /** `cluster.config` overlaid with the system's own `config`: what the scripts receive. */
  config: Record<string, unknown>;
  /** Data points in flip's order (plain string sort). */
  data: string[];
  /** Wait before a new plan's scripts run, merging changes that come together. */
  delayMs: number;
  /** Checks every point of the system is covered by. */
  checks?: string[];
  /** flip's remove_on_start: true = no `down` at start for points not assigned here. */
  removeOnStart: boolean;
}

/** Routed announcing: where a routed group's holder puts its host routes for the routing daemon. */
export interface RoutedSettings {
  /** Mode of groups without their own `announce` element. */
  defaultMode: AnnounceMode;
  /** The dummy link vippyd creates and owns; routed addresses are plumbed on it as /32 or /128. */
  interface: string;
  /** Also a route per address in this kernel table (absent: addresses on the dummy link only). */
  table?: number;
  /** rtnetlink protocol number of those routes. */
  protocol: number;
}

export type CheckKind = 'exec' | 'tcp' | 'http' | 'file' | 'process' | 'interface';

/** What a check's verdict does when it fails on every node that could hold a group. */
export type CheckAllFailPolicy = 'keep' | 'release';

interface CheckCommon {
  name: string;
  /** Applies to every group of this node; otherwise only to the groups that name it. */
  node: boolean;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive passes that make a failing check pass, and failures that make a passing one fail. */
  rise: number;
  fall: number;
  /** State before the first result. */
  initial: 'pass' | 'fail';
  whenAllFail: CheckAllFailPolicy;
}

/** A named health check (local to this host, like interface names). */
export type CheckSpec = CheckCommon & (
  /** argv run without a shell, or `sh -c command` when shell is set; exit 0 passes. */
  | { kind: 'exec'; argv: string[]; shell: boolean; user?: string | number }
  | { kind: 'tcp'; host: string; port: number }
  /** Passes on a status in `status` (null: any 2xx) whose body contains `body` (when given). */
  | { kind: 'http'; url: string; status: number[] | null; body?: string; insecure: boolean }
  /** keepalived's track_file: fails while the file exists, unless it holds the number 0. */
  | { kind: 'file'; path: string }
  | { kind: 'process'; processName?: string; pidfile?: string }
  /** Fails while the NIC has no carrier or is not operationally up. */
  | { kind: 'interface'; interface: string }
);

export interface ClusterConfig {
  /** Which file format this came from. */
  format: 'vippy' | 'flip';
  /** Highest version wins across the cluster; covers groups and nodes. */
  version: number;
  /** HMAC key material. Never logged, never in status, never on the wire. */
  secret: string;
  chat: {
    mode: 'multicast' | 'unicast';
    /** Multicast group (multicast mode). */
    address: string;
    port: number;
    /** "all", an interface address, or a NIC name. */
    interface: string;
    ttl: number;
  };
  nodes: NodeSpec[];
  groups: VipGroup[];
  timing: {
    intervalMs: number;
    matureMs: number;
    staleMs: number;
    /** Extra wait after `stale` before taking a silent peer's groups. */
    guardMs: number;
    arpCacheMs: number;
    preemptDelayMs: number;
    /**
     * Kernel lifetime of plumbed addresses, renewed while the daemon runs, so a killed or frozen
     * daemon's addresses expire by themselves. Whole seconds (the kernel's unit, hence not ms);
     * 0 or absent: permanent addresses.
     */
    leaseSeconds?: number;
  };
  /** Nodes (self included) that must be seen for a node to act on placement. 1 = no quorum. */
  quorum: number;
  noQuorumPolicy: NoQuorumPolicy;
  placement: PlacementStrategy;
  /** false: a group stays where it is when its preferred node returns. */
  preempt: boolean;
  notify: NotifyTarget[];
  arp: ArpSettings;
  /** Absent (configs built in code): every group is l2. */
  routed?: RoutedSettings;
  management: { path: string; mode: number; group?: string };
  logging: {
    driver: 'console' | 'syslog' | 'none';
    facility: string;
    mask: Record<SyslogLevel, boolean>;
    json: boolean;
  };
  plugins: string[];
  metrics?: { listen: string };
  /** flip: the systems, in file order; groups refer to them by `system`. Their `type` is the
   *  placement of their groups (`placement` holds the first system's type). */
  systems?: FlipSystem[];
  /** Health checks by name, in file order (local: not in the fingerprint, not sent to peers). Absent: none. */
  checks?: CheckSpec[];
  /** flip's cluster.remove_on_failure: false = a clean stop releases nothing and announces no leave. Absent: true. */
  releaseOnStop?: boolean;
  /** flip: the file names the server it runs on (`id`); vippy files leave it to `vippyd -n`. */
  localNode?: string;
  /** Hex SHA-256 of the canonical form of version-independent vips + nodes (interface names excluded). */
  fingerprint: string;
}
