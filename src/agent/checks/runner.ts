// Runs the configured health checks and turns their results into verdicts: rise consecutive
// passes make a failing check pass, fall consecutive failures make a passing one fail, and the
// very first result alone decides (until then the check is in its `initial` state). Each verdict
// change is logged once and handed to the daemon (a 'check' event for core).
//
// Probes do not wait on the event loop: exec checks are child processes (at most `maxExec` at
// a time), tcp/http use non-blocking sockets with a deadline, file/process checks read
// asynchronously, and interface checks follow the netlink link events the daemon already
// receives (no polling). One cost remains on the loop: Node forks each exec child from the main
// thread, several ms a fork under load (bench/checks.ts, docs/benchmarks.md), so many frequent
// exec checks delay announcements; a launcher process would remove that (not done).

import type { NetEvent, NetInterface } from '../../../bindings/types.js';
import type { CheckSpec } from '../../config/model.js';
import { checkTarget } from '../../config/summary.js';
import type { AgentLogger } from '../../log/logger.js';
import { Slots, killRunning, resolveUser, runExec, type Identity } from './exec.js';
import { processProbe, runFile } from './local.js';
import { runHttp, runTcp } from './net.js';
import type { ProbeResult } from './probe.js';

export type Verdict = 'pass' | 'fail';

/** One check as `vippyctl checks` and /checks show it. */
export interface CheckStatus {
  name: string;
  kind: CheckSpec['kind'];
  /** What it looks at: "tcp 127.0.0.1:80", "exec [...]", ... */
  target: string;
  state: Verdict;
  /** Wall-clock milliseconds since the epoch when the state last changed (or the check was set up). */
  since: number;
  /** Why it is in this state: the deciding run's reason, or "initial state". */
  reason: string;
  consecutivePasses: number;
  consecutiveFails: number;
  runs: number;
  /** Of the last run; null before the first. */
  lastResult: Verdict | null;
  lastReason: string | null;
  lastDurationMs: number | null;
  lastRunAt: number | null;
  /** The end of the last exec run's output. */
  output: string | null;
  intervalMs: number;
  rise: number;
  fall: number;
}

export interface CheckChange {
  name: string;
  ok: boolean;
  reason: string;
}

export interface CheckRunnerOptions {
  node: string;
  /** Verdict changes are notices: the default log mask shows them. */
  log: AgentLogger & { notice(fields: object, message: string): void };
  /** A verdict changed (also called once for each check's initial state when it is set up). */
  onChange: (change: CheckChange) => void;
  /** Every finished run (metrics). */
  onRun?: (name: string, ok: boolean, durationMs: number) => void;
  /** The current links, for interface checks' first state (events keep it up to date). */
  listInterfaces: () => NetInterface[];
  /** exec checks running at once, across all checks. */
  maxExec?: number;
  /** Wall clock for `since` / `lastRunAt` (tests). */
  now?: () => number;
}

interface Entry {
  spec: CheckSpec;
  /** JSON of the spec: a reload with the same text keeps the state. */
  key: string;
  status: CheckStatus;
  probe?: () => Promise<ProbeResult>;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** Set when the check was removed or replaced: its run in flight is ignored. */
  retired: boolean;
}

export const DEFAULT_MAX_EXEC = 8;

export class CheckRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly slots: Slots;
  private readonly now: () => number;
  private identities = new Map<string, Identity | Error>();
  private closed = false;

  constructor(private readonly options: CheckRunnerOptions) {
    this.slots = new Slots(options.maxExec ?? DEFAULT_MAX_EXEC);
    this.now = options.now ?? Date.now;
  }

  /**
   * Start, keep or replace checks to match `specs`. A check whose definition is unchanged keeps
   * its state and schedule; a new or changed one starts in its initial state and runs at once.
   */
  setChecks(specs: readonly CheckSpec[]): void {
    if (this.closed) return;
    this.identities = new Map();
    const wanted = new Map(specs.map((spec) => [spec.name, spec]));
    for (const [name, entry] of this.entries) {
      const spec = wanted.get(name);
      if (spec === undefined || JSON.stringify(spec) !== entry.key) this.retire(name, entry);
    }
    let links: Map<string, NetInterface> | undefined;
    for (const spec of specs) {
      if (this.entries.has(spec.name)) continue;
      const entry = this.create(spec);
      this.entries.set(spec.name, entry);
      this.options.onChange({ name: spec.name, ok: entry.status.state === 'pass', reason: entry.status.reason });
      if (spec.kind === 'interface') {
        links ??= this.links();
        this.linkState(entry, links.get(spec.interface));
      } else {
        this.schedule(entry, 0);
      }
    }
  }

  /** Link events drive interface checks; an overrun re-reads every link. */
  onNetEvents(events: readonly NetEvent[]): void {
    if (this.closed) return;
    const watched = [...this.entries.values()].filter((entry) => entry.spec.kind === 'interface');
    if (watched.length === 0) return;
    if (events.some((event) => event.type === 'overrun')) {
      const links = this.links();
      for (const entry of watched) this.linkState(entry, links.get((entry.spec as { interface: string }).interface));
      return;
    }
    for (const event of events) {
      if (event.type !== 'link') continue;
      for (const entry of watched) {
        if ((entry.spec as { interface: string }).interface === event.name) this.linkState(entry, event.action === 'delete' ? undefined : event);
      }
    }
  }

  status(): CheckStatus[] {
    return [...this.entries.values()].map((entry) => ({ ...entry.status }));
  }

  /** Stop scheduling and kill exec runs still going. */
  close(): void {
    this.closed = true;
    for (const [name, entry] of this.entries) this.retire(name, entry);
    killRunning();
  }

  private create(spec: CheckSpec): Entry {
    const status: CheckStatus = {
      name: spec.name,
      kind: spec.kind,
      target: checkTarget(spec),
      state: spec.initial,
      since: this.now(),
      reason: 'initial state',
      consecutivePasses: 0,
      consecutiveFails: 0,
      runs: 0,
      lastResult: null,
      lastReason: null,
      lastDurationMs: null,
      lastRunAt: null,
      output: null,
      intervalMs: spec.intervalMs,
      rise: spec.rise,
      fall: spec.fall,
    };
    return { spec, key: JSON.stringify(spec), status, probe: this.probeFor(spec), running: false, retired: false };
  }

  private retire(name: string, entry: Entry): void {
    entry.retired = true;
    clearTimeout(entry.timer);
    this.entries.delete(name);
  }

  private probeFor(spec: CheckSpec): (() => Promise<ProbeResult>) | undefined {
    switch (spec.kind) {
      case 'exec':
        return () => runExec(spec, this.options.node, this.slots, () => this.identity(spec.user));
      case 'tcp':
        return () => runTcp(spec);
      case 'http':
        return () => runHttp(spec);
      case 'file':
        return () => runFile(spec);
      case 'process':
        return processProbe(spec);
      case 'interface':
        return undefined;
    }
  }

  /** Users are looked up once per configuration (a failed lookup fails the check's runs with its reason). */
  private identity(user: string | number | undefined): Identity | undefined {
    if (user === undefined) return undefined;
    const key = String(user);
    let found = this.identities.get(key);
    if (found === undefined) {
      try {
        found = resolveUser(user);
      } catch (err) {
        found = err as Error;
      }
      this.identities.set(key, found);
    }
    if (found instanceof Error) throw found;
    return found;
  }

  private schedule(entry: Entry, delayMs: number): void {
    entry.timer = setTimeout(() => void this.run(entry), delayMs);
  }

  private async run(entry: Entry): Promise<void> {
    if (entry.retired || entry.probe === undefined) return;
    entry.running = true;
    const started = performance.now();
    const result = await entry.probe();
    const duration = performance.now() - started;
    entry.running = false;
    if (entry.retired) return;
    this.options.onRun?.(entry.spec.name, result.ok, duration);
    this.record(entry, result, duration);
    // Runs never overlap: the next starts an interval after this one started, or at once when it took longer.
    this.schedule(entry, Math.max(0, entry.spec.intervalMs - duration));
  }

  private linkState(entry: Entry, link: Pick<NetInterface, 'up' | 'running' | 'lowerUp'> | undefined): void {
    const name = (entry.spec as { interface: string }).interface;
    const result: ProbeResult = link === undefined ? { ok: false, reason: `no interface ${name}` }
      : !link.up ? { ok: false, reason: `${name} is administratively down` }
        : !link.lowerUp ? { ok: false, reason: `${name} has no carrier` }
          : !link.running ? { ok: false, reason: `${name} is not operationally up` }
            : { ok: true, reason: `${name} is up with carrier` };
    // Events repeat the same state (address changes, flags we do not look at): only changes count as runs.
    if (entry.status.lastResult !== null && (entry.status.lastResult === 'pass') === result.ok && entry.status.lastReason === result.reason) return;
    // The kernel's word is not a sample: it decides at once (no rise/fall).
    this.record(entry, result, 0, true);
  }

  private record(entry: Entry, result: ProbeResult, durationMs: number, decisive = false): void {
    const { status, spec } = entry;
    const first = status.lastResult === null;
    status.runs++;
    status.lastResult = result.ok ? 'pass' : 'fail';
    status.lastReason = result.reason;
    status.lastDurationMs = Math.round(durationMs * 10) / 10;
    status.lastRunAt = this.now();
    status.output = result.output ?? null;
    if (result.ok) {
      status.consecutivePasses++;
      status.consecutiveFails = 0;
    } else {
      status.consecutiveFails++;
      status.consecutivePasses = 0;
    }
    const next: Verdict = first || decisive ? status.lastResult
      : status.state === 'fail' && status.consecutivePasses >= spec.rise ? 'pass'
        : status.state === 'pass' && status.consecutiveFails >= spec.fall ? 'fail'
          : status.state;
    if (next === status.state) {
      // The reason shown follows the runs that agree with the state.
      if (status.lastResult === status.state) status.reason = result.reason;
      return;
    }
    const previous = status.state;
    status.state = next;
    status.since = status.lastRunAt;
    status.reason = result.reason;
    const fields = { event: 'check', check: spec.name, kind: spec.kind, state: next, previous, reason: result.reason };
    if (next === 'fail') this.options.log.notice(fields, `check ${spec.name} failing: ${result.reason}${result.output ? ` (output: ${oneLine(result.output)})` : ''}`);
    else this.options.log.notice(fields, `check ${spec.name} passing: ${result.reason}`);
    this.options.onChange({ name: spec.name, ok: next === 'pass', reason: result.reason });
  }

  private links(): Map<string, NetInterface> {
    try {
      return new Map(this.options.listInterfaces().map((link) => [link.name, link]));
    } catch (err) {
      this.options.log.error({ event: 'check', err: String(err) }, `cannot list interfaces for interface checks: ${String(err)}`);
      return new Map();
    }
  }
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `…${line.slice(-200)}` : line;
}
