// The reconciler against the real kernel: all-or-nothing plumbing with rollback, repair of drift
// (a held address deleted by hand comes back, a configured address not held here goes, foreign
// addresses stay), carrier reports, nothing enforced before the first decision, release on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable, waitFor, type Spawned } from './harness.js';
import { agentConfig, groups, vip } from './fixtures/agent-config.js';

const FIXTURE = 'test/netns/fixtures/agent-reconciler.ts';

const config = agentConfig({
  groups: groups(
    [vip('192.0.2.200', 24), vip('2001:db8::200', 64)],
    [vip('192.0.2.201', 32)],
    // The second address is on an interface that does not exist: plumbing must roll back.
    [vip('192.0.2.202', 24), vip('192.0.2.203', 24, 'nope0')],
  ),
});

interface KernelAddress { local: string; prefixlen: number; label?: string; nodad?: boolean; valid_life_time?: number }

/** What the kernel shows as the lifetime of a permanent address. */
const FOREVER = 4294967295;

function lines(p: Spawned): Record<string, any>[] {
  return p.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

describe.skipIf(!netnsAvailable)('reconciler', () => {
  let seg: Segment;
  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a'], observer: false });
  });
  afterAll(async () => {
    await seg?.destroy();
  });

  const addresses = async (): Promise<KernelAddress[]> => {
    const [link] = JSON.parse((await seg.exec('a', ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as { addr_info: KernelAddress[] }[];
    return link!.addr_info;
  };
  const has = async (ip: string, prefixlen?: number) =>
    (await addresses()).some((a) => a.local === ip && (prefixlen === undefined || a.prefixlen === prefixlen));
  const start = (plan: unknown[], checkEveryMs = 200) =>
    seg.node('a', FIXTURE, [JSON.stringify({ config, plan, checkEveryMs })]);
  const stop = async (p: Spawned) => {
    p.kill('SIGTERM');
    const status = await p.wait();
    expect(status, p.stderr).toEqual({ code: 0, signal: null });
  };

  it('nothing is enforced before the first decision; then the computed state replaces what was there', async () => {
    await seg.exec('a', ['ip', 'addr', 'add', '192.0.2.200/24', 'dev', 'eth0']);
    const p = start([{ afterMs: 1_500, apply: [1] }]);
    await p.waitForLine(/"ready"/);
    await new Promise((r) => setTimeout(r, 500)); // two timer checks have run
    expect(await has('192.0.2.200', 24)).toBe(true);
    await p.waitForLine(/"step":0/);
    expect(lines(p).find((l) => l.step === 0)).toMatchObject({ results: [{ group: 1, held: true, ok: true }], held: [1] });
    await waitFor(async () => !(await has('192.0.2.200', 24)), { what: 'stray 192.0.2.200 removed' });
    expect(await has('192.0.2.201', 32)).toBe(true);
    await stop(p);
    expect(lines(p).find((l) => 'releaseAll' in l)?.releaseAll).toEqual([{ group: 1, held: false, ok: true }]);
    expect(await has('192.0.2.201')).toBe(false);
  });

  describe('one running reconciler', () => {
    let p: Spawned;
    beforeAll(async () => {
      await seg.exec('a', ['ip', 'addr', 'add', '192.0.2.250/24', 'dev', 'eth0']); // foreign: never touched
      p = start([{ afterMs: 0, plumb: 2 }, { afterMs: 100, apply: [0] }]);
      await p.waitForLine(/"step":1/);
    });
    afterAll(async () => {
      if (p) await stop(p);
    });

    it('reports the initial carrier of VIP interfaces (a missing interface is down)', () => {
      expect(lines(p)[0]).toEqual({
        ready: true,
        carriers: [{ interface: 'eth0', up: true }, { interface: 'nope0', up: false }],
      });
    });

    it('a group with an unplumbable address is rolled back and reported', async () => {
      const step = lines(p).find((l) => l.step === 0)!;
      expect(step.held).toEqual([]);
      expect(step.results).toHaveLength(1);
      expect(step.results[0]).toMatchObject({ group: 2, held: true, ok: false });
      expect(step.results[0].error).toMatch(/192\.0\.2\.203\/24 on nope0: .*ENODEV/);
      expect(await has('192.0.2.202')).toBe(false);
    });

    it('plumbs every address of a held group: IPv4 labelled, IPv6 nodad', async () => {
      expect(lines(p).find((l) => l.step === 1)).toMatchObject({ results: [{ group: 0, held: true, ok: true }], held: [0] });
      const all = await addresses();
      expect(all.find((a) => a.local === '192.0.2.200')).toMatchObject({ prefixlen: 24, label: 'eth0:vip' });
      expect(all.find((a) => a.local === '2001:db8::200')).toMatchObject({ prefixlen: 64, nodad: true });
    });

    it('a held address deleted by hand comes back (netlink event)', async () => {
      await seg.exec('a', ['ip', 'addr', 'del', '192.0.2.200/24', 'dev', 'eth0']);
      await seg.exec('a', ['ip', 'addr', 'del', '2001:db8::200/64', 'dev', 'eth0']);
      await waitFor(async () => (await has('192.0.2.200', 24)) && (await has('2001:db8::200', 64)), { what: 'addresses restored' });
      const restored = lines(p).filter((l) => 'check' in l).flatMap((l) => l.check.restored.map((d: { address: string }) => d.address));
      expect(restored).toEqual(expect.arrayContaining(['192.0.2.200/24', '2001:db8::200/64']));
    });

    it('a configured address of a group not held here is removed; foreign addresses stay', async () => {
      await seg.exec('a', ['ip', 'addr', 'add', '192.0.2.201/32', 'dev', 'eth0']);
      await seg.exec('a', ['ip', 'addr', 'add', '192.0.2.201/24', 'dev', 'eth0']); // same IP, other prefix: not ours
      await waitFor(async () => !(await has('192.0.2.201', 32)), { what: '192.0.2.201/32 removed' });
      await new Promise((r) => setTimeout(r, 500)); // timer checks too
      expect(await has('192.0.2.201', 24)).toBe(true);
      expect(await has('192.0.2.250', 24)).toBe(true);
      const removed = lines(p).filter((l) => 'check' in l).flatMap((l) => l.check.removed);
      expect(removed).toEqual([{ group: 1, address: '192.0.2.201/32', interface: 'eth0' }]);
      await seg.exec('a', ['ip', 'addr', 'del', '192.0.2.201/24', 'dev', 'eth0']);
    });

    it('carrier loss and return on a VIP interface are reported once each', async () => {
      await seg.cutLink('a');
      await waitFor(() => lines(p).some((l) => l.carrier?.up === false), { what: 'carrier down reported' });
      await seg.restoreLink('a');
      await waitFor(() => lines(p).some((l) => l.carrier?.up === true), { what: 'carrier up reported' });
      expect(lines(p).filter((l) => 'carrier' in l).map((l) => l.carrier)).toEqual([
        { interface: 'eth0', up: false },
        { interface: 'eth0', up: true },
      ]);
    });

    it('without a lease, held addresses are permanent', async () => {
      expect((await addresses()).filter((a) => a.local === '192.0.2.200' || a.local === '2001:db8::200').map((a) => a.valid_life_time))
        .toEqual([FOREVER, FOREVER]);
    });

    it('SIGTERM releases every configured address and nothing else', async () => {
      await stop(p);
      expect(lines(p).find((l) => 'releaseAll' in l)?.releaseAll).toEqual([{ group: 0, held: false, ok: true }]);
      expect(await has('192.0.2.200')).toBe(false);
      expect(await has('2001:db8::200')).toBe(false);
      expect(await has('192.0.2.250', 24)).toBe(true);
      expect(await has('192.0.2.10', 24)).toBe(true);
      p = undefined as unknown as Spawned;
    });
  });

  describe('address leases', () => {
    const leased = { ...config, timing: { ...config.timing, leaseSeconds: 1 } };
    const startLeased = (plan: unknown[]) =>
      // No outside checks: whatever renews the leases here is the reconciler's own timer.
      seg.node('a', FIXTURE, [JSON.stringify({ config: leased, plan, checkEveryMs: 3_600_000 })]);
    const vipLifetimes = async () =>
      (await addresses()).filter((a) => ['192.0.2.200', '2001:db8::200', '192.0.2.201'].includes(a.local)).map((a) => a.valid_life_time);

    it('held addresses carry the lease and the reconciler renews it by itself; the renewals\' own events do not feed back', async () => {
      const monitor = await seg.monitorAddresses('a');
      const p = startLeased([{ afterMs: 0, apply: [0, 1] }]);
      try {
        await p.waitForLine(/"step":0/);
        expect(await vipLifetimes()).toEqual([1, 1, 1]);
        await new Promise((r) => setTimeout(r, 4_000)); // four leases
        expect(await vipLifetimes()).toEqual([1, 1, 1]);
        const about201 = monitor.stdout.split('\n').filter((line) => line.includes('192.0.2.201/32'));
        expect(about201.filter((line) => line.startsWith('Deleted'))).toEqual([]);
        // One add, then one renewal per period (1/3 s): about 12 in 4 s. A feedback loop would make thousands.
        expect(about201.length).toBeGreaterThanOrEqual(8);
        expect(about201.length).toBeLessThanOrEqual(30);
        expect(lines(p).filter((l) => 'check' in l)).toEqual([]);
        await stop(p);
        expect(await vipLifetimes()).toEqual([]);
      } finally {
        monitor.kill('SIGTERM');
        await monitor.wait();
      }
    });

    it('a leased leftover becomes permanent when plumbed without a lease, and a lease change applies at once', async () => {
      await seg.exec('a', ['ip', 'addr', 'add', '192.0.2.201/32', 'dev', 'eth0', 'valid_lft', '30', 'preferred_lft', '30']);
      const p = start([{ afterMs: 0, apply: [1] }, { afterMs: 200, leaseSeconds: 2 }, { afterMs: 400, leaseSeconds: 0 }], 3_600_000);
      try {
        await p.waitForLine(/"step":0/);
        expect(await vipLifetimes()).toEqual([FOREVER]);
        await p.waitForLine(/"step":1/);
        expect(await vipLifetimes()).toEqual([2]);
        await p.waitForLine(/"step":2/);
        expect(await vipLifetimes()).toEqual([FOREVER]);
      } finally {
        await stop(p);
      }
    });
  });
});
