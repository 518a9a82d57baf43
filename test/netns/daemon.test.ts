// vippyd end to end: real daemons on a bridged segment, asserting what the kernels show.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Segment, netnsAvailable, waitFor } from './harness.js';
import { VippyCluster, VIPPYCTL, VIPPYD, baseConfig, observerMac } from './lib/cluster.js';
import { loadConfigFile } from '../../src/config/index.js';
import { place } from '../../src/core/index.js';

const VIP1 = '192.0.2.201';
const VIP2 = '192.0.2.202';
const VIP3 = '192.0.2.203';

describe.skipIf(!netnsAvailable)('vippyd on a real segment', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    cluster = undefined;
    seg = undefined;
  });

  async function threeNodes(extra: Record<string, unknown> = {}) {
    seg = await Segment.create({ hosts: ['n1', 'n2', 'n3'] });
    const vips = [
      ['n1', { interface: 'eth0', ip: `${VIP1}/24` }],
      [{ interface: 'eth0', ip: `${VIP2}/24` }],
      [{ interface: 'eth0', ip: `${VIP3}/24` }],
    ];
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips, ...extra }) });
    await cluster.startAll();
    return { seg, cluster };
  }

  it('places groups as core does, and vippyctl status prints them exactly', async () => {
    const { cluster } = await threeNodes();
    // What core's placement gives for this config with all three nodes active.
    const { config } = loadConfigFile(cluster.daemon('n1').configPath);
    const placed = place({ config, active: ['n1', 'n2', 'n3'], ineligible: () => undefined, holders: new Map(), preferenceReady: () => true });
    const expectedOwners = [VIP1, VIP2, VIP3].map((_, group) => placed[group]![0]!);
    expect(expectedOwners[0]).toBe('n1'); // the preferred node
    // The kernels agree once every node is active and has settled.
    await waitFor(async () => {
      const holders = await Promise.all([VIP1, VIP2, VIP3].map((ip) => cluster.holders(ip)));
      return holders.every((h, group) => h.length === 1 && h[0] === expectedOwners[group]);
    }, { timeoutMs: 8000, what: `holders ${expectedOwners.join(',')}` });
    const text = execFileSync(VIPPYCTL, ['-s', cluster.daemon('n2').socket, 'status'], { encoding: 'utf8' });
    const expected = ['State:  active']
      .concat([VIP1, VIP2, VIP3].map((ip, group) => {
        const owner = expectedOwners[group]!;
        return `${owner === 'n2' ? '(*) ' : '    '}${owner}: ${ip}/24${group === 0 ? ' P(n1)' : ''}`;
      }))
      .join('\n');
    expect(text.trimEnd()).toBe(expected);
  });

  it('kill -9 of an owner: the successor holds the VIP and the observer follows within stale + 200 ms', async () => {
    const { seg, cluster } = await threeNodes();
    await cluster.waitForHolder(VIP1, 'n1');
    await seg.exec(seg.observer, ['ping', '-c', '1', '-W', '1', VIP1]);
    const macs = seg.hosts.map((h) => `${h.name}=${h.mac}`).join(' ');
    expect(`${await observerMac(seg, VIP1)} (holders ${await cluster.holders(VIP1)}; ${macs})`).toBe(`${seg.host('n1').mac} (holders n1; ${macs})`);

    const t0 = performance.now();
    cluster.daemon('n1').process.kill('SIGKILL');
    await seg.cutLink(seg.host('n1'));
    const successorMac = await waitFor(async () => {
      const mac = await observerMac(seg, VIP1);
      return mac && mac !== seg.host('n1').mac ? mac : undefined;
    }, { timeoutMs: 5000, intervalMs: 5, what: 'observer entry for the VIP moves' });
    const elapsed = performance.now() - t0;
    const successor = seg.hosts.find((h) => h.mac === successorMac)!;
    expect(['n2', 'n3']).toContain(successor.name);
    expect(await cluster.holders(VIP1)).toContain(successor.name);
    expect(elapsed).toBeLessThan(300 + 200 + 150); // stale + 200 ms, plus the poll's own cost
  });

  it('a holder whose MAC changed announces the new one when a VIP comes back to it', async () => {
    const { seg, cluster } = await threeNodes();
    const n1 = seg.host('n1');
    const newMac = '02:00:5e:00:53:01';
    const vippyctl = (...args: string[]) => execFileSync(VIPPYCTL, ['-s', cluster.daemon('n1').socket, ...args], { encoding: 'utf8' });
    // n1 has announced VIP1 with its first MAC; then the MAC changes under the running daemon.
    await cluster.waitForHolder(VIP1, 'n1');
    await seg.exec(n1, ['ip', 'link', 'set', 'dev', 'eth0', 'address', newMac]);
    vippyctl('deactivate');
    await waitFor(async () => (await cluster.holders(VIP1)).filter((h) => h !== 'n1').length === 1, { timeoutMs: 5000, what: 'VIP1 moves off n1' });
    await seg.exec(seg.observer, ['ping', '-c', '1', '-W', '1', VIP1]);
    const interim = await observerMac(seg, VIP1);
    expect([seg.host('n2').mac, seg.host('n3').mac]).toContain(interim);
    // Back to n1 (its preferred node): only its gratuitous ARP tells the observer; nothing pings.
    vippyctl('activate');
    await cluster.waitForHolder(VIP1, 'n1');
    await waitFor(async () => (await observerMac(seg, VIP1)) !== interim, { timeoutMs: 3000, what: 'the observer entry for VIP1 leaves the interim holder' });
    expect(await observerMac(seg, VIP1)).toBe(newMac);
  });

  it('SIGTERM hands the group over at once and leaves nothing behind', async () => {
    const { seg, cluster } = await threeNodes();
    await cluster.waitForHolder(VIP1, 'n1');
    const monitor = seg.spawn(seg.host('n2'), ['ip', '-ts', 'monitor', 'address']);
    const monitor3 = seg.spawn(seg.host('n3'), ['ip', '-ts', 'monitor', 'address']);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    cluster.daemon('n1').process.kill('SIGTERM');
    const exit = await cluster.daemon('n1').process.wait();
    const stoppedAfter = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(stoppedAfter).toBeLessThan(1000);
    const line = await Promise.race([monitor.waitForLine(VIP1, { timeoutMs: 3000 }), monitor3.waitForLine(VIP1, { timeoutMs: 3000 })]);
    const stamp = /^\[(.+?)\]/.exec(line)?.[1];
    const handoff = Date.parse(stamp!.replace(/\.(\d{3})\d*/, '.$1')) - t0;
    expect(handoff).toBeLessThan(50);
    expect((await cluster.holders(VIP1)).filter((h) => h === 'n1')).toEqual([]);
  });

  it('an address deleted by hand comes back; a configured address on a non-holder goes', async () => {
    const { seg, cluster } = await threeNodes();
    await cluster.waitForHolder(VIP1, 'n1');
    await seg.exec(seg.host('n1'), ['ip', 'addr', 'del', `${VIP1}/24`, 'dev', 'eth0']);
    await cluster.waitForHolder(VIP1, 'n1', 3000);
    await seg.exec(seg.host('n2'), ['ip', 'addr', 'add', `${VIP1}/24`, 'dev', 'eth0']);
    await cluster.waitForHolder(VIP1, 'n1', 3000);
  });

  it('the preferred node returns: failback waits for preempt_delay', async () => {
    const { seg, cluster } = await threeNodes({ preempt_delay: 1 });
    await cluster.waitForHolder(VIP1, 'n1');
    cluster.daemon('n1').process.kill('SIGTERM');
    await cluster.daemon('n1').process.wait();
    await waitFor(async () => (await cluster.holders(VIP1)).length === 1, { timeoutMs: 3000, what: 'a successor' });
    const [interim] = await cluster.holders(VIP1);
    const t0 = performance.now();
    await cluster.start('n1');
    await cluster.waitForHolder(VIP1, 'n1', 5000);
    const failback = performance.now() - t0;
    expect(interim).not.toBe('n1');
    expect(failback).toBeGreaterThanOrEqual(1000);
    void seg;
  });

  it('a plugin saying config.active(false, …) moves its node\'s groups away', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    const pluginPath = `${process.cwd()}/test/netns/fixtures/health-file-plugin.cjs`;
    const vips = [['n1', { interface: 'eth0', ip: `${VIP1}/24` }]];
    cluster = new VippyCluster(seg, {
      config: baseConfig(seg.hosts, { vips }),
      args: () => ['-p', pluginPath],
    });
    await cluster.startAll();
    await cluster.waitForHolder(VIP1, 'n1');
    execFileSync('touch', [`${cluster.dir}/n1.down`]);
    await cluster.waitForHolder(VIP1, 'n2', 3000);
    const status = await cluster.status('n1');
    expect(status.state.active).toBe(false);
    expect(status.state.inactive_reason).toBe('healthfile');
    execFileSync('rm', [`${cluster.dir}/n1.down`]);
    await cluster.waitForHolder(VIP1, 'n1', 3000);
  });

  it("a plugin written for the original sees its objects, events and shapes; config plugins load before -p ones", async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-plugin-shapes-'));
    try {
      const out = (node: string) => path.join(dir, `${node}.jsonl`);
      // In the original's style: globals, var, require, callbacks; files named by config.hostname().
      const recorder = (name: string) => `var fs = require('fs');
        function record(kind, value) { fs.appendFileSync(${JSON.stringify(dir)} + '/' + config.hostname() + '.jsonl', JSON.stringify([kind, value]) + '\\n'); }
        record('loaded', ${JSON.stringify(name)});`;
      const fromConfig = path.join(dir, 'from-config.js');
      const fromCli = path.join(dir, 'from-cli.js');
      writeFileSync(fromConfig, `${recorder('from-config')}
        record('plugins', config.plugins());
        var sent = false, heard = false;
        manager.on('state-change', function (ownership, last) { record('state-change', { ownership: ownership, last: last, state: manager.state() }); });
        var lastState = '';
        var poll = setInterval(function () {
          var now = JSON.stringify(manager.state());
          if (now !== lastState) { lastState = now; record('state', manager.state()); }
        }, 50);
        config.on('stop', function () { clearInterval(poll); });
        config.on('send-announce', function (m) { if (!sent) { sent = true; record('send-announce', m); } });
        config.on('recv-announce', function (m) { if (!heard && m.me !== config.hostname()) { heard = true; record('recv-announce', m); } });`);
      writeFileSync(fromCli, recorder('from-cli'));
      const vips = [['n1', { interface: 'eth0', ip: `${VIP1}/24` }], [{ interface: 'eth0', ip: `${VIP2}/24` }]];
      cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips, plugins: [fromConfig] }), args: () => ['-p', fromCli] });
      await cluster.startAll();
      await cluster.waitForHolder(VIP1, 'n1');
      const records = () => (existsSync(out('n1')) ? readFileSync(out('n1'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as [string, any]) : []);
      const vip1 = { ip: VIP1, netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'eth0' };
      const group0 = ['n1', vip1];
      const group1 = [{ ...vip1, ip: VIP2 }];
      // The settled ownership of both nodes: n1 has its preferred group; the other goes by md5.
      const { config } = loadConfigFile(cluster.daemon('n1').configPath);
      const owner1 = place({ config, active: ['n1', 'n2'], ineligible: () => undefined, holders: new Map(), preferenceReady: () => true })[1]![0]!;
      const settled = { _: [], n1: owner1 === 'n1' ? [group0, group1] : [group0], n2: owner1 === 'n2' ? [group1] : [] };
      await waitFor(() => {
        const latest = records().filter(([kind]) => kind === 'state').at(-1)?.[1];
        return JSON.stringify(latest) === JSON.stringify(settled) && records().some(([kind]) => kind === 'recv-announce');
      }, { timeoutMs: 8000, what: `n1's plugin to see manager.state() ${JSON.stringify(settled)}` });
      // state-change comes when this node's own share changes (as in the original): its last one
      // gave n1 what it holds now, and manager.state() inside the event is that new map.
      const change = records().filter(([kind]) => kind === 'state-change').at(-1)![1];
      expect(change.ownership.n1).toEqual(settled.n1);
      expect(change.ownership._).toEqual([]);
      expect(change.state).toEqual(change.ownership);
      expect(Object.keys(change.last).length === 0 || '_' in change.last).toBe(true);

      const seen = records();
      expect(seen.slice(0, 2)).toEqual([['loaded', 'from-config'], ['plugins', [fromConfig, fromCli]]]);
      expect(seen.findIndex(([kind, value]) => kind === 'loaded' && value === 'from-cli')).toBeGreaterThan(1);
      const send = seen.find(([kind]) => kind === 'send-announce')![1];
      expect(Object.keys(send).slice(0, 8)).toEqual(['me', 'active', 'version', 'vips', 'nodes', 'hash', 'nonce', 'arpcache']);
      expect(send).toMatchObject({ me: 'n1', version: 1, vips: [group0, group1], nodes: ['n1', 'n2'] });
      const recv = seen.find(([kind]) => kind === 'recv-announce')![1];
      expect(recv).toMatchObject({ me: 'n2', version: 1, vips: [group0, group1], nodes: ['n1', 'n2'], same_config: true });
      expect(recv.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof recv.arpcache).toBe('object');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a version bump by SIGHUP on one node graduates the others, who persist it', async () => {
    const { cluster } = await threeNodes();
    await cluster.waitForHolder(VIP1, 'n1');
    const VIP4 = '192.0.2.204';
    cluster.rewrite('n2', (c) => ({ ...c, version: 2, vips: [...(c.vips as unknown[]), [{ interface: 'eth0', ip: `${VIP4}/24` }]] }));
    cluster.daemon('n2').process.kill('SIGHUP');
    await waitFor(async () => {
      const versions = await Promise.all(['n1', 'n2', 'n3'].map(async (n) => (await cluster.status(n)).config.version));
      return versions.every((v) => v === 2);
    }, { timeoutMs: 5000, what: 'every node on v2' });
    for (const n of ['n1', 'n3']) {
      const persisted = cluster.readConfig(n);
      expect(persisted.version).toBe(2);
      expect(JSON.stringify(persisted.vips)).toContain(VIP4);
      expect(persisted.secret).toBe('netns-test-secret-0123456789');
    }
    await waitFor(async () => (await cluster.holders(VIP4)).length === 1, { timeoutMs: 5000, what: 'the new group held once' });
  });

  it('an IPv6 VIP is announced with an unsolicited NA the observer acts on', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    const VIP6 = '2001:db8::201';
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips: [['n1', { interface: 'eth0', ip: `${VIP6}/64` }]] }) });
    await cluster.startAll();
    await cluster.waitForHolder(VIP6, 'n1');
    await seg.exec(seg.observer, ['ping', '-6', '-c', '1', '-W', '1', VIP6]);
    expect(await observerMac(seg, VIP6)).toBe(seg.host('n1').mac);
    const capture = seg.spawn(seg.observer, ['tcpdump', '-l', '-n', '-vv', '-i', 'eth0', 'icmp6 and ip6[40] == 136']);
    await capture.waitForLine(/listening on/, { timeoutMs: 5000 });
    cluster.daemon('n1').process.kill('SIGTERM');
    await cluster.waitForHolder(VIP6, 'n2', 3000);
    await waitFor(async () => (await observerMac(seg!, VIP6)) === seg!.host('n2').mac, { timeoutMs: 2000, what: 'observer NA update' });
    const line = await capture.waitForLine(/neighbor advertisement, length \d+, tgt is 2001:db8::201/, { timeoutMs: 2000 });
    expect(capture.stdout).toContain('[icmp6 sum ok]');
    expect(line).toBeTruthy();
  });

  it('start-up: a stale socket file is replaced, a live one and an unknown node are clear errors', async () => {
    seg = await Segment.create({ hosts: ['n1'] });
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips: [[{ interface: 'eth0', ip: `${VIP1}/24` }]] }) });
    const { socket, configPath } = cluster.daemon('n1');
    // A socket file nobody listens on, as a SIGKILLed daemon leaves behind.
    execFileSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(socket)})`]);
    await cluster.start('n1');
    await cluster.waitForHolder(VIP1, 'n1');
    const second = await seg.exec(seg.host('n1'), [VIPPYD, '-c', configPath, '-n', 'n1'], { allowFail: true, timeoutMs: 10_000 });
    expect(second.code).not.toBe(0);
    expect(second.stderr.trim()).toMatch(/^vippyd: .*another vippyd is already serving/);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    const unknown = await seg.exec(seg.host('n1'), [VIPPYD, '-c', configPath, '-n', 'nobody'], { allowFail: true });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toBe('vippyd: node "nobody" is not in this configuration (nodes: n1); use -n NODE');
    // The running daemon was not disturbed.
    expect(await cluster.holders(VIP1)).toEqual(['n1']);
  });

  it('a reload that moves a held group to another index keeps its address up throughout', async () => {
    const { seg, cluster } = await threeNodes();
    await cluster.waitForHolder(VIP1, 'n1');
    const monitor = seg.spawn(seg.host('n1'), ['ip', '-o', 'monitor', 'address']);
    await new Promise((r) => setTimeout(r, 200));
    const VIP4 = '192.0.2.204';
    for (const name of ['n1', 'n2', 'n3']) {
      cluster.rewrite(name, (c) => ({ ...c, version: 2, vips: [[{ interface: 'eth0', ip: `${VIP4}/24` }], ...(c.vips as unknown[])] }));
      cluster.daemon(name).process.kill('SIGHUP');
    }
    await waitFor(async () => (await cluster.holders(VIP4)).length === 1, { timeoutMs: 5000, what: 'the new group held once' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await cluster.holders(VIP1)).toEqual(['n1']);
    expect(monitor.stdout).not.toMatch(new RegExp(`Deleted .*${VIP1.replace(/\./g, '\\.')}/`));
  });
});
