// Prometheus metrics (issue 8 §2). The agent updates the typed handles; the registry is served
// on the optional `metrics.listen` address and on the control socket's /metrics.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
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
  return {
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
