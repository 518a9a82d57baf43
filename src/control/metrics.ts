// Prometheus metrics (issue 8 §2). The agent updates the typed handles; the registry is served
// on the optional `metrics.listen` address and on the control socket's /metrics.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VipGroup } from '../config/model.js';
import type { TransitionCause } from '../core/types.js';
import type { Log } from '../log/logger.js';

export interface VippyMetrics {
  readonly registry: Registry;
  /** Groups this node has plumbed now. */
  groupsHeld: Gauge;
  /** 1 when this node is active (mature and healthy), else 0. */
  active: Gauge;
  configVersion: Gauge;
  /** Groups taken (`acquired`) or given up (`released`) by this node. */
  ownershipTransitions: Counter<'direction'>;
  announcementsSent: Counter;
  announcementsReceived: Counter;
  /** Datagrams refused, by reason (bad-mac, replay, malformed, unknown-node, ...). */
  announcementsRejected: Counter<'reason'>;
  /** Peers with a fresh announcement, self excluded. */
  peersUp: Gauge;
  /** From the moment the old owner was judged gone (or released) to the group plumbed here. */
  takeoverSeconds: Histogram;
  /** ARP / NA frames sent, by kind (garp, arp-reply, na). */
  notifyFrames: Counter<'kind'>;
  /** Per health check: 1 while its verdict is pass. */
  checkUp: Gauge<'check'>;
  /** Per health check: how long its runs take. */
  checkDuration: Histogram<'check'>;
  /** Per health check: verdict changes, by the state changed to. */
  checkTransitions: Counter<'check' | 'to'>;
  /** Per group (label: groupLabel), 1 on the node that holds it, else 0. */
  groupHeld: Gauge<'group'>;
  /** Per group, acquired or released here, by cause (core's word for it). */
  groupTransitions: Counter<'group' | 'direction' | 'reason'>;
  /** Counts one transition of vippy_group_transitions_total (core's reason text is folded). */
  countGroupTransition(group: string, direction: 'acquired' | 'released', cause: TransitionCause): void;
  /** Drops the per-group transition series of groups that are no longer configured. */
  forgetGroupsExcept(groups: ReadonlySet<string>): void;
  /** Per group, how long its last unowned gap lasted as this node saw it. */
  groupUnownedLastSeconds: Gauge<'group'>;
  /** Per peer, seconds since its last good announcement. */
  peerLastHeardSeconds: Gauge<'peer'>;
}

/** The `group` label: flip's "system/point", else the group's first address (unique in a config). */
export function groupLabel(group: VipGroup): string {
  return group.system !== undefined && group.point !== undefined ? `${group.system}/${group.point}` : group.key;
}

/**
 * When each group was last without a holder, as this node sees it (itself and the fresh peers'
 * announced holdings), and how long its last such gap lasted. `observe` after every step.
 */
export class UnownedGaps {
  private readonly since = new Map<string, number>();
  /** Seconds, by group label. */
  readonly lastGap = new Map<string, number>();

  observe(nowMs: number, holders: ReadonlyMap<string, number>): void {
    for (const [group, count] of holders) {
      const since = this.since.get(group);
      if (count === 0 && since === undefined) this.since.set(group, nowMs);
      if (count > 0 && since !== undefined) {
        this.lastGap.set(group, (nowMs - since) / 1000);
        this.since.delete(group);
      }
    }
    // Groups gone from the config are forgotten, so label values stay those of the config.
    for (const group of [...this.since.keys(), ...this.lastGap.keys()]) {
      if (!holders.has(group)) {
        this.since.delete(group);
        this.lastGap.delete(group);
      }
    }
  }
}

/**
 * `refresh` is called at the start of every scrape (on the control socket or on metrics.listen).
 * A fresh registry (never prom-client's global one, so tests and several instances do not
 * collide) holding vippy's metrics plus Node's defaults, event-loop lag among them.
 */
export function createMetrics(refresh?: () => void): VippyMetrics {
  const registry = new Registry();
  // The event-loop lag histogram samples with a timer; prom-client's 10 ms default wakes an
  // idle daemon 100 times a second (about 0.7 % of a core), 100 ms matches the fastest heartbeat.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];
  const groupTransitions = new Counter({
    name: 'vippy_group_transitions_total',
    help: 'Groups acquired or released by this node, by group and reason',
    labelNames: ['group', 'direction', 'reason'] as const,
    registers: [] as Registry[],
  });
  const transitionLabels = new Map<string, { group: string; direction: string; reason: string }>();
  const metrics: VippyMetrics = {
    registry,
    // Registered first: prom-client runs its collect() before reading any later metric, so
    // `refresh` brings every gauge (and delta-fed counter) up to date for each scrape.
    groupsHeld: new Gauge({ name: 'vippy_groups_held', help: 'VIP groups plumbed on this node', registers, ...(refresh ? { collect: refresh } : {}) }),
    active: new Gauge({ name: 'vippy_active', help: '1 when this node is active (mature and no health reason false)', registers }),
    configVersion: new Gauge({ name: 'vippy_config_version', help: 'Version of the configuration in use', registers }),
    ownershipTransitions: new Counter({
      name: 'vippy_ownership_transitions_total',
      help: 'VIP groups acquired or released by this node',
      labelNames: ['direction'],
      registers,
    }),
    announcementsSent: new Counter({ name: 'vippy_announcements_sent_total', help: 'Announcements sent', registers }),
    announcementsReceived: new Counter({
      name: 'vippy_announcements_received_total',
      help: 'Authenticated announcements received from peers',
      registers,
    }),
    announcementsRejected: new Counter({
      name: 'vippy_announcements_rejected_total',
      help: 'Datagrams refused, by reason',
      labelNames: ['reason'],
      registers,
    }),
    peersUp: new Gauge({ name: 'vippy_peers_up', help: 'Peers currently heard (self excluded)', registers }),
    takeoverSeconds: new Histogram({
      name: 'vippy_takeover_duration_seconds',
      help: 'Time from the previous owner judged gone to the group plumbed here',
      // Sub-second failover is the goal; the tail shows stale-bound detections.
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
      registers,
    }),
    notifyFrames: new Counter({
      name: 'vippy_notify_frames_sent_total',
      help: 'Gratuitous ARP, ARP reply and neighbour advertisement frames sent',
      labelNames: ['kind'],
      registers,
    }),
    groupHeld: new Gauge({ name: 'vippy_group_held', help: '1 on the node that holds the group, else 0', labelNames: ['group'], registers }),
    groupTransitions,
    countGroupTransition(group, direction, cause) {
      const labels = { group, direction, reason: cause };
      transitionLabels.set(JSON.stringify(labels), labels);
      groupTransitions.inc(labels);
    },
    forgetGroupsExcept(groups) {
      for (const [key, labels] of transitionLabels) {
        if (groups.has(labels.group)) continue;
        groupTransitions.remove(labels);
        transitionLabels.delete(key);
      }
    },
    groupUnownedLastSeconds: new Gauge({
      name: 'vippy_group_unowned_last_seconds',
      help: 'Length of the last gap in which this node saw no holder of the group',
      labelNames: ['group'],
      registers,
    }),
    peerLastHeardSeconds: new Gauge({ name: 'vippy_peer_last_heard_seconds', help: "Seconds since the peer's last good announcement", labelNames: ['peer'], registers }),
    checkUp: new Gauge({ name: 'vippy_check_up', help: 'Health check verdict: 1 pass, 0 fail', labelNames: ['check'], registers }),
    checkDuration: new Histogram({
      name: 'vippy_check_duration_seconds',
      help: 'Duration of health check runs',
      labelNames: ['check'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    checkTransitions: new Counter({
      name: 'vippy_check_transitions_total',
      help: 'Health check verdict changes, by the state changed to',
      labelNames: ['check', 'to'],
      registers,
    }),
  };
  // Registered here, not above, so that it comes after the metrics that `refresh` brings up to date.
  registry.registerMetric(groupTransitions);
  return metrics;
}

export interface MetricsServer {
  /** The bound address (the port is the real one when 0 was asked for). */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export class MetricsListenError extends Error {
  override name = 'MetricsListenError';
}

/** `host:port` or `[v6]:port` → its parts; throws naming the key on anything else. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new MetricsListenError(`metrics.listen: "${listen}" is not HOST:PORT (or [IPv6]:PORT)`);
  return { host: match[1] ?? match[2]!, port };
}

/** GET /metrics on `listen` over TCP; anything else is 404. */
export async function startMetricsServer(listen: string, registry: Registry, log: Log): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    res.shouldKeepAlive = false;
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => {
        log.err({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new MetricsListenError(`cannot serve metrics on ${listen}: ${err.code ?? err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  log.info({ listen, port: address.port }, 'metrics listening');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
