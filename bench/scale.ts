// Scale and cost (issue 6 §2), on real daemons in network namespaces. Needs root. One command:
//
//   npx tsx bench/scale.ts [--parts vips,size,idle,profile] [--quick] [--runs N] [--size-runs N]
//                          [--vips 256] [--systems vippy,keepalived] [--sizes 4,8,16,32]
//                          [--timing auto|fast|slow]
//
// vips: 256 single-address groups over 4 nodes, one node crashed; time until all of its VIPs are
//       up on survivors and announced (keepalived: one vrrp_instance per VIP, at most 255).
// size: 4–32 daemons; convergence after one crash, chat bytes per second per node, CPU per daemon.
//       --timing auto: interval 0.1 / stale 0.3 up to 8 nodes, interval 1 / stale 3 above.
// idle: CPU % and RSS per daemon in a five-node cluster at interval 0.1 (bench/failover/idle.ts).
// profile: the same cluster under node --cpu-prof: where the idle CPU goes.
// → bench/results/scale.json (sections manyVips, clusterSize, idle, idleProfile; each with the load average)
//   and the generated tables of "Scale and cost" in docs/benchmarks.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT, run } from '../test/netns/harness.js';
import { ensureTools } from './failover/deps.js';
import { measureIdle } from './failover/idle.js';
import { FAST, SLOW, measureClusterSize, type ClusterSizeRun, type Timing } from './scale/cluster-size.js';
import { KEEPALIVED_MAX_VIPS, keepalived, measureManyVips, vippy, type ManyVipsRun, type ManyVipsSystem } from './scale/many-vips.js';
import { load1 } from './scale/probes.js';
import { profileIdle } from './scale/profile.js';
import { renderScale, summarizeClusterSize, summarizeManyVips } from './scale/report.js';
import { listOption, positiveInteger } from './lib/options.js';
import { recordResults, resultsDir } from './lib/results.js';

const PARTS = ['vips', 'size', 'idle', 'profile'] as const;
const SYSTEMS: Record<'vippy' | 'keepalived', ManyVipsSystem> = { vippy, keepalived };

const { values: options } = parseArgs({
  options: {
    parts: { type: 'string', default: PARTS.join(',') },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'size-runs': { type: 'string' },
    vips: { type: 'string', default: '256' },
    systems: { type: 'string', default: 'vippy,keepalived' },
    sizes: { type: 'string', default: '4,8,16,32' },
    timing: { type: 'string', default: 'auto' },
  },
});


const parts = listOption('parts', options.parts, PARTS);
const runs = positiveInteger('runs', options.runs ?? (options.quick ? '3' : '10'));
const sizeRuns = positiveInteger('size-runs', options['size-runs'] ?? (options.quick ? '1' : '3'));
// 2 × 254 addresses in the two free documentation ranges.
const vipCount = positiveInteger('vips', options.vips, 508);
const systems = listOption('systems', options.systems, Object.keys(SYSTEMS) as Array<keyof typeof SYSTEMS>).map((s) => SYSTEMS[s]);
// The harness numbers hosts 192.0.2.10–99.
const sizes = options.sizes.split(',').map((s) => positiveInteger('sizes', s, 90));
const timingMode = listOption('timing', options.timing, ['auto', 'fast', 'slow'] as const);
if (timingMode.length !== 1) throw new Error(`--timing: one of auto, fast, slow, got ${JSON.stringify(options.timing)}`);
const timingFor = (nodes: number): Timing => ({ auto: nodes <= 8 ? FAST : SLOW, fast: FAST, slow: SLOW })[timingMode[0]!];

const command = `npx tsx bench/scale.ts${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
const log = (line: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

if (process.getuid?.() !== 0) throw new Error('bench/scale.ts needs root (network namespaces, raw sockets)');
await ensureTools(log);
if (!existsSync(path.join(PROJECT_ROOT, 'dist/src/cli/vippyd.js'))) {
  log('building vippy (npm run build)');
  await run(['npm', 'run', 'build'], { cwd: PROJECT_ROOT, timeoutMs: 600_000 });
}

/** Run `measure` `count` times; a failed run is logged and counted, not fatal. */
async function repeat<T>(label: string, count: number, measure: () => Promise<T>, show: (r: T) => string) {
  const done: T[] = [];
  const errors: string[] = [];
  for (let i = 1; i <= count; i++) {
    try {
      const r = await measure();
      done.push(r);
      log(`${label} #${i}: ${show(r)}`);
    } catch (error) {
      errors.push((error as Error).message.split('\n')[0]!);
      log(`${label} #${i}: FAILED ${errors.at(-1)}`);
    }
  }
  return { runs: done, errors };
}

const started = Date.now();
if (parts.includes('vips')) {
  const results = [];
  for (const system of systems) {
    const count = system === keepalived ? Math.min(vipCount, KEEPALIVED_MAX_VIPS) : vipCount;
    const { runs: done, errors } = await repeat(`${system.system} ${count} VIPs`, runs, () => measureManyVips(system, count),
      (r: ManyVipsRun) => `${r.victimVips} VIPs of the crashed node up by ${r.allUpMs} ms, announced by ${r.allAnnouncedMs} ms (load ${r.load1})`);
    results.push(summarizeManyVips(system, count, done, errors));
  }
  log(`written to ${recordResults('scale.json', 'manyVips', { command, nodes: 4, loadAverage: os.loadavg(), systems: results })}`);
}

if (parts.includes('size')) {
  const results = [];
  for (const nodes of sizes) {
    const timing = timingFor(nodes);
    const { runs: done, errors } = await repeat(`${nodes} daemons`, sizeRuns, () => measureClusterSize(nodes, timing),
      (r: ClusterSizeRun) => `VIPs up ${r.vipsUpMs} ms, /status agreed ${r.statusAgreedMs} ms, chat ${r.chatSentBytesPerSecond} B/s sent ` +
        `${r.chatReceivedBytesPerSecond} B/s received per node, CPU ${r.cpuPercentMedian} % (load ${r.load1})`);
    results.push(summarizeClusterSize(nodes, timing, done, errors));
  }
  log(`written to ${recordResults('scale.json', 'clusterSize', { command, loadAverage: os.loadavg(), sizes: results })}`);
}

if (parts.includes('idle')) {
  const loadBefore = load1();
  const idle = await measureIdle();
  log(`idle: vippy CPU ${idle.vippy.cpuPercent.median} %, RSS ${idle.vippy.rssMiB.median} MiB; keepalived CPU ${idle.keepalived.cpuPercent.median} %, RSS ${idle.keepalived.rssMiB.median} MiB`);
  log(`written to ${recordResults('scale.json', 'idle', { command, ...idle, load1Before: loadBefore, load1After: load1() })}`);
}
if (parts.includes('profile')) {
  const profile = await profileIdle();
  log(`idle profile: main thread busy ${profile.mainThreadBusyPercent} % per daemon; top ${profile.topSources.slice(0, 3).map((s) => `${s.name} ${s.percentOfWall} %`).join(', ')}`);
  log(`written to ${recordResults('scale.json', 'idleProfile', { command, ...profile })}`);
}
log(`done in ${Math.round((Date.now() - started) / 1000)} s`);

// The tables are drawn from the file, so a run of one part keeps the others' last figures.
const recorded = JSON.parse(readFileSync(path.join(resultsDir, 'scale.json'), 'utf8'));
const docs = path.join(PROJECT_ROOT, 'docs/benchmarks.md');
writeFileSync(docs, replaceGenerated(readFileSync(docs, 'utf8'), renderScale(recorded)));
log(`tables in ${docs}`);

/** Swap the text between the scale section's generated markers in docs/benchmarks.md. */
function replaceGenerated(doc: string, tables: string): string {
  const begin = '<!-- scale:begin (generated by bench/scale.ts) -->';
  const end = '<!-- scale:end -->';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/benchmarks.md: the markers ${begin} … ${end} are missing`);
  return doc.slice(0, from + begin.length) + '\n' + tables + '\n' + doc.slice(to);
}
