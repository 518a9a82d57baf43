// The ARP-cache scanner against a real neighbour table: a scan at start, a debounced scan after
// neighbour events (only IPv4 entries with a MAC, one per IP), and the periodic scan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable, waitFor, type Spawned } from './harness.js';

const FIXTURE = 'test/netns/fixtures/agent-arpscan.ts';

type Entries = { ip: string; mac: string }[];
const batches = (p: Spawned): Entries[] =>
  p.stdout.split('\n').filter((l) => l.includes('"entries"')).map((l) => (JSON.parse(l) as { entries: Entries }).entries);

describe.skipIf(!netnsAvailable)('ARP-cache scanner', () => {
  let seg: Segment;
  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a', 'b'], observer: true });
  });
  afterAll(async () => {
    await seg?.destroy();
  });

  const start = (intervalMs: number) => seg.node('a', FIXTURE, [JSON.stringify({ intervalMs, debounceMs: 100 })]);
  const stop = async (p: Spawned) => {
    p.kill('SIGTERM');
    expect(await p.wait(), p.stderr).toEqual({ code: 0, signal: null });
    expect(p.stdout).toMatch(/"scanErrors":0/);
  };

  it('scans at start and again after neighbour events, IPv4 entries only', async () => {
    const [b, obs] = [seg.host('b'), seg.observer];
    const p = start(60_000); // the period never comes: later batches are event-driven
    await waitFor(() => batches(p).length >= 1, { timeoutMs: 15_000, what: 'first scan' }); // node + tsx start-up
    expect(batches(p)[0]).toEqual([]);

    await seg.exec('a', ['ping', '-c1', '-W1', b.ipv4]);
    await seg.exec('a', ['ping', '-c1', '-W1', b.ipv6]); // IPv6 neighbours are not part of the ARP cache
    await seg.exec('a', ['ping', '-c1', '-W1', obs.ipv4]);
    const expected = [{ ip: b.ipv4, mac: b.mac }, { ip: obs.ipv4, mac: obs.mac }];
    await waitFor(() => JSON.stringify(batches(p).at(-1)) === JSON.stringify(expected), { what: 'event-driven scan' });
    await stop(p);
  });

  it('reports on every period, changed or not', async () => {
    const p = start(300);
    await waitFor(() => batches(p).length >= 1, { timeoutMs: 15_000, what: 'first scan' });
    await waitFor(() => batches(p).length >= 4, { timeoutMs: 3_000, what: 'periodic scans' });
    await stop(p);
    const all = batches(p);
    expect(new Set(all.map((e) => JSON.stringify(e))).size).toBe(1); // the table left by the test above
    expect(all[0]!.map((e) => e.ip)).toEqual([seg.host('b').ipv4, seg.observer.ipv4]);
  });
});
