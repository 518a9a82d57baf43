// The addon's routed-mode calls against the real kernel: the dummy link (ifb where the kernel
// has no dummy driver) and host routes in a table under a protocol number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable } from './harness.js';

const CALL_FIXTURE = 'test/netns/fixtures/native-call.ts';
type Outcome = { ok?: any; error?: { message: string; code: string; errno: number; syscall: string; interface?: string; extack?: string } };

describe.skipIf(!netnsAvailable)('native routed calls', () => {
  let seg: Segment;
  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a'], observer: false });
  });
  afterAll(async () => {
    await seg?.destroy();
  });

  async function calls(steps: unknown[]): Promise<Outcome[]> {
    const child = seg.node('a', CALL_FIXTURE, [JSON.stringify(steps)]);
    expect(await child.wait(), child.stderr).toEqual({ code: 0, signal: null });
    return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Outcome[];
  }

  const v4 = { destination: '203.0.113.10', prefixLength: 32, interface: 'vippy0', table: 100, protocol: 201, source: '203.0.113.10' };
  const v6 = { destination: '2001:db8:ff::10', prefixLength: 128, interface: 'vippy0', table: 100, protocol: 201, expiresSeconds: 30 };

  it('ensureDummyLink makes an up link once, accepts it again, and refuses another kind by name', async () => {
    const [made, again, taken] = await calls([
      { call: 'ensureDummyLink', args: ['vippy0'] },
      { call: 'ensureDummyLink', args: ['vippy0'] },
      { call: 'ensureDummyLink', args: ['eth0'] },
    ]);
    expect(made!.ok.created).toBe(true);
    expect(['dummy', 'ifb']).toContain(made!.ok.kind);
    expect(again!.ok).toEqual({ created: false, kind: made!.ok.kind });
    expect(taken!.error).toMatchObject({ code: 'EEXIST', syscall: 'RTM_NEWLINK', interface: 'eth0', extack: 'exists and is a veth link, not a dummy link' });
    const [link] = JSON.parse((await seg.exec('a', ['ip', '-d', '-j', 'link', 'show', 'dev', 'vippy0'])).stdout);
    expect(link.flags).toContain('UP');
    expect(link.flags).toContain('LOWER_UP');
    expect(link.linkinfo.info_kind).toBe(made!.ok.kind);
  });

  it('routes: ensure adds once, lists them, an IPv4 route goes with its source address, ensureNo removes once', async () => {
    const outcomes = await calls([
      { call: 'ensureDummyLink', args: ['vippy0'] },
      { call: 'ensureAddress', args: [{ interface: 'vippy0', address: '203.0.113.10', prefixLength: 32 }] },
      { call: 'ensureAddress', args: [{ interface: 'vippy0', address: '2001:db8:ff::10', prefixLength: 128 }] },
      { call: 'ensureRoute', args: [v4] },
      { call: 'ensureRoute', args: [v4] },
      { call: 'ensureRoute', args: [v6] },
      { call: 'ensureRoute', args: [v6] },
      { call: 'listRoutes', args: [100] },
      { call: 'ensureNoAddress', args: [{ interface: 'vippy0', address: '203.0.113.10', prefixLength: 32 }] },
      { call: 'listRoutes', args: [100] },
      { call: 'ensureNoRoute', args: [v6] },
      { call: 'ensureNoRoute', args: [v6] },
      { call: 'ensureRoute', args: [{ ...v4, destination: '203.0.113.11', source: '203.0.113.11' }] },
      { call: 'ensureRoute', args: [{ ...v4, interface: 'nope0' }] },
      { call: 'ensureRoute', args: [{ ...v4, table: 254 }] },
    ]);
    expect(outcomes.slice(3, 7).map((o) => o.ok)).toEqual([true, false, true, false]);
    expect(outcomes[7]!.ok).toEqual([
      { family: 4, destination: '203.0.113.10', prefixLength: 32, table: 100, protocol: 201, interface: 'vippy0', source: '203.0.113.10' },
      { family: 6, destination: '2001:db8:ff::10', prefixLength: 128, table: 100, protocol: 201, interface: 'vippy0' },
    ]);
    expect(outcomes[9]!.ok.map((r: { destination: string }) => r.destination)).toEqual(['2001:db8:ff::10']);
    expect(outcomes.slice(10, 12).map((o) => o.ok)).toEqual([true, false]);
    expect(outcomes[12]!.error).toMatchObject({ code: 'EINVAL', syscall: 'RTM_NEWROUTE', extack: 'Invalid prefsrc address' });
    expect(outcomes[13]!.error).toMatchObject({ code: 'ENODEV', message: 'RTM_NEWROUTE 203.0.113.10/32 on nope0: ENODEV (No such device)' });
    expect(outcomes[14]!.error).toMatchObject({ name: 'TypeError', message: 'ensureRoute: req.table must not be 253, 254 or 255 (the default, main and local tables)' });
  });

  it('deleteLink removes the link once', async () => {
    const outcomes = await calls([{ call: 'deleteLink', args: ['vippy0'] }, { call: 'deleteLink', args: ['vippy0'] }]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
  });
});
