// A vippy cluster on a harness segment: one real vippyd (the compiled dist/ build) per host,
// each with its own config file and control socket in a temp directory, plus readers of what the
// kernel shows (who holds an address, what the observer's neighbour table says).

import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, run, waitFor, type Host, type RunResult, type Segment, type Spawned } from '../harness.js';

export const VIPPYD = path.join(PROJECT_ROOT, 'dist/src/cli/vippyd.js');
export const VIPPYCTL = path.join(PROJECT_ROOT, 'dist/src/cli/vippyctl.js');

/** A vippy config file's JSON (the file format, not the normalized model). */
export type RawConfig = Record<string, unknown>;

export interface ClusterOptions {
  /** Hosts of the segment that run vippyd (default: all non-observer hosts). */
  hosts?: readonly Host[];
  /** The config every node gets (management is set per node). */
  config: RawConfig;
  /** Per-node overrides merged over `config`. */
  perNode?: (host: Host) => RawConfig;
  /** Extra vippyd arguments per node (e.g. -p plugin). */
  args?: (host: Host) => string[];
  /** Extra node arguments (e.g. --cpu-prof) before the script. */
  nodeArgs?: string[];
  /**
   * Start vippyd as flip users do, as on separate machines: no `-n` (a flip file's `id` names the
   * node), no `management` key, and each daemon in its own mount namespace with a private tmpfs
   * on /run, so that the default control socket (/var/run/vippy.socket) is what serves.
   */
  asSeparateMachines?: boolean;
}

/** Where a daemon started with asSeparateMachines serves, seen from here: its own /run. */
const PRIVATE_RUN_SOCKET = (pid: number) => `/proc/${pid}/root/run/vippy.socket`;

/** A shared base config: fast timers, multicast chat on eth0, verbose console logging. */
export function baseConfig(hosts: readonly Host[], extra: RawConfig = {}): RawConfig {
  return {
    chat: '239.255.77.1:5454',
    chat_interface: 'eth0',
    secret: 'netns-test-secret-0123456789',
    version: 1,
    nodes: hosts.map((h) => h.name),
    vips: [],
    interval: 0.1,
    stale: 0.3,
    mature: 0.3,
    'arp-cache': 1,
    notify: ['arp-cache'],
    logging: { driver: 'console', mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: false } },
    ...extra,
  };
}

export interface Daemon {
  host: Host;
  configPath: string;
  socket: string;
  process: Spawned;
}

export class VippyCluster {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-cluster-'));
  readonly daemons = new Map<string, Daemon>();

  constructor(readonly seg: Segment, readonly options: ClusterOptions) {
    for (const host of options.hosts ?? seg.hosts) {
      const configPath = path.join(this.dir, `${host.name}.conf`);
      const socket = path.join(this.dir, `${host.name}.sock`);
      const config = { ...options.config, ...(options.asSeparateMachines ? {} : { management: socket }), ...options.perNode?.(host) };
      writeFileSync(configPath, JSON.stringify(config, null, 2));
      this.daemons.set(host.name, { host, configPath, socket, process: undefined as unknown as Spawned });
    }
  }

  daemon(name: string): Daemon {
    const d = this.daemons.get(name);
    if (!d) throw new Error(`no vippyd on ${name}`);
    return d;
  }

  /** Start (or restart) one vippyd and wait until its control socket answers. */
  async start(name: string): Promise<Daemon> {
    const d = this.daemon(name);
    const separate = this.options.asSeparateMachines ?? false;
    const args = ['-c', d.configPath, ...(separate ? [] : ['-n', name]), ...(this.options.args?.(d.host) ?? [])];
    // The bin itself (its shebang carries vippyd's node flags), unless node flags are asked for.
    const nodeArgs = this.options.nodeArgs ?? [];
    const command = nodeArgs.length > 0 ? [process.execPath, ...nodeArgs, VIPPYD] : [VIPPYD];
    // exec all the way down: the spawned pid is vippyd's, and /proc/PID/root shows its /run.
    const privateRun = separate ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && exec "$@"', 'vippyd'] : [];
    d.process = this.seg.spawn(d.host, [...privateRun, ...command, ...args]);
    if (separate) d.socket = PRIVATE_RUN_SOCKET(d.process.pid);
    await waitFor(async () => (d.process.exit ? Promise.reject(new Error(`vippyd ${name} exited: ${d.process.stdout}${d.process.stderr}`)) : this.status(name).then(() => true, () => false)), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: `vippyd ${name} control socket`,
    });
    return d;
  }

  /** vippyctl as an operator on that node runs it (in its mount namespace when it has its own /run). */
  async ctl(name: string, args: readonly string[]): Promise<RunResult> {
    const d = this.daemon(name);
    const argv = this.options.asSeparateMachines
      ? ['nsenter', '-t', String(d.process.pid), '-m', '--', VIPPYCTL, ...args]
      : [VIPPYCTL, '-s', d.socket, ...args];
    return run(argv, { allowFail: true });
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.daemons.keys()].map((name) => this.start(name)));
  }

  /** GET a control path over the node's unix socket (unix sockets are not network-namespaced). */
  get(name: string, urlPath: string): Promise<{ status: number; body: any }> {
    const socketPath = this.daemon(name).socket;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: urlPath, method: 'GET', timeout: 2000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('control request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  async status(name: string): Promise<any> {
    const { status, body } = await this.get(name, '/status');
    if (status !== 200) throw new Error(`status ${status}`);
    return body;
  }

  /** Names of the hosts whose kernel has `ip` on an interface right now. */
  async holders(ip: string): Promise<string[]> {
    const found: string[] = [];
    await Promise.all([...this.daemons.values()].map(async (d) => {
      const { stdout } = await this.seg.exec(d.host, ['ip', '-j', 'addr', 'show']);
      const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
      if (links.some((l) => l.addr_info?.some((a) => a.local === ip))) found.push(d.host.name);
    }));
    return found.sort();
  }

  /** Wait until exactly `expected` holds `ip` (and nobody else). */
  async waitForHolder(ip: string, expected: string, timeoutMs = 5000): Promise<void> {
    await waitFor(async () => {
      const h = await this.holders(ip);
      return h.length === 1 && h[0] === expected;
    }, { timeoutMs, intervalMs: 20, what: `${ip} held by ${expected} only (now: ${(await this.holders(ip)).join(',') || 'nobody'})` });
  }

  /** Rewrite a node's config file (e.g. a version bump before SIGHUP). */
  rewrite(name: string, change: (config: RawConfig) => RawConfig): void {
    const d = this.daemon(name);
    writeFileSync(d.configPath, JSON.stringify(change(JSON.parse(readFileSync(d.configPath, 'utf8'))), null, 2));
  }

  readConfig(name: string): RawConfig {
    return JSON.parse(readFileSync(this.daemon(name).configPath, 'utf8'));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.daemons.values()].map(async (d) => {
      if (!d.process || d.process.exit) return;
      d.process.kill('SIGTERM');
      await Promise.race([d.process.wait(), new Promise((r) => setTimeout(r, 2000))]);
      d.process.kill('SIGKILL');
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The MAC the observer's neighbour table has for `ip` ('' when none or incomplete). */
export async function observerMac(seg: Segment, ip: string): Promise<string> {
  const { stdout } = await seg.exec(seg.observer, ['ip', '-j', 'neigh', 'show', 'to', ip]);
  const entries = JSON.parse(stdout || '[]') as Array<{ lladdr?: string }>;
  return entries[0]?.lladdr ?? '';
}
