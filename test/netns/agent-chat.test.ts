// The chat transport on a real segment: multicast between two hosts (own datagrams looped back,
// TTL on the wire), interface selection by name and by address, joining late through refresh(),
// and unicast to the peers' addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../src/config/model.js';
import { Segment, netnsAvailable, waitFor, type Spawned } from './harness.js';
import { agentConfig } from './fixtures/agent-config.js';

const FIXTURE = 'test/netns/fixtures/agent-chat.ts';

interface ChatArgs {
  config: ClusterConfig;
  self: string;
  sends: number;
  intervalMs: number;
  lingerMs: number;
  refreshMs?: number;
}

function lines(p: Spawned): Record<string, unknown>[] {
  return p.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}
const received = (p: Spawned) => lines(p).filter((l) => 'recv' in l).map((l) => l.recv as string).sort();
const counters = (p: Spawned) => lines(p).find((l) => 'counters' in l)?.counters as Record<string, number>;
const series = (self: string, n: number) => Array.from({ length: n }, (_, i) => `${self}#${i}`);

async function finished(p: Spawned): Promise<void> {
  const status = await p.wait();
  expect(status, `fixture failed:\n${p.stderr}`).toEqual({ code: 0, signal: null });
}

describe.skipIf(!netnsAvailable)('chat transport', () => {
  let seg: Segment;
  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a', 'b'], observer: true });
  });
  afterAll(async () => {
    await seg?.destroy();
  });

  const start = (host: string, args: ChatArgs) => seg.node(host, FIXTURE, [JSON.stringify(args)]);
  /** Start sending on every end at once, when all are bound and joined. */
  const go = async (...ends: Spawned[]) => {
    await Promise.all(ends.map((p) => p.waitForLine(/"ready"/)));
    for (const p of ends) p.kill('SIGUSR2');
  };

  it('multicast: both hosts hear each other and themselves, with the configured TTL on the wire', async () => {
    const config = agentConfig({ chat: { mode: 'multicast', address: '239.255.42.99', port: 5400, interface: 'all', ttl: 3 } });
    const capture = seg.spawn('obs', ['tcpdump', '-i', 'eth0', '-n', '-v', '-l', '-c', '2', 'udp', 'and', 'dst', 'port', '5400']);
    await capture.waitForLine(/listening on/);
    const run = { config, sends: 5, intervalMs: 50, lingerMs: 400 };
    const [a, b] = [start('a', { ...run, self: 'a' }), start('b', { ...run, self: 'b' })];
    await go(a, b);
    await Promise.all([finished(a), finished(b)]);
    expect(received(a)).toEqual([...series('a', 5), ...series('b', 5)]);
    expect(received(b)).toEqual([...series('a', 5), ...series('b', 5)]);
    expect(counters(a)).toMatchObject({ sent: 5, received: 10, sendErrors: 0, membershipErrors: 0 });
    await capture.wait();
    expect(capture.stdout).toMatch(/ttl 3\b/);
    expect(capture.stdout).toContain('239.255.42.99.5400');
  });

  it('multicast: chat.interface as a NIC name or an interface address joins that interface', async () => {
    const chat = { mode: 'multicast' as const, address: '239.255.42.98', port: 5401, ttl: 1 };
    const run = { sends: 3, intervalMs: 50, lingerMs: 300 };
    const a = start('a', { ...run, self: 'a', config: agentConfig({ chat: { ...chat, interface: 'eth0' } }) });
    const b = start('b', { ...run, self: 'b', config: agentConfig({ chat: { ...chat, interface: seg.host('b').ipv4 } }) });
    await go(a, b);
    await Promise.all([finished(a), finished(b)]);
    expect(lines(a)[0]).toEqual({ ready: true, memberships: [{ name: 'eth0', address: seg.host('a').ipv4 }] });
    expect(lines(b)[0]).toEqual({ ready: true, memberships: [{ name: 'eth0', address: seg.host('b').ipv4 }] });
    expect(received(a)).toEqual([...series('a', 3), ...series('b', 3)]);
    expect(received(b)).toEqual([...series('a', 3), ...series('b', 3)]);
  });

  it('multicast: an interface that is down at start is joined by a later refresh()', async () => {
    await seg.linkDown('b');
    try {
      const config = agentConfig({ chat: { mode: 'multicast', address: '239.255.42.97', port: 5402, interface: 'eth0', ttl: 1 } });
      const b = start('b', { config, self: 'b', sends: 0, intervalMs: 0, lingerMs: 400, refreshMs: 100 });
      await b.waitForLine(/"ready"/);
      expect(lines(b)[0]).toEqual({ ready: true, memberships: [] });
      await seg.linkUp('b');
      await waitFor(() => lines(b).some((l) => 'memberships' in l && !('ready' in l)), { what: 'b joins after link up' });
      const a = start('a', { config, self: 'a', sends: 3, intervalMs: 50, lingerMs: 100 });
      await go(a, b);
      await Promise.all([finished(a), finished(b)]);
      expect(received(b)).toEqual(series('a', 3));
    } finally {
      await seg.linkUp('b').catch(() => {});
    }
  });

  it('unicast: each node sends to every other node address; nothing loops back', async () => {
    const config = agentConfig({
      chat: { mode: 'unicast', address: '', port: 5403, interface: 'all', ttl: 1 },
      nodes: [
        { name: 'a', address: seg.host('a').ipv4 },
        { name: 'b', address: seg.host('b').ipv4, port: 5404 },
        // A peer that is not there: sends to it must not disturb the others.
        { name: 'c', address: '192.0.2.99' },
      ],
    });
    const run = { config, sends: 4, intervalMs: 50, lingerMs: 300 };
    const [a, b] = [start('a', { ...run, self: 'a' }), start('b', { ...run, self: 'b' })];
    await go(a, b);
    await Promise.all([finished(a), finished(b)]);
    expect(received(a)).toEqual(series('b', 4));
    expect(received(b)).toEqual(series('a', 4));
    expect(lines(a).find((l) => 'recv' in l)?.from).toBe(seg.host('b').ipv4);
    expect(counters(a)).toMatchObject({ received: 4 });
    expect(counters(a).sent).toBeGreaterThanOrEqual(4);
  });
});
