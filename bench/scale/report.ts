// Summaries of the scale runs for bench/results/scale.json, and the generated Markdown tables of
// docs/benchmarks.md (drawn from that file, so each part's last figures stay when another is rerun).
import { summarize } from '../lib/results.js';
import type { ClusterSizeRun, Timing } from './cluster-size.js';
import type { ManyVipsRun, ManyVipsSystem } from './many-vips.js';

/** The issue's margin over stale for all of a crashed node's VIPs (issue 6 §3). */
const MANY_VIPS_MARGIN_MS = 100;
const RSS_TARGET_MIB = 80;
const CPU_TARGET_PERCENT = 1;

type Summary = ReturnType<typeof summarize>;

function stats(values: Array<number | null>): Summary | null {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return null;
  return Object.fromEntries(Object.entries(summarize(present)).map(([k, v]) => [k, Math.round(v * 10) / 10])) as Summary;
}

export function summarizeManyVips(system: ManyVipsSystem, vips: number, runs: ManyVipsRun[], errors: string[]) {
  return {
    system: system.system,
    settings: system.describe,
    vips,
    staleMs: Math.round(system.staleMs),
    runs: runs.length,
    errors,
    victimVips: stats(runs.map((r) => r.victimVips)),
    firstUpMs: stats(runs.map((r) => r.firstUpMs)),
    allUpMs: stats(runs.map((r) => r.allUpMs)),
    allAnnouncedMs: stats(runs.map((r) => r.allAnnouncedMs)),
    /** Runs in which some of the crashed node's VIPs were never added / announced. */
    runsMissingUp: runs.filter((r) => r.missingUp > 0).length,
    runsMissingAnnounced: runs.filter((r) => r.missingAnnounced > 0).length,
    survivorDeletesMax: Math.max(0, ...runs.map((r) => r.survivorDeletes)),
    load1: stats(runs.map((r) => r.load1)),
    perRun: runs,
  };
}

export function summarizeClusterSize(nodes: number, timing: Timing, runs: ClusterSizeRun[], errors: string[]) {
  const convergedMs = runs.map((r) => (r.vipsUpMs === null || r.statusAgreedMs === null ? null : Math.max(r.vipsUpMs, r.statusAgreedMs)));
  return {
    nodes,
    interval: timing.interval,
    stale: timing.stale,
    runs: runs.length,
    errors,
    vipsUpMs: stats(runs.map((r) => r.vipsUpMs)),
    statusAgreedMs: stats(runs.map((r) => r.statusAgreedMs)),
    /** The later of the two, per run. */
    convergedMs: stats(convergedMs),
    chatSentBytesPerSecond: stats(runs.map((r) => r.chatSentBytesPerSecond)),
    chatReceivedBytesPerSecond: stats(runs.map((r) => r.chatReceivedBytesPerSecond)),
    chatSentBytesPerInterval: stats(runs.map((r) => r.chatSentBytesPerInterval)),
    cpuPercentMedian: stats(runs.map((r) => r.cpuPercentMedian)),
    cpuPercentMax: stats(runs.map((r) => r.cpuPercentMax)),
    load1: stats(runs.map((r) => r.load1)),
    perRun: runs,
  };
}

type ManyVipsSummary = ReturnType<typeof summarizeManyVips>;
type ClusterSizeSummary = ReturnType<typeof summarizeClusterSize>;
interface IdleSide { settings: string; cpuPercent: Summary; systemCpuPercent?: Summary; rssMiB: Summary }

const triple = (s: Summary | null) => (s ? `${s.median} / ${s.p95} / ${s.max}` : '–');
const pair = (s: Summary | null) => (s ? `${s.median} / ${s.max}` : '–');
const range = (s: Summary | null) => (s ? `${s.min}–${s.max}` : '–');
const day = (iso: string | undefined) => iso?.slice(0, 10) ?? 'unknown';
const runsCell = (runs: number, errors: string[]) => `${runs}${errors.length ? ` (+${errors.length} failed)` : ''}`;
const yesNo = (met: boolean) => (met ? 'yes' : '**no**');

function manyVipsTables(section: { command: string; recordedAt: string; systems: ManyVipsSummary[] }): string[] {
  const lines = [
    `### Many VIPs: one node of four crashed`,
    '',
    `Measured ${day(section.recordedAt)} with \`${section.command}\`. Milliseconds after the crash as median / p95 / max over ` +
      'the runs; "all" is the last of the crashed node\'s VIPs in that run.',
    '',
    '| System (settings) | VIPs (the crashed node\'s) | First VIP up elsewhere | All VIPs up elsewhere | All VIPs announced (first GARP each, observer) | Runs missing a VIP | Other VIPs a survivor dropped (max) | Runs | Load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of section.systems) {
    lines.push(`| ${s.system} (${s.settings}) | ${s.vips} (${range(s.victimVips)}) | ${triple(s.firstUpMs)} | ${triple(s.allUpMs)} | ` +
      `${triple(s.allAnnouncedMs)} | ${s.runsMissingUp} up, ${s.runsMissingAnnounced} announced | ${s.survivorDeletesMax} | ${runsCell(s.runs, s.errors)} | ${range(s.load1)} |`);
  }
  const v = section.systems.find((s) => s.system === 'vippy');
  if (v?.allUpMs && v.allAnnouncedMs) {
    const limit = v.staleMs + MANY_VIPS_MARGIN_MS;
    const worst = Math.max(v.allUpMs.max, v.allAnnouncedMs.max);
    const met = worst <= limit && v.runsMissingUp === 0 && v.runsMissingAnnounced === 0;
    lines.push('', `Target (issue 6 §3): all of the crashed node's VIPs up elsewhere (and announced) within stale + ${MANY_VIPS_MARGIN_MS} ms = ${limit} ms ` +
      `in every run: worst run ${worst} ms, ${yesNo(met)}.`);
    const k = section.systems.find((s) => s.system === 'keepalived');
    if (k?.allUpMs) lines.push(`vippy / keepalived, all VIPs up elsewhere: median ${(v.allUpMs.median / k.allUpMs.median).toFixed(2)}, p95 ${(v.allUpMs.p95 / k.allUpMs.p95).toFixed(2)}.`);
  }
  return lines;
}

function clusterSizeTable(section: { command: string; recordedAt: string; sizes: ClusterSizeSummary[] }): string[] {
  const lines = [
    `### Cluster size: one holder crashed`,
    '',
    `Measured ${day(section.recordedAt)} with \`${section.command}\`. One single-address group per node, placement balanced. ` +
      'Times in ms after the crash (median / p95 / max); chat in bytes of Ethernet frames per node, median over the nodes and then over the runs; ' +
      'CPU in % of one core per daemon in steady state (median over the nodes / the busiest node), median over the runs.',
    '',
    '| Daemons | interval / stale (s) | Crashed node\'s VIPs up elsewhere | Every survivor\'s /status agrees | Chat sent per node (B/s) | Chat received per node (B/s) | Sent per interval (B) | CPU % per daemon | Runs | Load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of section.sizes) {
    lines.push(`| ${s.nodes} | ${s.interval} / ${s.stale} | ${triple(s.vipsUpMs)} | ${triple(s.statusAgreedMs)} | ${s.chatSentBytesPerSecond?.median ?? '–'} | ` +
      `${s.chatReceivedBytesPerSecond?.median ?? '–'} | ${s.chatSentBytesPerInterval?.median ?? '–'} | ${s.cpuPercentMedian?.median ?? '–'} / ${s.cpuPercentMax?.median ?? '–'} | ` +
      `${runsCell(s.runs, s.errors)} | ${range(s.load1)} |`);
  }
  return lines;
}

function idleTable(section: { recordedAt: string; nodes: number; sampleSeconds: number; load1Before: number; load1After: number; vippy: IdleSide; vippyWarmup?: IdleSide; keepalived: IdleSide }): string[] {
  const row = (name: string, side: IdleSide) => `| ${name} (${side.settings}) | ${pair(side.cpuPercent)} | ${side.systemCpuPercent?.median ?? '—'} | ${pair(side.rssMiB)} |`;
  const v = section.vippy;
  return [
    `### Idle cost, ${section.nodes}-node cluster`,
    '',
    `Measured ${day(section.recordedAt)}; load average (1 min) ${section.load1Before} before, ${section.load1After} after. ` +
      `CPU in % of one core over ${section.sampleSeconds} s (of it in the kernel, median), RSS of the daemon's whole process group; median / max over the nodes.`,
    '',
    '| Daemon | CPU % | of it kernel % | RSS MiB |',
    '|---|---|---|---|',
    row('vippy', v),
    ...(section.vippyWarmup ? [row('vippy', section.vippyWarmup)] : []),
    row('keepalived', section.keepalived),
    '',
    `Targets (issue 6 §3): RSS ≤ ${RSS_TARGET_MIB} MB (read as MiB): max ${v.rssMiB.max} MiB, ${yesNo(v.rssMiB.max <= RSS_TARGET_MIB)}; ` +
      `idle CPU ≤ ${CPU_TARGET_PERCENT} % of a core: max ${v.cpuPercent.max} %, ${yesNo(v.cpuPercent.max <= CPU_TARGET_PERCENT)}.`,
  ];
}

interface ProfileEntry { name: string; ms: number; percentOfWall: number }

function profileTable(section: { recordedAt: string; nodes: number; windowSeconds: number; mainThreadBusyPercent: number; topSources: ProfileEntry[]; topFunctions: ProfileEntry[] }): string[] {
  const rows = (entries: ProfileEntry[]) => {
    const shown = entries.slice(0, 8);
    // The long tail, so the table adds up to the busy time.
    const rest = section.mainThreadBusyPercent - shown.reduce((sum, e) => sum + e.percentOfWall, 0);
    return [...shown.map((e) => `| \`${e.name}\` | ${e.percentOfWall} |`), `| everything else | ${Math.round(rest * 10) / 10} |`];
  };
  return [
    '### Where the idle CPU goes',
    '',
    `Measured ${day(section.recordedAt)}: the idle cluster above with every daemon under \`node --cpu-prof\`, the last ${section.windowSeconds} s ` +
      `of each of the ${section.nodes} profiles. The main thread was busy ${section.mainThreadBusyPercent} % of one core per daemon ` +
      '(the profiler does not see GC helper threads). Self time in % of one core per daemon:',
    '',
    '| Source | % |',
    '|---|---|',
    ...rows(section.topSources),
    '',
    '| Function | % |',
    '|---|---|',
    ...rows(section.topFunctions),
  ];
}

/** The generated part of the "Scale and cost" section, from whatever scale.json holds. */
export function renderScale(recorded: Record<string, any>): string {
  const blocks: string[][] = [];
  if (recorded.manyVips) blocks.push(manyVipsTables(recorded.manyVips));
  if (recorded.clusterSize) blocks.push(clusterSizeTable(recorded.clusterSize));
  if (recorded.idle) blocks.push(idleTable(recorded.idle));
  if (recorded.idleProfile) blocks.push(profileTable(recorded.idleProfile));
  return blocks.map((b) => b.join('\n')).join('\n\n');
}
