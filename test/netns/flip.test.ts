// flip clusters under vippyd: real daemons reading flip config files, unicast chat between the
// hosts' 192.0.2.x addresses, asserting what the kernels (and the scripts) show.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable, waitFor } from './harness.js';
import { ipStamp } from './lib/ip-stamp.js';
import { VippyCluster, type RawConfig } from './lib/cluster.js';

const VIP1 = '192.0.2.201';
const VIP2 = '192.0.2.202';
const VIPS = [VIP1, VIP2];
const PORT = 2200;

interface ServerSpec { priority?: number; systems?: string[] }

/** A flip file as flip's README writes it, with fast timers; `id` is set per node. */
function flipFile(seg: Segment, servers: Record<string, ServerSpec>, system: RawConfig = {}, extra: RawConfig = {}): RawConfig {
  return {
    gossip_interval: 100,
    ping_timeout: 300,
    key: 'netns-flip-test-key-0123456789',
    ping_per_interval: 3,
    log_level: 'info',
    servers: Object.fromEntries(Object.entries(servers).map(([id, spec]) => [id, { ip: seg.host(id).ipv4, port: PORT, systems: spec.systems ?? [], ...(spec.priority === undefined ? {} : { priority: spec.priority }) }])),
    // Data in flip's README order (.202 first): flip sorts it.
    cluster: { config: { interface: 'eth0' }, system: { ip: { type: 'shard', config: {}, data: [VIP2, VIP1], ...system } } },
    ...extra,
  };
}

/** flip's README cluster: flip, flip1 (priority 1), flip2 (an arbiter: no systems). */
const README_SERVERS: Record<string, ServerSpec> = { flip: { systems: ['ip'] }, flip1: { priority: 1, systems: ['ip'] }, flip2: {} };

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

  async function start(hosts: string[], servers: Record<string, ServerSpec>, system: RawConfig = {}, extra: RawConfig = {}) {
    seg = await Segment.create({ hosts });
    const s = seg;
    cluster = new VippyCluster(s, { config: flipFile(s, servers, system, extra), perNode: (host) => ({ id: host.name }) });
    await cluster.startAll();
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

  it("flip's README example: .201 on flip1 and .202 on flip; flip1 fails → flip holds both; flip1 returns → back", async () => {
    const { seg, cluster } = await start(['flip', 'flip1', 'flip2'], README_SERVERS);
    await placed(cluster, { flip: [VIP2], flip1: [VIP1], flip2: [] }, 'initial division');

    cluster.daemon('flip1').process.kill('SIGKILL');
    await seg.cutLink(seg.host('flip1'));
    // flip1's kernel keeps what it had (killed, cable pulled); the survivors are what counts.
    await waitFor(async () => {
      const now = await snapshot(cluster);
      return now['flip']!.join() === VIPS.join() && now['flip2']!.length === 0;
    }, { timeoutMs: 5000, intervalMs: 20, what: 'flip to hold both points' });

    await seg.restoreLink(seg.host('flip1'));
    await cluster.start('flip1');
    await placed(cluster, { flip: [VIP2], flip1: [VIP1], flip2: [] }, 'failback');
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
    const dir = (scriptDir = mkdtempSync(path.join(os.tmpdir(), 'vippy-flip-scripts-')));
    const record = path.join(dir, 'calls.jsonl');
    // One recorder per action: the action is baked in, so a mix-up of alive and down shows.
    const recorder = (action: string) => {
      const file = path.join(dir, `${action}.cjs`);
      writeFileSync(file, `#!${process.execPath}
require('node:fs').appendFileSync(${JSON.stringify(record)}, JSON.stringify({ script: ${JSON.stringify(action)}, vippyd: process.ppid,
  argv: process.argv.slice(2), env: [process.env.VIPPY_POINT, process.env.VIPPY_SYSTEM, process.env.VIPPY_ACTION] }) + '\\n');
`);
      chmodSync(file, 0o755);
      return file;
    };
    const system = { alive: recorder('alive'), down: recorder('down'), config: { role: 'web' } };
    cluster = new VippyCluster(s, { config: flipFile(s, README_SERVERS, system), perNode: (host) => ({ id: host.name }) });
    const c = cluster;
    await c.startAll();
    const pid = (name: string) => c.daemon(name).process.pid;
    const calls = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').map((line) => JSON.parse(line)) : []) as Array<{ script: string; vippyd: number; argv: string[]; env: string[] }>;
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
});
