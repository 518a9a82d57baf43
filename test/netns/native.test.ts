// The native addon against the real kernel. Addon calls run in fixture scripts inside a host
// namespace (test/netns/fixtures/native-*.ts); what they did is read back with independent tools:
// `ip -j addr`, `ip -j neigh` and tcpdump in the observer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, Segment, TSX_LOADER, netnsAvailable, waitFor, type Host, type Spawned } from './harness.js';

const CALL_FIXTURE = 'test/netns/fixtures/native-call.ts';
const WATCH_FIXTURE = 'test/netns/fixtures/native-watch.ts';
const MUTE_SOURCE = 'test/netns/fixtures/netlink-mute.cc';

type Step = { call: string; args?: unknown[] } | { frame: string; args?: unknown[] } | { pause: number } | { await: string };
interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  interface?: string;
  address?: string;
  extack?: string;
}
type Outcome = { ok: unknown; error?: undefined } | { error: ErrorInfo; ok?: undefined };

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  label?: string;
  broadcast?: string;
  tentative?: boolean;
  nodad?: boolean;
  valid_life_time?: number;
  preferred_life_time?: number;
}
interface IpNeigh {
  dst: string;
  lladdr?: string;
  state: string[];
}

describe.skipIf(!netnsAvailable)('native addon (real kernel)', () => {
  let seg: Segment;
  let a: Host;
  let b: Host;
  let obs: Host;

  let scratch: string;
  let awaits = 0;
  beforeAll(async () => {
    seg = await Segment.create({ hosts: ['a', 'b'], observer: true });
    [a, b, obs] = [seg.host('a'), seg.host('b'), seg.observer];
    scratch = mkdtempSync(join(tmpdir(), 'vippy-native-'));
  });
  afterAll(async () => {
    await seg?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** A step that blocks the fixture until `onAwait` (given to calls()) has run. */
  const awaitStep = (): Step => ({ await: join(scratch, `await-${awaits++}`) });

  /**
   * Runs the steps in `host` (as root, or as nobody without capabilities); the process must exit 0.
   * At each await step, onAwait(pid) runs before the fixture goes on.
   */
  async function calls(host: Host, steps: Step[], { unprivileged = false, onAwait }: { unprivileged?: boolean; onAwait?: (pid: number) => Promise<void> } = {}): Promise<Outcome[]> {
    const json = JSON.stringify(steps);
    const child = unprivileged
      ? seg.spawn(host, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
          process.execPath, '--import', TSX_LOADER, `${PROJECT_ROOT}/${CALL_FIXTURE}`, json], { cwd: PROJECT_ROOT })
      : seg.node(host, CALL_FIXTURE, [json]);
    const handlerErrors: unknown[] = [];
    child.onLine((line, stream) => {
      if (stream !== 'stdout' || !line.startsWith('{"awaiting"')) return;
      const { awaiting, pid } = JSON.parse(line) as { awaiting: string; pid: number };
      void (onAwait ?? (async () => {}))(pid).catch((error: unknown) => handlerErrors.push(error))
        .finally(() => writeFileSync(awaiting, ''));
    });
    const status = await child.wait();
    if (handlerErrors.length > 0) throw handlerErrors[0];
    expect(status, `native-call exited badly\nstderr: ${child.stderr}`).toEqual({ code: 0, signal: null });
    const outcomes = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Outcome[];
    expect(outcomes).toHaveLength(steps.length);
    return outcomes;
  }

  async function addresses(host: Host): Promise<IpAddrInfo[]> {
    const [link] = JSON.parse((await seg.exec(host, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout);
    return link.addr_info;
  }

  async function neighbour(host: Host, ip: string): Promise<IpNeigh | undefined> {
    const entries = JSON.parse((await seg.exec(host, ['ip', '-j', 'neigh', 'show', 'dev', 'eth0', 'to', ip])).stdout);
    return (entries as IpNeigh[]).find((n) => n.dst === ip);
  }

  /** Ping until a reply comes (a link just brought back up may need a moment). */
  async function ping(from: Host, ip: string): Promise<void> {
    await waitFor(async () => (await seg.exec(from, ['ping', '-n', '-q', '-c', '1', '-W', '0.5', ip], { allowFail: true })).code === 0,
      { what: `ping ${ip} from ${from.name}` });
  }

  const addReq = (address: string, prefixLength: number, extra: Record<string, unknown> = {}) =>
    ({ interface: 'eth0', address, prefixLength, ...extra });

  describe('addresses', () => {
    it('adds an IPv4 address with prefix, label and broadcast, and deletes it', async () => {
      const vip = addReq('192.0.2.50', 24, { label: 'eth0:vip', broadcast: '+' });
      const other = addReq('198.51.100.7', 28, { broadcast: '198.51.100.9' });
      const host32 = addReq('203.0.113.5', 32, { broadcast: '+' });
      const added = await calls(a, [
        { call: 'addAddress', args: [vip] },
        { call: 'addAddress', args: [other] },
        { call: 'addAddress', args: [host32] },
        { call: 'listAddresses', args: [4] },
      ]);
      expect(added.slice(0, 3)).toEqual([{ ok: null }, { ok: null }, { ok: null }]);
      const shown = await addresses(a);
      expect(shown.find((x) => x.local === '192.0.2.50')).toMatchObject(
        { family: 'inet', prefixlen: 24, label: 'eth0:vip', broadcast: '192.0.2.255' });
      expect(shown.find((x) => x.local === '198.51.100.7')).toMatchObject(
        { family: 'inet', prefixlen: 28, label: 'eth0', broadcast: '198.51.100.9' });
      // "+" computes no broadcast for a /32, like `ip addr add … brd +`.
      const single = shown.find((x) => x.local === '203.0.113.5');
      expect(single).toMatchObject({ prefixlen: 32 });
      expect(single?.broadcast).toBeUndefined();
      // The addon's own listing agrees with iproute2.
      expect(added[3]!.ok).toContainEqual(expect.objectContaining(
        { family: 4, address: '192.0.2.50', prefixLength: 24, interface: 'eth0', ifindex: a.ifindex,
          label: 'eth0:vip', broadcast: '192.0.2.255', tentative: false }));

      const deleted = await calls(a, [vip, other, host32].map((req) => ({ call: 'deleteAddress', args: [req] })));
      expect(deleted).toEqual([{ ok: null }, { ok: null }, { ok: null }]);
      const locals = (await addresses(a)).map((x) => x.local);
      expect(locals).not.toContain('192.0.2.50');
      expect(locals).not.toContain('198.51.100.7');
      expect(locals).not.toContain('203.0.113.5');
      expect(locals).toContain(a.ipv4);
    });

    it('adds an IPv6 VIP with NODAD so it is never tentative', async () => {
      // The harness turns DAD off; turn it on so that a plain add would be tentative.
      await seg.exec(a, ['sysctl', '-q', '-w', 'net.ipv6.conf.eth0.accept_dad=1']);
      try {
        const [outcome] = await calls(a, [{ call: 'addAddress', args: [addReq('2001:db8::50', 64)] }]);
        await seg.exec(a, ['ip', 'addr', 'add', '2001:db8::77/64', 'dev', 'eth0']);
        const shown = await addresses(a);
        expect(outcome).toEqual({ ok: null });
        expect(shown.find((x) => x.local === '2001:db8::77')?.tentative).toBe(true); // the control
        const vip = shown.find((x) => x.local === '2001:db8::50');
        expect(vip).toMatchObject({ family: 'inet6', prefixlen: 64, nodad: true });
        expect(vip?.tentative).toBeUndefined();
      } finally {
        await seg.exec(a, ['ip', 'addr', 'del', '2001:db8::77/64', 'dev', 'eth0'], { allowFail: true });
        await seg.exec(a, ['ip', 'addr', 'del', '2001:db8::50/64', 'dev', 'eth0'], { allowFail: true });
        await seg.exec(a, ['sysctl', '-q', '-w', 'net.ipv6.conf.eth0.accept_dad=0']);
      }
    });

    it('gives the documented results for duplicate adds and deletes, in both families', async () => {
      for (const [address, prefixLength] of [['192.0.2.52', 32], ['2001:db8::52', 128]] as const) {
        const req = addReq(address, prefixLength);
        const outcomes = await calls(a, [
          { call: 'addAddress', args: [req] },
          { call: 'addAddress', args: [req] },
          { call: 'ensureAddress', args: [req] },
          { call: 'deleteAddress', args: [req] },
          { call: 'deleteAddress', args: [req] },
          { call: 'ensureNoAddress', args: [req] },
          { call: 'ensureAddress', args: [req] },
          { call: 'ensureAddress', args: [req] },
          { call: 'ensureNoAddress', args: [req] },
        ]);
        expect(outcomes[0]).toEqual({ ok: null });
        expect(outcomes[1]!.error).toMatchObject({
          name: 'Error', code: 'EEXIST', errno: -17, syscall: 'RTM_NEWADDR', interface: 'eth0', address,
          message: expect.stringMatching(new RegExp(`^RTM_NEWADDR ${address}/${prefixLength} on eth0: EEXIST \\(File exists\\)`)),
        });
        expect(outcomes[2]).toEqual({ ok: false });
        expect(outcomes[3]).toEqual({ ok: null });
        expect(outcomes[4]!.error).toMatchObject({
          code: 'EADDRNOTAVAIL', errno: -99, syscall: 'RTM_DELADDR', interface: 'eth0', address });
        expect(outcomes.slice(5)).toEqual([{ ok: false }, { ok: true }, { ok: false }, { ok: true }]);
        expect((await addresses(a)).map((x) => x.local)).not.toContain(address);
      }
      // The kernel's extended ACK reaches the error (IPv4 duplicates have one on current kernels).
      const [, duplicate] = await calls(a, [
        { call: 'addAddress', args: [addReq('192.0.2.53', 32)] },
        { call: 'addAddress', args: [addReq('192.0.2.53', 32)] },
        { call: 'deleteAddress', args: [addReq('192.0.2.53', 32)] },
      ]);
      expect(duplicate!.error?.extack).toBeTypeOf('string');
      expect(duplicate!.error?.message).toContain(`: ${duplicate!.error?.extack}`);
    });

    it('a lifetime: listed as validLifetime, renewed by ensureAddress, then the kernel deletes the address by itself', async () => {
      const leased = [addReq('192.0.2.54', 24, { label: 'eth0:vip', broadcast: '+', lifetimeSeconds: 2 }), addReq('2001:db8::54', 64, { lifetimeSeconds: 2 })];
      const outcomes = await calls(a, [
        { call: 'addAddress', args: [leased[0]] },
        { call: 'ensureAddress', args: [leased[1]] },
        { call: 'listAddresses' },
        { pause: 1_200 },
        ...leased.map((req) => ({ call: 'ensureAddress', args: [req] })),
      ]);
      const monitor = seg.spawn(a, ['ip', 'monitor', 'address']);
      try {
        expect(outcomes[1]).toEqual({ ok: true });
        const listed = outcomes[2]!.ok as { address: string; validLifetime?: number }[];
        expect(listed.filter((x) => x.address.endsWith('54')).map((x) => [x.address, x.validLifetime])).toEqual([['192.0.2.54', 2], ['2001:db8::54', 2]]);
        expect(listed.find((x) => x.address === a.ipv4)?.validLifetime).toBeUndefined(); // permanent
        // Renewed (false: already there) 1.2 s in, so 2 s left again, not 1 (IPv6 keeps NODAD).
        expect(outcomes.slice(4)).toEqual([{ ok: false }, { ok: false }]);
        const shown = (await addresses(a)).filter((x) => x.local.endsWith('54'));
        expect(shown).toEqual([
          expect.objectContaining({ local: '192.0.2.54', label: 'eth0:vip', valid_life_time: 2, preferred_life_time: 2 }),
          expect.objectContaining({ local: '2001:db8::54', nodad: true, valid_life_time: 2, preferred_life_time: 2 }),
        ]);
        await waitFor(async () => (await addresses(a)).every((x) => !x.local.endsWith('54')), { timeoutMs: 4_000, what: 'leased addresses expired' });
        expect(monitor.stdout).toMatch(/^Deleted .*192\.0\.2\.54\/24/m);
        expect(monitor.stdout).toMatch(/^Deleted .*2001:db8::54\/64/m);
      } finally {
        monitor.kill('SIGTERM');
        await monitor.wait();
      }
    });

    it('names a missing interface: ENODEV with a readable message', async () => {
      const [outcome] = await calls(a, [{ call: 'addAddress', args: [{ interface: 'eth9', address: '192.0.2.10', prefixLength: 32 }] }]);
      expect(outcome!.error).toEqual({
        name: 'Error', message: 'RTM_NEWADDR 192.0.2.10/32 on eth9: ENODEV (No such device)', code: 'ENODEV',
        errno: -19, syscall: 'RTM_NEWADDR', interface: 'eth9', address: '192.0.2.10',
      });
    });

    it('rejects bad input with a TypeError naming the field, changing nothing', async () => {
      const before = await addresses(a);
      const bad: [unknown, RegExp][] = [
        [undefined, /^addAddress: req must be an object/],
        [{ address: '192.0.2.60', prefixLength: 32 }, /^addAddress: req\.interface must be a string/],
        [addReq('192.0.2.300', 32), /^addAddress: req\.address must be an IP address, got "192\.0\.2\.300"/],
        [addReq('192.0.2.60', 33), /^addAddress: req\.prefixLength must be an integer from 0 to 32, got 33/],
        [addReq('2001:db8::60', 129), /^addAddress: req\.prefixLength must be an integer from 0 to 128/],
        [addReq('192.0.2.60', 24.5), /^addAddress: req\.prefixLength must be an integer/],
        [{ interface: 'eth0', address: '192.0.2.60' }, /^addAddress: req\.prefixLength .* got undefined/],
        [addReq('2001:db8::60', 64, { label: 'eth0:x' }), /^addAddress: req\.label is for IPv4 addresses only/],
        [addReq('192.0.2.60', 24, { label: 'a-label-that-is-too-long' }), /^addAddress: req\.label must be 1 to 15 characters/],
        [addReq('192.0.2.60', 24, { broadcast: 'everywhere' }), /^addAddress: req\.broadcast .* must be an IPv4 address/],
        [addReq('192.0.2.60', 32, { lifetimeSeconds: 0 }), /^addAddress: req\.lifetimeSeconds \(or Infinity\) must be an integer from 1 to 2147483647, got 0/],
        [addReq('192.0.2.60', 32, { lifetimeSeconds: 1.5 }), /^addAddress: req\.lifetimeSeconds .* got 1\.5/],
        [addReq('2001:db8::60', 128, { lifetimeSeconds: '5' }), /^addAddress: req\.lifetimeSeconds .* got "5"/],
      ];
      const outcomes = await calls(a, [
        ...bad.map(([req]) => ({ call: 'addAddress', args: [req] })),
        { call: 'listNeighbours', args: [5] },
        { frame: 'garp', args: [a.ifindex, '2001:db8::1', 'request'] },
        { frame: 'garp', args: [a.ifindex, '192.0.2.60', 'sideways'] },
        { frame: 'arpReply', args: [a.ifindex, '192.0.2.60', obs.ipv4, 'not-a-mac'] },
        { frame: 'unsolicitedNa', args: [0, '2001:db8::60'] },
      ]);
      const expected = [
        ...bad.map(([, message]) => message),
        /^listNeighbours: family must be 4, 6 or undefined/,
        /^garp: ip must be an IPv4 address/,
        /^garp: form must be "request" or "reply"/,
        /^arpReply: targetMac must be a MAC address/,
        /^unsolicitedNa: ifindex must be an integer from 1/,
      ];
      outcomes.forEach((outcome, i) => {
        expect(outcome.error?.name, `step ${i}`).toBe('TypeError');
        expect(outcome.error?.message, `step ${i}`).toMatch(expected[i]!);
      });
      expect(await addresses(a)).toEqual(before);
    });

    it('fails with EPERM errors, never a crash, for an unprivileged user', async () => {
      const outcomes = await calls(a, [
        { call: 'addAddress', args: [addReq('192.0.2.61', 32)] },
        { call: 'deleteAddress', args: [addReq(a.ipv4, 24)] },
        { call: 'ensureAddress', args: [addReq('2001:db8::61', 128)] },
        { frame: 'garp', args: [a.ifindex, a.ipv4, 'request'] },
        { call: 'listInterfaces' },
      ], { unprivileged: true });
      expect(outcomes[0]!.error).toMatchObject({ code: 'EPERM', syscall: 'RTM_NEWADDR', interface: 'eth0', address: '192.0.2.61',
        message: expect.stringMatching(/^RTM_NEWADDR 192\.0\.2\.61\/32 on eth0: EPERM \(Operation not permitted\)/) });
      expect(outcomes[1]!.error).toMatchObject({ code: 'EPERM', syscall: 'RTM_DELADDR' });
      expect(outcomes[2]!.error).toMatchObject({ code: 'EPERM', syscall: 'RTM_NEWADDR' });
      expect(outcomes[3]!.error).toMatchObject({ code: 'EPERM', syscall: 'socket(AF_PACKET)' });
      // Reading needs no privilege.
      expect(outcomes[4]!.ok).toContainEqual(expect.objectContaining({ name: 'eth0', index: a.ifindex, mac: a.mac }));
      const locals = (await addresses(a)).map((x) => x.local);
      expect(locals).toContain(a.ipv4);
      expect(locals).not.toContain('192.0.2.61');
    });
  });

  describe('deadlines', () => {
    let mute: string;
    beforeAll(() => {
      mute = join(scratch, 'netlink-mute');
      execFileSync('g++', ['-O1', '-o', mute, join(PROJECT_ROOT, MUTE_SOURCE)]);
    });

    /** The descriptor of the process's request socket: NETLINK_ROUTE (protocol 0), in no group. */
    function requestSocketFd(pid: number): number {
      // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
      const rows = readFileSync(`/proc/${pid}/net/netlink`, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      const inodes = new Set(rows.filter(([, protocol, port, groups]) => protocol === '0' && port !== '0' && groups === '00000000').map((r) => r[9]));
      const fds = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '');
        } catch {
          return false; // closed meanwhile
        }
      });
      expect(fds, `netlink request sockets of ${pid}`).toHaveLength(1);
      return Number(fds[0]);
    }

    it('a request or dump the kernel never answers fails with ETIMEDOUT naming it, and the next call gets a fresh socket', async () => {
      const req = addReq('192.0.2.80', 32);
      try {
        // Each await step mutes the request socket the process has open at that point: the kernel
        // carries requests out, but its replies are dropped on delivery.
        const outcomes = await calls(a, [
          { call: 'listInterfaces' },
          awaitStep(),
          { call: 'ensureAddress', args: [req] },
          { call: 'listAddresses', args: [4] },
          awaitStep(),
          { call: 'listNeighbours' },
          { call: 'listInterfaces' },
        ], { onAwait: async (pid) => { await seg.exec(a, [mute, String(pid), String(requestSocketFd(pid))]); } });
        expect(outcomes[2]!.error).toEqual({
          name: 'Error', code: 'ETIMEDOUT', errno: -110, syscall: 'RTM_NEWADDR', interface: 'eth0', address: '192.0.2.80',
          message: 'RTM_NEWADDR 192.0.2.80/32 on eth0: ETIMEDOUT (Connection timed out): no reply from the kernel within 1000 ms; the request may have been carried out',
        });
        // It was: only the ACK was lost. The next call works, on a new socket.
        expect(outcomes[3]!.ok).toContainEqual(expect.objectContaining({ address: '192.0.2.80', interface: 'eth0' }));
        expect((await addresses(a)).map((x) => x.local)).toContain('192.0.2.80');
        expect(outcomes[5]!.error).toMatchObject({ name: 'Error', code: 'ETIMEDOUT', syscall: 'RTM_GETNEIGH',
          message: expect.stringMatching(/^RTM_GETNEIGH: ETIMEDOUT \(Connection timed out\): no reply from the kernel within 1000 ms/) });
        expect(outcomes[6]!.ok).toContainEqual(expect.objectContaining({ name: 'eth0', index: a.ifindex }));
      } finally {
        await seg.exec(a, ['ip', 'addr', 'del', '192.0.2.80/32', 'dev', 'eth0'], { allowFail: true });
      }
    });
  });

  describe('events', () => {
    type Event = Record<string, unknown> & { type: string };
    function collect(child: Spawned): Event[] {
      const events: Event[] = [];
      child.onLine((line, stream) => {
        if (stream === 'stdout' && line.startsWith('{"events"')) events.push(...(JSON.parse(line).events as Event[]));
      });
      return events;
    }
    const waitEvent = (events: Event[], what: string, match: Record<string, unknown>) =>
      waitFor(() => events.find((e) => Object.entries(match).every(([k, v]) => e[k] === v)), { what, timeoutMs: 5_000 });

    it('reports address add/delete and link down/up, and a closed watcher lets the process exit', async () => {
      const watcher = seg.node(a, WATCH_FIXTURE);
      const events = collect(watcher);
      await watcher.waitForLine('{"ready":true}');

      await seg.exec(a, ['ip', 'addr', 'add', '192.0.2.62/32', 'dev', 'eth0', 'label', 'eth0:ev']);
      expect(await waitEvent(events, 'address new', { type: 'address', action: 'new', address: '192.0.2.62' })).toMatchObject(
        { family: 4, prefixLength: 32, ifindex: a.ifindex, interface: 'eth0', label: 'eth0:ev' });
      await seg.exec(a, ['ip', 'addr', 'add', '2001:db8::62/128', 'dev', 'eth0', 'nodad']);
      expect(await waitEvent(events, 'address new v6', { type: 'address', action: 'new', address: '2001:db8::62' })).toMatchObject(
        { family: 6, prefixLength: 128, nodad: true, tentative: false });
      await seg.exec(a, ['ip', 'addr', 'del', '192.0.2.62/32', 'dev', 'eth0']);
      await waitEvent(events, 'address delete', { type: 'address', action: 'delete', address: '192.0.2.62' });
      await seg.exec(a, ['ip', 'addr', 'del', '2001:db8::62/128', 'dev', 'eth0']);
      await waitEvent(events, 'address delete v6', { type: 'address', action: 'delete', address: '2001:db8::62' });

      // Carrier lost at the switch: still administratively up, no longer running.
      await seg.cutLink(a);
      expect(await waitEvent(events, 'carrier down', { type: 'link', index: a.ifindex, lowerUp: false })).toMatchObject(
        { action: 'new', name: 'eth0', mac: a.mac, up: true, running: false });
      await seg.restoreLink(a);
      await waitEvent(events, 'carrier up', { type: 'link', index: a.ifindex, lowerUp: true, running: true });
      // Administratively down and up on the host.
      const before = events.length;
      await seg.linkDown(a);
      await waitFor(() => events.slice(before).find((e) => e.type === 'link' && e.index === a.ifindex && e.up === false),
        { what: 'link down' });
      await seg.linkUp(a);
      await waitFor(() => events.slice(before).find((e) => e.type === 'link' && e.index === a.ifindex && e.up === true),
        { what: 'link up' });

      // Still running with the watcher open; closing it is all it takes to exit.
      expect(watcher.exit).toBeUndefined();
      watcher.kill('SIGUSR2');
      expect(await watcher.wait()).toEqual({ code: 0, signal: null });
      expect(watcher.stdout).toContain('{"closed":true}');
    });

    it('an unref()ed watcher does not keep the process alive', async () => {
      const watcher = seg.node(a, WATCH_FIXTURE, ['--unref']);
      expect(await watcher.wait()).toEqual({ code: 0, signal: null });
      expect(watcher.stdout).toContain('{"ready":true}');
    });

    it('reports an overrun when the kernel drops events', async () => {
      // A spare link to flap (veth: the dummy module may be missing).
      await seg.exec(a, ['ip', 'link', 'add', 'spare0', 'type', 'veth', 'peer', 'name', 'spare1']);
      const release = join(mkdtempSync(join(tmpdir(), 'vippy-native-')), 'release');
      try {
        // The first event stalls the watcher's loop while link flaps fill its socket buffer.
        const watcher = seg.node(a, WATCH_FIXTURE, ['--stall-until', release]);
        const events = collect(watcher);
        await watcher.waitForLine('{"ready":true}');
        await seg.exec(a, ['ip', 'link', 'set', 'spare0', 'up']);
        await watcher.waitForLine('{"events"');
        const flaps = Array.from({ length: 1500 }, () => 'link set spare0 down\nlink set spare0 up').join('\n');
        await seg.exec(a, ['ip', '-batch', '-'], { input: flaps + '\n' });
        expect(events.some((e) => e.type === 'overrun')).toBe(false);
        writeFileSync(release, '');
        await waitEvent(events, 'overrun', { type: 'overrun' });
        // The overrun showed as a poll error (libuv then stops the handle); watching goes on.
        await seg.exec(a, ['ip', 'addr', 'add', '192.0.2.63/32', 'dev', 'spare0']);
        await waitEvent(events, 'an address added after the overrun', { type: 'address', action: 'new', address: '192.0.2.63' });
        expect(events.filter((e) => e.type === 'failed')).toEqual([]);
        watcher.kill('SIGUSR2');
        expect(await watcher.wait()).toEqual({ code: 0, signal: null });
      } finally {
        rmSync(dirname(release), { recursive: true, force: true });
        await seg.exec(a, ['ip', 'link', 'del', 'spare0']);
      }
    });
  });

  describe('neighbours', () => {
    it('lists the observer, with its MAC, after it pings the host; incomplete entries are left out', async () => {
      await ping(obs, a.ipv4);
      await ping(obs, a.ipv6);
      // An address nobody holds leaves an incomplete (then failed) entry behind.
      await seg.exec(a, ['ping', '-n', '-q', '-c', '1', '-W', '0.3', '192.0.2.199'], { allowFail: true });
      expect((await neighbour(a, '192.0.2.199'))?.state).toEqual([expect.stringMatching(/INCOMPLETE|FAILED/)]);

      const [all, v4, v6] = await calls(a, [{ call: 'listNeighbours' }, { call: 'listNeighbours', args: [4] },
        { call: 'listNeighbours', args: [6] }]);
      const entry = { interface: 'eth0', ifindex: a.ifindex, mac: obs.mac, state: expect.stringMatching(/^(reachable|stale|delay|probe)$/) };
      expect(all!.ok).toContainEqual({ family: 4, ip: obs.ipv4, ...entry });
      expect(all!.ok).toContainEqual({ family: 6, ip: obs.ipv6, ...entry });
      expect(v4!.ok).toEqual((all!.ok as { family: number }[]).filter((n) => n.family === 4));
      expect(v6!.ok).toEqual((all!.ok as { family: number }[]).filter((n) => n.family === 6));
      for (const n of all!.ok as { ip: string; mac: string }[]) {
        expect(n.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(n.ip).not.toMatch(/^(ff|22[4-9]\.|2[3-9]\d\.)/);
        expect(n.ip).not.toBe('192.0.2.199');
      }
    });
  });

  describe('frames', () => {
    let tcpdump: Spawned;
    beforeAll(async () => {
      tcpdump = seg.spawn(obs, ['tcpdump', '-l', '-n', '-e', '-vv', '-i', 'eth0', 'arp or icmp6']);
      await tcpdump.waitForLine(/listening on eth0/);
    });
    afterAll(() => tcpdump?.kill('SIGTERM'));

    /** The observer has `ip` cached at a's MAC (it pinged it while a held it); then b takes it. */
    async function moveFromAToB(ips: [string, number][]): Promise<void> {
      for (const [ip, prefix] of ips) await seg.exec(a, ['ip', 'addr', 'add', `${ip}/${prefix}`, 'dev', 'eth0', 'nodad']);
      for (const [ip] of ips) await ping(obs, ip);
      for (const [ip] of ips) expect((await neighbour(obs, ip))?.lladdr).toBe(a.mac);
      for (const [ip, prefix] of ips) await seg.exec(a, ['ip', 'addr', 'del', `${ip}/${prefix}`, 'dev', 'eth0']);
      for (const [ip, prefix] of ips) await seg.exec(b, ['ip', 'addr', 'add', `${ip}/${prefix}`, 'dev', 'eth0', 'nodad']);
    }

    it('a GARP of either form from b switches the observer\'s entry from a\'s MAC to b\'s', async () => {
      await moveFromAToB([['192.0.2.70', 32], ['192.0.2.71', 32]]);
      const sent = await calls(b, [
        { frame: 'garp', args: [b.ifindex, '192.0.2.70', 'request'] },
        { frame: 'garp', args: [b.ifindex, '192.0.2.71', 'reply'] },
      ]);
      expect(sent).toEqual([{ ok: null }, { ok: null }]);
      await waitFor(async () => (await neighbour(obs, '192.0.2.70'))?.lladdr === b.mac, { what: 'request-form GARP taken' });
      await waitFor(async () => (await neighbour(obs, '192.0.2.71'))?.lladdr === b.mac, { what: 'reply-form GARP taken' });

      // The observer's own ARP traffic is in the capture too: pick b's frames by source MAC.
      const request = await tcpdump.waitForLine(`${b.mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has 192.0.2.70`);
      expect(request).toMatch(/Request who-has 192\.0\.2\.70 \(ff:ff:ff:ff:ff:ff\) tell 192\.0\.2\.70, length 28/);
      const reply = await tcpdump.waitForLine(`${b.mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Reply 192.0.2.71`);
      expect(reply).toContain(`${b.mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)`);
      expect(reply).toContain(`Reply 192.0.2.71 is-at ${b.mac}, length 28`);
    });

    it('a unicast ARP reply goes to the given MAC', async () => {
      const [sent] = await calls(b, [{ frame: 'arpReply', args: [b.ifindex, '192.0.2.72', obs.ipv4, obs.mac] }]);
      expect(sent).toEqual({ ok: null });
      const line = await tcpdump.waitForLine(`${b.mac} > ${obs.mac}, ethertype ARP (0x0806)`);
      expect(line).toContain(`Reply 192.0.2.72 is-at ${b.mac}, length 28`);
    });

    it('an unsolicited NA from b switches the observer\'s IPv6 entry, and tcpdump finds it well formed', async () => {
      await moveFromAToB([['2001:db8::70', 64]]);
      const [sent] = await calls(b, [{ frame: 'unsolicitedNa', args: [b.ifindex, '2001:db8::70'] }]);
      expect(sent).toEqual({ ok: null });
      await waitFor(async () => (await neighbour(obs, '2001:db8::70'))?.lladdr === b.mac, { what: 'NA taken' });

      const header = await tcpdump.waitForLine(`${b.mac} > 33:33:00:00:00:01, ethertype IPv6 (0x86dd)`);
      expect(header).toContain('hlim 255, next-header ICMPv6 (58) payload length: 32');
      expect(header).toContain('2001:db8::70 > ff02::1: [icmp6 sum ok] ICMP6, neighbor advertisement, length 32');
      expect(header).toContain('tgt is 2001:db8::70, Flags [override]');
      // The option is on tcpdump's next line, which may be printed a moment after the header.
      await tcpdump.waitForLine(`destination link-address option (2), length 8 (1): ${b.mac}`);
      const lines = tcpdump.stdout.split('\n');
      const option = lines[lines.indexOf(header) + 1];
      expect(option).toMatch(new RegExp(`destination link-address option \\(2\\), length 8 \\(1\\): ${b.mac}`));
    });

    it('the send-only packet socket is bound to no protocol and queues nothing it receives', async () => {
      const sender = seg.node(b, CALL_FIXTURE, [JSON.stringify([{ frame: 'garp', args: [b.ifindex, b.ipv4, 'request'] }, { pause: 5_000 }])]);
      // /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode
      const packetSockets = async () => (await seg.exec(b, ['cat', '/proc/net/packet'])).stdout.trim().split('\n').slice(1)
        .map((line) => line.trim().split(/\s+/)).map(([, , type, proto, , running, rmem]) => ({ type, proto, running, rmem }));
      await waitFor(async () => (await packetSockets()).length > 0, { what: 'the sender\'s packet socket' });
      for (let i = 0; i < 3; i++) await ping(obs, b.ipv4);
      await seg.exec(obs, ['ping', '-n', '-q', '-b', '-c', '3', '-i', '0.05', '-W', '0.3', '192.0.2.255'], { allowFail: true });
      expect(await packetSockets()).toEqual([{ type: '2', proto: '0000', running: '0', rmem: '0' }]);
      expect(await sender.wait()).toEqual({ code: 0, signal: null });
    });

    it('frames after `ip link set address` carry the new MAC, not the one remembered from the first frame', async () => {
      const newMac = '02:00:5e:00:53:0b';
      await seg.exec(b, ['ip', 'addr', 'add', '2001:db8::73/64', 'dev', 'eth0', 'nodad']);
      try {
        const outcomes = await calls(b, [
          { frame: 'garp', args: [b.ifindex, '192.0.2.73', 'reply'] },
          awaitStep(),
          { frame: 'garp', args: [b.ifindex, '192.0.2.73', 'reply'] },
          { frame: 'unsolicitedNa', args: [b.ifindex, '2001:db8::73'] },
        ], { onAwait: async () => { await seg.exec(b, ['ip', 'link', 'set', 'dev', 'eth0', 'address', newMac]); } });
        expect(outcomes.map((o) => o.error)).toEqual([undefined, undefined, undefined, undefined]);
        await tcpdump.waitForLine(`Reply 192.0.2.73 is-at ${b.mac}`);
        // The kernel writes the Ethernet source; the ARP sender and the NA's option are the addon's.
        const reply = await tcpdump.waitForLine(`Reply 192.0.2.73 is-at ${newMac}`);
        expect(reply).toContain(`${newMac} > ff:ff:ff:ff:ff:ff, ethertype ARP`);
        const header = await tcpdump.waitForLine(`${newMac} > 33:33:00:00:00:01, ethertype IPv6 (0x86dd)`);
        await tcpdump.waitForLine(`destination link-address option (2), length 8 (1): ${newMac}`);
        const lines = tcpdump.stdout.split('\n');
        expect(lines[lines.indexOf(header) + 1]).toContain(`destination link-address option (2), length 8 (1): ${newMac}`);
      } finally {
        await seg.exec(b, ['ip', 'link', 'set', 'dev', 'eth0', 'address', b.mac]);
        await seg.exec(b, ['ip', 'addr', 'del', '2001:db8::73/64', 'dev', 'eth0'], { allowFail: true });
      }
    });

    it('a frame for an interface that does not exist fails with ENODEV', async () => {
      const [outcome] = await calls(b, [{ frame: 'garp', args: [9999, '192.0.2.70', 'request'] }]);
      expect(outcome!.error).toMatchObject({ name: 'Error', code: 'ENODEV', address: '192.0.2.70' });
    });
  });

  describe('syslog', () => {
    it('opens, writes and closes; unknown facility and level names are TypeErrors', async () => {
      const outcomes = await calls(a, [
        { call: 'openlog', args: ['vippy-test', 'local7'] },
        { call: 'syslog', args: ['info', 'native test message'] },
        { call: 'closelog' },
        { call: 'openlog', args: ['vippy-test', 'local8'] },
        { call: 'syslog', args: ['loud', 'x'] },
      ]);
      expect(outcomes.slice(0, 3)).toEqual([{ ok: null }, { ok: null }, { ok: null }]);
      expect(outcomes[3]!.error).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/^openlog: facility must be one of kern, .*local7, got "local8"/) });
      expect(outcomes[4]!.error).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/^syslog: level must be one of emerg, .*debug, got "loud"/) });
    });
  });
});
