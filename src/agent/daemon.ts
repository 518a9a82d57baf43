// vippyd: the I/O shell around core. It feeds core events (datagrams, timers, netlink, health,
// signals) and carries out the actions core returns, through the chat, the reconciler, the
// notifier and the facades plugins listen to. Everything here is plumbing; decisions are core's.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { RemoteInfo } from 'node:dgram';
import { native } from '../../bindings/index.js';
import type { NetEvent, Watcher } from '../../bindings/types.js';
import {
  ConfigError,
  adoptTransferred,
  loadConfigFile,
  renderConfigFile,
  transferDocument,
} from '../config/index.js';
import type { ClusterConfig, SyslogLevel, VipAddress, VipGroup } from '../config/model.js';
import { arpCache, createNode, notifyTargets, status as coreStatus, step, type NodeState } from '../core/index.js';
import type { Action, ArpEntry, CoreEvent, Ownership, TransitionCause } from '../core/types.js';
import { createCodec, type Codec } from '../wire/index.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import type { ControlHandlers } from '../control/server.js';
import { statusBody, statusOwnership, vippyStatusConfig, type AnnounceStatus, type CheckStatusBody, type PeerStatus, type Status } from '../control/status.js';
import { EventStream } from '../control/events.js';
import { createMetrics, groupLabel, startMetricsServer, UnownedGaps, type MetricsServer, type VippyMetrics } from '../control/metrics.js';
import { createLogger, describeError, type VippyLogger } from '../log/logger.js';
import { loadPlugins, emitGuarded } from '../plugins/loader.js';
import { createChat, type Chat } from './chat.js';
import { Reconciler } from './reconciler.js';
import { Fence, monotonicMs } from './fence.js';
import { Notifier } from './notifier.js';
import { ArpScanner } from './arpscan.js';
import { ScriptRunner, scriptedPoint, scriptedPoints, withoutScriptedAddresses, type ScriptOutcome } from './scripts.js';
import { VippyConfig, VippyManager, VippyNetwork, ignoreReason, vippyAnnouncement, vippyIface, type DaemonView } from './facades.js';
import { addressRequest } from './reconciler.js';
import { CheckRunner, type CheckChange } from './checks/runner.js';
import { missingCapabilities, missingCapabilitiesMessage, secretFileWarning } from './privileges.js';

export interface DaemonOptions {
  configPath: string;
  /** Absent: a flip file's `id`, else the host name. */
  node?: string;
  plugins: string[];
}

/** A problem that stops vippyd from starting; the CLI prints its message on one line. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Milliseconds on a monotonic clock: what core's `now` means. */
const monotonic = () => performance.now();

/** How often the kernel is re-checked against the held groups even without netlink events. */
const RECHECK_MS = 1000;
/** Rejected datagrams are logged at most once per reason in this window (the counters keep every one). */
const REJECTION_LOG_WINDOW_MS = 10_000;
/** A clean stop must be over within one second, whatever a plugin or a socket does. */
const STOP_DEADLINE_MS = 900;

function loadOrExplain(path: string): { config: ClusterConfig; warnings: string[] } {
  try {
    return loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(err.message);
    throw new StartupError(`cannot read config ${path}: ${describeError(err)}`);
  }
}

export async function runDaemon(options: DaemonOptions): Promise<number> {
  // Before anything is created: without these the daemon could announce but never act.
  const missing = missingCapabilities();
  if (missing.length > 0) throw new StartupError(missingCapabilitiesMessage(missing));
  const daemon = new Daemon(options);
  await daemon.start();
  return daemon.finished;
}

class Daemon implements DaemonView {
  readonly self: string;
  private current: ClusterConfig;
  private readonly logger: VippyLogger;
  private readonly state: NodeState;
  private codec: Codec;
  private chat?: Chat;
  private readonly reconciler: Reconciler;
  private readonly fence: Fence;
  private readonly notifier: Notifier;
  private readonly arpScanner: ArpScanner;
  private readonly scripts: ScriptRunner;
  private readonly checks: CheckRunner;
  private watcher?: Watcher;
  private control?: ControlServer;
  private metricsServer?: MetricsServer;
  private readonly metrics: VippyMetrics = createMetrics(() => this.refreshMetrics());
  private readonly unownedGaps = new UnownedGaps();
  /** Why a scripted group's script was started, for its transition's metric when it finishes. */
  private readonly scriptCauses = new Map<number, TransitionCause>();
  private readonly scriptReasons = new Map<number, string>();
  /** Notifier counters already added to the notify-frames metric. */
  private framesCounted = { garp: 0, 'arp-reply': 0, na: 0 };
  private wakeTimer?: NodeJS.Timeout;
  /** The core time wakeTimer is armed for. */
  private wakeTimerAt = Infinity;
  private recheckTimer?: NodeJS.Timeout;
  private stopping = false;
  private resolveFinished!: (code: number) => void;
  readonly finished = new Promise<number>((resolve) => (this.resolveFinished = resolve));

  private readonly pending: CoreEvent[] = [];
  private dispatching = false;
  private readonly rejectionLog = new Map<string, { since: number; suppressed: number }>();
  private readonly stats = { ignore: 0, sendAnnounce: 0, recvAnnounce: 0, stateChanges: 0 };
  /** Each check's last verdict (metrics count changes of it). */
  private readonly checkVerdicts = new Map<string, boolean>();
  private readonly events: { config: VippyConfig; manager: VippyManager; network: VippyNetwork };
  /** `vippyctl watch`: every state change, in order. */
  private readonly eventStream: EventStream;

  constructor(private readonly options: DaemonOptions) {
    const { config, warnings } = loadOrExplain(options.configPath);
    this.self = options.node ?? config.localNode ?? os.hostname();
    if (!config.nodes.some((n) => n.name === this.self)) {
      throw new StartupError(
        `node "${this.self}" is not in this configuration (nodes: ${config.nodes.map((n) => n.name).join(', ')}); use -n NODE`,
      );
    }
    this.current = config;
    this.logger = createLogger(config.logging, { ident: 'vippyd', syslog: native });
    for (const warning of warnings) this.logger.warning({ event: 'config-warning' }, warning);
    // notice, not warning: the default mask hides warnings, and a readable secret must be seen.
    const exposed = secretFileWarning(options.configPath);
    if (exposed) this.logger.notice({ event: 'config-permissions' }, exposed);

    this.codec = this.makeCodec(config);
    this.state = createNode({ self: this.self, config, now: monotonic() });
    // The original's order: the config's plugins, then -p.
    this.eventStream = new EventStream(this.self);
    this.events = { config: new VippyConfig(this, [...config.plugins, ...options.plugins]), manager: new VippyManager(this), network: new VippyNetwork(this) };
    this.fence = new Fence({ keeperPath: () => native.fenceKeeperPath(), ...fenceSettings(config), log: this.logger });
    this.reconciler = new Reconciler({
      native,
      fence: this.fence,
      config: withoutScriptedAddresses(config),
      log: this.logger,
      onCarrier: ({ interface: name, up }) => this.dispatch({ type: 'carrier', interface: name, up }),
      beforeCheck: () => this.dispatch({ type: 'tick' }),
    });
    this.notifier = new Notifier({ native, arp: config.arp, log: this.logger });
    this.scripts = new ScriptRunner({ log: this.logger, onOutcome: (outcome) => this.scriptOutcome(outcome) });
    this.checks = new CheckRunner({
      node: this.self,
      log: this.logger,
      onChange: (change) => this.checkChanged(change),
      onRun: (name, _ok, durationMs) => this.metrics.checkDuration.observe({ check: name }, durationMs / 1000),
      listInterfaces: () => native.listInterfaces(),
    });
    this.arpScanner = new ArpScanner({
      native,
      intervalMs: config.timing.arpCacheMs,
      log: this.logger,
      onEntries: (entries) => this.dispatch({ type: 'neighbours', entries }),
    });
  }

  /** knownNodes reads the current config, so a graduation or reload keeps the replay state. */
  private makeCodec(config: ClusterConfig): Codec {
    return createCodec({
      secret: config.secret,
      self: this.self,
      knownNodes: (name) => this.current.nodes.some((n) => n.name === name),
    });
  }

  async start(): Promise<void> {
    const config = this.current;
    try {
      this.control = await startControlServer({
        path: config.management.path,
        mode: config.management.mode,
        group: config.management.group,
        handlers: this.controlHandlers(),
        log: this.logger,
        events: this.eventStream,
      });
    } catch (err) {
      throw new StartupError(describeError(err));
    }
    if (config.metrics) {
      try {
        this.metricsServer = await startMetricsServer(config.metrics.listen, this.metrics.registry, this.logger);
      } catch (err) {
        await this.control.close();
        throw new StartupError(describeError(err));
      }
    }
    try {
      this.chat = await createChat(config, this.self, (buf, rinfo) => this.onDatagram(buf, rinfo), this.logger);
    } catch (err) {
      await Promise.allSettled([this.control.close(), this.metricsServer?.close()]);
      throw new StartupError(describeError(err));
    }

    // Routed groups are plumbed on vippyd's dummy link: it must exist before anything is plumbed.
    const linkError = this.reconciler.prepare();
    if (linkError !== undefined) {
      await Promise.allSettled([this.control.close(), this.metricsServer?.close(), this.chat.close()]);
      throw new StartupError(linkError);
    }
    this.fence.start();
    // Subscribe before the first dump so no change falls between them.
    this.watcher = native.watch((events) => this.onNetEvents(events));
    // Until core decides otherwise this node holds nothing: leftovers of a killed run go now.
    this.reconciler.apply([]);
    // flip's start-up clean-up (unless remove_on_start): `down` for every point; within the
    // system's delay, the first plan's alive scripts replace it for the points assigned here.
    for (const point of scriptedPoints(config, this.self)) if (!point.system.removeOnStart) this.scripts.want(point, 'down');
    this.arpScanner.start();
    this.checks.setChecks(config.checks ?? []);
    this.recheckTimer = setInterval(() => this.recheck(), RECHECK_MS);

    for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, () => void this.stop(0));
    process.on('SIGHUP', () => this.reload());
    process.on('uncaughtException', (err) => {
      this.logger.crit({ event: 'crash', err: describeError(err), stack: err.stack }, 'uncaught exception; releasing everything');
      void this.stop(1);
    });

    this.logger.notice(
      { event: 'start', node: this.self, version: config.version, keyId: this.codec.keyId, chat: config.chat.mode },
      `vippyd ${this.self} starting (config v${config.version}, ${config.groups.length} groups, ${config.nodes.length} nodes)`,
    );
    this.dispatch({ type: 'tick' });

    try {
      await loadPlugins([...this.events.config.plugins()], this.events, this.logger);
    } catch (err) {
      this.logger.err({ event: 'plugin-error', err: describeError(err) }, describeError(err));
      await this.stop(1);
      throw new StartupError(describeError(err));
    }
  }

  // ---- the core loop ---------------------------------------------------------------------------

  /**
   * Events raised while actions are being carried out (apply-results, carrier changes) wait
   * until every action of the current step is done: a step's actions may switch the config
   * (adopt-config), and the next step must see the agent on the same config as core.
   */
  private dispatch(event: CoreEvent): void {
    if (this.stopping && event.type !== 'stop') return;
    this.pending.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        const result = step(this.state, next, monotonic());
        for (const action of result.actions) this.execute(action);
        if (!this.stopping) this.scheduleWake(result.wakeAt);
      }
      this.observeOwnership();
    } finally {
      this.dispatching = false;
    }
  }

  private scheduleWake(wakeAt: number): void {
    // Most steps keep the wake time: re-arming a timer on every datagram costs more than the step.
    if (this.wakeTimer && wakeAt === this.wakeTimerAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeTimerAt = wakeAt;
    if (!Number.isFinite(wakeAt)) return;
    const delay = Math.max(0, wakeAt - monotonic());
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.dispatch({ type: 'tick' });
    }, Math.ceil(delay));
  }

  private execute(action: Action): void {
    switch (action.type) {
      case 'send': {
        const datagram = this.codec.encodeAnnouncement(action.announcement, Date.now());
        const sentAt = monotonicMs();
        this.chat?.send(datagram);
        // Peers count their stale time from this announcement; the fence counts its deadline from it.
        this.fence.pet(sentAt);
        this.stats.sendAnnounce++;
        this.metrics.announcementsSent.inc();
        if (this.events.config.listenerCount('send-announce') > 0) {
          this.emit(this.events.config, 'send-announce', vippyAnnouncement(this.current, action.announcement, this.nodeArpTable(this.self)));
        }
        return;
      }
      case 'plumb':
        return this.plumb(action);
      case 'unplumb':
        return this.unplumb(action);
      case 'notify': {
        const group = this.current.groups[action.group];
        if (!group || scriptedPoint(this.current, group)) return;
        this.notifier.announce(group, action.reason, notifyTargets(this.state, action.group, this.current.notify));
        return;
      }
      case 'send-config': {
        const config = this.current;
        for (const datagram of this.codec.encodeConfigSlices(config.version, config.fingerprint, transferDocument(config), Date.now())) {
          this.chat?.send(datagram);
        }
        return;
      }
      case 'send-arp-cache':
        for (const datagram of this.codec.encodeArpSlices(action.entries, Date.now())) this.chat?.send(datagram);
        return;
      case 'adopt-config':
        return this.adopt(action.config, action.from);
      case 'state-change':
        this.stats.stateChanges++;
        this.emit(this.events.manager, 'state-change', this.events.manager.groupsOf(action.ownership), this.events.manager.groupsOf(action.previous));
        return;
      case 'log':
        this.publishLogged(action.event, action.level, action.message, action.fields);
        this.logger[action.level]({ event: action.event, ...action.fields }, action.message);
        return;
    }
  }

  private plumb({ group: index, reason, cause, from: takenFrom }: Extract<Action, { type: 'plumb' }>): void {
    const group = this.current.groups[index];
    if (!group) return;
    const scripted = scriptedPoint(this.current, group);
    if (scripted) {
      this.logger.info({ event: 'script-alive', group: index, reason }, `running alive for ${scripted.point} (${reason})`);
      this.scriptCauses.set(index, cause);
      this.scriptReasons.set(index, reason);
      return this.scripts.want(scripted, 'alive');
    }
    for (const address of group.addresses) this.emit(this.events.manager, 'up', vippyIface(address));
    const result = this.reconciler.plumb(index);
    for (const address of group.addresses) this.emit(this.events.network, 'up', result.ok, vippyIface(address));
    if (result.ok) {
      this.metrics.ownershipTransitions.inc({ direction: 'acquired' });
      this.metrics.countGroupTransition(groupLabel(group), 'acquired', cause);
      this.publishTransition('taken', group, reason, cause);
      if (takenFrom !== undefined) this.observeTakeover(takenFrom);
      this.logger.info({ event: 'plumbed', group: index, reason }, `holding ${describeGroup(this.current, index)} (${reason})`);
      this.notifier.announce(group, 'takeover', notifyTargets(this.state, index, this.current.notify));
    }
    // A failure is logged once, by core, with what it does about it (the group ineligible here for a while).
    this.dispatch({ type: 'apply-result', group: index, held: true, ok: result.ok, error: result.error });
  }

  private unplumb({ group: index, reason, cause }: Extract<Action, { type: 'unplumb' }>): void {
    const group = this.current.groups[index];
    if (!group) return;
    const scripted = scriptedPoint(this.current, group);
    if (scripted) {
      this.logger.info({ event: 'script-down', group: index, reason }, `running down for ${scripted.point} (${reason})`);
      this.scriptCauses.set(index, cause);
      this.scriptReasons.set(index, reason);
      return this.scripts.want(scripted, 'down');
    }
    this.notifier.cancel(index);
    for (const address of group.addresses) this.emit(this.events.manager, 'down', vippyIface(address));
    const result = this.reconciler.unplumb(index);
    for (const address of group.addresses) this.emit(this.events.network, 'down', result.ok, vippyIface(address));
    if (result.ok) {
      this.metrics.ownershipTransitions.inc({ direction: 'released' });
      this.metrics.countGroupTransition(groupLabel(group), 'released', cause);
      this.publishTransition('released', group, reason, cause);
      this.logger.info({ event: 'released', group: index, reason }, `released ${describeGroup(this.current, index)} (${reason})`);
    }
    // A failure is logged once, by core; while stopping core has stopped, so it is logged here.
    if (!this.stopping) this.dispatch({ type: 'apply-result', group: index, held: false, ok: result.ok, error: result.error });
    else if (!result.ok) this.logger.crit({ event: 'unplumb-failed', group: index }, `could not unplumb group ${index}: ${result.error}`);
  }

  /** A script's outcome is core's apply-result, as plumb/unplumb report theirs (ok = exit 0). */
  private scriptOutcome(outcome: ScriptOutcome): void {
    const index = this.current.groups.findIndex((g) => g.system === outcome.system && g.point === outcome.point);
    if (index < 0) return;
    if (outcome.ok) {
      const direction = outcome.action === 'alive' ? 'acquired' : 'released';
      this.metrics.ownershipTransitions.inc({ direction });
      const cause = this.scriptCauses.get(index);
      if (cause !== undefined) this.metrics.countGroupTransition(groupLabel(this.current.groups[index]!), direction, cause);
      this.publishTransition(direction === 'acquired' ? 'taken' : 'released', this.current.groups[index]!, this.scriptReasons.get(index) ?? '', cause);
    }
    if (!this.stopping) this.dispatch({ type: 'apply-result', group: index, held: outcome.action === 'alive', ok: outcome.ok, error: outcome.error });
  }

  /** A check's verdict changed (or a check was set up): metrics, and core's eligibility. */
  private checkChanged(change: CheckChange): void {
    const before = this.checkVerdicts.get(change.name);
    this.checkVerdicts.set(change.name, change.ok);
    this.metrics.checkUp.set({ check: change.name }, change.ok ? 1 : 0);
    if (before !== undefined && before !== change.ok) this.metrics.checkTransitions.inc({ check: change.name, to: change.ok ? 'pass' : 'fail' });
    this.dispatch({ type: 'check', name: change.name, ok: change.ok, reason: change.reason });
  }

  /** Checks a reload removed leave the metrics too. */
  private pruneCheckMetrics(config: ClusterConfig): void {
    const names = new Set((config.checks ?? []).map((check) => check.name));
    for (const name of [...this.checkVerdicts.keys()]) {
      if (names.has(name)) continue;
      this.checkVerdicts.delete(name);
      this.metrics.checkUp.remove({ check: name });
      this.metrics.checkDuration.remove({ check: name });
    }
  }

  private checkStatus(): CheckStatusBody[] {
    const iso = (ms: number) => new Date(ms).toISOString();
    return this.checks.status().map((check) => {
      const spec = this.current.checks?.find((candidate) => candidate.name === check.name);
      return {
        name: check.name,
        kind: check.kind,
        target: check.target,
        state: check.state,
        since: iso(check.since),
        reason: check.reason,
        consecutive_passes: check.consecutivePasses,
        consecutive_fails: check.consecutiveFails,
        runs: check.runs,
        last_result: check.lastResult,
        last_reason: check.lastReason,
        last_duration_ms: check.lastDurationMs,
        last_run_at: check.lastRunAt === null ? null : iso(check.lastRunAt),
        output: check.output,
        interval_ms: check.intervalMs,
        rise: check.rise,
        fall: check.fall,
        groups: spec?.node ? 'all' : this.current.groups.filter((group) => group.checks?.includes(check.name)).map((group) => group.index),
      };
    });
  }

  // ---- inputs ----------------------------------------------------------------------------------

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    const source = `${rinfo.address}:${rinfo.port}`;
    const decoded = this.codec.decode(buf, Date.now(), source);
    if (!decoded.ok) {
      if (decoded.reason === 'own') return;
      this.stats.ignore++;
      this.metrics.announcementsRejected.inc({ reason: decoded.reason });
      // The detail is formatted on reading: only for a log line or a listener, not for every datagram of a flood.
      this.logRejection(decoded, source);
      if (this.events.config.listenerCount('ignore') > 0) {
        this.emit(this.events.config, 'ignore', ignoreReason(decoded.reason), { reason: decoded.reason, detail: decoded.detail }, rinfo);
      }
      return;
    }
    switch (decoded.kind) {
      case 'announcement':
        // Core needs each sender's announcements in send order: an older one overtaken in
        // transit would roll its view of that peer back.
        if (!decoded.latest) return;
        this.stats.recvAnnounce++;
        this.metrics.announcementsReceived.inc();
        if (this.events.config.listenerCount('recv-announce') > 0) {
          this.emit(this.events.config, 'recv-announce', vippyAnnouncement(this.current, decoded.announcement, this.nodeArpTable(decoded.sender)), rinfo);
        }
        this.dispatch({ type: 'announcement', from: decoded.sender, announcement: decoded.announcement });
        return;
      case 'config': {
        let offered: ClusterConfig;
        try {
          offered = adoptTransferred(this.current, decoded.document);
        } catch (err) {
          this.logger.err({ event: 'config-offer-invalid', from: decoded.sender, err: describeError(err) }, `config v${decoded.version} from ${decoded.sender} is invalid: ${describeError(err)}`);
          return;
        }
        this.dispatch({ type: 'config-offer', from: decoded.sender, config: offered });
        return;
      }
      case 'arp':
        this.dispatch({ type: 'arp-slice', from: decoded.sender, entries: decoded.entries, complete: decoded.complete });
        return;
      case 'config-pending':
        return;
    }
  }

  /** One line per rejection reason per window: a flood of bad datagrams must not become a flood of log lines. */
  private logRejection(rejected: { reason: string; readonly detail: string }, source: string): void {
    const { reason } = rejected;
    const now = monotonic();
    const window = this.rejectionLog.get(reason);
    if (window && now - window.since < REJECTION_LOG_WINDOW_MS) {
      window.suppressed++;
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.rejectionLog.set(reason, { since: now, suppressed: 0 });
    const more = suppressed > 0 ? ` (and ${suppressed} more for this reason since the last line)` : '';
    this.logger.info({ event: 'ignored', reason, from: source, suppressed }, `announcement ignored [${source}]: ${rejected.detail}${more}`);
  }

  private onNetEvents(events: NetEvent[]): void {
    if (this.stopping) return;
    const failed = events.find((e) => e.type === 'failed');
    if (failed) {
      // The watcher has stopped: a new one, and a re-read of what may have changed meanwhile.
      this.logger.err({ event: 'netlink-watch-failed', err: describeError(failed.error) }, `netlink events stopped (${describeError(failed.error)}); watching again`);
      this.watcher = native.watch((next) => this.onNetEvents(next));
      this.recheck();
    } else if (events.some((e) => e.type === 'overrun')) {
      this.logger.warning({ event: 'netlink-overrun' }, 'netlink events were dropped; re-reading the kernel state');
      this.recheck();
    } else {
      this.report(this.reconciler.onNetEvents(events));
    }
    this.arpScanner.onNetEvents(events);
    this.checks.onNetEvents(events);
    // Not on a VIP's own events: every lease renewal echoes as one, and they never change where chat runs.
    if (events.some((e) => e.type === 'link' || (e.type === 'address' && !this.reconciler.isConfiguredAddress(e)))) this.chat?.refresh();
  }

  private recheck(): void {
    if (!this.stopping) this.report(this.reconciler.check());
  }

  private report(report: ReturnType<Reconciler['check']> | undefined): void {
    if (!report) return;
    for (const drift of report.restored) this.logger.warning({ event: 'restored', ...drift }, `${drift.address} on ${drift.interface} was removed by someone else; restored`);
    for (const drift of report.removed) this.logger.warning({ event: 'removed', ...drift }, `${drift.address} on ${drift.interface} is not held here; removed`);
    for (const drift of report.failed) this.logger.err({ event: 'repair-failed', ...drift }, `cannot repair ${drift.address} on ${drift.interface}: ${drift.error}`);
  }

  // ---- config changes --------------------------------------------------------------------------

  /** A peer's newer config: use it and persist it so a restart or SIGHUP keeps it. */
  private adopt(config: ClusterConfig, from: string): void {
    const previous = this.current;
    this.useConfig(config);
    try {
      const text = renderConfigFile(readFileSync(this.options.configPath, 'utf8'), config);
      const temporary = `${this.options.configPath}.vippy-tmp`;
      writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.options.configPath);
    } catch (err) {
      this.logger.err({ event: 'persist-failed', err: describeError(err) }, `cannot persist config v${config.version}: ${describeError(err)}`);
    }
    this.logger.notice({ event: 'config-change', from, previous: previous.version, version: config.version }, `config v${previous.version} -> v${config.version} (from ${from})`);
    this.emit(this.events.config, 'config-change');
  }

  /** SIGHUP / vippyctl reload: re-read the file and apply all of it; a bad file changes nothing. */
  private reload(): { ok: boolean; version: number; error?: string } {
    let loaded: { config: ClusterConfig; warnings: string[] };
    try {
      loaded = loadConfigFile(this.options.configPath);
      if (!loaded.config.nodes.some((n) => n.name === this.self)) {
        throw new Error(`node "${this.self}" is not in the new configuration`);
      }
    } catch (err) {
      this.logger.crit({ event: 'reload-failed', err: describeError(err) }, `reload failed, keeping config v${this.current.version}: ${describeError(err)}`);
      return { ok: false, version: this.current.version, error: describeError(err) };
    }
    for (const warning of loaded.warnings) this.logger.warning({ event: 'config-warning' }, warning);
    const previous = this.current;
    // Core's releases for groups that leave the config refer to the old config: switch after them.
    this.dispatch({ type: 'config-loaded', config: loaded.config });
    this.useConfig(loaded.config);
    this.logger.reconfigure(loaded.config.logging);
    void this.restartChatIfNeeded(previous, loaded.config);
    this.logger.notice({ event: 'reloaded', version: loaded.config.version }, `reloaded ${this.options.configPath} (v${loaded.config.version})`);
    return { ok: true, version: loaded.config.version };
  }

  private useConfig(config: ClusterConfig): void {
    const previousSecret = this.current.secret;
    this.current = config;
    for (const result of this.reconciler.setConfig(withoutScriptedAddresses(config))) {
      if (!result.ok) this.logger.err({ event: 'reconfigure-failed', group: result.group, err: result.error }, `reconfigure of group ${result.group} failed: ${result.error}`);
    }
    const { timing, enabled } = fenceSettings(config);
    this.fence.configure(timing, enabled);
    this.notifier.setSettings(config.arp);
    this.arpScanner.setInterval(config.timing.arpCacheMs);
    this.checks.setChecks(config.checks ?? []);
    this.pruneCheckMetrics(config);
    if (config.secret !== previousSecret) this.codec = this.makeCodec(config);
  }

  private async restartChatIfNeeded(previous: ClusterConfig, next: ClusterConfig): Promise<void> {
    const same = JSON.stringify(previous.chat) === JSON.stringify(next.chat)
      && JSON.stringify(previous.nodes) === JSON.stringify(next.nodes);
    if (same) return;
    const old = this.chat;
    try {
      this.chat = await createChat(next, this.self, (buf, rinfo) => this.onDatagram(buf, rinfo), this.logger);
      await old?.close();
    } catch (err) {
      this.logger.crit({ event: 'chat-failed', err: describeError(err) }, `cannot re-open chat: ${describeError(err)}`);
    }
  }

  // ---- stop ------------------------------------------------------------------------------------

  /** Announce leaving, release everything, close, exit: within one second. */
  private async stop(code: number): Promise<void> {
    if (this.stopping) return;
    const deadline = setTimeout(() => this.resolveFinished(code), STOP_DEADLINE_MS);
    // flip's remove_on_failure: false leaves everything in place and says nothing.
    const release = this.current.releaseOnStop !== false;
    // Stopping first: the releases core asks for are not fed back as apply-results, so the leaving
    // announcement goes out right after them.
    this.stopping = true;
    if (release) this.dispatch({ type: 'stop' });
    this.emit(this.events.config, 'stop');
    clearTimeout(this.wakeTimer);
    clearInterval(this.recheckTimer);
    this.arpScanner.close();
    this.checks.close();
    this.notifier.close();
    this.watcher?.close();
    // Anything core did not release (e.g. a failed release) goes too: nothing is left behind.
    for (const result of release ? this.reconciler.releaseAll() : []) {
      if (!result.ok) this.logger.crit({ event: 'unplumb-failed', group: result.group, err: result.error }, `cannot release group ${result.group}: ${result.error}`);
    }
    // Not released (flip's remove_on_failure false): the addresses stay until the stall deadline
    // after the last announcement, as if vippyd had frozen, and then go before a peer takes them.
    this.fence.close({ linger: !release });
    this.eventStream.close('vippyd stopping');
    await Promise.allSettled([this.chat?.close(), this.control?.close(), this.metricsServer?.close(), this.scripts.stop(release)]);
    this.logger.notice({ event: 'stopped' }, `vippyd ${this.self} stopped`);
    clearTimeout(deadline);
    this.resolveFinished(code);
  }

  // ---- DaemonView (facades) and control --------------------------------------------------------

  config(): ClusterConfig {
    return this.current;
  }

  health() {
    const s = coreStatus(this.state);
    return { mature: s.mature, active: s.active, inactiveReason: s.inactiveReason };
  }

  setHealth(reason: string, ok: boolean): void {
    this.dispatch({ type: 'health', reason, ok });
  }

  /** The placement of the last step, as the original's manager kept the map of its last solve. */
  ownership(): Ownership {
    return coreStatus(this.state).ownership;
  }

  arpCache(): ArpEntry[] {
    return arpCache(this.state);
  }

  nodeArpTable(node: string): ArpEntry[] {
    const table = node === this.self ? this.state.arp.local : this.state.arp.peers.get(node)?.table;
    return [...(table ?? [])].map(([ip, mac]) => ({ ip, mac }));
  }

  generation(): number {
    return Date.now() - (monotonic() - this.state.configChangedAt);
  }

  setAddress(address: VipAddress, up: boolean): { ok: boolean; error?: string } {
    try {
      const request = addressRequest(address);
      if (up) native.ensureAddress(request);
      else native.ensureNoAddress(request);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: describeError(err) };
    }
  }

  shutdown(): void {
    void this.stop(0);
  }

  log(level: SyslogLevel, message: string): void {
    this.logger[level]({ event: 'plugin' }, message);
  }

  private emit(emitter: VippyConfig | VippyManager | VippyNetwork, event: string, ...args: unknown[]): void {
    emitGuarded(emitter, event, args, this.logger);
  }

  private controlHandlers(): ControlHandlers {
    return {
      status: () => this.statusBody(),
      peers: () => this.peerStatus(),
      arpCache: () => this.arpCache(),
      activate: (reason) => {
        this.setHealth(reason ?? 'administrative', true);
        return this.health();
      },
      deactivate: (reason) => {
        this.setHealth(reason ?? 'administrative', false);
        return this.health();
      },
      reload: async () => this.reload(),
      checks: () => this.checkStatus(),
      metrics: () => this.metrics.registry.metrics(),
    };
  }

  /**
   * Takeover duration for the histogram: from the old holder judged gone (its last announcement
   * plus stale; at once when it left cleanly) to now. Placement moves between live nodes are not
   * takeovers and are not observed.
   */
  private observeTakeover(from: string): void {
    const peer = coreStatus(this.state).peers.find((p) => p.name === from);
    if (!peer || peer.silentMs === null) return;
    const waited = peer.leaving ? peer.silentMs : peer.silentMs - this.current.timing.staleMs;
    this.metrics.takeoverSeconds.observe(Math.max(0, waited) / 1000);
  }

  /**
   * Core's logged events, for `vippyctl watch`, with groups named as in the metrics. Its
   * decisions to take or release a group are left out: `taken` / `released` follow with the outcome.
   */
  private publishLogged(event: string, level: string, message: string, fields: Record<string, unknown> = {}): void {
    if (event === 'takeover' || event === 'release') return;
    const group = typeof fields.group === 'number' ? this.current.groups[fields.group] : undefined;
    this.eventStream.publish({ ...fields, ...(group ? { group: groupLabel(group) } : {}), type: event, level, message });
  }

  /** A group plumbed (`taken`) or removed (`released`) here, for `vippyctl watch`. */
  private publishTransition(type: 'taken' | 'released', group: VipGroup, reason: string, cause: TransitionCause | undefined): void {
    this.eventStream.publish({ type, group: groupLabel(group), reason: cause ?? 'other', detail: reason, addresses: group.addresses.map((a) => `${a.ip}/${a.prefixLength}`) });
  }

  /**
   * Unowned gaps as this node sees them: a group is held when this node or a fresh peer says it
   * holds it. Counted only once the node is mature (before, it has not heard the others yet).
   */
  private observeOwnership(): void {
    const s = coreStatus(this.state);
    if (!s.mature) return;
    const holders = new Map(this.current.groups.map((group) => [groupLabel(group), s.held.includes(group.index) ? 1 : 0]));
    for (const peer of s.peers) {
      if (!peer.fresh) continue;
      for (const index of peer.held) {
        const group = this.current.groups[index];
        if (group) holders.set(groupLabel(group), holders.get(groupLabel(group))! + 1);
      }
    }
    this.unownedGaps.observe(monotonic(), holders);
  }

  /** Gauges are read at scrape time; the notifier's cumulative counters are added as deltas. */
  private refreshMetrics(): void {
    const s = coreStatus(this.state);
    this.metrics.groupsHeld.set(s.held.length);
    this.metrics.active.set(s.active ? 1 : 0);
    this.metrics.configVersion.set(this.current.version);
    this.metrics.peersUp.set(s.peers.filter((p) => p.fresh).length);
    // Per-group and per-peer series are rebuilt from the config in use, so a group or peer
    // removed from it disappears and label values stay bounded by the config.
    const labels = new Set(this.current.groups.map(groupLabel));
    this.metrics.groupHeld.reset();
    for (const group of this.current.groups) this.metrics.groupHeld.set({ group: groupLabel(group) }, s.held.includes(group.index) ? 1 : 0);
    this.metrics.groupUnownedLastSeconds.reset();
    for (const [group, seconds] of this.unownedGaps.lastGap) if (labels.has(group)) this.metrics.groupUnownedLastSeconds.set({ group }, seconds);
    this.metrics.forgetGroupsExcept(labels);
    this.metrics.peerLastHeardSeconds.reset();
    // silentMs is as of the last step; the scrape is later.
    const sinceStep = monotonic() - this.state.lastStepAt;
    for (const peer of s.peers) if (peer.silentMs !== null) this.metrics.peerLastHeardSeconds.set({ peer: peer.name }, (peer.silentMs + sinceStep) / 1000);
    const c = this.notifier.counters;
    const totals = { garp: c.garpRequest + c.garpReply, 'arp-reply': c.arpReplyUnicast + c.arpReplyBroadcast, na: c.unsolicitedNa };
    for (const kind of Object.keys(totals) as Array<keyof typeof totals>) {
      const delta = totals[kind] - this.framesCounted[kind];
      if (delta > 0) this.metrics.notifyFrames.inc({ kind }, delta);
    }
    this.framesCounted = totals;
  }

  private peerStatus(): PeerStatus[] {
    return coreStatus(this.state).peers.map((peer) => ({
      node: peer.name,
      up: peer.fresh,
      active: peer.active,
      inactive_reason: peer.inactiveReason,
      leaving: peer.leaving,
      last_heard_ms: peer.silentMs,
      version: peer.version,
      same_config: peer.sameConfig,
      held: peer.held,
      ineligible: peer.ineligible,
    }));
  }

  private statusBody(): Status {
    const s = coreStatus(this.state);
    const config = vippyStatusConfig(this.current);
    return statusBody({
      identity: this.self,
      stats: {
        net: { ignore: this.stats.ignore, 'send-announce': this.stats.sendAnnounce, 'recv-announce': this.stats.recvAnnounce },
        'state-changes': this.stats.stateChanges,
        rejected: { ...this.codec.rejections },
      },
      config,
      state: { mature: s.mature, active: s.active, inactive_reason: s.inactiveReason, ownership: statusOwnership(s.ownership, config.vips) },
      quorum: { required: s.quorum.needed, seen: s.quorum.seen, met: s.quorum.ok, policy: this.current.noQuorumPolicy },
      peers: this.peerStatus(),
      held: s.held,
      ...(s.ineligible.length > 0 ? { ineligible: s.ineligible } : {}),
      ...(this.current.systems?.some((system) => system.alive) ? { scripts: this.scripts.status() } : {}),
      ...this.announceStatus(),
      ...((this.current.checks ?? []).length > 0 ? { checks: this.checkStatus() } : {}),
    });
  }

  private announceStatus(): { announce?: AnnounceStatus } {
    const routed = this.current.routed;
    if (routed === undefined || !this.current.groups.some((group) => group.announce === 'routed')) return {};
    return {
      announce: {
        interface: routed.interface,
        table: routed.table ?? null,
        protocol: routed.protocol,
        groups: this.current.groups.map((group) => ({
          group: group.index,
          mode: group.announce ?? 'l2',
          announced: this.reconciler.announced(group.index),
        })),
      },
    };
  }
}

/** The fence follows the lease: address_lease 0 (permanent addresses) leaves a killed vippyd's addresses behind. */
function fenceSettings(config: ClusterConfig) {
  return { timing: config.timing, enabled: (config.timing.leaseSeconds ?? 0) > 0 };
}

function describeGroup(config: ClusterConfig, index: number): string {
  return config.groups[index]?.addresses.map((a) => `${a.interface}/${a.ip}`).join(' ') ?? `group ${index}`;
}
