import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMetrics, groupLabel, MetricsListenError, parseListen, startMetricsServer, transitionReason, UnownedGaps } from '../../src/control/metrics.js';
import { createLogger } from '../../src/log/logger.js';

const log = createLogger(
  { driver: 'none', facility: 'local7', json: false, mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: true } },
  { ident: 'test', destination: { write: () => {} } },
);

describe('createMetrics', () => {
  it('exposes the issue 8 metrics, with their labels, and event-loop lag', async () => {
    const metrics = createMetrics();
    metrics.groupsHeld.set(2);
    metrics.active.set(1);
    metrics.configVersion.set(7);
    metrics.ownershipTransitions.inc({ direction: 'acquired' }, 2);
    metrics.ownershipTransitions.inc({ direction: 'released' });
    metrics.announcementsSent.inc(10);
    metrics.announcementsReceived.inc(20);
    metrics.announcementsRejected.inc({ reason: 'replay' }, 3);
    metrics.peersUp.set(2);
    metrics.takeoverSeconds.observe(0.042);
    metrics.notifyFrames.inc({ kind: 'garp' }, 5);

    const text = await metrics.registry.metrics();
    for (const line of [
      'vippy_groups_held 2',
      'vippy_active 1',
      'vippy_config_version 7',
      'vippy_ownership_transitions_total{direction="acquired"} 2',
      'vippy_ownership_transitions_total{direction="released"} 1',
      'vippy_announcements_sent_total 10',
      'vippy_announcements_received_total 20',
      'vippy_announcements_rejected_total{reason="replay"} 3',
      'vippy_peers_up 2',
      'vippy_takeover_duration_seconds_bucket{le="0.05"} 1',
      'vippy_takeover_duration_seconds_bucket{le="0.025"} 0',
      'vippy_takeover_duration_seconds_count 1',
      'vippy_notify_frames_sent_total{kind="garp"} 5',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it('gives each call its own registry', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.groupsHeld.set(5);
    expect(await b.registry.metrics()).toContain('vippy_groups_held 0');
  });
});

describe('per-group and per-peer series', () => {
  it('render with their labels', async () => {
    const metrics = createMetrics();
    metrics.groupHeld.set({ group: '192.0.2.10' }, 1);
    metrics.groupHeld.set({ group: 'web/vip' }, 0);
    metrics.countGroupTransition('192.0.2.10', 'acquired', 'takeover from node2');
    metrics.countGroupTransition('192.0.2.10', 'released', 'inactive: administrative');
    metrics.groupUnownedLastSeconds.set({ group: '192.0.2.10' }, 0.412);
    metrics.peerLastHeardSeconds.set({ peer: 'node2' }, 0.05);
    const lines = (await metrics.registry.metrics()).split('\n');
    for (const line of [
      'vippy_group_held{group="192.0.2.10"} 1',
      'vippy_group_held{group="web/vip"} 0',
      'vippy_group_transitions_total{group="192.0.2.10",direction="acquired",reason="takeover"} 1',
      'vippy_group_transitions_total{group="192.0.2.10",direction="released",reason="drain"} 1',
      'vippy_group_unowned_last_seconds{group="192.0.2.10"} 0.412',
      'vippy_peer_last_heard_seconds{peer="node2"} 0.05',
    ]) expect(lines).toContain(line);
  });

  it('forgets the transitions of groups no longer configured', async () => {
    const metrics = createMetrics();
    metrics.countGroupTransition('192.0.2.10', 'acquired', 'placement');
    metrics.countGroupTransition('192.0.2.11', 'acquired', 'placement');
    metrics.forgetGroupsExcept(new Set(['192.0.2.11']));
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('group="192.0.2.10"');
    expect(text).toContain('vippy_group_transitions_total{group="192.0.2.11",direction="acquired",reason="placement"} 1');
  });

  it('folds every reason core gives into a bounded set', () => {
    // The reason texts of core/node.ts's plumb and release actions.
    expect(Object.fromEntries([
      'placement', 'takeover from n2', 'placement gives it to n3', 'placement gives it to nobody', 'inactive: administrative',
      'inactive: check-http', 'n2 holds it too', 'no quorum (1 of 2 seen)', 'only 1 of 2 needed nodes hear this node',
      'not in the config', 'group no longer in the config', 'shutdown', 'paused', 'something new',
    ].map((reason) => [reason, transitionReason(reason)]))).toEqual({
      placement: 'placement',
      'takeover from n2': 'takeover',
      'placement gives it to n3': 'placement',
      'placement gives it to nobody': 'placement',
      'inactive: administrative': 'drain',
      'inactive: check-http': 'check',
      'n2 holds it too': 'conflict',
      'no quorum (1 of 2 seen)': 'quorum',
      'only 1 of 2 needed nodes hear this node': 'quorum',
      'not in the config': 'config',
      'group no longer in the config': 'config',
      shutdown: 'shutdown',
      paused: 'paused',
      'something new': 'other',
    });
  });

  it('labels a group by its first address, or by flip system/point', () => {
    expect(groupLabel({ index: 0, key: '192.0.2.10', addresses: [] })).toBe('192.0.2.10');
    expect(groupLabel({ index: 1, key: '192.0.2.20', addresses: [], system: 'web', point: '192.0.2.20' })).toBe('web/192.0.2.20');
  });
});

describe('UnownedGaps', () => {
  it('records how long a group had no holder, from the first step without one to the first with one', () => {
    const gaps = new UnownedGaps();
    gaps.observe(1000, new Map([['a', 1], ['b', 1]]));
    gaps.observe(1100, new Map([['a', 0], ['b', 1]]));
    gaps.observe(1200, new Map([['a', 0], ['b', 2]]));
    expect(gaps.lastGap.get('a')).toBeUndefined();
    gaps.observe(1350, new Map([['a', 1], ['b', 1]]));
    expect(Object.fromEntries(gaps.lastGap)).toEqual({ a: 0.25 });
    // The next gap replaces the last one.
    gaps.observe(2000, new Map([['a', 0], ['b', 1]]));
    gaps.observe(2050, new Map([['a', 1], ['b', 1]]));
    expect(gaps.lastGap.get('a')).toBe(0.05);
  });

  it('forgets groups that left the config', () => {
    const gaps = new UnownedGaps();
    gaps.observe(0, new Map([['a', 0]]));
    gaps.observe(100, new Map([['a', 1]]));
    gaps.observe(200, new Map([['b', 1]]));
    expect(gaps.lastGap.size).toBe(0);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9100', { host: '127.0.0.1', port: 9100 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['metrics.example:0', { host: 'metrics.example', port: 0 }],
  ])('%s', (listen, parts) => {
    expect(parseListen(listen)).toEqual(parts);
  });

  it.each(['9100', '127.0.0.1', '::1:9100', '127.0.0.1:70000', ':9100'])('refuses %s naming the key', (listen) => {
    expect(() => parseListen(listen)).toThrow(new MetricsListenError(`metrics.listen: "${listen}" is not HOST:PORT (or [IPv6]:PORT)`));
  });
});

describe('startMetricsServer', () => {
  it('serves /metrics in the Prometheus format and 404 elsewhere', async () => {
    const metrics = createMetrics();
    metrics.peersUp.set(4);
    const server = await startMetricsServer('127.0.0.1:0', metrics.registry, log);
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const reply = await fetch(`${base}/metrics`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toBe(metrics.registry.contentType);
      expect(await reply.text()).toContain('vippy_peers_up 4\n');
      expect((await fetch(`${base}/status`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('names the address when it cannot listen', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      await expect(startMetricsServer(`127.0.0.1:${port}`, createMetrics().registry, log)).rejects.toThrow(
        `cannot serve metrics on 127.0.0.1:${port}: EADDRINUSE`,
      );
    } finally {
      taken.close();
    }
  });
});
