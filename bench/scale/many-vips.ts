// Many VIPs (issue 6 §2): hundreds of single-address groups over four nodes, one node crashed
// (SIGKILL of its process group, then its bridge port cut). Measured from t0, just before the
// kill: when each of its VIPs is added on a survivor (ip -ts monitor address in every survivor)
// and when the observer captures the first gratuitous ARP for it (tcpdump -tt). vippy runs its
// "balanced" placement (a quarter of the groups per node); keepalived one vrrp_instance per VIP,
// masters and successors spread round the nodes. A fresh segment per run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Segment, waitFor, type Host, type Spawned } from '../../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../../test/netns/lib/cluster.js';
import { addressEvents, firstGarps, holdings, lastOf, load1, round, sleep, vipAddress } from './probes.js';

const NODES = ['a', 'b', 'c', 'd'];
const VICTIM = 'a';
/** VRRP's VRID is one byte (1–255) per interface and family: one instance per VIP caps keepalived there. */
export const KEEPALIVED_MAX_VIPS = 255;

export interface Deployment {
  daemon(host: Host): Spawned;
  cleanup(): Promise<void>;
}

export interface ManyVipsSystem {
  readonly system: 'vippy' | 'keepalived';
  /** The settings in the system's own words, for the report. */
  readonly describe: string;
  readonly intervalMs: number;
  /** How long a silent holder goes unnoticed in theory. */
  readonly staleMs: number;
  deploy(seg: Segment, vips: readonly string[], dir: string): Promise<Deployment>;
}

export interface ManyVipsRun {
  vips: number;
  /** VIPs the crashed node held. */
  victimVips: number;
  /** ms after t0 until the first / the last of them was added on a survivor. */
  firstUpMs: number | null;
  allUpMs: number | null;
  /** ms after t0 until the observer had seen a gratuitous ARP for every one of them. */
  allAnnouncedMs: number | null;
  /** Victim VIPs never seen added / announced before the deadline. */
  missingUp: number;
  missingAnnounced: number;
  /** VIPs a survivor deleted after t0: groups that moved although their holder lived. */
  survivorDeletes: number;
  load1: number;
}

const VIPPY_INTERVAL = 0.1;
const VIPPY_STALE = 0.3;

export const vippy: ManyVipsSystem = {
  system: 'vippy',
  describe: `interval ${VIPPY_INTERVAL}, stale ${VIPPY_STALE}, placement balanced, one group per VIP`,
  intervalMs: VIPPY_INTERVAL * 1000,
  staleMs: VIPPY_STALE * 1000,
  async deploy(seg, vips) {
    const cluster = new VippyCluster(seg, {
      config: baseConfig(seg.hosts, {
        vips: vips.map((ip) => [{ interface: 'eth0', ip: `${ip}/24` }]),
        placement: 'balanced',
        interval: VIPPY_INTERVAL,
        stale: VIPPY_STALE,
        mature: 0.3,
        logging: { driver: 'none' },
      }),
    });
    await cluster.startAll();
    return {
      daemon: (host) => cluster.daemon(host.name).process,
      cleanup: () => cluster.stopAll(),
    };
  },
};

/**
 * Instance k is mastered by node k mod 4 (priority 200); its successor (150) rotates over the
 * other three with k / 4, so a crashed master's VIPs spread over the survivors as vippy's do.
 */
function keepalivedPriorities(k: number, nodes: number): number[] {
  const master = k % nodes;
  const others = Array.from({ length: nodes - 1 }, (_, i) => (master + 1 + i) % nodes);
  const shift = Math.floor(k / nodes) % others.length;
  const order = [master, ...others.slice(shift), ...others.slice(0, shift)];
  const priority = new Array<number>(nodes);
  order.forEach((node, rank) => (priority[node] = 200 - rank * 50));
  return priority;
}

export const keepalived: ManyVipsSystem = {
  system: 'keepalived',
  describe: 'vrrp_version 3, advert_int 0.1, one vrrp_instance per VIP',
  intervalMs: 100,
  // Master down interval: three adverts plus the skew of the successor's priority (150).
  staleMs: 100 * (3 + (256 - 150) / 256),
  async deploy(seg, vips, dir) {
    if (vips.length > KEEPALIVED_MAX_VIPS) throw new Error(`keepalived: at most ${KEEPALIVED_MAX_VIPS} VIPs on one interface, asked for ${vips.length}`);
    const daemons = new Map<string, Spawned>();
    seg.hosts.forEach((host, n) => {
      const instances = vips.map((ip, k) => `vrrp_instance VI_${k + 1} {
  state BACKUP
  interface eth0
  virtual_router_id ${k + 1}
  priority ${keepalivedPriorities(k, seg.hosts.length)[n]}
  advert_int 0.1
  virtual_ipaddress {
    ${ip}/24 dev eth0
  }
}
`);
      const conf = path.join(dir, `keepalived-${host.name}.conf`);
      writeFileSync(conf, `global_defs {\n  router_id ${host.name}\n  vrrp_version 3\n}\n${instances.join('')}`);
      // Pid files of its own for every daemon, or the second one on the machine refuses to start.
      const pid = (kind: string) => path.join(dir, `keepalived-${host.name}-${kind}.pid`);
      daemons.set(host.name, seg.spawn(host, ['keepalived', '-n', '-l', '-P', '-f', conf,
        '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('checkers'), '-b', pid('bfd')]));
    });
    return {
      daemon(host) {
        const d = daemons.get(host.name);
        if (!d) throw new Error(`no keepalived on ${host.name}`);
        return d;
      },
      async cleanup() {
        for (const d of daemons.values()) d.kill('SIGKILL');
        await Promise.all([...daemons.values()].map((d) => d.wait()));
      },
    };
  },
};

/** Every VIP held by exactly one node, no node over its share, and the same twice in a row. */
async function waitForSteadyPlacement(seg: Segment, vips: readonly string[], intervalMs: number): Promise<Map<string, string[]>> {
  const share = Math.ceil(vips.length / seg.hosts.length);
  let previous = '';
  return waitFor(async () => {
    const held = await holdings(seg, seg.hosts, vips);
    const all = [...held.values()].flat();
    const settled = all.length === vips.length && new Set(all).size === vips.length && [...held.values()].every((h) => h.length <= share);
    const key = JSON.stringify([...held]);
    const steady = settled && key === previous;
    previous = settled ? key : '';
    if (!steady) await sleep(3 * intervalMs);
    return steady ? held : undefined;
  }, { timeoutMs: 60_000, intervalMs: 0, what: `${vips.length} VIPs placed, one holder each, at most ${share} per node` });
}

export async function measureManyVips(system: ManyVipsSystem, vipCount: number): Promise<ManyVipsRun> {
  const vips = Array.from({ length: vipCount }, (_, k) => vipAddress(k));
  const seg = await Segment.create({ hosts: NODES, ipv6: false });
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-scale-${system.system}-`));
  let deployment: Deployment | undefined;
  try {
    deployment = await system.deploy(seg, vips, dir);
    const held = await waitForSteadyPlacement(seg, vips, system.intervalMs);
    const victim = seg.host(VICTIM);
    const survivors = seg.hosts.filter((h) => h !== victim);
    const victimVips = held.get(VICTIM)!;

    const monitors = survivors.map((h) => seg.spawn(h, ['ip', '-ts', 'monitor', 'address']));
    const garps = await seg.capture(seg.observer, ['-tt', '-e', 'arp']);
    await sleep(200); // ip monitor prints nothing when it is ready: give it time to subscribe
    const survivorMacs = new Set(survivors.map((h) => h.mac));

    await sleep(Math.random() * system.intervalMs);
    const t0 = Date.now();
    deployment.daemon(victim).kill('SIGKILL');
    await seg.cutLink(victim);

    const read = () => {
      const adds = new Map<string, number>();
      for (const m of monitors) addressEvents(m.stdout, t0, { into: adds });
      return { adds, garps: firstGarps(garps.stdout, survivorMacs, t0) };
    };
    const deadline = t0 + system.staleMs + 10_000;
    while (Date.now() < deadline) {
      const seen = read();
      if (victimVips.every((ip) => seen.adds.has(ip) && seen.garps.has(ip))) break;
      await sleep(50);
    }
    const seen = read();
    const deletes = new Map<string, number>();
    for (const m of monitors) addressEvents(m.stdout, t0, { deleted: true, into: deletes });
    const upTimes = victimVips.map((ip) => seen.adds.get(ip)).filter((t): t is number => t !== undefined);
    return {
      vips: vipCount,
      victimVips: victimVips.length,
      firstUpMs: upTimes.length ? round(Math.min(...upTimes) - t0) : null,
      allUpMs: lastOf(seen.adds, victimVips, t0),
      allAnnouncedMs: lastOf(seen.garps, victimVips, t0),
      missingUp: victimVips.filter((ip) => !seen.adds.has(ip)).length,
      missingAnnounced: victimVips.filter((ip) => !seen.garps.has(ip)).length,
      survivorDeletes: deletes.size,
      load1: load1(),
    };
  } finally {
    await deployment?.cleanup();
    await seg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
