// Self-test of the namespace test bed against the real kernel: connectivity, link cuts, nftables
// partitions and loss, process groups, teardown and the leftover sweep.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, Segment, TSX_LOADER, netnsAvailable, pidAlive, run, sweepLeftovers, waitFor, type Host } from './harness.js';

const NETNS_DIR = '/run/netns';

describe.skipIf(!netnsAvailable)('netns harness', () => {
  let seg: Segment;

  /** Ping `to` from `from`; true when every echo got its reply. */
  async function pings(from: Host, to: string, count = 1): Promise<boolean> {
    const result = await seg.exec(from, ['ping', '-n', '-q', '-c', String(count), '-i', '0.05', '-W', '0.5', to], {
      allowFail: true,
    });
    return result.code === 0;
  }

  /** Icmp InEchos / Icmp6 InEchos of a namespace, from its own /proc/net/snmp(6). */
  async function echoRequestsReceived(host: Host): Promise<number> {
    const { stdout } = await seg.exec(host, ['cat', '/proc/net/snmp']);
    const [names, values] = stdout.split('\n').filter((line) => line.startsWith('Icmp:'));
    const column = names!.split(/\s+/).indexOf('InEchos');
    return Number(values!.split(/\s+/)[column]);
  }

  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a', 'b'] });
  });
  afterAll(async () => {
    await seg?.destroy();
  });

  it('lays out hosts and observer as documented', () => {
    expect(seg.hosts.map((h) => [h.name, h.ipv4, h.ipv6, h.ifname, h.port])).toEqual([
      ['a', '192.0.2.10', '2001:db8::10', 'eth0', 'port0'],
      ['b', '192.0.2.11', '2001:db8::11', 'eth0', 'port1'],
    ]);
    expect(seg.observer.ipv4).toBe('192.0.2.100');
    expect(seg.observer.ipv6).toBe('2001:db8::100');
    expect(seg.host('a')).toBe(seg.hosts[0]);
    expect(() => seg.host('zz')).toThrow(/no host "zz"/);
    for (const h of seg.members) {
      expect(h.ns.startsWith('vt')).toBe(true);
      expect(existsSync(`${NETNS_DIR}/${h.ns}`)).toBe(true);
      expect(h.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    }
    expect(new Set(seg.members.map((h) => h.mac)).size).toBe(3);
  });

  it('gives each host exactly its addresses, usable at once, and no way off the segment', async () => {
    const a = seg.host('a');
    const [link] = JSON.parse((await seg.exec(a, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as {
      ifindex: number; address: string; addr_info: { family: string; local: string; prefixlen: number; tentative?: boolean }[];
    }[];
    expect(link!.ifindex).toBe(a.ifindex);
    expect(link!.address).toBe(a.mac);
    const global = link!.addr_info.filter((i) => !i.local.startsWith('fe80'));
    expect(global.map((i) => `${i.local}/${i.prefixlen}`).sort()).toEqual(['192.0.2.10/24', '2001:db8::10/64']);
    expect(link!.addr_info.some((i) => i.tentative)).toBe(false);
    for (const family of ['-4', '-6']) {
      const routes = JSON.parse((await seg.exec(a, ['ip', '-j', family, 'route', 'show', 'table', 'all'])).stdout) as { dst: string }[];
      expect(routes.some((r) => r.dst === 'default')).toBe(false);
    }
  });

  it('connects every pair of members over IPv4 and IPv6', async () => {
    const pairs = seg.members.flatMap((from) => seg.members.filter((to) => to !== from).map((to) => [from, to] as const));
    const results = await Promise.all(pairs.flatMap(([from, to]) => [
      pings(from, to.ipv4).then((ok) => `${from.name}->${to.ipv4} ${ok}`),
      pings(from, to.ipv6).then((ok) => `${from.name}->${to.ipv6} ${ok}`),
    ]));
    expect(results.filter((r) => !r.endsWith('true'))).toEqual([]);
    expect(results).toHaveLength(12);
  });

  it('cutLink drops the host off the segment with carrier lost, restoreLink brings it back', async () => {
    const a = seg.host('a');
    await seg.cutLink(a);
    try {
      expect(await pings(seg.observer, a.ipv4)).toBe(false);
      const [link] = JSON.parse((await seg.exec(a, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout) as
        { flags: string[]; operstate: string }[];
      expect(link!.flags).toContain('NO-CARRIER');
      expect(link!.flags).toContain('UP');
      expect(link!.operstate).toBe('DOWN');
      expect((await seg.exec(a, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(a.ipv6);
    } finally {
      await seg.restoreLink(a);
    }
    await waitFor(() => pings(seg.observer, a.ipv4), { timeoutMs: 5_000, what: 'ping after restoreLink' });
    expect(await pings(seg.observer, a.ipv6)).toBe(true);
  });

  it('linkDown loses the IPv6 address as the kernel does; linkUp restores the host', async () => {
    const b = seg.host('b');
    await seg.linkDown(b);
    const down = (await seg.exec(b, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout;
    expect(down).toContain(b.ipv4);
    expect(down).not.toContain(b.ipv6);
    expect(await pings(seg.observer, b.ipv4)).toBe(false);
    await seg.linkUp(b);
    await waitFor(() => pings(seg.observer, b.ipv4), { what: 'IPv4 ping after linkUp' });
    await waitFor(() => pings(seg.observer, b.ipv6), { what: 'IPv6 ping after linkUp' });
  });

  it('block drops all traffic between two hosts both ways and leaves others alone; unblock restores', async () => {
    const [a, b] = [seg.host('a'), seg.host('b')];
    await seg.block(a, b);
    try {
      expect(await pings(a, b.ipv4)).toBe(false);
      expect(await pings(b, a.ipv6)).toBe(false);
      expect(await pings(a, seg.observer.ipv4)).toBe(true);
      expect(await pings(b, seg.observer.ipv6)).toBe(true);
    } finally {
      await seg.unblock(a, b);
    }
    // The failed neighbour lookups are retried about once a second, so this can take a moment.
    await waitFor(() => pings(a, b.ipv4), { what: 'IPv4 ping after unblock' });
    await waitFor(() => pings(b, a.ipv6), { what: 'IPv6 ping after unblock' });
  });

  it('block oneWay drops only a→b', async () => {
    const [a, b] = [seg.host('a'), seg.host('b')];
    // Static neighbours, so frames in the open direction need no ARP reply through the closed one.
    await seg.exec(a, ['ip', 'neigh', 'replace', b.ipv4, 'lladdr', b.mac, 'dev', 'eth0', 'nud', 'permanent']);
    await seg.exec(b, ['ip', 'neigh', 'replace', a.ipv4, 'lladdr', a.mac, 'dev', 'eth0', 'nud', 'permanent']);
    await seg.block(a, b, { oneWay: true });
    try {
      const [atA, atB] = [await echoRequestsReceived(a), await echoRequestsReceived(b)];
      expect(await pings(a, b.ipv4, 3)).toBe(false);
      expect(await echoRequestsReceived(b)).toBe(atB); // a's requests never reached b
      expect(await pings(b, a.ipv4, 3)).toBe(false); // a's replies are dropped …
      expect(await echoRequestsReceived(a)).toBe(atA + 3); // … but b's requests arrived
    } finally {
      await seg.unblockAll();
      await seg.exec(a, ['ip', 'neigh', 'del', b.ipv4, 'dev', 'eth0']);
      await seg.exec(b, ['ip', 'neigh', 'del', a.ipv4, 'dev', 'eth0']);
    }
    expect(await pings(a, b.ipv4)).toBe(true);
  });

  it('loss drops roughly that share of frames through the port', async () => {
    const a = seg.host('a');
    await expect(seg.loss(a, 150)).rejects.toThrow(/percent must be an integer 0\.\.100, got 150/);
    const count = 300;
    const lossOf = async () => {
      const { stdout } = await seg.exec(seg.observer, ['ping', '-n', '-q', '-c', String(count), '-i', '0.003', '-W', '1', a.ipv4],
        { allowFail: true });
      const received = Number(/(\d+) received/.exec(stdout)?.[1]);
      return 1 - received / count;
    };
    expect(await pings(seg.observer, a.ipv4)).toBe(true); // neighbours resolved before the loss starts
    await seg.loss(a, 30);
    try {
      // Request and reply each cross a's port: a round trip survives with 0.7² = 0.49.
      const lost = await lossOf();
      expect(lost).toBeGreaterThan(0.36);
      expect(lost).toBeLessThan(0.66);
    } finally {
      await seg.clearLoss(a);
    }
    expect(await lossOf()).toBe(0);
  });

  it('spawns a process group inside the namespace and kill() stops all of it', async () => {
    const a = seg.host('a');
    const group = seg.spawn(a, ['sh', '-c', 'sleep 60 & sleep 60 & echo "started $$"; wait']);
    const line = await group.waitForLine(/^started \d+$/);
    expect(Number(line.split(' ')[1])).toBe(group.pid); // ip netns exec became the shell itself
    const pidsIn = async () => (await seg.exec(seg.switchNs, ['ip', 'netns', 'pids', a.ns])).stdout.split(/\s+/).filter(Boolean);
    await waitFor(async () => (await pidsIn()).length === 3, { what: 'shell and two sleeps in the namespace' });
    group.kill();
    expect(await group.wait()).toEqual({ code: null, signal: 'SIGTERM' });
    await waitFor(async () => (await pidsIn()).length === 0, { what: 'no process left in the namespace' });
  });

  it('runs a TypeScript script with node --import tsx inside the namespace', async () => {
    const probe = seg.node('b', 'test/netns/lib/netns-probe.ts', ['x', 'y']);
    expect(await probe.wait()).toEqual({ code: 0, signal: null });
    const seen = JSON.parse(probe.stdout) as { interfaces: Record<string, string[]>; args: string[] };
    expect(seen.args).toEqual(['x', 'y']);
    expect(Object.keys(seen.interfaces).sort()).toEqual(['eth0', 'lo']);
    expect(seen.interfaces.eth0).toContain('192.0.2.11');
  });

  it('exec reports failures with stderr and kills commands that time out', async () => {
    await expect(seg.exec('a', ['ip', 'link', 'show', 'dev', 'nosuchdev'])).rejects.toThrow(/exited with 1: .*nosuchdev/);
    await expect(seg.exec('a', ['sleep', '5'], { timeoutMs: 200 })).rejects.toThrow(/timed out after 200 ms/);
    expect((await seg.exec('a', ['cat'], { input: 'hello' })).stdout).toBe('hello');
  });

  it('creates a segment without IPv6 when asked', async () => {
    const v4only = await Segment.create({ hosts: 1, observer: false, ipv6: false });
    try {
      expect(() => v4only.observer).toThrow(/without an observer/);
      const addresses = (await v4only.exec('a', ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout;
      expect(addresses).toContain('192.0.2.10');
      expect(addresses).not.toContain('inet6');
    } finally {
      await v4only.destroy();
    }
  });

  it('destroy kills spawned and stray processes, deletes every namespace, and is idempotent', async () => {
    const doomed = await Segment.create({ hosts: 2 });
    const spawned = doomed.spawn('a', ['sh', '-c', 'trap "" TERM; sleep 60 & wait']); // ignores SIGTERM
    // A stray: started by exec, detached from everything the harness tracks.
    await doomed.exec('b', ['sh', '-c', 'setsid sleep 60 </dev/null >/dev/null 2>&1 &']);
    await waitFor(async () => (await doomed.exec('b', ['ip', 'netns', 'pids', doomed.host('b').ns])).stdout.trim() !== '');
    const strays = (await doomed.exec('b', ['ip', 'netns', 'pids', doomed.host('b').ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
    const namespaces = [doomed.switchNs, ...doomed.members.map((h) => h.ns)];
    expect(namespaces).toHaveLength(4);

    await Promise.all([doomed.destroy(), doomed.destroy()]);
    await doomed.destroy();

    expect(await spawned.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    for (const pid of strays) expect(pidAlive(pid)).toBe(false);
    for (const ns of namespaces) expect(existsSync(`${NETNS_DIR}/${ns}`)).toBe(false);
    expect(() => doomed.exec('a', ['true'])).toThrow(/has been destroyed/);
  });

  it('sweepLeftovers deletes namespaces of dead processes and keeps those of live ones', async () => {
    const gone = await run(['sh', '-c', 'echo $$']);
    const deadPid = Number(gone.stdout.trim());
    const alive = seg.spawn('a', ['sleep', '30']);
    const deadNs = `vt${deadPid}x0n0-sw`;
    const liveNs = `vt${alive.pid}x0n0-sw`;
    const ownNs = `vt${process.pid}x999n0-sw`;
    expect(pidAlive(deadPid)).toBe(false);
    for (const ns of [deadNs, liveNs, ownNs]) await run(['ip', 'netns', 'add', ns]);
    try {
      // Not asserting on the returned list: a concurrent run's sweep may have deleted it first.
      await sweepLeftovers();
      expect(existsSync(`${NETNS_DIR}/${deadNs}`)).toBe(false);
      expect(existsSync(`${NETNS_DIR}/${liveNs}`)).toBe(true);
      expect(existsSync(`${NETNS_DIR}/${ownNs}`)).toBe(true);
    } finally {
      alive.kill('SIGKILL');
      for (const ns of [deadNs, liveNs, ownNs]) await run(['ip', 'netns', 'delete', ns], { allowFail: true });
    }
  });

  it('throws instead of skipping when CI is set and the process is not root', async () => {
    const asNobody = (ci: string | undefined) => run([
      'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', TSX_LOADER,
      '--input-type=module', '-e', `const h = await import('${PROJECT_ROOT}/test/netns/harness.ts'); console.log('available', h.netnsAvailable);`,
    ], { env: { CI: ci }, allowFail: true, timeoutMs: 20_000 });
    const [inCi, outsideCi] = await Promise.all([asNobody('1'), asNobody(undefined)]);
    expect(inCi.code).not.toBe(0);
    expect(inCi.stderr).toMatch(/namespace tests cannot run: the process is not root \(uid 65534\).*must not be skipped when CI is set/);
    expect(outsideCi).toMatchObject({ code: 0, stdout: 'available false\n' });
  });

  it('capture starts tcpdump ready to see the next frame', async () => {
    const [a, obs] = [seg.host('a'), seg.observer];
    const tcpdump = await seg.capture(obs, ['icmp', 'and', 'host', a.ipv4]);
    expect(await pings(a, obs.ipv4)).toBe(true);
    await waitFor(() => tcpdump.stdout.includes('echo reply'), { what: 'tcpdump to print the reply' });
    tcpdump.kill('SIGINT');
    await tcpdump.wait();
    expect(tcpdump.stdout).toContain(`${a.ipv4} > ${obs.ipv4}: ICMP echo request`);
  });

  it('applies concurrent filter changes in the order they were asked for', async () => {
    const [a, b] = [seg.host('a'), seg.host('b')];
    await Promise.all([seg.block(a, b), seg.loss(a, 5), seg.unblock(a, b), seg.loss(b, 7), seg.clearLoss(b)]);
    try {
      const chain = (await seg.exec(seg.switchNs, ['nft', 'list', 'chain', 'bridge', 'vippytest', 'forward'])).stdout;
      expect(chain.match(/numgen random mod 100 < 5 /g)).toHaveLength(2);
      expect(chain).not.toMatch(/< 7 |oifname "port1" counter/);
    } finally {
      await seg.clearLoss(a);
    }
  });

  it('deletes the namespaces of a process that exits without destroy()', async () => {
    const script = `const { Segment } = await import('${PROJECT_ROOT}/test/netns/harness.ts');` +
      `const seg = await Segment.create({ hosts: 1 }); console.log(seg.namespaces.join(' '));`;
    const { stdout } = await run([process.execPath, '--import', TSX_LOADER, '--input-type=module', '-e', script], { timeoutMs: 20_000 });
    const namespaces = stdout.trim().split(' ');
    expect(namespaces).toHaveLength(3);
    for (const ns of namespaces) expect(existsSync(`${NETNS_DIR}/${ns}`)).toBe(false);
  });
});
