// Health checks end to end: real daemons, a real service in each node's namespace, and what the
// kernels and the observer show when the service dies and comes back.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Segment, netnsAvailable, waitFor, type Host } from './harness.js';
import { VippyCluster, VIPPYCTL, baseConfig, observerMac } from './lib/cluster.js';
import type { Spawned } from './lib/proc.js';

const VIP1 = '192.0.2.201';
const VIP2 = '192.0.2.202';
const PORT = 8080;
/** A tiny HTTP service on the node's own loopback (each namespace has its own). */
const SERVICE = `require('node:http').createServer((q, s) => s.end('ok')).listen(${PORT}, '127.0.0.1')`;

describe.skipIf(!netnsAvailable)('health checks on a real segment', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;
  let dir: string | undefined;
  const services = new Map<string, Spawned>();

  afterEach(async () => {
    for (const service of services.values()) service.kill('SIGKILL');
    services.clear();
    await cluster?.stopAll();
    await seg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    cluster = undefined;
    seg = undefined;
    dir = undefined;
  });

  function startService(host: Host): void {
    services.get(host.name)?.kill('SIGKILL');
    services.set(host.name, seg!.spawn(host, [process.execPath, '-e', SERVICE]));
  }

  function stopService(host: Host): void {
    services.get(host.name)?.kill('SIGKILL');
    services.delete(host.name);
  }

  async function checks(name: string): Promise<Array<{ name: string; state: string; reason: string }>> {
    return (await cluster!.get(name, '/checks')).body;
  }

  async function checkState(node: string, check: string): Promise<{ state: string; reason: string } | undefined> {
    return (await checks(node)).find((entry) => entry.name === check);
  }

  it('tcp: the service dies on the holder, its group moves and the observer follows; the other group stays; it comes back (preempt)', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2', 'n3'] });
    const vips = [
      ['n1', { interface: 'eth0', ip: `${VIP1}/24` }, { checks: ['web'] }],
      ['n1', { interface: 'eth0', ip: `${VIP2}/24` }],
    ];
    const config = baseConfig(seg.hosts, { vips, checks: { web: { kind: 'tcp', connect: `127.0.0.1:${PORT}`, interval: 0.1, timeout: 0.1, rise: 2, fall: 1 } } });
    for (const host of seg.hosts) startService(host);
    cluster = new VippyCluster(seg, { config });
    await cluster.startAll();
    const n1 = seg.host('n1');
    await cluster.waitForHolder(VIP1, 'n1', 8000);
    await cluster.waitForHolder(VIP2, 'n1');
    await seg.exec(seg.observer, ['ping', '-c', '1', '-W', '1', VIP1]);
    expect(await observerMac(seg, VIP1)).toBe(n1.mac);

    stopService(n1);
    const successorMac = await waitFor(async () => {
      const mac = await observerMac(seg!, VIP1);
      return mac && mac !== n1.mac ? mac : undefined;
    }, { timeoutMs: 5000, intervalMs: 5, what: 'observer entry for VIP1 leaves n1' });
    const successor = seg.hosts.find((h) => h.mac === successorMac)!;
    expect(['n2', 'n3']).toContain(successor.name);
    expect(await cluster.holders(VIP1)).toEqual([successor.name]);
    expect(await cluster.holders(VIP2)).toEqual(['n1']);
    expect(await checkState('n1', 'web')).toMatchObject({ state: 'fail', reason: 'connect ECONNREFUSED' });
    const status = execFileSync(VIPPYCTL, ['-s', cluster.daemon('n1').socket, 'status'], { encoding: 'utf8' });
    expect(status).toContain(`Ineligible for ${VIP1}/24 P(n1): check web failing: connect ECONNREFUSED`);
    const table = execFileSync(VIPPYCTL, ['-s', cluster.daemon('n1').socket, 'checks'], { encoding: 'utf8' });
    expect(table).toMatch(/^web\s+fail\s+/m);
    const metrics = execFileSync(VIPPYCTL, ['-s', cluster.daemon('n1').socket, 'metrics'], { encoding: 'utf8' });
    expect(metrics).toContain('vippy_check_up{check="web"} 0');
    expect(metrics).toContain('vippy_check_transitions_total{check="web",to="fail"} 1');
    expect(cluster.daemon('n1').process.stdout).toMatch(/check web failing: connect ECONNREFUSED/);

    startService(n1);
    await cluster.waitForHolder(VIP1, 'n1', 5000);
    await waitFor(async () => (await observerMac(seg!, VIP1)) === n1.mac, { timeoutMs: 3000, what: 'observer entry for VIP1 back on n1' });
    expect(await cluster.holders(VIP2)).toEqual(['n1']);
  });

  it('file drains a node, exec and process checks decide, and bad checks fail with a reason while the daemon runs on', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-checks-'));
    const maintenance = (host: string) => path.join(dir!, `${host}.maintenance`);
    const pidfile = (host: string) => path.join(dir!, `${host}.pid`);
    const vips = [
      ['n1', { interface: 'eth0', ip: `${VIP1}/24` }, { checks: ['script', 'service'] }],
      ['n1', { interface: 'eth0', ip: `${VIP2}/24` }],
    ];
    const config = baseConfig(seg.hosts, { vips });
    cluster = new VippyCluster(seg, {
      config,
      perNode: (host) => ({
        checks: {
          drain: { kind: 'file', path: maintenance(host.name), node: true, interval: 0.1 },
          script: { kind: 'exec', command: `test -e ${maintenance(host.name)}.script && exit 1; echo fine`, shell: true, interval: 0.1, timeout: 1 },
          service: { kind: 'process', pidfile: pidfile(host.name), interval: 0.1 },
          missing: { kind: 'exec', command: ['/nonexistent/check-tool'], interval: 0.2 },
          hang: { kind: 'exec', command: ['sleep', '30'], interval: 0.5, timeout: 0.3 },
        },
      }),
    });
    const sleepers = seg.hosts.map((host) => {
      const sleeper = seg!.spawn(host, ['sleep', '600']);
      writeFileSync(pidfile(host.name), `${sleeper.pid}\n`);
      return sleeper;
    });
    try {
      await cluster.startAll();
      await cluster.waitForHolder(VIP1, 'n1', 8000);
      await cluster.waitForHolder(VIP2, 'n1');

      // Bad checks: clear reasons, the daemon keeps serving.
      await waitFor(async () => (await checkState('n1', 'hang'))?.reason.startsWith('timed out'), { timeoutMs: 5000, what: 'hang times out' });
      expect(await checkState('n1', 'missing')).toMatchObject({ state: 'fail', reason: '/nonexistent/check-tool: command not found (ENOENT)' });
      expect(await checkState('n1', 'hang')).toMatchObject({ state: 'fail', reason: 'timed out after 300 ms (process group killed)' });
      expect(cluster.daemon('n1').process.exit).toBeUndefined();

      // exec: its group moves, the other stays.
      writeFileSync(`${maintenance('n1')}.script`, '');
      await cluster.waitForHolder(VIP1, 'n2');
      expect(await cluster.holders(VIP2)).toEqual(['n1']);
      rmSync(`${maintenance('n1')}.script`);
      await cluster.waitForHolder(VIP1, 'n1');

      // process: the service's pid dies.
      sleepers[0]!.kill('SIGKILL');
      await cluster.waitForHolder(VIP1, 'n2');
      expect(await checkState('n1', 'service')).toMatchObject({ state: 'fail' });
      const again = seg.spawn(seg.host('n1'), ['sleep', '600']);
      sleepers[0] = again;
      writeFileSync(pidfile('n1'), `${again.pid}\n`);
      await cluster.waitForHolder(VIP1, 'n1');

      // file: touching it drains every group of the node; removing it undoes that.
      writeFileSync(maintenance('n1'), '');
      await cluster.waitForHolder(VIP1, 'n2');
      await cluster.waitForHolder(VIP2, 'n2');
      writeFileSync(maintenance('n1'), '0\n');
      await cluster.waitForHolder(VIP1, 'n1');
      await cluster.waitForHolder(VIP2, 'n1');
    } finally {
      for (const sleeper of sleepers) sleeper.kill('SIGKILL');
    }
  });
  it('interface: cutting the carrier of a link that is not the chat interface moves the groups that name the check', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    // A veth pair inside each node: taking the peer end down cuts the carrier of "uplink".
    for (const host of seg.hosts) {
      await seg.exec(host, ['ip', 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'uplink-peer']);
      await seg.exec(host, ['ip', 'link', 'set', 'uplink', 'up']);
      await seg.exec(host, ['ip', 'link', 'set', 'uplink-peer', 'up']);
    }
    const vips = [
      ['n1', { interface: 'eth0', ip: `${VIP1}/24` }, { checks: ['uplink'] }],
      ['n1', { interface: 'eth0', ip: `${VIP2}/24` }],
    ];
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips, checks: { uplink: { kind: 'interface', interface: 'uplink' } } }) });
    await cluster.startAll();
    await cluster.waitForHolder(VIP1, 'n1', 8000);
    expect(await checkState('n1', 'uplink')).toMatchObject({ state: 'pass', reason: 'uplink is up with carrier' });
    await seg.exec(seg.host('n1'), ['ip', 'link', 'set', 'uplink-peer', 'down']);
    await cluster.waitForHolder(VIP1, 'n2');
    expect(await checkState('n1', 'uplink')).toMatchObject({ state: 'fail', reason: 'uplink has no carrier' });
    expect(await cluster.holders(VIP2)).toEqual(['n1']);
    await seg.exec(seg.host('n1'), ['ip', 'link', 'set', 'uplink-peer', 'up']);
    await cluster.waitForHolder(VIP1, 'n1');
  });
});
