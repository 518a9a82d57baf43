// The real-kernel test bed: an isolated L2 segment made of network namespaces.
//
//   switch namespace (<prefix>-sw): bridge br0, one port per host (port0, port1, …, portobs)
//   host namespaces  (<prefix>-<name>): eth0 = veth peer of its port, 192.0.2.<10+i>/24, 2001:db8::<10+i>/64
//   observer         (<prefix>-obs):    eth0, 192.0.2.100/24, 2001:db8::100/64
//
// Nothing is ever created in the root namespace (veth ends are created directly in their target
// namespaces) and there is no route off the segment. Partitions and loss are nftables rules of the
// bridge family in the switch namespace, so they drop ARP, ND and multicast as well as IP.
// See README.md next to this file for the usage pattern (create in beforeAll, destroy in afterAll).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { waitFor } from '../lib/wait-for.js';
import { netnsProblems } from './lib/requirements.js';
import { run, spawnProcess, type RunOptions, type RunResult, type Spawned, type SpawnOptions } from './lib/proc.js';

export { run, type RunOptions, type RunResult, type Spawned, type SpawnOptions } from './lib/proc.js';
export { waitFor, type WaitForOptions } from '../lib/wait-for.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SUBNET_V4 = '192.0.2.0/24';
export const SUBNET_V6 = '2001:db8::/64';
const OBSERVER_NAME = 'obs';
const OBSERVER_HOST_NUMBER = 100;
const FIRST_HOST_NUMBER = 10;
/** Every namespace this harness creates is named `vt<pid>x<thread>n<counter>-<role>`. */
const NAMESPACE_PATTERN = /^vt(\d+)x\d+n\d+-/;
const NETNS_DIR = '/run/netns';
const NFT_TABLE = 'vippytest';
const KILL_GRACE_MS = 1_000;

export interface Host {
  /** 'a', 'b', … or 'obs' for the observer. */
  readonly name: string;
  /** Network namespace name, for `ip netns exec`. */
  readonly ns: string;
  readonly ifname: 'eth0';
  readonly ipv4: string;
  /** Assigned only when the segment was created with ipv6 (the default). */
  readonly ipv6: string;
  readonly mac: string;
  readonly ifindex: number;
  /** The bridge-side veth, in the switch namespace. */
  readonly port: string;
}

export interface SegmentOptions {
  /** Host names, or a count (names 'a', 'b', 'c', …). Default 2. */
  hosts?: readonly string[] | number;
  /** Add an observer namespace. Default true. */
  observer?: boolean;
  /** Configure IPv6 (addresses nodad, DAD off); false disables IPv6 in the hosts. Default true. */
  ipv6?: boolean;
}

export interface BlockOptions {
  /** Drop only frames from a to b. Default: both directions. */
  oneWay?: boolean;
}


type Target = Host | string;

/**
 * True when namespace tests can run here (root, with ip and nft installed). When they cannot and
 * CI is set, throws: namespace tests must never be skipped in CI.
 */
export function requireNetns(): boolean {
  const problems = netnsProblems();
  if (problems.length === 0) return true;
  if (process.env.CI) {
    throw new Error(`namespace tests cannot run: ${problems.join('; ')}. They must not be skipped when CI is set ` +
      `(run as root; .ci/run installs the tools).`);
  }
  return false;
}

/** For `describe.skipIf(!netnsAvailable)`; importing this module throws in CI when it would be false. */
export const netnsAvailable = requireNetns();

/** True while `pid` exists and is not a zombie awaiting its parent. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the command name before it may hold spaces.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)?.[0] !== 'Z';
  } catch {
    return false;
  }
}

function listNamespaces(): string[] {
  return existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [];
}

/** Kill every process inside `ns`, then delete it. Missing namespaces are fine. */
async function deleteNamespace(ns: string): Promise<void> {
  if (!listNamespaces().includes(ns)) return;
  const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
  const pids = stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // So that "destroyed" means no process is left, not merely that each was signalled.
  const survivors = await waitFor(() => !pids.some(pidAlive), { timeoutMs: 2_000, intervalMs: 10 })
    .then(() => [], () => pids.filter(pidAlive));
  const { code, stderr } = await run(['ip', 'netns', 'delete', ns], { allowFail: true });
  if (code !== 0 && listNamespaces().includes(ns)) throw new Error(`cannot delete namespace ${ns}: ${stderr.trim()}`);
  if (survivors.length > 0) throw new Error(`namespace ${ns}: processes ${survivors.join(', ')} survived SIGKILL`);
}

/**
 * Delete harness namespaces (`vt<pid>…`) left by processes that are no longer alive. Namespaces of
 * live processes are never touched: other test runs share this machine. (So a leftover whose pid
 * has been reused by an unrelated process stays until that process is gone too.) Returns the
 * deleted names; throws after trying them all if any could not be deleted.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const stale = listNamespaces().filter((ns) => {
    const match = NAMESPACE_PATTERN.exec(ns);
    return match !== null && !pidAlive(Number(match[1]));
  });
  const failures: string[] = [];
  for (const ns of stale) await deleteNamespace(ns).catch((error: Error) => failures.push(error.message));
  if (failures.length > 0) throw new Error(`sweepLeftovers: ${failures.join('; ')}`);
  return stale;
}

let sweptOnce: Promise<string[]> | undefined;
let segmentCounter = 0;
const liveSegments = new Set<Segment>();
let exitHookInstalled = false;

function hostNames(hosts: SegmentOptions['hosts']): string[] {
  const names = typeof hosts === 'number' || hosts === undefined
    ? Array.from({ length: hosts ?? 2 }, (_, i) => String.fromCharCode(97 + i))
    : [...hosts];
  if (names.length < 1 || names.length > OBSERVER_HOST_NUMBER - FIRST_HOST_NUMBER) {
    throw new Error(`Segment.create: hosts must number 1..${OBSERVER_HOST_NUMBER - FIRST_HOST_NUMBER}, got ${names.length}`);
  }
  for (const name of names) {
    if (!/^[a-z][a-z0-9_]{0,15}$/.test(name) || name === OBSERVER_NAME || name === 'sw') {
      throw new Error(`Segment.create: bad host name ${JSON.stringify(name)} (lower-case letter then up to 15 ` +
        `letters/digits/_; 'obs' and 'sw' are reserved)`);
    }
  }
  if (new Set(names).size !== names.length) throw new Error(`Segment.create: duplicate host names in ${names.join(',')}`);
  return names;
}

/** For `node --import`: tsx from the project's node_modules, so scripts run from any cwd. */
export const TSX_LOADER = pathToFileURL(createRequire(path.join(PROJECT_ROOT, 'package.json')).resolve('tsx')).href;

export class Segment {
  readonly prefix: string;
  readonly switchNs: string;
  readonly hosts: Host[] = [];
  readonly ipv6: boolean;
  #observer: Host | undefined;
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<Spawned>();
  readonly #blocked = new Set<string>(); // "portA>portB"
  readonly #loss = new Map<string, number>(); // port → percent
  #filterReady = false;
  /** nft updates run one at a time, so the last state asked for is the one applied. */
  #filterQueue: Promise<void> = Promise.resolve();
  #destroying: Promise<void> | undefined;

  private constructor(prefix: string, ipv6: boolean) {
    this.prefix = prefix;
    this.switchNs = `${prefix}-sw`;
    this.ipv6 = ipv6;
  }

  /** Build a segment. On any failure it is torn down before the error is thrown. */
  static async create(options: SegmentOptions = {}): Promise<Segment> {
    if (!netnsAvailable) throw new Error('Segment.create: network namespaces need root with ip and nft installed');
    const names = hostNames(options.hosts);
    // A leftover that cannot be removed is someone else's problem, not a reason to fail this test.
    sweptOnce ??= sweepLeftovers().catch((error: Error) => {
      console.warn(error.message);
      return [];
    });
    await sweptOnce;
    const segment = new Segment(`vt${process.pid}x${threadId}n${segmentCounter++}`, options.ipv6 ?? true);
    if (!exitHookInstalled) {
      process.once('exit', destroyAllNow);
      exitHookInstalled = true;
    }
    liveSegments.add(segment);
    try {
      await segment.#build(names, options.observer ?? true);
    } catch (error) {
      await segment.destroy();
      throw error;
    }
    return segment;
  }

  async #build(names: string[], withObserver: boolean): Promise<void> {
    const plan = names.map((name, i) => ({ name, number: FIRST_HOST_NUMBER + i, port: `port${i}` }));
    if (withObserver) plan.push({ name: OBSERVER_NAME, number: OBSERVER_HOST_NUMBER, port: `port${OBSERVER_NAME}` });
    const nsOf = (name: string) => `${this.prefix}-${name}`;

    for (const ns of [this.switchNs, ...plan.map((h) => nsOf(h.name))]) {
      this.#namespaces.push(ns); // recorded first so a half-built segment is still torn down
      await run(['ip', 'netns', 'add', ns]);
    }
    // Sysctls before the interfaces exist, so the veths inherit them from "default".
    // The switch stays silent (no IPv6 link-local, no MLD/RS of its own).
    const hostSysctls = this.ipv6
      ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.accept_ra=0']
      : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    await Promise.all([
      this.#sysctl(this.switchNs, ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']),
      ...plan.map((h) => this.#sysctl(nsOf(h.name), hostSysctls)),
    ]);
    await ipBatch(undefined, plan.map((h) =>
      `link add name eth0 netns ${nsOf(h.name)} type veth peer name ${h.port} netns ${this.switchNs}`));
    await ipBatch(this.switchNs, [
      // No snooping: multicast (announcements, ff02::1) floods to every port like on a dumb switch.
      'link add name br0 type bridge mcast_snooping 0',
      'link set br0 up',
      ...plan.map((h) => `link set ${h.port} master br0 up`),
    ]);
    const hosts = await Promise.all(plan.map(async (h): Promise<Host> => {
      const ns = nsOf(h.name);
      const ipv4 = `192.0.2.${h.number}`;
      const ipv6 = `2001:db8::${h.number}`;
      await ipBatch(ns, [
        'link set lo up',
        `addr add ${ipv4}/24 dev eth0`,
        ...(this.ipv6 ? [`addr add ${ipv6}/64 dev eth0 nodad`] : []),
        'link set eth0 up',
      ]);
      const [link] = JSON.parse((await run(['ip', '-n', ns, '-j', 'link', 'show', 'dev', 'eth0'])).stdout) as
        { ifindex: number; address: string }[];
      return { name: h.name, ns, ifname: 'eth0', ipv4, ipv6, mac: link!.address, ifindex: link!.ifindex, port: h.port };
    }));
    this.hosts.push(...hosts.filter((h) => h.name !== OBSERVER_NAME));
    this.#observer = hosts.find((h) => h.name === OBSERVER_NAME);
  }

  async #sysctl(ns: string, settings: string[]): Promise<void> {
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
  }

  /**
   * A namespace off the segment, behind one host: veth `eth0` in the new namespace `<prefix>-<name>`
   * paired with `<name>0` in the host's namespace, both up and without addresses (the caller
   * addresses and routes them). For routed test beds: a client on another subnet behind a router
   * host. Destroyed with the segment; exec/spawn take its namespace name (returned).
   */
  async addStub(name: string, via: Target): Promise<string> {
    this.#assertUsable('addStub');
    if (!/^[a-z][a-z0-9]{0,9}$/.test(name) || this.#namespaces.includes(`${this.prefix}-${name}`) || this.members.some((h) => h.name === name)) {
      throw new Error(`addStub: bad or taken name ${JSON.stringify(name)} (lower-case letter then up to 9 letters/digits)`);
    }
    const ns = `${this.prefix}-${name}`;
    const viaNs = this.#nsOf(via);
    this.#namespaces.push(ns);
    await run(['ip', 'netns', 'add', ns]);
    await this.#sysctl(ns, this.ipv6
      ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.accept_ra=0']
      : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await ipBatch(undefined, [`link add name eth0 netns ${ns} type veth peer name ${name}0 netns ${viaNs}`]);
    await ipBatch(ns, ['link set lo up', 'link set eth0 up']);
    await ipBatch(viaNs, [`link set ${name}0 up`]);
    return ns;
  }

  /** Every namespace of this segment, the switch first. */
  get namespaces(): readonly string[] {
    return [...this.#namespaces];
  }

  get observer(): Host {
    if (!this.#observer) throw new Error(`segment ${this.prefix} was created without an observer`);
    return this.#observer;
  }

  /** All hosts plus the observer (if any). */
  get members(): Host[] {
    return this.#observer ? [...this.hosts, this.#observer] : [...this.hosts];
  }

  host(name: string): Host {
    const host = this.members.find((h) => h.name === name);
    if (!host) throw new Error(`segment ${this.prefix} has no host ${JSON.stringify(name)} (has ${this.members.map((h) => h.name).join(', ')})`);
    return host;
  }

  /** Namespace of a Host, a host name, or one of this segment's namespace names (e.g. switchNs). */
  #nsOf(target: Target): string {
    if (typeof target !== 'string') return this.host(target.name).ns;
    if (this.#namespaces.includes(target)) return target;
    return this.host(target).ns;
  }

  #assertUsable(what: string): void {
    if (this.#destroying) throw new Error(`${what}: segment ${this.prefix} has been destroyed`);
  }

  /** Run a command inside a namespace; throws with its stderr on a non-zero exit unless allowFail. */
  exec(target: Target, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.#assertUsable('exec');
    return run(['ip', 'netns', 'exec', this.#nsOf(target), ...argv], options);
  }

  /** Start a long-running process inside a namespace, in its own process group. destroy() kills it. */
  spawn(target: Target, argv: readonly string[], options: SpawnOptions = {}): Spawned {
    this.#assertUsable('spawn');
    const handle = spawnProcess(['ip', 'netns', 'exec', this.#nsOf(target), ...argv], options);
    this.#processes.add(handle);
    void handle.wait().then(() => this.#processes.delete(handle), () => this.#processes.delete(handle));
    return handle;
  }

  /** `node --import tsx script …args` inside a namespace; a relative script is taken from the project root. */
  node(target: Target, script: string, args: readonly string[] = [], options: SpawnOptions = {}): Spawned {
    return this.spawn(target, [process.execPath, '--import', TSX_LOADER, path.resolve(PROJECT_ROOT, script), ...args], {
      cwd: PROJECT_ROOT,
      ...options,
    });
  }

  /**
   * Start `tcpdump -l -n -i eth0 …args` in the namespace and resolve once it is capturing, so no
   * frame sent afterwards is missed. Stop it with kill('SIGINT') and read `stdout` after wait().
   */
  async capture(target: Target, args: readonly string[], { timeoutMs = 5_000 } = {}): Promise<Spawned> {
    const tcpdump = this.spawn(target, ['tcpdump', '-l', '-n', '-i', 'eth0', ...args]);
    await tcpdump.waitForLine(/^listening on eth0/, { timeoutMs });
    return tcpdump;
  }

  /**
   * Take the host's bridge port down: like pulling the cable at the switch. The host's eth0 loses
   * carrier (flags UP,NO-CARRIER; operstate DOWN) but stays administratively up and keeps all its
   * addresses; what it sends is dropped, and the others stop hearing it.
   */
  async cutLink(target: Target): Promise<void> {
    await this.exec(this.switchNs, ['ip', 'link', 'set', this.#memberOf(target).port, 'down']);
  }

  async restoreLink(target: Target): Promise<void> {
    await this.exec(this.switchNs, ['ip', 'link', 'set', this.#memberOf(target).port, 'up']);
  }

  /**
   * `ip link set eth0 down` on the host itself. The kernel then drops the host's IPv6 addresses
   * (keep_addr_on_down=0, the default) and its routes via eth0; IPv4 addresses stay.
   */
  async linkDown(target: Target): Promise<void> {
    await this.exec(target, ['ip', 'link', 'set', 'eth0', 'down']);
  }

  /** eth0 up again, and the host's own IPv6 address back (the kernel removed it on down). */
  async linkUp(target: Target): Promise<void> {
    const host = this.#memberOf(target);
    await this.exec(host, ['ip', 'link', 'set', 'eth0', 'up']);
    if (this.ipv6) await this.exec(host, ['ip', 'addr', 'replace', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad']);
  }

  /** Drop every frame (ARP, ND, multicast included) from a to b, and from b to a unless oneWay. */
  async block(a: Target, b: Target, options: BlockOptions = {}): Promise<void> {
    await this.partition([a], [b], options);
  }

  /** block() between every host of `side` and every host of `other`, applied in one step. */
  async partition(side: readonly Target[], other: readonly Target[], { oneWay = false }: BlockOptions = {}): Promise<void> {
    for (const a of side) {
      for (const b of other) {
        const [from, to] = [this.#memberOf(a).port, this.#memberOf(b).port];
        this.#blocked.add(`${from}>${to}`);
        if (!oneWay) this.#blocked.add(`${to}>${from}`);
      }
    }
    await this.#applyFilter();
  }

  /** Lift blocks between a and b, in both directions. */
  async unblock(a: Target, b: Target): Promise<void> {
    const [from, to] = [this.#memberOf(a).port, this.#memberOf(b).port];
    this.#blocked.delete(`${from}>${to}`);
    this.#blocked.delete(`${to}>${from}`);
    await this.#applyFilter();
  }

  async unblockAll(): Promise<void> {
    this.#blocked.clear();
    await this.#applyFilter();
  }

  /** Drop each frame entering or leaving the host's port with probability percent/100. */
  async loss(target: Target, percent: number): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new Error(`loss: percent must be an integer 0..100, got ${percent}`);
    }
    this.#loss.set(this.#memberOf(target).port, percent);
    await this.#applyFilter();
  }

  async clearLoss(target: Target): Promise<void> {
    this.#loss.delete(this.#memberOf(target).port);
    await this.#applyFilter();
  }

  #memberOf(target: Target): Host {
    return this.host(typeof target === 'string' ? target : target.name);
  }

  /** Rewrite the whole filter chain from the current blocks and losses, atomically. */
  #applyFilter(): Promise<void> {
    this.#assertUsable('filter');
    const applied = this.#filterQueue.then(() => this.#writeFilter());
    this.#filterQueue = applied.catch(() => {});
    return applied;
  }

  async #writeFilter(): Promise<void> {
    const lines: string[] = [];
    if (!this.#filterReady) {
      lines.push(`add table bridge ${NFT_TABLE}`,
        `add chain bridge ${NFT_TABLE} forward { type filter hook forward priority 0; policy accept; }`);
    }
    lines.push(`flush chain bridge ${NFT_TABLE} forward`);
    for (const pair of this.#blocked) {
      const [from, to] = pair.split('>');
      lines.push(`add rule bridge ${NFT_TABLE} forward iifname "${from}" oifname "${to}" counter drop`);
    }
    for (const [port, percent] of this.#loss) {
      for (const side of ['iifname', 'oifname']) {
        lines.push(`add rule bridge ${NFT_TABLE} forward ${side} "${port}" numgen random mod 100 < ${percent} counter drop`);
      }
    }
    await this.exec(this.switchNs, ['nft', '-f', '-'], { input: lines.join('\n') + '\n' });
    this.#filterReady = true;
  }

  /**
   * Kill every process started here (whole groups: SIGTERM, SIGKILL after a grace) and anything
   * else left in the namespaces, then delete them. Idempotent; call it from afterAll/afterEach.
   */
  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown();
    return this.#destroying;
  }

  async #teardown(): Promise<void> {
    const processes = [...this.#processes];
    for (const p of processes) p.kill('SIGTERM');
    await Promise.race([
      Promise.allSettled(processes.map((p) => p.wait())),
      new Promise((resolve) => setTimeout(resolve, KILL_GRACE_MS)),
    ]);
    for (const p of processes) p.kill('SIGKILL');
    const errors: string[] = [];
    for (const ns of this.#namespaces) {
      await deleteNamespace(ns).catch((error: Error) => errors.push(error.message));
    }
    liveSegments.delete(this);
    if (errors.length > 0) throw new Error(`destroy ${this.prefix}: ${errors.join('; ')}`);
  }
}

/** Destroy every segment this process still has (a safety net for a test file's afterAll). */
export async function destroyAll(): Promise<void> {
  await Promise.all([...liveSegments].map((s) => s.destroy()));
}

/**
 * Last resort when the process exits with segments left (a test file without afterAll, a worker
 * torn down early): synchronous, so it works inside an 'exit' handler.
 */
function destroyAllNow(): void {
  for (const segment of liveSegments) {
    for (const ns of segment.namespaces) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'delete', ns]);
    }
  }
  liveSegments.clear();
}

async function ipBatch(ns: string | undefined, commands: string[]): Promise<void> {
  await run(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: commands.join('\n') + '\n' });
}
