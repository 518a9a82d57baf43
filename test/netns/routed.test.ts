// Routed mode end to end: vippyd on two nodes of a rack whose top-of-rack router runs BIRD 2 in
// eBGP (BFD on) with each node's own BIRD 2; a client on another subnet behind the router pings
// the VIPs. The router's BIRD (its routes and its route log) is the judge of who announces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, Segment, netnsAvailable, waitFor, type Spawned } from './harness.js';
import { VippyCluster, VIPPYCTL, baseConfig } from './lib/cluster.js';
import { PingStream, RoutedBed, ROUTER, type RoutedBedOptions } from './lib/routed.js';

const VIP4 = '203.0.113.10';
const VIP6 = '2001:db8:ff::10';
const NET4 = `${VIP4}/32`;
const NET6 = `${VIP6}/128`;

// Slower than the L2 tests' timers on purpose: the default address lease (1 s) must run out
// before a peer takes over (stale + guard after the last announcement), or a killed holder's
// BIRD would still announce the VIP beside its successor's.
const TIMERS = { interval: 0.5, stale: 3, mature: 0.5 };

async function bed(options: RoutedBedOptions, announce: Record<string, unknown>) {
  const seg = await Segment.create({ hosts: [ROUTER, 'a', 'b'], observer: false });
  const routed = new RoutedBed(seg, options);
  await routed.start();
  const cluster = new VippyCluster(seg, {
    hosts: routed.nodes,
    config: baseConfig(routed.nodes, {
      ...TIMERS,
      notify: [],
      announce: { mode: 'routed', ...announce },
      vips: [['a', { ip: VIP4 }, { ip: VIP6 }]],
    }),
  });
  return { seg, routed, cluster };
}

/** The router's BIRD has exactly one path for both VIPs, through `node`. */
async function waitForRouterPath(routed: RoutedBed, node: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => {
    const [v4, v6] = await Promise.all([routed.routerPaths(VIP4), routed.routerPaths(VIP6)]);
    return v4.length === 1 && v6.length === 1 && routed.nodeOf(v4[0]!) === node && routed.nodeOf(v6[0]!) === node;
  }, { timeoutMs, intervalMs: 50, what: `the router's only path to ${VIP4} and ${VIP6} through ${node}` });
}

async function clientReaches(routed: RoutedBed, ip: string): Promise<boolean> {
  const { code } = await routed.seg.exec(routed.clientNs, ['ping', '-n', '-q', '-c', '1', '-W', '1', ip], { allowFail: true });
  return code === 0;
}

describe.skipIf(!netnsAvailable)('routed mode: VIPs announced by each node\'s BIRD to a BIRD router', () => {
  let seg: Segment;
  let routed: RoutedBed;
  let cluster: VippyCluster;

  beforeAll(async () => {
    ({ seg, routed, cluster } = await bed({ form: 'interface' }, {}));
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    routed?.cleanup();
  });

  it('the holder plumbs the VIPs on its dummy link; the client reaches them through the router; status shows it', async () => {
    await waitForRouterPath(routed, 'a');
    expect(await cluster.holders(VIP4)).toEqual(['a']);
    const { stdout } = await seg.exec('a', ['ip', '-j', 'addr', 'show', 'dev', 'vippy0', 'scope', 'global']);
    const [link] = JSON.parse(stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
    expect(link!.addr_info.filter((a) => a.local !== undefined && !a.local.startsWith('fe80:')).map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual([NET6, NET4]);
    await waitFor(() => clientReaches(routed, VIP4), { what: `client pings ${VIP4}` });
    await waitFor(() => clientReaches(routed, VIP6), { what: `client pings ${VIP6}` });
    // BFD runs beside every session (it is what cuts the router's detection of a dead node).
    await waitFor(async () => {
      const sessions = await routed.birdc(ROUTER, 'show bfd sessions');
      return routed.nodes.every((node) => new RegExp(`${node.ipv4}\\s+eth0\\s+Up`).test(sessions) && new RegExp(`${node.ipv6}\\s+eth0\\s+Up`).test(sessions));
    }, { timeoutMs: 10_000, what: 'BFD sessions Up with every node' });
    // No gratuitous ARP or NA for a routed group: nothing listens on a routed fabric.
    const status = await cluster.status('a');
    expect(status.announce).toEqual({
      interface: 'vippy0', table: null, protocol: 201,
      groups: [{ group: 0, mode: 'routed', announced: [`${VIP6}/128 on vippy0`, `${VIP4}/32 on vippy0`] }],
    });
    const text = execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'status'], { encoding: 'utf8' });
    expect(text).toContain(`(*) a: ${VIP6} ${VIP4}/32 P(a) [routed]\n        announced: ${VIP6}/128 on vippy0, ${VIP4}/32 on vippy0\n`);
  });

  it('drain (vippyctl deactivate) and back: the router follows, pings keep flowing', async () => {
    await waitForRouterPath(routed, 'a');
    const pings = new PingStream(routed, VIP4);
    await pings.started();
    const mark = routed.mark();
    const before = Date.now();
    execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'deactivate'], { encoding: 'utf8' });
    await waitForRouterPath(routed, 'b');
    const drainSwitch = routed.switchMs(NET4, 'a4', 'b4', mark);
    execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'activate'], { encoding: 'utf8' });
    await waitForRouterPath(routed, 'a');
    const { sent, lost, outageMs } = await pings.stop();
    console.log(`drain and return: ${lost} of ${sent} pings lost (10 ms apart), longest gap ${outageMs} ms, router switched in ${drainSwitch} ms (drain) and ${routed.switchMs(NET4, 'b4', 'a4', mark)} ms (return), ${Date.now() - before} ms`);
    expect(sent).toBeGreaterThan(0);
    // The judge saw the moves: a's and b's sessions each added and removed the VIP.
    const sessions = new Set(routed.routeEvents(NET4, mark).filter((e) => e.added).map((e) => e.session));
    expect([...sessions].sort()).toEqual(['a4', 'b4']);
    // vippyd releases before its successor plumbs, but the two BIRDs then race to the router, which
    // has been seen holding both paths for under a millisecond after a graceful stop: reported, not
    // asserted (docs/routed.md). The kill -9 case below asserts it.
    console.log(`two paths at the router: ${JSON.stringify([...routed.overlaps(NET4, mark), ...routed.overlaps(NET6, mark)])}`);
  });

  it('graceful stop: the peer takes over, the client follows', async () => {
    await waitForRouterPath(routed, 'a');
    const pings = new PingStream(routed, VIP4);
    await pings.started();
    const mark = routed.mark();
    const a = cluster.daemon('a');
    a.process.kill('SIGTERM');
    await a.process.wait();
    try {
      await waitForRouterPath(routed, 'b');
      const { sent, lost, outageMs } = await pings.stop();
      const atRouter = [...routed.overlaps(NET4, mark), ...routed.overlaps(NET6, mark)];
      console.log(`graceful stop: ${lost} of ${sent} pings lost, longest gap ${outageMs} ms, router switched in ${routed.switchMs(NET4, 'a4', 'b4', mark)} ms; two paths at the router: ${JSON.stringify(atRouter)}`);
      expect(await clientReaches(routed, VIP6)).toBe(true);
    } finally {
      await cluster.start('a');
    }
    await waitForRouterPath(routed, 'a');
  });

  it('kill -9 of the holder: its lease runs out and its BIRD withdraws before the peer announces', async () => {
    await waitForRouterPath(routed, 'a');
    const pings = new PingStream(routed, VIP4);
    await pings.started();
    const mark = routed.mark();
    const a = cluster.daemon('a');
    a.process.kill('SIGKILL');
    await a.process.wait();
    try {
      await waitForRouterPath(routed, 'b');
      const { sent, lost, outageMs } = await pings.stop();
      console.log(`kill -9: ${lost} of ${sent} pings lost, longest gap ${outageMs} ms, router switched in ${routed.switchMs(NET4, 'a4', 'b4', mark)} ms`);
      expect(await clientReaches(routed, VIP4)).toBe(true);
      // The killed holder's lease runs out (and its BIRD withdraws) before the peer takes over.
      expect(routed.overlaps(NET4, mark)).toEqual([]);
      expect(routed.overlaps(NET6, mark)).toEqual([]);
    } finally {
      await cluster.start('a');
    }
    await waitForRouterPath(routed, 'a');
  });
  it('packaging/exabgp-vippy-routes turns the dummy link\'s changes into ExaBGP announce/withdraw lines, once each', async () => {
    await waitForRouterPath(routed, 'a');
    const script = path.join(PROJECT_ROOT, 'packaging/exabgp-vippy-routes');
    const onA = seg.spawn('a', [script, 'vippy0']);
    const onB = seg.spawn('b', [script, 'vippy0']);
    const announce = [`announce route ${NET4} next-hop self`, `announce route ${NET6} next-hop self`];
    const withdraw = [`withdraw route ${NET4} next-hop self`, `withdraw route ${NET6} next-hop self`];
    const lines = (p: Spawned) => p.stdout.split('\n').filter(Boolean).sort();
    await waitFor(() => lines(onA).length === 2, { what: 'the holder\'s current VIPs announced' });
    execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'deactivate'], { encoding: 'utf8' });
    await waitForRouterPath(routed, 'b');
    await waitFor(() => lines(onA).length === 4 && lines(onB).length === 2, { what: 'withdrawn on a, announced on b' });
    execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'activate'], { encoding: 'utf8' });
    await waitForRouterPath(routed, 'a');
    // Over a second of lease renewals on a: nothing repeated.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    onA.kill();
    onB.kill();
    await Promise.all([onA.wait(), onB.wait()]);
    expect(onA.stdout.split('\n').filter(Boolean)).toHaveLength(6);
    expect(lines(onA)).toEqual([...announce, ...announce, ...withdraw].sort());
    expect(lines(onB)).toEqual([...announce, ...withdraw].sort());
  });
});

describe.skipIf(!netnsAvailable)('routed mode, table form: BIRD learns vippyd\'s routes from a kernel table', () => {
  let seg: Segment;
  let routed: RoutedBed;
  let cluster: VippyCluster;

  beforeAll(async () => {
    ({ seg, routed, cluster } = await bed({ form: 'table', table: 100, protocol: 201 }, { table: 100, protocol: 201 }));
    await cluster.startAll();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    routed?.cleanup();
  });

  it('the holder\'s routes in table 100 (protocol 201) reach the router; a drain moves them', async () => {
    await waitForRouterPath(routed, 'a');
    // A table that never had a route does not exist for IPv4 yet ("FIB table does not exist"): none.
    const routes = async (node: string) => {
      const listed = await Promise.all(['-4', '-6'].map((family) => seg.exec(node, ['ip', family, '-j', 'route', 'show', 'table', '100', 'proto', '201'], { allowFail: true })));
      return listed.flatMap((r) => (r.code === 0 ? JSON.parse(r.stdout || '[]') : []))
        .map((r: { dst: string; dev: string }) => `${r.dst} dev ${r.dev}`).sort();
    };
    expect(await routes('a')).toEqual([`${VIP6} dev vippy0`, `${VIP4} dev vippy0`]);
    expect(await routes('b')).toEqual([]);
    await waitFor(() => clientReaches(routed, VIP4), { what: `client pings ${VIP4}` });
    await waitFor(() => clientReaches(routed, VIP6), { what: `client pings ${VIP6}` });

    const pings = new PingStream(routed, VIP6);
    await pings.started();
    const mark = routed.mark();
    execFileSync(VIPPYCTL, ['-s', cluster.daemon('a').socket, 'deactivate'], { encoding: 'utf8' });
    await waitForRouterPath(routed, 'b');
    const { sent, lost, outageMs } = await pings.stop();
    console.log(`table form, drain: ${lost} of ${sent} pings lost, longest gap ${outageMs} ms, router switched in ${routed.switchMs(NET6, 'a6', 'b6', mark)} ms; two paths at the router: ${JSON.stringify([...routed.overlaps(NET4, mark), ...routed.overlaps(NET6, mark)])}`);
    expect(await routes('a')).toEqual([]);
    expect(await routes('b')).toEqual([`${VIP6} dev vippy0`, `${VIP4} dev vippy0`]);
  });
});
