// A simulated cluster around src/core: one clock, a network with loss, bounded delay,
// duplication, reordering and partitions, and processes that crash, freeze and restart. Every
// random choice comes from one seeded PRNG, so a seed replays exactly. The "kernel" of each
// node is the set of groups it has plumbed; the invariants are checked after every step.

import { createNode, place, step, type NodeState } from '../../src/core/index.js';
import type { Action, CoreEvent } from '../../src/core/types.js';
import type { ClusterConfig } from '../../src/config/model.js';
import { Prng } from './prng.js';

export interface NetConditions {
  loss: number;
  /** Delivery delay bounds, ms (uniform; unequal delays reorder). */
  delayMin: number;
  delayMax: number;
  duplicate: number;
}

interface SimNode {
  name: string;
  /** null while crashed or before start. */
  core: NodeState | null;
  /** The config persisted on disk (adopt-config writes it; a restart reads it). */
  config: ClusterConfig;
  frozen: boolean;
  /** Messages that arrived while frozen: read after resuming. */
  backlog: { event: CoreEvent; sentAt: number; serial: number }[];
  /** Groups plumbed on this node. */
  plumbed: Set<number>;
  carrierDown: Set<string>;
  wakeToken: number;
}

type Pending =
  | { kind: 'wake'; node: string; token: number }
  | { kind: 'deliver'; node: string; event: CoreEvent; sentAt: number; serial: number };

export class InvariantViolation extends Error {}

/** Binary min-heap on (at, seq): equal times run in scheduling order, deterministically. */
class Agenda {
  private items: { at: number; seq: number; what: Pending }[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  peekAt(): number {
    return this.items[0]?.at ?? Infinity;
  }
  push(at: number, what: Pending): void {
    const items = this.items;
    items.push({ at, seq: this.seq++, what });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): { at: number; what: Pending } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
      if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
    return top;
  }
  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

export interface ClusterOptions {
  seed: number;
  config: ClusterConfig;
  net?: Partial<NetConditions>;
  /** Record every transcript line (scenarios) or only keep a tail (random runs). */
  transcriptLimit?: number;
}

export class Cluster {
  now = 0;
  readonly rng: Prng;
  readonly net: NetConditions;
  readonly nodes = new Map<string, SimNode>();
  /** Directed links that drop everything: "from>to". */
  readonly blocked = new Set<string>();
  transcript: string[] = [];
  private readonly transcriptLimit: number;
  private readonly agenda = new Agenda();
  /** Last time anything disturbed the cluster (fault, loss, restart...). */
  lastDisturbance = 0;
  /** Overlaps of ownership that involved a frozen node (a paused process cannot act). */
  readonly freezeOverlaps: string[] = [];
  stepCount = 0;
  /** How many steps the convergence invariants (b) and (c) were checked at. */
  convergenceChecks = 0;
  /** Wire's skew window: a message older than this on arrival is rejected. */
  readonly skewMs: number;
  private sendSerial = 0;
  private expectedCache: { key: string; result: ReadonlyArray<readonly string[]> } | undefined;
  /** Per "from>to": serial of the newest announcement delivered (the agent drops older ones). */
  private readonly newestDelivered = new Map<string, number>();

  constructor(options: ClusterOptions) {
    this.rng = new Prng(options.seed);
    this.net = { loss: 0, delayMin: 1, delayMax: 5, duplicate: 0, ...options.net };
    this.transcriptLimit = options.transcriptLimit ?? Infinity;
    this.skewMs = options.config.timing.intervalMs * 2;
    for (const node of options.config.nodes) {
      this.nodes.set(node.name, { name: node.name, core: null, config: options.config, frozen: false, backlog: [], plumbed: new Set(), carrierDown: new Set(), wakeToken: 0 });
    }
  }

  // ------------------------------------------------------------------ transcript

  note(line: string): void {
    this.transcript.push(`${(this.now / 1000).toFixed(3)} ${line}`);
    if (this.transcript.length > this.transcriptLimit * 2) this.transcript = this.transcript.slice(-this.transcriptLimit);
  }

  // ------------------------------------------------------------------ faults and commands

  private node(name: string): SimNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node named ${JSON.stringify(name)} (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  private disturb(): void {
    this.lastDisturbance = this.now;
  }

  start(name: string): void {
    const node = this.node(name);
    if (node.core !== null && !node.core.stopped) throw new Error(`${name} is already running`);
    this.disturb();
    node.core = createNode({ self: name, config: node.config, now: this.now });
    node.frozen = false;
    node.backlog = [];
    node.plumbed.clear();
    for (const iface of node.carrierDown) this.deliverNow(node, { type: 'carrier', interface: iface, up: false });
    this.deliverNow(node, { type: 'tick' });
  }

  /** The process dies (and its addresses with it, as on a machine failure). */
  crash(name: string): void {
    const node = this.node(name);
    this.disturb();
    node.core = null;
    node.frozen = false;
    node.backlog = [];
    node.plumbed.clear();
    node.wakeToken++;
  }

  restart(name: string): void {
    this.crash(name);
    this.start(name);
  }

  freeze(name: string): void {
    this.disturb();
    this.node(name).frozen = true;
  }

  /** Resumes a frozen process: its overdue timer runs first (libuv runs timers before I/O). */
  resume(name: string): void {
    const node = this.node(name);
    if (!node.frozen) return;
    this.disturb();
    node.frozen = false;
    this.deliverNow(node, { type: 'tick' });
    const backlog = node.backlog;
    node.backlog = [];
    for (const { event, sentAt, serial } of backlog) this.receive(node, event, sentAt, serial);
  }

  stop(name: string): void {
    this.disturb();
    this.deliverNow(this.node(name), { type: 'stop' });
  }

  inject(name: string, event: CoreEvent): void {
    this.disturb();
    const node = this.node(name);
    if (event.type === 'carrier') {
      if (event.up) node.carrierDown.delete(event.interface);
      else node.carrierDown.add(event.interface);
    }
    this.deliverNow(node, event);
  }

  /** Symmetric partition into the given sides (nodes not named form one more side). */
  partition(sides: string[][]): void {
    this.disturb();
    this.blocked.clear();
    const named = new Set(sides.flat());
    const all = [...this.nodes.keys()];
    const rest = all.filter((name) => !named.has(name));
    const sideOf = new Map<string, number>();
    [...sides, rest].forEach((side, index) => side.forEach((name) => sideOf.set(this.node(name).name, index)));
    for (const a of all) for (const b of all) if (sideOf.get(a) !== sideOf.get(b)) this.blocked.add(`${a}>${b}`);
  }

  /** One-way: messages from `from` to each of `to` are dropped. */
  block(from: string, to: string[]): void {
    this.disturb();
    for (const name of to) this.blocked.add(`${this.node(from).name}>${this.node(name).name}`);
  }

  heal(): void {
    this.disturb();
    this.blocked.clear();
  }

  setNet(conditions: Partial<NetConditions>): void {
    this.disturb();
    Object.assign(this.net, conditions);
  }

  // ------------------------------------------------------------------ running

  run(durationMs: number): void {
    const end = this.now + durationMs;
    while (this.agenda.peekAt() <= end) {
      const item = this.agenda.pop()!;
      this.now = item.at;
      const what = item.what;
      const node = this.nodes.get(what.node)!;
      if (node.core === null) continue;
      if (what.kind === 'wake') {
        if (what.token === node.wakeToken && !node.frozen) this.deliverNow(node, { type: 'tick' });
      } else if (node.frozen) {
        node.backlog.push({ event: what.event, sentAt: what.sentAt, serial: what.serial });
      } else {
        this.receive(node, what.event, what.sentAt, what.serial);
      }
    }
    this.now = end;
  }

  /**
   * What wire and agent let through: nothing older than the skew window, and no announcement
   * older than the newest one already delivered from that sender (UDP reorders; the replay
   * guard accepts reordered datagrams, the agent passes only newer announcements to core).
   */
  private receive(node: SimNode, event: CoreEvent, sentAt: number, serial: number): void {
    if (this.now - sentAt > this.skewMs) return;
    if (event.type === 'announcement') {
      const link = `${event.from}>${node.name}`;
      if ((this.newestDelivered.get(link) ?? -1) >= serial) return;
      this.newestDelivered.set(link, serial);
    }
    this.deliverNow(node, event);
  }

  private deliverNow(node: SimNode, event: CoreEvent): void {
    if (node.core === null) return;
    const result = step(node.core, event, this.now);
    this.stepCount++;
    for (const action of result.actions) this.apply(node, action);
    node.wakeToken++;
    if (Number.isFinite(result.wakeAt)) this.agenda.push(Math.max(result.wakeAt, this.now), { kind: 'wake', node: node.name, token: node.wakeToken });
    this.check();
  }

  private apply(node: SimNode, action: Action): void {
    switch (action.type) {
      case 'send':
        return this.broadcast(node, { type: 'announcement', from: node.name, announcement: action.announcement });
      case 'send-config':
        this.note(`${node.name}: send-config v${node.core!.config.version}`);
        return this.broadcast(node, { type: 'config-offer', from: node.name, config: node.core!.config });
      case 'send-arp-cache':
        return this.broadcast(node, { type: 'arp-slice', from: node.name, entries: action.entries, complete: true });
      case 'plumb':
        node.plumbed.add(action.group);
        return this.note(`${node.name}: plumb ${action.group} (${action.reason})`);
      case 'unplumb':
        node.plumbed.delete(action.group);
        return this.note(`${node.name}: unplumb ${action.group} (${action.reason})`);
      case 'notify':
        return this.note(`${node.name}: notify ${action.group} (${action.reason})`);
      case 'adopt-config':
        node.config = action.config;
        return this.note(`${node.name}: adopt-config v${action.config.version} from ${action.from}`);
      case 'state-change':
        return;
      case 'log':
        if (action.event === 'takeover' || action.event === 'release') return;
        if (['crit', 'err', 'warning', 'notice'].includes(action.level)) this.note(`${node.name}: ${action.level} ${action.event}: ${action.message}`);
        return;
    }
  }

  private broadcast(from: SimNode, event: CoreEvent): void {
    for (const to of this.nodes.values()) {
      if (to === from || this.blocked.has(`${from.name}>${to.name}`)) continue;
      let copies = 1;
      if (this.rng.chance(this.net.loss)) copies = 0;
      else if (this.rng.chance(this.net.duplicate)) copies = 2;
      if (copies !== 1) this.disturb();
      const serial = this.sendSerial++;
      for (let i = 0; i < copies; i++) {
        // A fixed delay draws nothing: scenario transcripts do not move when something else draws.
        const delay = this.net.delayMin === this.net.delayMax ? this.net.delayMin : this.rng.int(this.net.delayMin, this.net.delayMax);
        this.agenda.push(this.now + delay, { kind: 'deliver', node: to.name, event, sentAt: this.now, serial });
      }
    }
  }

  // ------------------------------------------------------------------ observation

  running(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.core !== null && !node.core.stopped);
  }

  /** Who has each VIP address plumbed right now, by address (indices differ across configs). */
  holdersByIp(filter: (node: SimNode) => boolean = () => true): Map<string, string[]> {
    const holders = new Map<string, string[]>();
    for (const node of this.nodes.values()) {
      if (node.core === null || !filter(node)) continue;
      for (const group of node.plumbed) {
        for (const address of node.core.config.groups[group]?.addresses ?? []) {
          const list = holders.get(address.ip) ?? [];
          list.push(node.name);
          holders.set(address.ip, list);
        }
      }
    }
    return holders;
  }

  /** "group → holders" lines in group order of the first running node's config. */
  describeHolders(): string[] {
    const reference = this.running()[0]?.core?.config ?? [...this.nodes.values()][0]!.config;
    const byIp = this.holdersByIp();
    return reference.groups.map((group) => {
      const holders = [...new Set(group.addresses.flatMap((a) => byIp.get(a.ip) ?? []))].sort();
      return `group ${group.index} (${group.addresses.map((a) => a.ip).join(' ')}): ${holders.length === 0 ? '-' : holders.join(' ')}`;
    });
  }

  /** Time the network must be quiet before placement must have converged. */
  settleMs(): number {
    const t = [...this.nodes.values()][0]!.config.timing;
    return t.matureMs + t.preemptDelayMs + t.staleMs + t.guardMs + 2 * t.intervalMs;
  }

  private fail(message: string): never {
    this.note(`VIOLATION ${message}`);
    throw new InvariantViolation(`${message} at t=${this.now}`);
  }

  /** The invariants, after every step. */
  check(): void {
    const live = this.running().filter((node) => !node.frozen);
    const config = live[0]?.core?.config;
    if (config === undefined) return;
    // (a) no two owners, with a majority quorum and policy stop.
    const majority = live.every((node) => node.core!.config.quorum * 2 > node.core!.config.nodes.length && node.core!.config.noQuorumPolicy === 'stop');
    if (majority) {
      for (const [ip, holders] of this.holdersByIp((node) => !node.frozen)) {
        if (holders.length > 1) this.fail(`(a) ${ip} held by ${holders.join(' and ')}`);
      }
      for (const [ip, holders] of this.holdersByIp()) {
        const frozen = holders.filter((name) => this.nodes.get(name)!.frozen);
        if (holders.length > 1 && frozen.length > 0) {
          const line = `${ip}: ${holders.join(' and ')} (frozen: ${frozen.join(' ')})`;
          if (this.freezeOverlaps.at(-1) !== line) this.freezeOverlaps.push(line);
        }
      }
    }
    // (b) and (c) once nothing has disturbed the cluster for long enough.
    if (this.now - this.lastDisturbance < this.settleMs() || this.blocked.size > 0 || this.running().some((node) => node.frozen)) return;
    this.checkConvergence();
  }

  /** (b) placement matches the agreed view and (c) one config version, now. */
  checkConvergence(): void {
    const live = this.running().filter((node) => !node.frozen);
    const config = live[0]?.core?.config;
    if (config === undefined) return;
    this.convergenceChecks++;
    for (const node of live) {
      const other = node.core!.config;
      if (other.version !== config.version || other.fingerprint !== config.fingerprint) {
        this.fail(`(c) ${live[0]!.name} runs v${config.version} ${config.fingerprint.slice(0, 8)}, ${node.name} runs v${other.version} ${other.fingerprint.slice(0, 8)}`);
      }
    }
    const expected = this.expectedPlacement(live, config);
    if (expected === undefined) return;
    config.groups.forEach((group) => {
      const want = [...expected[group.index]!].sort().join(' ') || '-';
      const have = live.filter((node) => node.plumbed.has(group.index)).map((node) => node.name).sort().join(' ') || '-';
      if (want !== have) this.fail(`(b) group ${group.index} should be held by ${want}, is held by ${have}`);
    });
  }

  /** Placement for the agreed view: all live nodes, the active ones as candidates. */
  private expectedPlacement(live: SimNode[], config: ClusterConfig): ReadonlyArray<readonly string[]> | undefined {
    const liveNames = new Set(live.map((node) => node.name));
    const active = config.nodes.map((n) => n.name).filter((name) => liveNames.has(name) && this.nodes.get(name)!.core!.last.active);
    if (config.quorum > 1 && config.noQuorumPolicy !== 'ignore') {
      // Too few nodes up: stop holds nothing, freeze keeps whatever it had. Enough nodes up but
      // too few active: they keep what they hold and take nothing, so there is no one answer.
      if (live.length < config.quorum) return config.noQuorumPolicy === 'stop' ? config.groups.map(() => []) : undefined;
      if (active.length < config.quorum) return undefined;
    }
    const holders = new Map<number, string>();
    for (const node of config.nodes) {
      const sim = this.nodes.get(node.name)!;
      if (!liveNames.has(node.name)) continue;
      for (const group of sim.plumbed) if (!holders.has(group)) holders.set(group, node.name);
    }
    const key = JSON.stringify([config.fingerprint, active, [...holders], live.map((node) => [...node.carrierDown])]);
    if (this.expectedCache?.key === key) return this.expectedCache.result;
    const result = place({
      config,
      active,
      ineligible: (group) => {
        const interfaces = config.groups[group]!.addresses.map((a) => a.interface);
        return new Set(live.filter((node) => interfaces.some((i) => node.carrierDown.has(i))).map((node) => node.name));
      },
      holders,
      preferenceReady: () => true,
    });
    this.expectedCache = { key, result };
    return result;
  }
}
