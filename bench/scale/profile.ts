// Where an idle daemon's CPU goes: the idle cluster of bench/failover/idle.ts (five nodes,
// interval 0.1, one group each) with every vippyd under `node --cpu-prof`, stopped cleanly after
// a steady window so V8 writes its profiles. Self time is summed per function and per source
// file over all five; "(idle)" is time the main thread slept.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, Segment } from '../../test/netns/harness.js';
import { VIPPYD, VippyCluster, baseConfig } from '../../test/netns/lib/cluster.js';
import { load1, sleep } from './probes.js';

const NODES = 5;
// A minute in: the per-datagram paths are optimized by then (the first seconds are V8 compiling them).
const SETTLE_MS = 60_000;
const WINDOW_MS = 10_000;
const TOP = 12;

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A source location relative to the project, so the report reads the same on every machine. */
function where(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(PROJECT_ROOT) ? path.relative(PROJECT_ROOT, file) : file || '(native)';
}

/** The node flags on vippyd's `#!/usr/bin/env -S node …` line. */
function shebangFlags(): string[] {
  return readFileSync(VIPPYD, 'utf8').split('\n', 1)[0]!.split(/\s+/).filter((word) => word.startsWith('--'));
}

function topOf(totals: Map<string, number>, wallMs: number) {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, TOP)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percentOfWall: Math.round((us / 1000 / wallMs) * 1000) / 10 }));
}

export async function profileIdle() {
  const names = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scale-prof-'));
  const seg = await Segment.create({ hosts: names, observer: false, ipv6: false });
  const cluster = new VippyCluster(seg, {
    config: baseConfig(seg.hosts, {
      vips: seg.hosts.map((h, i) => [h.name, { interface: 'eth0', ip: `192.0.2.${200 + i}/24` }]),
      interval: 0.1, stale: 0.3, mature: 0.3, logging: { driver: 'none' },
    }),
    // Node flags replace the bin's shebang, so its own flags (heap sizing) are passed on too.
    nodeArgs: [...shebangFlags(), '--cpu-prof', '--cpu-prof-dir', dir],
  });
  const load1Before = load1();
  try {
    await cluster.startAll();
    // Profiles cover the daemons' whole life: start-up is subtracted by only counting the window.
    await sleep(SETTLE_MS + WINDOW_MS);
    await cluster.stopAll();
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length !== NODES) throw new Error(`profileIdle: expected ${NODES} profiles in ${dir}, found ${files.length}`);
    const byFunction = new Map<string, number>();
    const byFile = new Map<string, number>();
    let wallMs = 0;
    for (const file of files) {
      const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
      const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
      // Only the last WINDOW_MS of each profile: steady state, not start-up.
      const windowStart = profile.endTime - WINDOW_MS * 1000;
      let t = profile.startTime;
      profile.samples.forEach((id, i) => {
        t += profile.timeDeltas[i]!;
        if (t < windowStart) return;
        const frame = frames.get(id)!;
        const delta = profile.timeDeltas[i + 1] ?? 0;
        const fn = `${frame.functionName || '(anonymous)'} ${frame.url ? `${where(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
        byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
        const source = frame.url ? where(frame.url) : frame.functionName;
        byFile.set(source, (byFile.get(source) ?? 0) + delta);
      });
      wallMs += WINDOW_MS;
    }
    const busy = new Map([...byFunction].filter(([name]) => name !== '(idle)'));
    const busyMs = [...busy.values()].reduce((a, b) => a + b, 0) / 1000;
    return {
      nodes: NODES,
      windowSeconds: WINDOW_MS / 1000,
      settings: 'interval 0.1, stale 0.3, one group per node; node --cpu-prof on every daemon',
      /** Main-thread busy time, % of one core per daemon (the profiler's view: GC threads excluded). */
      mainThreadBusyPercent: Math.round((busyMs / wallMs) * 1000) / 10,
      topFunctions: topOf(busy, wallMs),
      topSources: topOf(new Map([...byFile].filter(([name]) => name !== '(idle)')), wallMs),
      load1Before,
      load1After: load1(),
    };
  } finally {
    await cluster.stopAll();
    await seg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
