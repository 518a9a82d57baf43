// The three systems under test, behind one interface: each deploys itself on hosts a (the
// preferred holder of the VIP) and b (the successor) of a segment, and hands back the daemon
// process of every host so the runner can fail it the same way whatever the system.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main as vippyctl } from '../../src/cli/vippyctl.js';
import type { Host, Segment, Spawned } from '../../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../../test/netns/lib/cluster.js';

export const VIP = '192.0.2.200';
export const VIP_PREFIX = 24;

export type CaseName = 'crash' | 'freeze' | 'graceful' | 'linkdown' | 'drain';
export const ALL_CASES: readonly CaseName[] = ['crash', 'freeze', 'graceful', 'linkdown', 'drain'];

export type SettingName = 'tuned' | 'default';

export interface Deployment {
  /** The daemon on `host`: its pid leads the process group that holds all of its processes. */
  daemon(host: Host): Spawned;
  /** A planned move away from `host` (only systems whose cases include 'drain'). */
  drain?(host: Host): Promise<void>;
  /** Called once every daemon has been killed: removes what the deployment left on disk. */
  cleanup?(): Promise<void>;
}

export interface SystemUnderTest {
  readonly system: 'vippy' | 'keepalived' | 'ucarp';
  readonly setting: SettingName;
  /** The heartbeat settings in the system's own words, for the report. */
  readonly describe: string;
  /** Heartbeat period: the failure is injected at a random phase within it. */
  readonly intervalMs: number;
  /** How long a takeover can take in theory (detection plus skew), for time-outs. */
  readonly expectedMs: number;
  /** How long the preferred host may take to become the holder after start. */
  readonly startupMs: number;
  readonly cases: readonly CaseName[];
  deploy(seg: Segment, dir: string): Promise<Deployment>;
}

/** Fail-over cases every system supports; the planned drain is vippy's alone. */
const COMMON_CASES: readonly CaseName[] = ['crash', 'freeze', 'graceful', 'linkdown'];

function processDeployment(daemons: Map<string, Spawned>): Deployment {
  return {
    daemon(host) {
      const d = daemons.get(host.name);
      if (!d) throw new Error(`no daemon on ${host.name}`);
      return d;
    },
  };
}

// keepalived: one VRRP instance, a preferred (MASTER, priority 150) and a BACKUP (priority 100).
// Starting the preferred node as MASTER only shortens the start-up; fail-over is the election's.
function keepalived(setting: SettingName): SystemUnderTest {
  const advertInt = setting === 'tuned' ? 0.1 : 1;
  // VRRPv2 rounds advert_int to whole seconds: sub-second adverts need version 3.
  const version = setting === 'tuned' ? 'vrrp_version 3' : '';
  const intervalMs = advertInt * 1000;
  return {
    system: 'keepalived',
    setting,
    describe: setting === 'tuned' ? 'vrrp_version 3, advert_int 0.1' : 'advert_int 1 (VRRPv2)',
    intervalMs,
    // Master down interval: 3 adverts plus the skew ((256 - priority) / 256 adverts).
    expectedMs: intervalMs * (3 + 156 / 256),
    startupMs: intervalMs * 5 + 2000,
    cases: COMMON_CASES,
    async deploy(seg, dir) {
      const daemons = new Map<string, Spawned>();
      for (const [host, primary] of [[seg.host('a'), true], [seg.host('b'), false]] as const) {
        const conf = path.join(dir, `keepalived-${host.name}.conf`);
        writeFileSync(conf, `global_defs {
  router_id ${host.name}
  ${version}
}
vrrp_instance VI_1 {
  state ${primary ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id 51
  priority ${primary ? 150 : 100}
  advert_int ${advertInt}
  virtual_ipaddress {
    ${VIP}/${VIP_PREFIX} dev eth0
  }
}
`);
        // Pid files of its own for every instance, or the second one refuses to start.
        const pid = (kind: string) => path.join(dir, `keepalived-${host.name}-${kind}.pid`);
        daemons.set(host.name, seg.spawn(host, ['keepalived', '-n', '-l', '-D', '-P', '-f', conf,
          '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('checkers'), '-b', pid('bfd')]));
      }
      return processDeployment(daemons);
    },
  };
}

// ucarp: CARP has whole-second adverts, so its "tuned" setting is the smallest dead ratio.
function ucarp(setting: SettingName): SystemUnderTest {
  const deadRatio = setting === 'tuned' ? 1 : 3;
  const advSkew = 100; // the successor's, as keepalived's backup has priority 100
  return {
    system: 'ucarp',
    setting,
    describe: `-b 1 -r ${deadRatio}`,
    intervalMs: 1000,
    expectedMs: deadRatio * (1000 + (advSkew * 1000) / 256),
    startupMs: 3 * 1000 * (deadRatio + 1) + 2000,
    cases: COMMON_CASES,
    async deploy(seg, dir) {
      const up = path.join(dir, 'vip-up.sh');
      const down = path.join(dir, 'vip-down.sh');
      // ucarp runs these with the interface and the address as arguments.
      writeFileSync(up, `#!/bin/sh\nexec ip addr add "$2"/${VIP_PREFIX} dev "$1"\n`);
      writeFileSync(down, `#!/bin/sh\nexec ip addr del "$2"/${VIP_PREFIX} dev "$1"\n`);
      chmodSync(up, 0o755);
      chmodSync(down, 0o755);
      const daemons = new Map<string, Spawned>();
      for (const [host, primary] of [[seg.host('a'), true], [seg.host('b'), false]] as const) {
        daemons.set(host.name, seg.spawn(host, ['ucarp', '-i', 'eth0', '-s', host.ipv4, '-v', '42', '-p', 'bench-secret',
          '-a', VIP, '-b', '1', '-r', String(deadRatio), '-k', primary ? '0' : String(advSkew), ...(primary ? ['-P'] : []),
          '-n', '-z', '-u', up, '-d', down]));
      }
      return processDeployment(daemons);
    },
  };
}

// vippy: the compiled daemons (dist/), the VIP's group preferring a. `mature` is lowered in both
// settings because it only delays start-up, which is not what is measured.
function vippy(setting: SettingName): SystemUnderTest {
  const [interval, stale] = setting === 'tuned' ? [0.1, 0.3] : [1, 3];
  return {
    system: 'vippy',
    setting,
    describe: `interval ${interval}, stale ${stale}`,
    intervalMs: interval * 1000,
    expectedMs: (stale + interval) * 1000,
    startupMs: 10_000,
    cases: [...COMMON_CASES, 'drain'],
    async deploy(seg, _dir) {
      const hosts = [seg.host('a'), seg.host('b')];
      const cluster = new VippyCluster(seg, {
        hosts,
        config: baseConfig(hosts, {
          vips: [['a', { interface: 'eth0', ip: `${VIP}/${VIP_PREFIX}` }]],
          interval,
          stale,
          mature: 0.3,
          logging: { driver: 'none' },
        }),
      });
      await cluster.startAll();
      return {
        daemon: (host) => cluster.daemon(host.name).process,
        // `vippyctl -s SOCK deactivate`, run in-process so that t0 is not taken before a Node start-up.
        async drain(host) {
          let output = '';
          const sink = { write: (text: string) => (output += text) };
          const code = await vippyctl(['-s', cluster.daemon(host.name).socket, 'deactivate', 'bench drain'], { stdout: sink, stderr: sink });
          if (code !== 0) throw new Error(`vippyctl deactivate on ${host.name} exited ${code}: ${output.trim()}`);
        },
        cleanup: () => cluster.stopAll(),
      };
    },
  };
}

export function systemsUnderTest(): SystemUnderTest[] {
  return (['tuned', 'default'] as const).flatMap((s) => [vippy(s), keepalived(s), ucarp(s)]);
}
