// Turning runs into figures: per-cell summaries, vippy/keepalived ratios, the issue's targets for
// vippy, and the markdown tables docs/benchmarks.md shows.
import { summarize } from '../lib/results.js';
import type { IdleFigures } from './idle.js';
import type { RunFigures } from './run.js';
import type { CaseName, SettingName, SystemUnderTest } from './systems.js';

export interface Cell {
  sut: SystemUnderTest;
  kind: CaseName;
  runs: RunFigures[];
  /** Runs that could not be measured at all (e.g. the system never settled), by message. */
  errors: string[];
}

const METRICS = ['vipMs', 'garpMs', 'neighMs', 'outageMs', 'lostPings'] as const;
type Metric = (typeof METRICS)[number];
type Summary = ReturnType<typeof summarize>;

export interface CellSummary {
  system: SystemUnderTest['system'];
  setting: SettingName;
  settings: string;
  case: CaseName;
  runs: RunFigures[];
  errors: string[];
  /** Per metric; `missing` counts runs in which that event was not seen before the time-out. */
  summary: Record<Metric, (Summary & { missing: number }) | null>;
  /** vippy's median and p95 over keepalived's, same setting and case. */
  vippyOverKeepalived?: Partial<Record<Metric, { median: number; p95: number }>>;
}

const round = (x: number) => Math.round(x * 10) / 10;

function summaryOf(runs: RunFigures[], metric: Metric): CellSummary['summary'][Metric] {
  const seen = runs.map((r) => r[metric]).filter((v): v is number => v !== null);
  if (seen.length === 0) return null;
  const s = summarize(seen);
  return { n: s.n, min: round(s.min), median: round(s.median), p95: round(s.p95), max: round(s.max), mean: round(s.mean), missing: runs.length - seen.length };
}

export function summarizeCell(cell: Cell): CellSummary {
  const summary = Object.fromEntries(METRICS.map((m) => [m, summaryOf(cell.runs, m)])) as CellSummary['summary'];
  const runs = cell.runs.map((r) => Object.fromEntries(METRICS.map((m) => [m, r[m] === null ? null : round(r[m]!)])) as unknown as RunFigures);
  return { system: cell.sut.system, setting: cell.sut.setting, settings: cell.sut.describe, case: cell.kind, runs, errors: cell.errors, summary };
}

/** Adds vippyOverKeepalived to vippy's cells that have a keepalived counterpart. */
export function addRatios(cells: CellSummary[]): void {
  for (const v of cells.filter((c) => c.system === 'vippy')) {
    const k = cells.find((c) => c.system === 'keepalived' && c.setting === v.setting && c.case === v.case);
    if (!k) continue;
    v.vippyOverKeepalived = {};
    for (const m of METRICS) {
      const [a, b] = [v.summary[m], k.summary[m]];
      if (a && b && b.median > 0 && b.p95 > 0) v.vippyOverKeepalived[m] = { median: Math.round((a.median / b.median) * 100) / 100, p95: Math.round((a.p95 / b.p95) * 100) / 100 };
    }
  }
}

export interface Target {
  target: string;
  figure: string;
  met: boolean | null;
}

/** Issue 6 §3, the fail-over part, judged on what was measured (null: not measured this time). */
export function targetsOf(cells: CellSummary[]): Target[] {
  const cell = (system: string, setting: string, kind: string) => cells.find((c) => c.system === system && c.setting === setting && c.case === kind);
  const vCrash = cell('vippy', 'tuned', 'crash')?.summary.vipMs;
  const kCrash = cell('keepalived', 'tuned', 'crash')?.summary.vipMs;
  const graceful = cell('vippy', 'tuned', 'graceful')?.summary.vipMs;
  const drain = cell('vippy', 'tuned', 'drain')?.summary.lostPings;
  const STALE_MS = 300;
  return [
    {
      target: 'crash fail-over at interval 0.1 / stale 0.3 no slower than keepalived at advert_int 0.1 (median, VIP on successor)',
      figure: vCrash && kCrash ? `vippy ${vCrash.median} ms vs keepalived ${kCrash.median} ms` : 'not measured',
      met: vCrash && kCrash ? vCrash.median <= kCrash.median : null,
    },
    {
      target: 'crash fail-over minus stale ≤ 15 ms at p95',
      figure: vCrash ? `p95 ${vCrash.p95} ms - ${STALE_MS} ms = ${round(vCrash.p95 - STALE_MS)} ms` : 'not measured',
      met: vCrash ? vCrash.p95 - STALE_MS <= 15 : null,
    },
    {
      target: 'graceful hand-off ≤ 10 ms median (SIGTERM to VIP on successor)',
      figure: graceful ? `median ${graceful.median} ms, p95 ${graceful.p95} ms` : 'not measured',
      met: graceful ? graceful.median <= 10 : null,
    },
    {
      target: "planned drain loses at most one of the observer's 10 ms pings (every run)",
      figure: drain ? `median ${drain.median}, max ${drain.max} lost` : 'not measured',
      met: drain ? drain.max <= 1 : null,
    },
  ];
}

const CASE_TITLES: Record<CaseName, string> = {
  crash: 'crash (SIGKILL of the group + port cut)',
  freeze: 'freeze (SIGSTOP)',
  graceful: 'graceful (SIGTERM)',
  linkdown: 'link down (eth0 down on the holder)',
  drain: 'planned drain (vippyctl deactivate)',
};

function cellText(s: Summary | null): string {
  return s ? `${s.median} / ${s.p95} / ${s.max}` : '—';
}

export function renderTables(figures: { runsPerCase: number; cells: CellSummary[]; targets: Target[]; versions: Record<string, string>; durationS: number }, idle?: IdleFigures): string {
  const lines: string[] = [];
  const v = figures.versions;
  lines.push(`Measured ${new Date().toISOString().slice(0, 10)} with \`${'npx tsx bench/failover.ts'}\`: ${figures.runsPerCase} runs per row, ` +
    `${figures.durationS} s in all. ${v.keepalived}; ${v.ucarp}; vippy ${v.vippy} on Node ${v.node}; Linux ${v.kernel}; ${v.cpu}.`, '');
  for (const setting of ['tuned', 'default'] as const) {
    const rows = figures.cells.filter((c) => c.setting === setting);
    if (rows.length === 0) continue;
    lines.push(`### ${setting === 'tuned' ? 'Fast heartbeats' : 'Default settings'}`, '');
    lines.push('Milliseconds after the failure, as median / p95 / max. Lost: pings unanswered (median / max).', '');
    lines.push('| Case | System (settings) | VIP on successor | First GARP at observer | Observer neighbour switched | Ping outage | Lost pings | Runs |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const c of rows) {
      const lost = c.summary.lostPings;
      const missing = Math.max(...Object.values(c.summary).map((s) => s?.missing ?? 0));
      const runsText = `${c.runs.length}${c.errors.length ? ` (+${c.errors.length} failed)` : ''}${missing ? `, ${missing} with an event missing` : ''}`;
      lines.push(`| ${CASE_TITLES[c.case]} | ${c.system} (${c.settings}) | ${cellText(c.summary.vipMs)} | ${cellText(c.summary.garpMs)} | ` +
        `${cellText(c.summary.neighMs)} | ${cellText(c.summary.outageMs)} | ${lost ? `${lost.median} / ${lost.max}` : '—'} | ${runsText} |`);
    }
    lines.push('');
    const ratios = rows.filter((c) => c.vippyOverKeepalived?.vipMs);
    if (ratios.length > 0) {
      lines.push('vippy / keepalived (median, p95): ' + ratios.map((c) => {
        const r = c.vippyOverKeepalived!;
        return `${c.case} VIP ${r.vipMs!.median}, ${r.vipMs!.p95}` + (r.outageMs ? `; outage ${r.outageMs.median}, ${r.outageMs.p95}` : '');
      }).join(' · ') + '.', '');
    }
  }
  lines.push('### Targets for vippy (issue 6 §3)', '');
  lines.push('| Target | Measured | Met |', '|---|---|---|');
  for (const t of figures.targets) lines.push(`| ${t.target} | ${t.figure} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} |`);
  if (idle) {
    const row = (name: string, f: IdleFigures['vippy']) =>
      `| ${name} (${f.settings}) | ${f.cpuPercent.median} / ${f.cpuPercent.max} | ${f.systemCpuPercent.median} | ${f.rssMiB.median} / ${f.rssMiB.max} |`;
    lines.push('', `### Idle cost, ${idle.nodes}-node cluster`, '',
      `CPU (% of one core, over ${idle.sampleSeconds} s; of it in the kernel, median) and RSS (MiB, the daemon's whole process group), median / max over the nodes. ` +
      'Targets for vippy: RSS ≤ 80 MB, CPU ≤ 1 %.', '',
      '| Daemon | CPU % | of it kernel % | RSS MiB |', '|---|---|---|---|', row('vippy', idle.vippy), row('vippy', idle.vippyWarmup), row('keepalived', idle.keepalived));
  }
  return lines.join('\n');
}
