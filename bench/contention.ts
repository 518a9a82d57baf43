// No false failover under load (issue 7 §2):
//   npx tsx bench/contention.ts [--minutes 10]
// Three daemons at interval 0.1 / stale 0.3 in network namespaces; the holder of every VIP (n1,
// the preferred node) is pinned to CPU 0 together with a busy loop. For the whole run: every
// address change the kernels report, every peer a daemon saw stale, each daemon's state-change
// counter, and the gaps between n1's announcements as n2's kernel timestamps them. Writes
// bench/results/contention.json. Needs root.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { recordResults, summarize } from './lib/results.js';
import { Segment, type Spawned } from '../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../test/netns/lib/cluster.js';
import { AddressObserver, CHAOS_VIPS } from '../test/netns/lib/chaos.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got "${values.minutes}"`);
if (os.cpus().length < 2) throw new Error('needs at least two CPUs: the busy loop takes CPU 0 and the rest of the cluster runs beside it');

const NODES = ['n1', 'n2', 'n3'];
const TIMING = { intervalMs: 100, staleMs: 300 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const seg = await Segment.create({ hosts: NODES });
const cluster = new VippyCluster(seg, {
  config: baseConfig(seg.hosts, {
    // n1 is preferred for every VIP: a false failover moves them.
    vips: CHAOS_VIPS.map((ip) => ['n1', { interface: 'eth0', ip: `${ip}/24` }]),
    interval: TIMING.intervalMs / 1000,
    stale: TIMING.staleMs / 1000,
  }),
});
const busy: Spawned[] = [];
try {
  const observer = await AddressObserver.start(seg, NODES);
  await cluster.startAll();
  await observer.waitConverged(10_000);
  await sleep(2000);

  const pid = cluster.daemon('n1').process.pid;
  await seg.exec('n1', ['taskset', '-a', '-p', '-c', '0', String(pid)]);
  // One busy loop per CPU (the others keep the rest of the box as loaded), n1's share pinned with it.
  for (let cpu = 0; cpu < os.cpus().length; cpu++) busy.push(seg.spawn('n1', ['taskset', '-c', String(cpu), 'sh', '-c', 'while :; do :; done']));
  const changesBefore = await stateChanges();
  const moves: string[] = [];
  const before = observer.describe();
  observer.take();
  const capture = await seg.capture('n2', ['-tt', 'udp', 'and', 'src', 'host', seg.host('n1').ipv4]);

  const stale: string[] = [];
  let samples = 0;
  const until = performance.now() + minutes * 60_000;
  while (performance.now() < until) {
    for (const name of NODES) {
      const status = await cluster.status(name).catch((error: Error) => ({ error: error.message }));
      if ('error' in status) stale.push(`${name}: status failed: ${status.error}`);
      else for (const peer of status.peers ?? []) if (!peer.up || peer.last_heard_ms > TIMING.staleMs) stale.push(`${name} sees ${peer.node} silent ${peer.last_heard_ms} ms`);
    }
    samples++;
    const now = observer.describe();
    if (now !== before && moves.at(-1) !== now) moves.push(now);
    await sleep(250);
  }
  capture.kill('SIGINT');
  await capture.wait();
  const figures = observer.take();
  const changes = (await stateChanges()).map((n, i) => n - changesBefore[i]!);
  const times = capture.stdout.split('\n').map((line) => Number(line.split(' ')[0])).filter((t) => t > 0);
  const gaps = times.slice(1).map((t, i) => (t - times[i]!) * 1000);
  const result = {
    minutes,
    timing: TIMING,
    setup: `n1 (holder of all ${CHAOS_VIPS.length} VIPs) pinned to CPU 0 with a busy loop; a busy loop on every other CPU too`,
    ownershipMoves: moves.length,
    moves: moves.slice(0, 20),
    stateChanges: Object.fromEntries(NODES.map((n, i) => [n, changes[i]])),
    staleSightings: stale.length,
    staleExamples: stale.slice(0, 20),
    statusSamples: samples,
    dualMs: Math.round(figures.dualMs),
    unownedMs: Math.round(figures.unownedMs),
    heartbeatGapsMs: summarize(gaps),
    gapsOverStale: gaps.filter((g) => g > TIMING.staleMs).length,
    gapsOverQuarterInterval: gaps.filter((g) => g > TIMING.intervalMs * 1.25).length,
  };
  observer.stop();
  const file = recordResults('contention.json', 'busy-loop', result);
  console.log(JSON.stringify(result, null, 2));
  console.log(`recorded in ${file}`);
} finally {
  for (const p of busy) p.kill('SIGKILL');
  await cluster.stopAll().catch(() => {});
  await seg.destroy();
}

async function stateChanges(): Promise<number[]> {
  return Promise.all(NODES.map(async (n) => (await cluster.status(n)).stats['state-changes'] as number));
}
