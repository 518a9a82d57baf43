// One measured fail-over: a fresh segment (hosts a and b, an observer), the system deployed, the
// VIP settled on a, probes running, then a failure of a injected at a random heartbeat phase.
// Every time is read from a kernel-side stamp (ip -ts monitor, tcpdump -tt, ping -D) against t0,
// the wall clock just before the failure; all namespaces share that clock.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Segment, waitFor, type Host, type Spawned } from '../../test/netns/harness.js';
import { VIP, type CaseName, type Deployment, type SystemUnderTest } from './systems.js';
import { ipStamp } from '../../test/netns/lib/ip-stamp.js';

export interface RunFigures {
  /** The VIP added on the successor (ip -ts monitor address there). */
  vipMs: number | null;
  /** The observer captures the first broadcast ARP from the successor's MAC (tcpdump -tt). */
  garpMs: number | null;
  /** The observer's neighbour entry for the VIP names the successor's MAC (ip -ts monitor neigh). */
  neighMs: number | null;
  /** Longest gap between replies to the observer's 10 ms ping that ends after t0. */
  outageMs: number | null;
  /** Pings sent after the last reply before t0 that were never answered. */
  lostPings: number | null;
}

const PING_INTERVAL_S = 0.01;
/** Replies needed after the last event before the outage counts as over. */
const SETTLE_AFTER_MS = 150;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function firstStamp(output: string, matches: (line: string) => boolean, stamp: (line: string) => number | undefined, after: number): number | null {
  for (const line of output.split('\n')) {
    if (!matches(line)) continue;
    const t = stamp(line);
    if (t !== undefined && t >= after) return t;
  }
  return null;
}

interface PingReply { t: number; seq: number }

function pingReplies(output: string): PingReply[] {
  const replies: PingReply[] = [];
  for (const m of output.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/gm)) {
    replies.push({ t: Number(m[1]) * 1000, seq: Number(m[2]) });
  }
  return replies.sort((x, y) => x.t - y.t);
}

/**
 * The outage the observer's pings saw around t0, or null when they had not come back by `end`
 * (no reply in the last SETTLE_AFTER_MS: the outage is still going on).
 */
function pingOutage(replies: PingReply[], t0: number, end: number): { outageMs: number; lostPings: number } | null {
  const before = replies.filter((r) => r.t < t0).at(-1);
  const after = replies.filter((r) => r.t >= t0);
  if (!before || after.length === 0 || end - after.at(-1)!.t > SETTLE_AFTER_MS) return null;
  let outageMs = 0;
  let previous = before;
  for (const r of after) {
    outageMs = Math.max(outageMs, r.t - previous.t);
    previous = r;
  }
  const answered = new Set(after.map((r) => r.seq));
  const last = after.at(-1)!.seq;
  let lostPings = 0;
  for (let seq = before.seq + 1; seq < last; seq++) if (!answered.has(seq)) lostPings++;
  return { outageMs, lostPings };
}

async function vipHolders(seg: Segment): Promise<string[]> {
  const holders: string[] = [];
  for (const host of seg.hosts) {
    const { stdout } = await seg.exec(host, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
    const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
    if (links.some((l) => l.addr_info?.some((a) => a.local === VIP))) holders.push(host.name);
  }
  return holders;
}

async function injectFailure(seg: Segment, deployment: Deployment, holder: Host, kind: CaseName): Promise<void> {
  const daemon = deployment.daemon(holder);
  switch (kind) {
    case 'crash':
      // The whole group: a lone killed keepalived child is respawned, and a killed parent makes
      // its child resign gracefully. The port cut stops the holder's kernel answering for the VIP.
      daemon.kill('SIGKILL');
      await seg.cutLink(holder);
      return;
    case 'freeze':
      daemon.kill('SIGSTOP');
      return;
    case 'graceful':
      process.kill(daemon.pid, 'SIGTERM');
      return;
    case 'linkdown':
      await seg.linkDown(holder);
      return;
    case 'drain':
      if (!deployment.drain) throw new Error(`case drain: this system has no planned drain`);
      await deployment.drain(holder);
      return;
  }
}

async function killAll(seg: Segment, deployment: Deployment): Promise<void> {
  const daemons: Spawned[] = seg.hosts.map((h) => deployment.daemon(h));
  for (const d of daemons) d.kill('SIGKILL');
  await Promise.all(daemons.map((d) => d.wait()));
}

export async function measureRun(sut: SystemUnderTest, kind: CaseName): Promise<RunFigures> {
  const seg = await Segment.create({ hosts: ['a', 'b'], ipv6: false });
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-failover-${sut.system}-`));
  let deployment: Deployment | undefined;
  try {
    const [holder, successor, observer] = [seg.host('a'), seg.host('b'), seg.observer];
    deployment = await sut.deploy(seg, dir);
    await waitFor(async () => (await vipHolders(seg)).join() === 'a', {
      timeoutMs: sut.startupMs, intervalMs: 20, what: `${sut.system} (${sut.setting}): ${VIP} held by a alone`,
    });
    // A few heartbeats of steady state, so the successor is a settled backup.
    await sleep(3 * sut.intervalMs);
    await seg.exec(observer, ['ping', '-c', '1', '-W', '1', VIP]);

    const vipMonitor = seg.spawn(successor, ['ip', '-ts', 'monitor', 'address']);
    const neighMonitor = seg.spawn(observer, ['ip', '-ts', 'monitor', 'neigh']);
    const garps = await seg.capture(observer, ['-tt', '-e', `arp and host ${VIP}`]);
    const ping = seg.spawn(observer, ['ping', '-D', '-n', '-i', String(PING_INTERVAL_S), VIP]);
    await waitFor(() => pingReplies(ping.stdout).length >= 5, { timeoutMs: 3000, intervalMs: 10, what: 'observer ping replies' });
    if ((await vipHolders(seg)).join() !== 'a') throw new Error(`${sut.system}: ${VIP} left a before the failure`);

    await sleep(Math.random() * sut.intervalMs);
    const t0 = Date.now();
    await injectFailure(seg, deployment, holder, kind);

    const successorMac = successor.mac;
    const read = () => ({
      vipMs: firstStamp(vipMonitor.stdout, (l) => l.includes(` inet ${VIP}/`) && !l.includes('Deleted'), ipStamp, t0),
      garpMs: firstStamp(garps.stdout, (l) => l.includes(`${successorMac} > ff:ff:ff:ff:ff:ff`), (l) => Number(l.split(' ')[0]) * 1000, t0),
      neighMs: firstStamp(neighMonitor.stdout, (l) => l.includes(`] ${VIP} dev`) && l.includes(`lladdr ${successorMac}`) && !l.includes('Deleted'), ipStamp, t0),
    });
    const deadline = t0 + 2 * sut.expectedMs + 3000;
    for (;;) {
      const seen = read();
      const events = [seen.vipMs, seen.garpMs, seen.neighMs];
      if (events.every((t) => t !== null)) {
        const settled = Math.max(...(events as number[])) + SETTLE_AFTER_MS;
        if (pingReplies(ping.stdout).some((r) => r.t > settled)) break;
      }
      if (Date.now() > deadline) break;
      await sleep(20);
    }
    const seen = read();
    const outage = pingOutage(pingReplies(ping.stdout), t0, Date.now());
    const since = (t: number | null) => (t === null ? null : t - t0);
    return {
      vipMs: since(seen.vipMs),
      garpMs: since(seen.garpMs),
      neighMs: since(seen.neighMs),
      outageMs: outage?.outageMs ?? null,
      lostPings: outage?.lostPings ?? null,
    };
  } finally {
    if (deployment) {
      await killAll(seg, deployment);
      await deployment.cleanup?.();
    }
    await seg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
