// flip clusters under vippyd: real daemons reading flip config files, unicast chat between the
// hosts' 192.0.2.x addresses, asserting what the kernels (and the scripts) show.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable, waitFor } from './harness.js';
import { ipStamp } from './lib/ip-stamp.js';
import { VippyCluster, type RawConfig } from './lib/cluster.js';

/** One script run as the recorder scripts log it. */
interface ScriptCall { script: string; vippyd: number; at: number; argv: string[]; env: string[] }

/**
 * alive/down scripts that log each run (action, the vippyd that ran it, when, argv, VIPPY_*) to
 * one file in `dir`. One script per action, the action baked in, so a mix-up shows.
 */
function recorders(dir: string): { alive: string; down: string; calls: () => ScriptCall[] } {
  const record = path.join(dir, 'calls.jsonl');
  const recorder = (action: string) => {
    const file = path.join(dir, `${action}.cjs`);
    writeFileSync(file, `#!${process.execPath}
require('node:fs').appendFileSync(${JSON.stringify(record)}, JSON.stringify({ script: ${JSON.stringify(action)}, vippyd: process.ppid, at: Date.now(),
  argv: process.argv.slice(2), env: [process.env.VIPPY_POINT, process.env.VIPPY_SYSTEM, process.env.VIPPY_ACTION] }) + '\\n');
`);
    chmodSync(file, 0o755);
    return file;
  };
  const calls = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ScriptCall) : []);
  return { alive: recorder('alive'), down: recorder('down'), calls };
}

const VIP1 = '192.0.2.201';
const VIP2 = '192.0.2.202';
const VIPS = [VIP1, VIP2];
const PORT = 2200;

interface ServerSpec { priority?: number; systems?: string[] }

/** A flip file as flip's README writes it, with fast timers; `id` is set per node. */
function flipFile(seg: Segment, servers: Record<string, ServerSpec>, system: RawConfig = {}, extra: RawConfig = {}, clusterKeys: RawConfig = {}): RawConfig {
  return {
    gossip_interval: 100,
    ping_timeout: 300,
    key: 'netns-flip-test-key-0123456789',
    ping_per_interval: 3,
    log_level: 'info',
    servers: Object.fromEntries(Object.entries(servers).map(([id, spec]) => [id, { ip: seg.host(id).ipv4, port: PORT, systems: spec.systems ?? [], ...(spec.priority === undefined ? {} : { priority: spec.priority }) }])),
    // Data in flip's README order (.202 first): flip sorts it.
    cluster: { config: { interface: 'eth0' }, system: { ip: { type: 'shard', config: {}, data: [VIP2, VIP1], ...system } }, ...clusterKeys },
    ...extra,
  };
}

/** flip's README cluster: flip, flip1 (priority 1), flip2 (an arbiter: no systems). */
const README_SERVERS: Record<string, ServerSpec> = { flip: { systems: ['ip'] }, flip1: { priority: 1, systems: ['ip'] }, flip2: {} };
/** The same servers as the README writes them today (no priority): flip holds .201 (its .1), flip1 .202. */
const README_AS_WRITTEN: Record<string, ServerSpec> = { flip: { systems: ['ip'] }, flip1: { systems: ['ip'] }, flip2: {} };

describe.skipIf(!netnsAvailable)('flip configs under vippyd', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;
  let scriptDir: string | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
    cluster = undefined;
    seg = undefined;
    scriptDir = undefined;
  });

  async function start(hosts: string[], servers: Record<string, ServerSpec>, system: RawConfig = {}, extra: RawConfig = {}, { only }: { only?: string[] } = {}) {
    seg = await Segment.create({ hosts });
    const s = seg;
    // As flip users run it: one file per server naming it by `id`, `vippyd -c FILE` alone, and
    // each server with its own /run (separate machines), so the default control socket serves.
    cluster = new VippyCluster(s, { config: flipFile(s, servers, system, extra), perNode: (host) => ({ id: host.name }), asSeparateMachines: true });
    if (only) for (const name of only) await cluster.start(name);
    else await cluster.startAll();
    return { seg: s, cluster };
  }

  /** Which VIPs each host's kernel has, read from every host at about the same moment. */
  async function snapshot(c: VippyCluster): Promise<Record<string, string[]>> {
    const entries = await Promise.all([...c.daemons.values()].map(async (d) => {
      const { stdout } = await c.seg.exec(d.host, ['ip', '-j', 'addr', 'show']);
      const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
      const local = new Set(links.flatMap((l) => l.addr_info?.map((a) => a.local) ?? []));
      return [d.host.name, VIPS.filter((ip) => local.has(ip))] as const;
    }));
    return Object.fromEntries(entries);
  }

  const placed = (c: VippyCluster, expected: Record<string, string[]>, what: string, timeoutMs = 5000) =>
    waitFor(async () => {
      const now = await snapshot(c);
      return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
    }, { timeoutMs, intervalMs: 20, what: `${what}: ${JSON.stringify(expected)}` });

  it("flip's README example, from its files with `vippyd -c FILE` alone: divides, fails over and back; vippyctl status shows it", async () => {
    const { seg, cluster } = await start(['flip', 'flip1', 'flip2'], README_AS_WRITTEN);
    await placed(cluster, { flip: [VIP1], flip1: [VIP2], flip2: [] }, 'initial division (the README\'s table)');
    // Each daemon is the server its file's id names, and serves on the default socket of its own /run.
    for (const name of ['flip', 'flip1', 'flip2']) expect((await cluster.status(name)).identity).toBe(name);
    const text = await cluster.ctl('flip1', ['status']);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toBe(`State:  active\n    flip: ${VIP1}/32\n(*) flip1: ${VIP2}/32\n`);

    cluster.daemon('flip1').process.kill('SIGKILL');
    await seg.cutLink(seg.host('flip1'));
    // flip1's kernel keeps what it had (killed, cable pulled); the survivors are what counts.
    await waitFor(async () => {
      const now = await snapshot(cluster);
      return now['flip']!.join() === VIPS.join() && now['flip2']!.length === 0;
    }, { timeoutMs: 5000, intervalMs: 20, what: 'flip to hold both points' });

    await seg.restoreLink(seg.host('flip1'));
    await cluster.start('flip1');
    await placed(cluster, { flip: [VIP1], flip1: [VIP2], flip2: [] }, 'failback');
  });

  it('a flip server starting alone takes its home points at once, and only those', async () => {
    const { cluster } = await start(['flip', 'flip1', 'flip2'], README_AS_WRITTEN, {}, {}, { only: ['flip'] });
    await placed(cluster, { flip: [VIP1], flip1: [], flip2: [] }, 'flip alone to take its home point');
    const status = await cluster.status('flip');
    expect(status.quorum).toMatchObject({ met: false, policy: 'freeze' });
    // flip1's point is not flip's to take until a quorum agrees flip1 is down.
    const until = performance.now() + 1500;
    while (performance.now() < until) expect((await snapshot(cluster))['flip']).toEqual([VIP1]);
    await cluster.start('flip1');
    await placed(cluster, { flip: [VIP1], flip1: [VIP2], flip2: [] }, 'flip1 to take its own when it starts');
  });

  it('a total partition moves nothing (flip default: freeze)', async () => {
    const { seg, cluster } = await start(['flip', 'flip1', 'flip2'], README_SERVERS);
    const division = { flip: [VIP2], flip1: [VIP1], flip2: [] };
    await placed(cluster, division, 'initial division');
    await seg.block('flip', 'flip1');
    await seg.block('flip', 'flip2');
    await seg.block('flip1', 'flip2');
    await waitFor(async () => {
      const met = await Promise.all(['flip', 'flip1', 'flip2'].map(async (n) => (await cluster.status(n)).quorum.met));
      return met.every((m) => m === false);
    }, { timeoutMs: 3000, what: 'every node to lose quorum' });
    // Ten timeouts' worth of sampling: every sample shows the division unchanged.
    const until = performance.now() + 3000;
    while (performance.now() < until) expect(await snapshot(cluster)).toEqual(division);
    await seg.unblockAll();
    await waitFor(async () => (await cluster.status('flip')).quorum.met, { timeoutMs: 5000, what: 'quorum back' });
    expect(await snapshot(cluster)).toEqual(division);
  });

  it('two data nodes plus an arbiter: killing a data node fails its point over', async () => {
    const { seg, cluster } = await start(['a', 'b', 'arb'], { a: { systems: ['ip'] }, b: { systems: ['ip'] }, arb: {} });
    await placed(cluster, { a: [VIP1], b: [VIP2], arb: [] }, 'initial division (members a, b by id)');
    cluster.daemon('b').process.kill('SIGKILL');
    await seg.cutLink(seg.host('b'));
    await waitFor(async () => {
      const now = await snapshot(cluster);
      return now['a']!.join() === VIPS.join() && now['arb']!.length === 0;
    }, { timeoutMs: 5000, intervalMs: 20, what: 'a to hold both points (quorum a + arb)' });
  });

  it('no_quorum_policy "stop": across a majority/minority split and its heal, no address is ever on two hosts', async () => {
    const { seg, cluster } = await start(['flip', 'flip1', 'flip2'], README_SERVERS, {}, { no_quorum_policy: 'stop' });
    await placed(cluster, { flip: [VIP2], flip1: [VIP1], flip2: [] }, 'initial division');

    // Every address change on every host, timestamped (µs) as the kernel reports it: finer than
    // any polling sampler, and it cannot miss a brief overlap.
    const monitors = seg.hosts.map((host) => ({ host: host.name, process: seg.spawn(host, ['ip', '-ts', 'monitor', 'address']) }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // flip1 (the minority) is cut off from its peers, not from the segment.
    await seg.partition(['flip1'], ['flip', 'flip2']);
    await placed(cluster, { flip: VIPS, flip1: [], flip2: [] }, 'the majority to take .201, the minority to release it');
    await seg.unblockAll();
    await placed(cluster, { flip: [VIP2], flip1: [VIP1], flip2: [] }, 'failback after the heal');
    for (const monitor of monitors) monitor.process.kill('SIGTERM');
    await Promise.all(monitors.map((monitor) => monitor.process.wait()));

    const changes = monitors.flatMap(({ host, process }) => [...process.stdout.matchAll(/^\[\S+\] (Deleted )?\d+: \S+\s+inet (\S+)\//gm)]
      .filter((m) => VIPS.includes(m[2]!))
      .map((m) => ({ at: ipStamp(m[0])!, host, ip: m[2]!, up: m[1] === undefined })))
      .sort((a, b) => a.at - b.at);
    const holders = new Map<string, Set<string>>([[VIP1, new Set(['flip1'])], [VIP2, new Set(['flip'])]]);
    const overlaps: string[] = [];
    // Lease renewals echo as adds of an address already there: only real moves are kept.
    const moves: string[] = [];
    for (const change of changes) {
      const set = holders.get(change.ip)!;
      if (set.has(change.host) === change.up) continue;
      if (change.up) set.add(change.host);
      else set.delete(change.host);
      moves.push(`${change.up ? '+' : '-'}${change.host} ${change.ip}`);
      if (set.size > 1) overlaps.push(`${change.ip} on ${[...set].join(' and ')} at ${change.at}`);
    }
    expect(overlaps).toEqual([]);
    // .201 went flip1 → flip → flip1, each move a release before an add; .202 never moved.
    expect(moves).toEqual([
      `-flip1 ${VIP1}`, `+flip ${VIP1}`, `-flip ${VIP1}`, `+flip1 ${VIP1}`,
    ]);
  });

  it('alive/down scripts receive the point, the merged config JSON and VIPPY_* variables; vippyd plumbs nothing itself', async () => {
    seg = await Segment.create({ hosts: ['flip', 'flip1', 'flip2'] });
    const s = seg;
    const { alive, down, calls } = recorders((scriptDir = mkdtempSync(path.join(os.tmpdir(), 'vippy-flip-scripts-'))));
    const system = { alive, down, config: { role: 'web' } };
    cluster = new VippyCluster(s, { config: flipFile(s, README_SERVERS, system), perNode: (host) => ({ id: host.name }), asSeparateMachines: true });
    const c = cluster;
    await c.startAll();
    const pid = (name: string) => c.daemon(name).process.pid;
    const settled = (state: string) => ({ state, done: true, running: false, lastError: null, lastExitCode: 0 });
    const scriptsSettled = (name: string, expected: Record<string, object>) => waitFor(async () => {
      const scripts = (await c.status(name)).scripts;
      try {
        expect(scripts).toMatchObject(expected);
        return scripts;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 5000, what: `${name}'s scripts to settle as ${JSON.stringify(expected)}` });

    // A member that came up a little late may have had its point held elsewhere for a moment;
    // what counts is where every point settles.
    await scriptsSettled('flip1', { [VIP1]: settled('alive'), [VIP2]: settled('down') });
    await scriptsSettled('flip', { [VIP1]: settled('down'), [VIP2]: settled('alive') });
    expect(await scriptsSettled('flip2', {})).toEqual({});

    c.daemon('flip1').process.kill('SIGKILL');
    await s.cutLink(s.host('flip1'));
    await scriptsSettled('flip', { [VIP1]: settled('alive'), [VIP2]: settled('alive') });
    // A clean stop runs down for everything held.
    const before = calls().length;
    c.daemon('flip').process.kill('SIGTERM');
    await c.daemon('flip').process.wait();
    await waitFor(() => calls().slice(before).filter((call) => call.vippyd === pid('flip') && call.script === 'down').length === 2, { what: 'flip to run down for both points at stop' });
    expect(calls().slice(before).map((call) => `${call.script} ${call.argv[0]}`).sort()).toEqual([`down ${VIP1}`, `down ${VIP2}`]);

    const mergedConfig = JSON.stringify({ interface: 'eth0', role: 'web' });
    for (const call of calls()) {
      expect(call.argv).toEqual([call.argv[0], mergedConfig]);
      expect(VIPS).toContain(call.argv[0]);
      expect(call.env).toEqual([call.argv[0], 'ip', call.script]);
    }
    // The arbiter runs no scripts; the scripts own the addresses, so no kernel has them.
    expect(calls().filter((call) => call.vippyd === pid('flip2'))).toEqual([]);
    expect(await snapshot(c)).toEqual({ flip: [], flip1: [], flip2: [] });
  });

  it('remove_on_start keeps a starting server from running down; remove_on_failure false makes a stop leave its points to a timeout', async () => {
    seg = await Segment.create({ hosts: ['flip', 'flip1', 'flip2'] });
    const s = seg;
    const { alive, down, calls } = recorders((scriptDir = mkdtempSync(path.join(os.tmpdir(), 'vippy-flip-remove-'))));
    const system = { alive, down, remove_on_start: true };
    cluster = new VippyCluster(s, {
      config: flipFile(s, README_AS_WRITTEN, system, {}, { remove_on_failure: false }),
      perNode: (host) => ({ id: host.name }),
      asSeparateMachines: true,
    });
    const c = cluster;
    await c.startAll();
    const pid = (name: string) => c.daemon(name).process.pid;
    const runs = (name: string, since = 0) => calls().slice(since).filter((call) => call.vippyd === pid(name)).map((call) => `${call.script} ${call.argv[0]}`);
    await waitFor(() => runs('flip').length === 1 && runs('flip1').length === 1, { timeoutMs: 8000, what: 'each member to run alive for its home point' });
    // No start-up `down` for the other point: only the home point's alive ran.
    expect([runs('flip'), runs('flip1')]).toEqual([[`alive ${VIP1}`], [`alive ${VIP2}`]]);

    const before = calls().length;
    const stoppedPid = pid('flip1');
    c.daemon('flip1').process.kill('SIGTERM');
    expect((await c.daemon('flip1').process.wait()).code).toBe(0);
    // The stop ran nothing; flip takes flip1's point once flip1 has gone silent.
    await waitFor(() => calls().slice(before).some((call) => call.vippyd === pid('flip') && call.argv[0] === VIP2), { timeoutMs: 8000, what: 'flip to take .202 after the timeout' });
    expect(calls().slice(before).filter((call) => call.vippyd === stoppedPid)).toEqual([]);
    expect(runs('flip', before)).toEqual([`alive ${VIP2}`]);
  });

  it('system.delay makes changes that come together one plan: two servers lost in turn, one run of the survivor\'s scripts; status shows each named point and its holder', async () => {
    seg = await Segment.create({ hosts: ['a', 'b', 'c', 'arb'] });
    const s = seg;
    const { alive, down, calls } = recorders((scriptDir = mkdtempSync(path.join(os.tmpdir(), 'vippy-flip-delay-'))));
    const points = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    // Homes, members by id: a p1 p4, b p2 p5, c p3 p6. quorum 2: a and the arbiter decide alone at the end.
    const system = { alive, down, data: points, delay: 4000 };
    const servers = { a: { systems: ['ip'] }, b: { systems: ['ip'] }, c: { systems: ['ip'] }, arb: {} };
    cluster = new VippyCluster(s, { config: flipFile(s, servers, system, { quorum: 2 }), perNode: (host) => ({ id: host.name }), asSeparateMachines: true });
    const c = cluster;
    await c.startAll();
    const pid = (name: string) => c.daemon(name).process.pid;
    const aliveOn = (name: string, since = 0) => calls().slice(since).filter((call) => call.vippyd === pid(name) && call.script === 'alive');
    const points_ = (groups: Array<Array<{ point: string }>> | undefined) => (groups ?? []).map((group) => group[0]!.point).sort();
    await waitFor(() => aliveOn('a').length === 2 && aliveOn('b').length === 2 && aliveOn('c').length === 2, { timeoutMs: 10_000, what: 'every member to run alive for its home points' });
    expect(aliveOn('a').map((call) => call.argv[0]).sort()).toEqual(['p1', 'p4']);

    // vippyctl status on a: each named point with the server that really holds it.
    await waitFor(async () => (await c.status('a')).scripts?.['p4']?.done === true, { what: "a's scripts done" });
    const text = await c.ctl('a', ['status']);
    expect(text.stdout).toBe(['State:  active', '(*) a: p1 (ip)', '    b: p2 (ip)', '    c: p3 (ip)', '(*) a: p4 (ip)', '    b: p5 (ip)', '    c: p6 (ip)', ''].join('\n'));

    const before = calls().length;
    c.daemon('b').process.kill('SIGKILL');
    await s.cutLink(s.host('b'));
    // a's plan now holds p5 (b's second point goes to the first survivor; p2 to c) ...
    await waitFor(async () => points_((await c.status('a')).state.ownership.a).join() === 'p1,p4,p5', { timeoutMs: 5000, what: 'a to plan p5 after b is down' });
    // ... but within the delay nothing has run for it yet.
    expect(aliveOn('a', before)).toEqual([]);
    c.daemon('c').process.kill('SIGKILL');
    await s.cutLink(s.host('c'));
    const cKilledAt = Date.now();
    await waitFor(async () => points_((await c.status('a')).state.ownership.a).join() === points.join(), { timeoutMs: 5000, what: 'a to plan every point' });
    await waitFor(() => aliveOn('a', before).length === 4, { timeoutMs: 10_000, what: "a's alive runs for b's and c's points" });
    // One plan: each of the four points ran once, all after the second change (p5's first plan never ran alone).
    expect(aliveOn('a', before).map((call) => call.argv[0]).sort()).toEqual(['p2', 'p3', 'p5', 'p6']);
    for (const call of aliveOn('a', before)) expect(call.at).toBeGreaterThanOrEqual(cKilledAt);
    expect(calls().slice(before).filter((call) => call.vippyd === pid('a') && call.script === 'down')).toEqual([]);
  });
});
