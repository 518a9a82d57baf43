// Fail-over latency of vippy against keepalived and ucarp, side by side on the same kind of
// network-namespace segment (two nodes and an observer, a fresh segment per run; VRRP and CARP
// never share a bridge). Needs root. One command runs it all:
//
//   npx tsx bench/failover.ts [--runs N] [--quick] [--parallel P] [--systems vippy,keepalived,ucarp]
//                             [--settings tuned,default] [--cases crash,freeze,graceful,linkdown,drain]
//                             [--skip-idle | --idle-only]
//
// → bench/results/failover.json (section "failover"), bench/results/failover.png (bench/plot.py),
//   and the generated tables in docs/benchmarks.md. Then (unless --skip-idle) the idle cost of a
//   five-node cluster, section "idle" of the same file. See docs/benchmarks.md for what is measured.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT, run } from '../test/netns/harness.js';
import { SYSTEM_PYTHON, ensureTools } from './failover/deps.js';
import { addRatios, renderTables, summarizeCell, targetsOf, type Cell } from './failover/report.js';
import { measureIdle } from './failover/idle.js';
import { measureRun } from './failover/run.js';
import { ALL_CASES, VIP, systemsUnderTest } from './failover/systems.js';
import { listOption, positiveInteger } from './lib/options.js';
import { recordResults, resultsDir } from './lib/results.js';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    parallel: { type: 'string', default: '5' },
    systems: { type: 'string', default: 'vippy,keepalived,ucarp' },
    settings: { type: 'string', default: 'tuned,default' },
    cases: { type: 'string', default: ALL_CASES.join(',') },
    'skip-idle': { type: 'boolean', default: false },
    'idle-only': { type: 'boolean', default: false },
  },
});


const runs = positiveInteger('runs', options.runs ?? (options.quick ? '3' : '20'));
const parallel = positiveInteger('parallel', options.parallel);
const systems = listOption('systems', options.systems, ['vippy', 'keepalived', 'ucarp'] as const);
const settings = listOption('settings', options.settings, ['tuned', 'default'] as const);
const cases = listOption('cases', options.cases, ALL_CASES);
const log = (line: string) => process.stderr.write(`[failover ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

if (process.getuid?.() !== 0) throw new Error('bench/failover.ts needs root (network namespaces, raw sockets)');
await ensureTools(log);
if (!existsSync(path.join(PROJECT_ROOT, 'dist/src/cli/vippyd.js'))) {
  log('building vippy (npm run build)');
  await run(['npm', 'run', 'build'], { cwd: PROJECT_ROOT, timeoutMs: 600_000 });
}

const cells: Cell[] = systemsUnderTest()
  .filter((sut) => systems.includes(sut.system) && settings.includes(sut.setting))
  .flatMap((sut) => sut.cases.filter((c) => cases.includes(c)).map((kind) => ({ sut, kind, runs: [], errors: [] })));

interface Job { cell: Cell; index: number }
// Run i of every cell before run i + 1 of any, so a change in the machine's load hits all alike.
const jobsWhere = (slow: boolean): Job[] => Array.from({ length: runs }, (_, index) =>
  cells.filter((cell) => (cell.sut.intervalMs >= 1000) === slow).map((cell) => ({ cell, index }))).flat();

async function runJob({ cell, index }: Job): Promise<void> {
  const label = `${cell.sut.system} ${cell.sut.setting} ${cell.kind} #${index + 1}`;
  try {
    const figures = await measureRun(cell.sut, cell.kind);
    cell.runs.push(figures);
    log(`${label}: vip ${fmt(figures.vipMs)} garp ${fmt(figures.garpMs)} neigh ${fmt(figures.neighMs)} outage ${fmt(figures.outageMs)} lost ${figures.lostPings ?? '-'}`);
  } catch (error) {
    cell.errors.push((error as Error).message.split('\n')[0]!);
    log(`${label}: FAILED ${(error as Error).message.split('\n')[0]}`);
  }
}

function fmt(ms: number | null): string {
  return ms === null ? '-' : `${ms.toFixed(0)}ms`;
}

async function pool(jobs: Job[], width: number): Promise<void> {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await runJob(job);
  }));
}

if (!options['idle-only']) await measureFailover();
// Alone on the machine as well, after the fail-over runs.
if (!options['skip-idle']) log(`idle cost written to ${recordResults('failover.json', 'idle', await measureIdle())}`);

// The chart and the tables are drawn from the file, so an --idle-only run keeps the last fail-over figures.
const resultsFile = path.join(resultsDir, 'failover.json');
const chart = path.join(resultsDir, 'failover.png');
const plotted = await run([SYSTEM_PYTHON, path.join(PROJECT_ROOT, 'bench/plot.py'), resultsFile, chart], { allowFail: true, timeoutMs: 120_000 });
log(plotted.code === 0 ? `chart ${chart}` : `bench/plot.py failed: ${plotted.stderr.trim()}`);
const recorded = JSON.parse(readFileSync(resultsFile, 'utf8'));
if (!recorded.failover) throw new Error(`${resultsFile} has no fail-over figures yet: run without --idle-only first`);
const docs = path.join(PROJECT_ROOT, 'docs/benchmarks.md');
writeFileSync(docs, replaceGenerated(readFileSync(docs, 'utf8'), renderTables(recorded.failover, recorded.idle)));
log(`tables in ${docs}`);

async function measureFailover(): Promise<void> {
  const started = Date.now();
  // Whole-second heartbeats tolerate neighbours' scheduling noise, so those runs share the machine;
  // sub-second ones run alone, one at a time.
  const slowJobs = jobsWhere(true);
  const fastJobs = jobsWhere(false);
  log(`${cells.length} cells × ${runs} runs: ${slowJobs.length} with 1 s heartbeats (${parallel} at a time), ${fastJobs.length} sub-second ones alone`);
  await pool(slowJobs, parallel);
  await pool(fastJobs, 1);

  const byCell = cells.map((cell) => summarizeCell(cell));
  addRatios(byCell);
  const figures = {
    command: `npx tsx bench/failover.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    runsPerCase: runs,
    durationS: Math.round((Date.now() - started) / 1000),
    topology: 'fresh segment per run: bridge namespace, hosts a (preferred holder) and b (successor), observer; IPv4 only',
    vip: VIP,
    versions: await versions(),
    loadAverage: os.loadavg(),
    cells: byCell,
    targets: targetsOf(byCell),
  };
  log(`written to ${recordResults('failover.json', 'failover', figures)}`);
}

/** Swap the text between the generated-section markers of docs/benchmarks.md. */
function replaceGenerated(doc: string, tables: string): string {
  const begin = '<!-- failover:begin (generated by bench/failover.ts) -->';
  const end = '<!-- failover:end -->';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/benchmarks.md: the markers ${begin} … ${end} are missing`);
  return doc.slice(0, from + begin.length) + '\n' + tables + '\n' + doc.slice(to);
}

async function versions(): Promise<Record<string, string>> {
  const first = async (argv: string[]) => {
    const { stdout, stderr } = await run(argv, { allowFail: true });
    return (stdout + stderr).split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown';
  };
  return {
    keepalived: await first(['keepalived', '--version']),
    ucarp: await first(['sh', '-c', 'ucarp --help 2>&1 | head -2']),
    vippy: JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version,
    node: process.version,
    kernel: os.release(),
    cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
  };
}
