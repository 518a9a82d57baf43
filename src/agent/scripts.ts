// flip's alive/down scripts: for a system that has them, vippyd runs `script POINT CONFIG_JSON`
// instead of plumbing addresses itself. As in flip, what is asked waits the system's `delay`,
// restarted by every further change, so that changes that come together make one plan (a point
// asked down and back up meanwhile runs nothing); the plan's alive scripts are started before its
// down scripts (flip waited for them to finish first). One script at a time per point, in the order asked; a run that hangs is killed with
// its whole process group; failures are retried with capped exponential backoff until they
// succeed or the point's desired state flips.

import { spawn } from 'node:child_process';
import type { ClusterConfig, FlipSystem, VipGroup } from '../config/model.js';
import type { ScriptPointStatus } from '../control/status.js';
import { describeError, type AgentLogger } from '../log/logger.js';

export type ScriptAction = 'alive' | 'down';

/** A data point of a system with scripts. */
export interface ScriptedPoint {
  system: FlipSystem;
  point: string;
}

/** One run's outcome, reported when core should hear of it (see ScriptRunner). */
export interface ScriptOutcome {
  system: string;
  point: string;
  action: ScriptAction;
  ok: boolean;
  error?: string;
}

export interface RetryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** Runs of `alive` before giving up (then the point is rolled back with `down`). */
  aliveAttempts: number;
}

export interface ScriptRunnerOptions {
  log: AgentLogger;
  /** Successes, every failed `down`, and an `alive` that failed its last attempt. */
  onOutcome: (outcome: ScriptOutcome) => void;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Output lines logged per stream and run, and characters kept per line. */
  maxLogLines?: number;
  maxLineChars?: number;
}

const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 500, maxDelayMs: 30_000, aliveAttempts: 3 };

/** The point's group, when its system runs scripts (undefined: built-in plumbing). */
export function scriptedPoint(config: ClusterConfig, group: VipGroup): ScriptedPoint | undefined {
  const system = config.systems?.find((s) => s.name === group.system);
  if (!system?.alive || !system.down || group.point === undefined) return undefined;
  return { system, point: group.point };
}

/** Every point of the systems with scripts that `node` takes part in (an arbiter has none). */
export function scriptedPoints(config: ClusterConfig, node: string): ScriptedPoint[] {
  const member = new Set(config.nodes.find((n) => n.name === node)?.systems);
  return config.groups.flatMap((group) => {
    const scripted = scriptedPoint(config, group);
    return scripted && member.has(scripted.system.name) ? [scripted] : [];
  });
}

/**
 * The config as the reconciler must see it: a scripted system's address points are the
 * scripts' business, so they carry no addresses (else the drift repair would remove them).
 */
export function withoutScriptedAddresses(config: ClusterConfig): ClusterConfig {
  if (!config.groups.some((group) => scriptedPoint(config, group) && group.addresses.length > 0)) return config;
  return { ...config, groups: config.groups.map((group) => (scriptedPoint(config, group) ? { ...group, addresses: [] } : group)) };
}

interface Entry {
  system: FlipSystem;
  point: string;
  desired: ScriptAction;
  running: boolean;
  /** Runs of the desired state so far (reset when it flips). */
  attempts: number;
  lastError: string | null;
  lastExitCode: number | null;
  /** The desired state has been reached (its script exited 0). */
  done: boolean;
  retryTimer?: NodeJS.Timeout;
}

interface RunResult {
  ok: boolean;
  exitCode: number | null;
  error?: string;
}

export class ScriptRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly log: AgentLogger;
  private readonly onOutcome: (outcome: ScriptOutcome) => void;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly maxLogLines: number;
  private readonly maxLineChars: number;
  private stopping = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** Per system: what was asked during its delay, applied together when the delay runs out. */
  private readonly plans = new Map<string, { timer: NodeJS.Timeout; wants: Map<string, { target: ScriptedPoint; state: ScriptAction }> }>();

  constructor(options: ScriptRunnerOptions) {
    this.log = options.log;
    this.onOutcome = options.onOutcome;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.maxLogLines = options.maxLogLines ?? 20;
    this.maxLineChars = options.maxLineChars ?? 500;
  }

  /**
   * Make the point `alive` or `down` here. Asking for the state already wanted changes nothing;
   * a flip cancels any pending retry, and a script still running finishes first (a half-run
   * script is worse than a late one), its result then only logged.
   */
  want(target: ScriptedPoint, state: ScriptAction): void {
    if (this.stopping || target.system.delayMs <= 0) return this.apply(target, state);
    const name = target.system.name;
    const plan = this.plans.get(name);
    clearTimeout(plan?.timer);
    const wants = plan?.wants ?? new Map<string, { target: ScriptedPoint; state: ScriptAction }>();
    wants.set(target.point, { target, state });
    this.plans.set(name, { wants, timer: setTimeout(() => this.applyPlan(name), target.system.delayMs) });
  }

  /** A system's delay ran out: alive first, then down, as flip runs a plan. */
  private applyPlan(name: string): void {
    const plan = this.plans.get(name);
    if (!plan) return;
    this.plans.delete(name);
    clearTimeout(plan.timer);
    const wants = [...plan.wants.values()];
    for (const { target, state } of wants) if (state === 'alive') this.apply(target, state);
    for (const { target, state } of wants) if (state === 'down') this.apply(target, state);
  }

  private apply(target: ScriptedPoint, state: ScriptAction): void {
    const key = entryKey(target.system.name, target.point);
    let entry = this.entries.get(key);
    if (entry?.desired === state) return;
    if (!entry) {
      entry = { system: target.system, point: target.point, desired: state, running: false, attempts: 0, lastError: null, lastExitCode: null, done: false };
      this.entries.set(key, entry);
    }
    clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
    Object.assign(entry, { system: target.system, desired: state, attempts: 0, done: false });
    if (!entry.running) void this.run(entry);
  }

  /** Per point (prefixed "system:" when two systems share the point), for /status. */
  status(): Record<string, ScriptPointStatus> {
    const shared = new Set<string>();
    const seen = new Set<string>();
    for (const entry of this.entries.values()) (seen.has(entry.point) ? shared : seen).add(entry.point);
    const result: Record<string, ScriptPointStatus> = {};
    for (const entry of this.entries.values()) {
      result[shared.has(entry.point) ? `${entry.system.name}:${entry.point}` : entry.point] = {
        system: entry.system.name,
        state: entry.desired,
        done: entry.done,
        running: entry.running,
        attempts: entry.attempts,
        lastError: entry.lastError,
        lastExitCode: entry.lastExitCode,
      };
    }
    return result;
  }

  /**
   * Clean stop: no more retries; resolves once the runs already asked for have finished. Plans
   * still in their delay run at once (`flush`, e.g. the releases of a stop), or are dropped.
   */
  stop(flush = true): Promise<void> {
    for (const name of [...this.plans.keys()]) {
      if (flush) this.applyPlan(name);
      else clearTimeout(this.plans.get(name)!.timer);
    }
    this.plans.clear();
    this.stopping = true;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.retryTimer);
      entry.retryTimer = undefined;
    }
    return this.busy() ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private busy(): boolean {
    return [...this.entries.values()].some((entry) => entry.running);
  }

  private async run(entry: Entry): Promise<void> {
    const action = entry.desired;
    entry.running = true;
    const attempt = ++entry.attempts;
    const result = await this.execute(entry.system, entry.point, action);
    entry.running = false;
    entry.lastExitCode = result.exitCode;
    entry.lastError = result.ok ? null : result.error ?? 'failed';
    const fields = { event: 'script', system: entry.system.name, point: entry.point, action, attempt };

    if (entry.desired !== action) {
      this.log.info({ ...fields, ok: result.ok }, `${action} ${entry.point}: superseded by ${entry.desired}`);
      entry.attempts = 0;
      void this.run(entry);
      return;
    }
    if (result.ok) {
      entry.done = true;
      this.log.info(fields, `${action} ${entry.point} (${entry.system.name}) done`);
      this.onOutcome({ system: entry.system.name, point: entry.point, action, ok: true });
    } else {
      this.failed(entry, action, result.error ?? 'failed', fields);
    }
    if (!this.busy()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * `down` is retried until it works: releasing is always right. `alive` gets a few attempts,
   * reported only at the end, so core keeps the point meanwhile; after the last one the point
   * is rolled back with `down` and core hears of the failure (and lets another node take it).
   */
  private failed(entry: Entry, action: ScriptAction, error: string, fields: Record<string, unknown>): void {
    const outcome = { system: entry.system.name, point: entry.point, action, ok: false, error };
    const givingUp = action === 'alive' && entry.attempts >= this.retry.aliveAttempts;
    if (givingUp) {
      this.log.error({ ...fields, err: error }, `${action} ${entry.point} (${entry.system.name}) failed ${entry.attempts} times: ${error}; rolling back`);
      entry.desired = 'down';
      entry.attempts = 0;
      this.onOutcome(outcome);
      void this.run(entry);
      return;
    }
    if (action === 'down') this.onOutcome(outcome);
    if (this.stopping) {
      this.log.error({ ...fields, err: error }, `${action} ${entry.point} (${entry.system.name}) failed: ${error}; stopping, no retry`);
      return;
    }
    const delay = Math.min(this.retry.maxDelayMs, this.retry.firstDelayMs * 2 ** (entry.attempts - 1));
    this.log.error({ ...fields, err: error, retryInMs: delay }, `${action} ${entry.point} (${entry.system.name}) failed: ${error}; retry in ${delay} ms`);
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      void this.run(entry);
    }, delay);
  }

  /** `script POINT CONFIG_JSON`, no shell, in its own process group (a timeout kills the group). */
  private execute(system: FlipSystem, point: string, action: ScriptAction): Promise<RunResult> {
    const script = action === 'alive' ? system.alive! : system.down!;
    const fields = { event: 'script-output', system: system.name, point, action };
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: RunResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const child = spawn(script, [point, JSON.stringify(system.config)], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        // flip's lesson: the environment as well as argv.
        env: { ...process.env, VIPPY_POINT: point, VIPPY_SYSTEM: system.name, VIPPY_ACTION: action },
      });
      const lastStderr = this.logLines(child.stderr, { ...fields, stream: 'stderr' });
      this.logLines(child.stdout, { ...fields, stream: 'stdout' });
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
        finish({ ok: false, exitCode: null, error: `${script} timed out after ${this.timeoutMs} ms (process group killed)` });
      }, this.timeoutMs);
      child.on('error', (err) => finish({ ok: false, exitCode: null, error: `${script}: ${describeError(err)}` }));
      child.on('close', (code, signal) => {
        if (code === 0) return finish({ ok: true, exitCode: 0 });
        const how = code === null ? `killed by ${signal}` : `exited ${code}`;
        const detail = lastStderr();
        finish({ ok: false, exitCode: code, error: `${script} ${how}${detail ? `: ${detail}` : ''}` });
      });
    });
  }

  /** Logs a stream line by line (bounded, truncated); returns a reader of the last line. */
  private logLines(stream: NodeJS.ReadableStream, fields: Record<string, unknown>): () => string {
    let pending = '';
    let last = '';
    let logged = 0;
    const emit = (line: string) => {
      if (line === '') return;
      last = line.length > this.maxLineChars ? `${line.slice(0, this.maxLineChars)}…` : line;
      logged++;
      if (logged <= this.maxLogLines) this.log.info(fields, last);
      else if (logged === this.maxLogLines + 1) this.log.info(fields, '(further output not logged)');
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      // A line without an end may grow without bound: keep only what could be logged.
      if (pending.length > this.maxLineChars) pending = pending.slice(0, this.maxLineChars + 1);
      lines.forEach(emit);
    });
    stream.on('end', () => emit(pending));
    return () => last;
  }
}

function entryKey(system: string, point: string): string {
  return `${system}\u0000${point}`;
}
