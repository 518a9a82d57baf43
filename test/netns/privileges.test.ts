// Least privilege (issue 8 §1): vippyd as an ordinary user (nobody) with exactly the ambient
// capabilities packaging/vippyd.service grants, and the refusal to start without them.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT, Segment, TSX_LOADER, netnsAvailable, run, waitFor, type Spawned } from './harness.js';
import { VIPPYD, VippyCluster, baseConfig, observerMac } from './lib/cluster.js';

const VIP = '192.0.2.210';
const NOBODY = 65534;

/** What the unit file does, with setpriv: another user, no groups, no new privileges, only `caps`. */
function setprivAs(caps: readonly string[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [
    'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs',
    `--bounding-set=${set}`, `--inh-caps=${set}`, `--ambient-caps=${set}`,
  ];
}
const UNIT_CAPS = ['net_admin', 'net_raw'];

/** The segment, except that everything it spawns runs under `prefix` (VippyCluster spawns vippyd). */
function spawningUnder(seg: Segment, prefix: readonly string[]): Segment {
  return new Proxy(seg, {
    get(target, prop) {
      if (prop === 'spawn') {
        return (host: Parameters<Segment['spawn']>[0], argv: readonly string[], options?: Parameters<Segment['spawn']>[2]) =>
          target.spawn(host, [...prefix, ...argv], options);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Config files owned by nobody, mode 0600 (the config holds the secret); the directory too, for the sockets. */
function handToNobody(cluster: VippyCluster): void {
  chownSync(cluster.dir, NOBODY, NOBODY);
  for (const d of cluster.daemons.values()) {
    chownSync(d.configPath, NOBODY, NOBODY);
    chmodSync(d.configPath, 0o600);
  }
}

/** The kernel's view of a process: its uids and effective capabilities. */
function credentials(pid: number): { uid: string; capEff: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: /^Uid:\s+(.*)$/m.exec(status)![1], capEff: /^CapEff:\s+(\w+)$/m.exec(status)![1] };
}

async function exitWithin(process: Spawned, ms: number) {
  return Promise.race([process.wait(), new Promise<undefined>((resolve) => setTimeout(resolve, ms))]);
}

describe.skipIf(!netnsAvailable)('missingCapabilities under setpriv (the real /proc/self/status)', () => {
  const privileges = pathToFileURL(path.join(PROJECT_ROOT, 'src/agent/privileges.ts')).href;
  it.each([
    [UNIT_CAPS, []],
    [['net_admin'], ['CAP_NET_RAW']],
    [['net_raw'], ['CAP_NET_ADMIN']],
    [[], ['CAP_NET_ADMIN', 'CAP_NET_RAW']],
  ])('with %j lacks %j', async (caps, missing) => {
    const code = `import { missingCapabilities } from '${privileges}'; console.log(JSON.stringify(missingCapabilities()));`;
    const { stdout } = await run([...setprivAs(caps), process.execPath, '--import', TSX_LOADER, '--input-type=module', '-e', code]);
    expect(JSON.parse(stdout)).toEqual(missing);
  });
});

describe.skipIf(!netnsAvailable)('vippyd with least privilege', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    cluster = undefined;
    seg = undefined;
  });

  async function twoNodes(caps: readonly string[]) {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    const config = baseConfig(seg.hosts, { vips: [['n1', { interface: 'eth0', ip: `${VIP}/24` }]] });
    cluster = new VippyCluster(spawningUnder(seg, setprivAs(caps)), { config });
    handToNobody(cluster);
    return { seg, cluster };
  }

  it('as nobody with only CAP_NET_ADMIN and CAP_NET_RAW: plumbs, announces and fails over', async () => {
    const { seg, cluster } = await twoNodes(UNIT_CAPS);
    await cluster.startAll();
    for (const d of cluster.daemons.values()) {
      expect(credentials(d.process.pid)).toEqual({ uid: `${NOBODY}\t${NOBODY}\t${NOBODY}\t${NOBODY}`, capEff: '0000000000003000' });
    }
    await cluster.waitForHolder(VIP, 'n1');
    await seg.exec(seg.observer, ['ping', '-c', '1', '-W', '1', VIP]);
    expect(await observerMac(seg, VIP)).toBe(seg.host('n1').mac);

    cluster.daemon('n1').process.kill('SIGKILL');
    await seg.cutLink(seg.host('n1'));
    // The address (CAP_NET_ADMIN) and the gratuitous ARP that moves the observer (CAP_NET_RAW).
    await waitFor(async () => (await cluster.holders(VIP)).includes('n2'), { timeoutMs: 5000, what: `${VIP} plumbed on n2` });
    await waitFor(async () => (await observerMac(seg, VIP)) === seg.host('n2').mac, { timeoutMs: 5000, what: 'observer learns n2 holds the VIP' });
    const log = cluster.daemon('n2').process.stdout + cluster.daemon('n2').process.stderr;
    expect(log).not.toMatch(/EPERM|Operation not permitted/);
  });

  it.each([
    [['net_admin'], 'CAP_NET_RAW'],
    [['net_raw'], 'CAP_NET_ADMIN'],
    [[], 'CAP_NET_ADMIN (for adding and removing the virtual addresses) and CAP_NET_RAW'],
  ])('with capabilities %j it refuses to start, naming %s, and creates nothing', async (caps, named) => {
    const { seg, cluster } = await twoNodes(caps);
    const d = cluster.daemon('n1');
    const vippyd = seg.spawn(d.host, [...setprivAs(caps), process.execPath, VIPPYD, '-c', d.configPath, '-n', 'n1']);
    const exit = await exitWithin(vippyd, 10_000);
    vippyd.kill('SIGKILL');
    expect(exit, `vippyd kept running without ${named}:\n${vippyd.stdout}${vippyd.stderr}`).toEqual({ code: 1, signal: null });
    expect(vippyd.stderr).toContain(`vippyd: missing capability ${named} (`);
    expect(existsSync(d.socket)).toBe(false);
    expect(await cluster.holders(VIP)).toEqual([]);
  });

  it('warns at start when the config file is readable by its group, naming the mode and the fix', async () => {
    const { cluster } = await twoNodes(UNIT_CAPS);
    const d = cluster.daemon('n1');
    chmodSync(d.configPath, 0o640);
    await cluster.start('n1');
    await d.process.waitForLine(`${d.configPath} holds the cluster secret but has mode 0640 (group or others have access); fix: chmod 600 ${d.configPath}`, { timeoutMs: 5000 });
  });
});
