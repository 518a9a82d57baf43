// The chaos run (issue 7 §1): a five-node vippy cluster in quorum mode, an observer of who holds
// each VIP in the kernels, and a fault injector. Shared by test/netns/chaos.test.ts (bounded) and
// bench/soak.ts (long).
//
// The observer runs one `ip -ts monitor address` per node namespace for the whole run and keeps,
// per VIP, the set of nodes whose kernel has it; dual ownership and unowned time are integrated
// from events, not polled (polling `ip -j addr` per node every 10 ms would load the box more than
// the faults do). Each change is taken at the time its `ip` process (at real-time priority) read
// it from the kernel, and changes from different nodes are applied in that order after a short
// reorder delay: this test process may read one node's pipe milliseconds after another's.
import { Prng } from '../../sim/prng.js';
import type { Host, Segment, Spawned } from '../harness.js';
import { VippyCluster, baseConfig, observerMac, type RawConfig } from './cluster.js';
import { ipStamp } from './ip-stamp.js';

export const CHAOS_NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
export const CHAOS_VIPS = ['192.0.2.201', '192.0.2.202', '192.0.2.203', '192.0.2.204', '192.0.2.205'];
export const TIMING = { intervalMs: 100, staleMs: 300, guardMs: 100 };
/** The daemons' arp.repeat_delay: when a takeover's gratuitous ARP burst is repeated. */
const ARP_REPEAT_DELAY_MS = 5_000;
/** How often arpCheck looks at a VIP whose holders keep changing while it checks. */
const ARP_CHECK_ATTEMPTS = 3;
/** What the issue allows a fault to take, once lifted: stale + guard + 1 s. */
export const RECONVERGE_LIMIT_MS = TIMING.staleMs + TIMING.guardMs + 1_000;

export function chaosConfig(hosts: readonly Host[]): RawConfig {
  return baseConfig(hosts, {
    vips: CHAOS_VIPS.map((ip, i) => (i < 3 ? [hosts[i]!.name, { interface: 'eth0', ip: `${ip}/24` }] : [{ interface: 'eth0', ip: `${ip}/24` }])),
    quorum: 3,
    no_quorum_policy: 'stop',
    interval: TIMING.intervalMs / 1000,
    stale: TIMING.staleMs / 1000,
    takeover_guard: TIMING.guardMs / 1000,
    arp: { repeat_delay: ARP_REPEAT_DELAY_MS / 1000 },
    logging: { driver: 'console', mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: false, info: false, debug: false } },
  });
}

/** Wall-clock ms with µs precision: the clock of `ip -ts`. */
const wallClock = () => performance.timeOrigin + performance.now();
const REORDER_MS = 20;

/** One address appearing on (held) or leaving a node's kernel, at the wall-clock ms `ip -ts` stamped. */
export interface AddressChange {
  node: string;
  ip: string;
  held: boolean;
  at: number;
}

/** Per VIP, which kernels hold it, kept current from `ip monitor address` in every node namespace. */
export class AddressObserver {
  readonly holders: Map<string, Set<string>>;
  readonly #monitors: Spawned[] = [];
  #listeners: Array<() => void> = [];
  #changeListeners = new Set<(change: AddressChange) => void>();
  /** Changes read but not yet applied, kept until REORDER_MS old so that they apply in time order. */
  #pending: Array<{ node: string; line: string; at: number }> = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #last = wallClock();
  /** Integrals since the last reset, ms. */
  dualMs = 0;
  /** Dual ownership in which one of the holders was frozen or dead (its kernel kept them until the lease ran out before the fence keeper; 0 now). */
  dualWithSilentHolderMs = 0;
  unownedMs = 0;
  /** Each change that left a VIP on two kernels (neither silent), for the report: "ip on a+b at ms". */
  duals: string[] = [];
  /** Each change that left a VIP on no kernel, for the report: "ip lost by node at time". */
  losses: string[] = [];
  /** Address changes applied so far: a check that spans a change compares with a stale holder. */
  changes = 0;
  /** Frozen or dead nodes: dual ownership involving them is counted apart (dualWithSilentHolderMs). */
  readonly #silent = new Set<string>();
  /**
   * Per VIP, resumed or restarted nodes that still hold it from before: an overlap that began
   * while a holder was frozen or dead lasts until that holder has let go (its first moments after
   * SIGCONT, or its restarted daemon's start), and stays counted apart until then.
   */
  readonly #lingering = new Map<string, Set<string>>();

  setSilent(node: string, silent: boolean): void {
    this.#flush();
    this.#account();
    if (silent) {
      this.#silent.add(node);
      return;
    }
    this.#silent.delete(node);
    for (const [ip, set] of this.holders) {
      if (set.size > 1 && set.has(node)) (this.#lingering.get(ip) ?? this.#lingering.set(ip, new Set()).get(ip)!).add(node);
    }
  }

  private constructor(vips: readonly string[]) {
    this.holders = new Map(vips.map((ip) => [ip, new Set()]));
  }

  /** Watches the IPv4 `vips` (default: the chaos run's) in the namespaces of `nodes`. */
  static async start(seg: Segment, nodes: readonly string[], vips: readonly string[] = CHAOS_VIPS): Promise<AddressObserver> {
    const observer = new AddressObserver(vips);
    for (const node of nodes) {
      // Real-time priority: a busy machine (or the cpu-hog fault) must not delay its read, which is
      // when `ip -ts` stamps a change.
      const monitor = await seg.monitorAddresses(node, ['chrt', '-f', '50', 'ip', '-ts', '-o', 'monitor', 'address']);
      monitor.onLine((line) => observer.#onMonitorLine(node, line));
      observer.#monitors.push(monitor);
    }
    // Every monitor is listening (monitorAddresses waits for it): read the current state.
    for (const node of nodes) {
      const { stdout } = await seg.exec(node, ['ip', '-o', 'addr', 'show']);
      for (const line of stdout.split('\n')) observer.#apply(node, line, wallClock());
    }
    return observer;
  }

  /** "[2026-11-22T08:01:02.123456] 2: eth0 inet …": queued with its timestamp. */
  #onMonitorLine(node: string, line: string): void {
    this.#pending.push({ node, line: line.replace(/^\[\S+\] /, ''), at: ipStamp(line) ?? wallClock() });
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush(wallClock() - REORDER_MS);
    }, REORDER_MS);
  }

  /** Applies the pending changes read before `upTo` (all of them by default), oldest first. */
  #flush(upTo = Infinity): void {
    this.#pending.sort((a, b) => a.at - b.at);
    while (this.#pending.length > 0 && this.#pending[0]!.at <= upTo) {
      const { node, line, at } = this.#pending.shift()!;
      this.#apply(node, line, at);
    }
    if (this.#pending.length > 0) {
      this.#flushTimer ??= setTimeout(() => {
        this.#flushTimer = undefined;
        this.#flush(wallClock() - REORDER_MS);
      }, REORDER_MS);
    }
  }

  #apply(node: string, line: string, at: number): void {
    const match = /^(Deleted )?\d+:\s+\S+\s+inet\s+([\d.]+)\//.exec(line);
    const set = match ? this.holders.get(match[2]!) : undefined;
    if (!set) return;
    this.#account(at);
    if (match![1]) set.delete(node);
    else set.add(node);
    this.changes++;
    for (const listener of this.#changeListeners) listener({ node, ip: match![2]!, held: !match![1], at });
    if (set.size > 1 && ![...set].some((n) => this.#silent.has(n) || this.#lingering.get(match![2]!)?.has(n))) {
      this.duals.push(`${match![2]} on ${[...set].join('+')} at ${new Date(at).toISOString()} (${node}: ${line.trim()})`);
    }
    if (set.size === 0) this.losses.push(`${match![2]} lost by ${node} at ${new Date(at).toISOString()}`);
    const lingering = this.#lingering.get(match![2]!);
    if (lingering && (match![1] || set.size <= 1)) {
      lingering.delete(node);
      if (set.size <= 1) lingering.clear();
    }
    for (const listener of this.#listeners) listener();
  }

  /** Adds the time since the last event to the integrals, under the state that held during it. */
  #account(at = wallClock()): void {
    const elapsed = Math.max(0, at - this.#last);
    this.#last = Math.max(this.#last, at);
    for (const [ip, set] of this.holders) {
      if (set.size === 0) this.unownedMs += elapsed;
      else if (set.size > 1) {
        const lingering = this.#lingering.get(ip);
        if ([...set].some((n) => this.#silent.has(n) || lingering?.has(n))) this.dualWithSilentHolderMs += elapsed;
        else this.dualMs += elapsed;
      }
    }
  }

  /** Calls `listener` with each change applied (in time order); returns the unsubscribe. */
  onChange(listener: (change: AddressChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Reads and zeroes the integrals. */
  take(): { dualMs: number; dualWithSilentHolderMs: number; unownedMs: number; duals: string[]; losses: string[] } {
    this.#flush();
    this.#account();
    const figures = { dualMs: this.dualMs, dualWithSilentHolderMs: this.dualWithSilentHolderMs, unownedMs: this.unownedMs, duals: this.duals, losses: this.losses };
    this.dualMs = this.dualWithSilentHolderMs = this.unownedMs = 0;
    this.duals = [];
    this.losses = [];
    return figures;
  }

  /** Every VIP on exactly one kernel. */
  converged(): boolean {
    return [...this.holders.values()].every((set) => set.size === 1);
  }

  /** Resolves when converged() (checked now and on every change), or rejects after timeoutMs. */
  waitConverged(timeoutMs: number): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!this.converged()) return;
        done();
        resolve(performance.now() - started);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`not converged after ${timeoutMs} ms: ${this.describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
      };
      this.#listeners.push(check);
      check();
    });
  }

  describe(): string {
    return [...this.holders].map(([ip, set]) => `${ip}=${[...set].join('+') || '-'}`).join(' ');
  }

  stop(): void {
    clearTimeout(this.#flushTimer);
    for (const monitor of this.#monitors) monitor.kill('SIGTERM');
  }
}

export const FAULTS = ['kill', 'freeze', 'partition', 'one-way', 'loss', 'cut-link', 'link-down', 'sighup', 'delete-address', 'cpu-hog'] as const;
export type FaultKind = (typeof FAULTS)[number];

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  detail: string;
  /** When the fault was applied (ISO time, the clock of `duals`). */
  appliedAt: string;
  /** How long the fault was applied before being lifted, ms. */
  heldMs: number;
  /** From lifting the fault to every VIP on exactly one kernel, ms (null: did not reconverge in time). */
  reconvergeMs: number | null;
  dualMs: number;
  /** How each dual ownership began (see AddressObserver.duals). */
  duals: string[];
  dualWithSilentHolderMs: number;
  unownedMs: number;
  /** VIPs whose observer neighbour entry did not name the holder's MAC once reconverged. */
  arpMismatches: string[];
  /** Those still wrong after the holder's repeat burst (arp.repeat_delay later). */
  arpUncorrected: string[];
}

export interface ChaosReport {
  seconds: number;
  faults: FaultRecord[];
  crashes: string[];
  leftovers: string[];
}

/** Runs faults back to back for `durationMs`, then stops every daemon and looks for leftovers. */
export async function runChaos(seg: Segment, { durationMs, seed, log = () => {} }: { durationMs: number; seed: number; log?: (line: string) => void }): Promise<ChaosReport> {
  const rng = new Prng(seed);
  const cluster = new VippyCluster(seg, { config: chaosConfig(seg.hosts) });
  const observer = await AddressObserver.start(seg, CHAOS_NODES);
  const crashes: string[] = [];
  const expectedExit = new Set<string>();
  const watchCrash = (name: string) => {
    const proc = cluster.daemon(name).process;
    void proc.wait().then(() => {
      if (!expectedExit.has(name) && cluster.daemon(name).process === proc) crashes.push(`${name}: exited ${JSON.stringify(proc.exit)}: ${proc.stderr.slice(-2000)}`);
    });
  };
  const faults: FaultRecord[] = [];
  let version = 1;
  const started = performance.now();
  try {
    await cluster.startAll();
    for (const name of CHAOS_NODES) watchCrash(name);
    await observer.waitConverged(10_000);
    observer.take();

    while (performance.now() - started < durationMs) {
      const kind = rng.pick(FAULTS);
      const target = rng.pick(CHAOS_NODES);
      const holdMs = rng.int(300, 2500);
      let detail = '';
      const appliedAt = performance.now();
      switch (kind) {
        case 'kill': {
          expectedExit.add(target);
          cluster.daemon(target).process.kill('SIGKILL');
          observer.setSilent(target, true);
          await cluster.daemon(target).process.wait();
          await sleep(holdMs);
          await cluster.start(target);
          observer.setSilent(target, false);
          expectedExit.delete(target);
          watchCrash(target);
          break;
        }
        case 'freeze':
          cluster.daemon(target).process.kill('SIGSTOP');
          observer.setSilent(target, true);
          await sleep(holdMs);
          cluster.daemon(target).process.kill('SIGCONT');
          observer.setSilent(target, false);
          break;
        case 'partition':
        case 'one-way': {
          // Cut one or two nodes off from the rest: a minority that must let go.
          const minority = rng.chance(0.5) ? [target] : [target, rng.pick(CHAOS_NODES.filter((n) => n !== target))];
          const majority = CHAOS_NODES.filter((n) => !minority.includes(n));
          detail = `${minority.join('+')} ${kind === 'one-way' ? '-/->' : '<-/->'} ${majority.join('+')}`;
          await seg.partition(minority, majority, { oneWay: kind === 'one-way' });
          await sleep(holdMs);
          await seg.unblockAll();
          break;
        }
        case 'loss': {
          const percent = rng.int(10, 50);
          detail = `${percent} %`;
          await seg.loss(target, percent);
          await sleep(holdMs);
          await seg.clearLoss(target);
          break;
        }
        case 'cut-link':
          await seg.cutLink(target);
          await sleep(holdMs);
          await seg.restoreLink(target);
          break;
        case 'link-down':
          await seg.linkDown(target);
          await sleep(holdMs);
          await seg.linkUp(target);
          break;
        case 'sighup':
          version++;
          detail = `version ${version}`;
          cluster.rewrite(target, (config) => ({ ...config, version }));
          cluster.daemon(target).process.kill('SIGHUP');
          break;
        case 'delete-address': {
          const held = [...observer.holders].filter(([, set]) => set.has(target)).map(([ip]) => ip);
          const ip = held.length > 0 ? rng.pick(held) : undefined;
          detail = ip ?? 'none held';
          if (ip) await seg.exec(target, ['ip', 'addr', 'del', `${ip}/24`, 'dev', 'eth0'], { allowFail: true });
          break;
        }
        case 'cpu-hog': {
          const hog = seg.spawn(target, ['sh', '-c', 'while :; do :; done']);
          await sleep(holdMs);
          hog.kill('SIGKILL');
          await hog.wait();
          break;
        }
      }
      const liftedAt = performance.now();
      let reconvergeMs: number | null = null;
      try {
        reconvergeMs = await observer.waitConverged(RECONVERGE_LIMIT_MS * 5);
      } catch (error) {
        log(`${kind} ${target}: ${(error as Error).message}`);
      }
      // Let late moves (a restarted preferred node taking its group back) land in this fault's figures.
      await sleep(TIMING.staleMs + TIMING.guardMs);
      const figures = observer.take();
      const arpMismatches = reconvergeMs === null ? [] : await arpCheck(seg, observer);
      let arpUncorrected = arpMismatches;
      if (arpMismatches.length > 0) {
        await sleep(ARP_REPEAT_DELAY_MS + 500);
        arpUncorrected = await arpCheck(seg, observer);
      }
      const record: FaultRecord = {
        kind, target, detail, appliedAt: new Date(performance.timeOrigin + appliedAt).toISOString(), heldMs: Math.round(liftedAt - appliedAt),
        reconvergeMs: reconvergeMs === null ? null : Math.round(reconvergeMs),
        dualMs: Math.round(figures.dualMs), duals: figures.duals, dualWithSilentHolderMs: Math.round(figures.dualWithSilentHolderMs), unownedMs: Math.round(figures.unownedMs),
        arpMismatches,
        arpUncorrected,
      };
      faults.push(record);
      log(JSON.stringify(record));
      if (reconvergeMs === null) await observer.waitConverged(10_000).catch(() => {});
    }
  } finally {
    expectedExit.clear();
    for (const name of CHAOS_NODES) expectedExit.add(name);
    await seg.unblockAll().catch(() => {});
    await cluster.stopAll();
    await sleep(300);
    observer.stop();
  }
  const leftovers = [...observer.holders].flatMap(([ip, set]) => [...set].map((node) => `${ip} on ${node}`));
  return { seconds: Math.round((performance.now() - started) / 1000), faults, crashes, leftovers };
}

/**
 * The observer pings each VIP; its neighbour table must then name the holder's MAC. A VIP that
 * moved while it was being checked (a preferred node taking its group back after a carrier cut can
 * do so more than stale + guard after the first convergence) is checked again once every VIP is on
 * one kernel: compared with the holder read before the move, the entry looked wrong when it
 * already named the new holder (the cause of the "unexplained" mismatches after carrier cuts).
 */
export async function arpCheck(seg: Segment, observer: AddressObserver): Promise<string[]> {
  const mismatches: string[] = [];
  for (const ip of CHAOS_VIPS) {
    for (let attempt = 1; ; attempt++) {
      const changesBefore = observer.changes;
      const set = observer.holders.get(ip)!;
      const holder = [...set][0];
      if (set.size !== 1 || holder === undefined) break;
      await seg.exec('obs', ['ping', '-c1', '-W1', ip], { allowFail: true });
      const mac = await observerMac(seg, ip);
      if (observer.changes !== changesBefore && attempt < ARP_CHECK_ATTEMPTS) {
        await observer.waitConverged(RECONVERGE_LIMIT_MS).catch(() => {});
        await sleep(TIMING.staleMs + TIMING.guardMs);
        continue;
      }
      if (mac !== seg.host(holder).mac) {
        const owner = seg.hosts.find((host) => host.mac === mac)?.name ?? 'no node';
        const moved = observer.changes !== changesBefore ? ' (holders changed during the check)' : '';
        mismatches.push(`${ip}: observer has ${mac || 'no entry'} (${mac ? owner : '-'}), holder ${holder} is ${seg.host(holder).mac}${moved}`);
      }
      break;
    }
  }
  return mismatches;
}

export function summarize(report: ChaosReport): Record<string, unknown> {
  const byKind: Record<string, { count: number; maxReconvergeMs: number; dualMs: number; dualWithSilentHolderMs: number; unownedMs: number; notReconverged: number }> = {};
  for (const f of report.faults) {
    const k = (byKind[f.kind] ??= { count: 0, maxReconvergeMs: 0, dualMs: 0, dualWithSilentHolderMs: 0, unownedMs: 0, notReconverged: 0 });
    k.count++;
    if (f.reconvergeMs === null) k.notReconverged++;
    else k.maxReconvergeMs = Math.max(k.maxReconvergeMs, f.reconvergeMs);
    k.dualMs += f.dualMs;
    k.dualWithSilentHolderMs += f.dualWithSilentHolderMs;
    k.unownedMs += f.unownedMs;
  }
  return {
    seconds: report.seconds,
    faults: report.faults.length,
    crashes: report.crashes.length,
    leftovers: report.leftovers.length,
    dualMs: report.faults.reduce((s, f) => s + f.dualMs, 0),
    dualWithSilentHolderMs: report.faults.reduce((s, f) => s + f.dualWithSilentHolderMs, 0),
    overLimit: report.faults.filter((f) => f.reconvergeMs === null || f.reconvergeMs > RECONVERGE_LIMIT_MS).length,
    arpMismatches: report.faults.reduce((s, f) => s + f.arpMismatches.length, 0),
    arpUncorrected: report.faults.reduce((s, f) => s + f.arpUncorrected.length, 0),
    byKind,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
