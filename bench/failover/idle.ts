// Idle cost (issue 6 §2): CPU % of one core and RSS per daemon in a five-node cluster at fast
// heartbeats, vippy (interval 0.1, one group per node) beside keepalived (advert_int 0.1, VRRPv3,
// one instance). A daemon is its whole process group (keepalived has a parent and a VRRP child).
// vippy is sampled twice: right after start, while V8 is still compiling its hot paths (warm-up),
// and a minute later (steady state, the figure that matters for a daemon that runs for months).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Segment, waitFor, type Spawned } from '../../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../../test/netns/lib/cluster.js';
import { summarize } from '../lib/results.js';

const NODES = 5;
const SETTLE_MS = 3000;
const SAMPLE_MS = 10_000;
/** From start to the steady-state sample: V8 has tiered up the per-datagram paths by then. */
const STEADY_AFTER_MS = 60_000;
const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux

interface GroupUsage { ticks: number; systemTicks: number; rssKiB: number }

/** CPU ticks (user + system) and resident KiB summed over every process in group `pgid`. */
function groupUsage(pgid: number): GroupUsage {
  let ticks = 0;
  let systemTicks = 0;
  let rssKiB = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name: state ppid pgrp session … utime (14th) stime (15th).
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
      if (Number(fields[2]) !== pgid) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
      systemTicks += Number(fields[12]);
      rssKiB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // the process ended while we looked
    }
  }
  return { ticks, systemTicks, rssKiB };
}

type Summary = ReturnType<typeof summarize>;

/** Waits until `startedAt + settleMs`, then samples for SAMPLE_MS. systemCpuPercent: the kernel's part of cpuPercent. */
async function sample(daemons: Spawned[], startedAt: number, settleMs: number): Promise<{ cpuPercent: Summary; systemCpuPercent: Summary; rssMiB: Summary }> {
  await new Promise((r) => setTimeout(r, Math.max(0, startedAt + settleMs - performance.now())));
  const before = daemons.map((d) => groupUsage(d.pid));
  const start = performance.now();
  await new Promise((r) => setTimeout(r, SAMPLE_MS));
  const seconds = (performance.now() - start) / 1000;
  const after = daemons.map((d) => groupUsage(d.pid));
  const percent = (ticks: number) => (ticks / CLOCK_TICKS_PER_S / seconds) * 100;
  const cpu = after.map((a, i) => percent(a.ticks - before[i]!.ticks));
  const system = after.map((a, i) => percent(a.systemTicks - before[i]!.systemTicks));
  const round = (s: Summary) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 100) / 100])) as Summary;
  return { cpuPercent: round(summarize(cpu)), systemCpuPercent: round(summarize(system)), rssMiB: round(summarize(after.map((a) => a.rssKiB / 1024))) };
}

export type IdleFigures = Awaited<ReturnType<typeof measureIdle>>;

export async function measureIdle() {
  const names = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);
  const vippySeg = await Segment.create({ hosts: names, observer: false, ipv6: false });
  let vippy;
  let vippyWarmup;
  try {
    const cluster = new VippyCluster(vippySeg, {
      config: baseConfig(vippySeg.hosts, {
        vips: vippySeg.hosts.map((h, i) => [h.name, { interface: 'eth0', ip: `192.0.2.${200 + i}/24` }]),
        interval: 0.1, stale: 0.3, mature: 0.3, logging: { driver: 'none' },
      }),
    });
    const startedAt = performance.now();
    await cluster.startAll();
    const daemons = names.map((n) => cluster.daemon(n).process);
    vippyWarmup = await sample(daemons, startedAt, SETTLE_MS);
    vippy = await sample(daemons, startedAt, STEADY_AFTER_MS);
    await cluster.stopAll();
  } finally {
    await vippySeg.destroy();
  }

  const kaSeg = await Segment.create({ hosts: names, observer: false, ipv6: false });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-idle-'));
  let keepalived;
  try {
    const daemons = kaSeg.hosts.map((h, i) => {
      const conf = path.join(dir, `${h.name}.conf`);
      writeFileSync(conf, `global_defs {\n  router_id ${h.name}\n  vrrp_version 3\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n` +
        `  virtual_router_id 51\n  priority ${150 - i * 10}\n  advert_int 0.1\n  virtual_ipaddress {\n    192.0.2.200/24 dev eth0\n  }\n}\n`);
      const pid = (kind: string) => path.join(dir, `${h.name}-${kind}.pid`);
      return kaSeg.spawn(h, ['keepalived', '-n', '-l', '-P', '-f', conf, '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('chk'), '-b', pid('bfd')]);
    });
    await waitFor(async () => (await kaSeg.exec('n1', ['ip', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout.includes('192.0.2.200/'),
      { timeoutMs: 5000, what: 'keepalived on n1 holds the VIP' });
    keepalived = await sample(daemons, performance.now(), SETTLE_MS);
  } finally {
    await kaSeg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const settings = 'interval 0.1, stale 0.3, one group per node';
  return { nodes: NODES, sampleSeconds: SAMPLE_MS / 1000, steadyAfterSeconds: STEADY_AFTER_MS / 1000,
    vippy: { settings: `${settings}, ${STEADY_AFTER_MS / 1000} s after start`, ...vippy },
    vippyWarmup: { settings: `${settings}, ${SETTLE_MS / 1000} s after start`, ...vippyWarmup },
    keepalived: { settings: 'vrrp_version 3, advert_int 0.1, one instance', ...keepalived } };
}
