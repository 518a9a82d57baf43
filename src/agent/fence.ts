// The fence: a tiny keeper process (native/fence/keeper.cc, carried inside the addon) that
// removes this node's held addresses the moment vippyd dies (its stdin pipe reaches end of file,
// SIGKILL included) or stops running its event loop for longer than the stall deadline (SIGSTOP,
// a hung loop), well before any peer takes them over. The reconciler tells it every address it
// plumbs (before adding it) and releases (after removing it); the daemon pets it right after
// sending each announcement. The address lease stays as the last resort for a keeper that dies
// too. See docs/architecture.md, "The fence".

import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressRequest } from '../../bindings/types.js';
import type { ClusterConfig } from '../config/model.js';
import { describeError, type AgentLogger } from '../log/logger.js';

type Timing = Pick<ClusterConfig['timing'], 'intervalMs' | 'staleMs'>;

/**
 * How long vippyd's event loop may go without sending an announcement before its addresses are
 * fenced: half an interval short of stale. A peer takes over a silent holder's groups stale
 * (plus the takeover guard, 0 without quorum) after the last announcement it heard, and the
 * keeper is petted right after each one is sent, so the keeper acts at least half an interval
 * before any peer can. A stall shorter than this is ridden out; a longer one also makes core
 * release everything once it runs again if it exceeds stale, and otherwise the reconciler puts
 * the addresses back. Never under 1.25 intervals (announcements come once an interval): with
 * stale below 1.75 intervals (which the config warns about) the fence may act after a peer.
 * One deadline for every watchdog of the event loop.
 */
export function stallDeadlineMs(timing: Timing): number {
  return Math.round(Math.max(timing.staleMs - timing.intervalMs / 2, timing.intervalMs * 1.25));
}

/** What the reconciler tells the fence. */
export interface FenceListener {
  /** Called before the address is added: a death between the two still fences it. */
  hold(req: AddressRequest): void;
  /** Called once the address is removed. */
  drop(req: AddressRequest): void;
}

export interface FenceOptions {
  /** The keeper executable (native.fenceKeeperPath). Throws when it cannot be provided. */
  keeperPath: () => string;
  timing: Timing;
  /** address_lease 0 (permanent addresses, the original behaviour) turns the fence off too. */
  enabled: boolean;
  log: AgentLogger;
}

/** After the keeper died on its own: how soon another is started (the lease covers meanwhile). */
const RESTART_DELAY_MS = 1000;

/** CLOCK_MONOTONIC in ms (libuv's clock on Linux): what a pet's time is read from. */
export const monotonicMs = () => Number(process.hrtime.bigint() / 1_000_000n);

const commandOf = (req: AddressRequest) => `${req.interface} ${req.address} ${req.prefixLength}`;

export class Fence implements FenceListener {
  private readonly keeperPath: () => string;
  private readonly log: AgentLogger;
  private deadlineMs: number;
  private enabled: boolean;
  /** What the keeper holds (and is told again when a new keeper starts): command text by itself. */
  private readonly held = new Set<string>();
  private keeper: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: FenceOptions) {
    this.keeperPath = options.keeperPath;
    this.log = options.log;
    this.deadlineMs = stallDeadlineMs(options.timing);
    this.enabled = options.enabled;
  }

  /** Start the keeper (when enabled). A failure is logged; vippyd runs on with the lease alone. */
  start(): void {
    if (!this.enabled || this.closed || this.keeper) return;
    let path: string;
    try {
      path = this.keeperPath();
    } catch (err) {
      this.log.error({ error: describeError(err) }, 'cannot start the fence keeper; a killed or frozen vippyd keeps its addresses until their lease ends');
      return;
    }
    // Its own session: signals sent to vippyd's process group (a terminal's ^Z, `kill -STOP -pgid`)
    // must not stop the keeper with it.
    const keeper = spawn(path, [String(this.deadlineMs), String(process.pid)], {
      argv0: 'vippy-fence',
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    });
    this.keeper = keeper;
    // The keeper never keeps vippyd alive: vippyd's exit is what it waits for.
    keeper.unref();
    (keeper.stdout as unknown as { unref?: () => void }).unref?.();
    (keeper.stdin as unknown as { unref?: () => void }).unref?.();
    keeper.stdin!.on('error', () => {}); // EPIPE after the keeper died: the 'exit' handler reports it.
    keeper.on('error', (err) => this.lost(keeper, describeError(err)));
    keeper.on('exit', (code, signal) => this.lost(keeper, signal ? `killed by ${signal}` : `exited with status ${code}`));
    let partial = '';
    keeper.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.onReport(line);
    });
    for (const command of this.held) this.write(`+ ${command}`);
  }

  hold(req: AddressRequest): void {
    const command = commandOf(req);
    if (this.held.has(command)) return;
    this.held.add(command);
    this.write(`+ ${command}`);
  }

  drop(req: AddressRequest): void {
    const command = commandOf(req);
    if (!this.held.delete(command)) return;
    this.write(`- ${command}`);
  }

  /**
   * The event loop runs: called right after each announcement is handed to the kernel, with the
   * time taken just before (CLOCK_MONOTONIC ms, the keeper's clock: what process.hrtime reads
   * on Linux), so the deadline counts from the announcement however late the keeper reads it.
   */
  pet(sentAt: number): void {
    this.write(`. ${Math.floor(sentAt)}`);
  }

  /** A reloaded config: new timings, and address_lease switching the fence on or off. */
  configure(timing: Timing, enabled: boolean): void {
    const deadline = stallDeadlineMs(timing);
    if (deadline !== this.deadlineMs) {
      this.deadlineMs = deadline;
      this.write(`d ${deadline}`);
    }
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    if (enabled) this.start();
    else this.stopKeeper();
  }

  /**
   * Clean stop, after vippyd released everything itself: the keeper's stdin is closed, so it
   * deletes what it still holds (only addresses whose release failed) and exits. Nothing is
   * waited for: a clean stop is not slowed. With `linger` (a stop that releases nothing), the
   * keeper waits for the stall deadline after the last pet before it deletes them.
   */
  close({ linger = false } = {}): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    if (linger) this.write('l');
    this.keeper?.stdin?.end();
    this.keeper = undefined;
  }

  private stopKeeper(): void {
    const keeper = this.keeper;
    this.keeper = undefined;
    if (!keeper) return;
    // Forget everything first: end of file makes the keeper delete whatever it still holds.
    for (const command of this.held) keeper.stdin?.write(`- ${command}\n`);
    keeper.stdin?.end();
  }

  private write(line: string): void {
    const stdin = this.keeper?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(`${line}\n`);
  }

  private onReport(line: string): void {
    const [kind, ...rest] = line.split(' ');
    if (kind === 'ready') {
      this.log.debug({ deadlineMs: this.deadlineMs, realtime: rest[0] === '1' }, 'fence keeper running');
    } else if (kind === 'fenced') {
      const [deleted, silentMs, errors] = rest.map(Number);
      // err, not warning: the default log mask hides warnings, and this is worth an alert.
      this.log.error({ event: 'fenced', deleted, silentMs, errors, deadlineMs: this.deadlineMs },
        `no announcement sent for ${silentMs} ms (the stall deadline is ${this.deadlineMs} ms): the fence keeper removed the held addresses`);
    } else if (kind === 'error') {
      this.log.error({ error: rest.join(' ') }, `fence keeper: ${rest.join(' ')}`);
    }
  }

  private lost(keeper: ChildProcess, why: string): void {
    if (this.keeper !== keeper) return;
    this.keeper = undefined;
    if (this.closed || !this.enabled) return;
    this.log.error({ error: why }, `the fence keeper ${why}; starting another in ${RESTART_DELAY_MS} ms (the address lease covers meanwhile)`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.start(), RESTART_DELAY_MS).unref();
  }
}
