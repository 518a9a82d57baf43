// A routed test bed on a harness segment: the segment is a rack whose "top of rack" router (host
// `rtr`) runs BIRD 2 in eBGP (with BFD) with every node's own BIRD 2; a client namespace on
// another subnet (198.51.100.0/30, 2001:db8:c::/64) sits behind the router. Nodes export the VIPs
// vippyd plumbs on its dummy link (`protocol direct`) or puts in a kernel table (`protocol
// kernel` with `learn`); the router installs what it learns in its kernel, and its BIRD log
// (route tracing with millisecond timestamps) and `birdc show route` are the judges.
//
//   client <prefix>-cli  eth0 198.51.100.2/30 2001:db8:c::2/64 ⇄ cli0 on rtr (198.51.100.1, 2001:db8:c::1)
//   rtr    <prefix>-rtr  eth0 192.0.2.10/24 2001:db8::10/64, AS 65000
//   node i <prefix>-<n>  eth0 192.0.2.<11+i>/24 2001:db8::<11+i>/64, AS 65001+i
//
// Every BIRD's config, control socket, pid file and log live in a temp directory; the daemons
// run inside the namespaces (destroying the segment kills them).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor, type Host, type Segment, type Spawned } from '../harness.js';

export const ROUTER = 'rtr';
export const CLIENT_V4 = '198.51.100.2';
export const CLIENT_V6 = '2001:db8:c::2';
const ROUTER_ASN = 65000;

export type ExportForm = 'interface' | 'table';

export interface RoutedBedOptions {
  /** How the nodes' BIRD picks up the VIPs: vippyd's dummy link (default) or its kernel table. */
  form?: ExportForm;
  /** vippyd's announce.interface / announce.table / announce.protocol, as in the vippy config. */
  vipInterface?: string;
  table?: number;
  protocol?: number;
}

/** BFD and BGP timers shared by both ends (BIRD's minimum hold time is 3 s). */
const BFD = 'interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };';
const BGP_TIMERS = 'hold time 3; keepalive time 1; connect delay time 1; connect retry time 1; error wait time 1, 2;';

/** The router's BIRD: one IPv4 and one IPv6 session per node; imports only host routes from the VIP ranges. */
export function routerBirdConfig(router: Host, nodes: readonly Host[], logFile: string): string {
  const sessions = nodes.map((node, i) => `
protocol bgp ${node.name}4 {
  local ${router.ipv4} as ${ROUTER_ASN}; neighbor ${node.ipv4} as ${ROUTER_ASN + 1 + i};
  ${BGP_TIMERS} bfd on;
  ipv4 { import where net ~ [ 203.0.113.0/24{32,32} ]; export none; };
}
protocol bgp ${node.name}6 {
  local ${router.ipv6} as ${ROUTER_ASN}; neighbor ${node.ipv6} as ${ROUTER_ASN + 1 + i};
  ${BGP_TIMERS} bfd on;
  ipv6 { import where net ~ [ 2001:db8:ff::/64{128,128} ]; export none; };
}`).join('\n');
  return `log "${logFile}" all;
timeformat log "%F %T.%3f";
timeformat route "%F %T.%3f";
router id ${router.ipv4};
debug protocols { routes };
protocol device { scan time 10; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bfd { ${BFD} }
${sessions}
`;
}

/** A node's BIRD: exports the VIPs vippyd plumbs, either form, to the router. */
export function nodeBirdConfig(node: Host, index: number, router: Host, options: RoutedBedOptions, logFile: string): string {
  const vipInterface = options.vipInterface ?? 'vippy0';
  const source = options.form === 'table'
    ? `# vippyd's routes in its table, under its protocol number: learn them.
protocol kernel vippy4 { kernel table ${options.table}; learn; ipv4 { import where krt_source = ${options.protocol ?? 201}; export none; }; }
protocol kernel vippy6 { kernel table ${options.table}; learn; ipv6 { import where krt_source = ${options.protocol ?? 201}; export none; }; }`
    : `# vippyd's dummy link: each VIP is a /32 or /128 there.
protocol direct vippy { ipv4; ipv6; interface "${vipInterface}"; }`;
  const exportFrom = options.form === 'table' ? 'proto = "vippy4" || proto = "vippy6"' : 'proto = "vippy"';
  return `log "${logFile}" all;
timeformat log "%F %T.%3f";
router id ${node.ipv4};
protocol device { scan time 10; }
${source}
protocol bfd { ${BFD} }
protocol bgp up4 {
  local ${node.ipv4} as ${ROUTER_ASN + 1 + index}; neighbor ${router.ipv4} as ${ROUTER_ASN};
  ${BGP_TIMERS} bfd on;
  ipv4 { import none; export where ${exportFrom}; };
}
protocol bgp up6 {
  local ${node.ipv6} as ${ROUTER_ASN + 1 + index}; neighbor ${router.ipv6} as ${ROUTER_ASN};
  ${BGP_TIMERS} bfd on;
  ipv6 { import none; export where ${exportFrom}; };
}
`;
}

export interface Bird {
  host: string;
  ns: string;
  socket: string;
  log: string;
  process: Spawned;
}

/** One route change the router's BIRD logged: which session, which prefix, added or removed. */
export interface RouteEvent {
  atMs: number;
  session: string;
  net: string;
  added: boolean;
}

export class RoutedBed {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-routed-'));
  readonly birds = new Map<string, Bird>();
  clientNs = '';

  constructor(readonly seg: Segment, readonly options: RoutedBedOptions = {}) {}

  get router(): Host {
    return this.seg.host(ROUTER);
  }

  /** The segment's hosts other than the router: the vippy nodes. */
  get nodes(): Host[] {
    return this.seg.hosts.filter((h) => h.name !== ROUTER);
  }

  /** Client, forwarding and routes back to the client; then every BIRD, waiting for Established sessions. */
  async start(): Promise<void> {
    this.clientNs = await this.seg.addStub('cli', ROUTER);
    await this.seg.exec(ROUTER, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    await this.seg.exec(ROUTER, ['ip', 'addr', 'add', '198.51.100.1/30', 'dev', 'cli0']);
    // The VIP ranges as silent aggregates: while no node announces a VIP its packets are dropped,
    // not answered with ICMP unreachables (which would slow the client's 10 ms pings down).
    await this.seg.exec(ROUTER, ['ip', 'route', 'add', 'blackhole', '203.0.113.0/24']);
    await this.seg.exec(ROUTER, ['ip', '-6', 'route', 'add', 'blackhole', '2001:db8:ff::/64']);
    await this.seg.exec(ROUTER, ['ip', 'addr', 'add', '2001:db8:c::1/64', 'dev', 'cli0', 'nodad']);
    await this.seg.exec(this.clientNs, ['ip', 'addr', 'add', `${CLIENT_V4}/30`, 'dev', 'eth0']);
    await this.seg.exec(this.clientNs, ['ip', 'addr', 'add', `${CLIENT_V6}/64`, 'dev', 'eth0', 'nodad']);
    await this.seg.exec(this.clientNs, ['ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
    await this.seg.exec(this.clientNs, ['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:c::1']);
    for (const node of this.nodes) {
      await this.seg.exec(node, ['ip', 'route', 'add', '198.51.100.0/30', 'via', this.router.ipv4]);
      await this.seg.exec(node, ['ip', '-6', 'route', 'add', '2001:db8:c::/64', 'via', this.router.ipv6]);
    }
    this.startBird(ROUTER, (log) => routerBirdConfig(this.router, this.nodes, log));
    this.nodes.forEach((node, i) => this.startBird(node.name, (log) => nodeBirdConfig(node, i, this.router, this.options, log)));
    await this.waitEstablished();
  }

  /** bird -f (foreground) in the host's namespace, with its files in this bed's temp directory. */
  startBird(host: string, config: (logFile: string) => string): Bird {
    const file = (ext: string) => path.join(this.dir, `${host}.${ext}`);
    writeFileSync(file('log'), '');
    writeFileSync(file('conf'), config(file('log')));
    const ns = this.seg.host(host).ns;
    const process = this.seg.spawn(host, ['bird', '-f', '-c', file('conf'), '-s', file('ctl'), '-P', file('pid')]);
    const bird: Bird = { host, ns, socket: file('ctl'), log: file('log'), process };
    this.birds.set(host, bird);
    return bird;
  }

  async birdc(host: string, command: string): Promise<string> {
    const bird = this.birds.get(host);
    if (!bird) throw new Error(`no bird on ${host}`);
    const { stdout } = await this.seg.exec(host, ['birdc', '-s', bird.socket, ...command.split(' ')]);
    return stdout;
  }

  /** Every BGP session of the router Established (and so the nodes'). */
  async waitEstablished(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      const lines = (await this.birdc(ROUTER, 'show protocols')).split('\n').filter((line) => /\sBGP\s/.test(line));
      return lines.length === 2 * this.nodes.length && lines.every((line) => line.includes('Established'));
    }, { timeoutMs, intervalMs: 200, what: 'every BGP session of the router Established' });
  }

  /** Next hops (the nodes' addresses) the router's BIRD has for a VIP, best first. */
  async routerPaths(vip: string): Promise<string[]> {
    const net = vip.includes(':') ? `${vip}/128` : `${vip}/32`;
    const text = await this.birdc(ROUTER, `show route ${net} all`).catch(() => '');
    return [...text.matchAll(/BGP\.next_hop: (\S+)/g)].map((m) => m[1]!);
  }

  /** Node name for a next hop address. */
  nodeOf(nextHop: string): string | undefined {
    return this.nodes.find((h) => h.ipv4 === nextHop || h.ipv6 === nextHop || nextHop.startsWith(`${h.ipv6} `))?.name;
  }

  /** Lines in the router's log now: routeEvents/overlaps/switchMs from a mark look only at what came after. */
  mark(): number {
    return this.routerLogLines().length - 1; // the last element is what follows the final newline
  }

  private routerLogLines(): string[] {
    return readFileSync(this.birds.get(ROUTER)!.log, 'utf8').split('\n');
  }

  /** Route changes the router's BIRD has logged for `net` (since a mark), in order. */
  routeEvents(net: string, since = 0): RouteEvent[] {
    const events: RouteEvent[] = [];
    // "2026-12-05 10:09:41.692 <TRACE> a4.ipv4 > removed [sole] 203.0.113.10/32 0L 7G unicast"
    // ('>' is a session importing into the table; the kernel protocol's exports read '<').
    const pattern = /^(\S+ \S+) <TRACE> (\w+)\.ipv[46] > (added|removed|updated) (?:\[\w+\] )?(\S+)/;
    for (const line of this.routerLogLines().slice(since)) {
      const match = pattern.exec(line);
      if (!match || match[4] !== net) continue;
      events.push({ atMs: Date.parse(match[1]!.replace(' ', 'T') + 'Z'), session: match[2]!, net, added: match[3] !== 'removed' });
    }
    return events;
  }

  /**
   * The router's switch for the last move of `net` from session `from` to session `to`: from its
   * last withdrawal by `from` to the next announcement by `to` (negative: `to` announced first).
   */
  switchMs(net: string, from: string, to: string, since = 0): number | undefined {
    const events = this.routeEvents(net, since);
    let removed = -1;
    events.forEach((e, i) => {
      if (e.session === from && !e.added) removed = i;
    });
    if (removed < 0) return undefined;
    const added = events.slice(removed).find((e) => e.session === to && e.added);
    return added === undefined ? undefined : added.atMs - events[removed]!.atMs;
  }

  /**
   * Every moment two sessions had the prefix at once, by the router's log, with how long it lasted
   * (0: within the same millisecond, still two paths). Empty when the router never had two.
   */
  overlaps(net: string, since = 0): Array<{ sessions: string[]; atMs: number; ms: number }> {
    const present = new Set<string>();
    const found: Array<{ sessions: string[]; atMs: number; ms: number }> = [];
    let open: { sessions: string[]; atMs: number; ms: number } | undefined;
    for (const event of this.routeEvents(net, since)) {
      if (event.added) present.add(event.session);
      else present.delete(event.session);
      if (present.size > 1 && open === undefined) {
        open = { sessions: [...present].sort(), atMs: event.atMs, ms: Infinity };
        found.push(open);
      } else if (present.size <= 1 && open !== undefined) {
        open.ms = event.atMs - open.atMs;
        open = undefined;
      }
    }
    return found;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * 10 ms pings from the client to a VIP. stop() counts the requests (up to the last answered) that
 * got no reply, and the outage: the longest time between two replies.
 */
export class PingStream {
  private readonly process: Spawned;

  constructor(private readonly bed: RoutedBed, vip: string) {
    this.process = bed.seg.spawn(bed.clientNs, ['ping', '-n', '-D', '-i', '0.01', '-W', '0.5', vip]);
  }

  async started(): Promise<void> {
    await this.process.waitForLine(/icmp_seq=\d+/, { timeoutMs: 5_000 });
  }

  async stop(): Promise<{ sent: number; lost: number; outageMs: number }> {
    this.process.kill('SIGINT');
    await this.process.wait();
    // "[1733393278.123456] 64 bytes from 203.0.113.10: icmp_seq=12 ttl=63 time=0.1 ms"
    const replies = [...this.process.stdout.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=(\d+) ttl=/gm)]
      .map((m) => ({ atMs: Number(m[1]) * 1000, seq: Number(m[2]) }));
    const replied = new Set(replies.map((r) => r.seq));
    const last = Math.max(0, ...replied);
    let lost = 0;
    for (let seq = 1; seq <= last; seq++) if (!replied.has(seq)) lost++;
    let outageMs = 0;
    for (let i = 1; i < replies.length; i++) outageMs = Math.max(outageMs, replies[i]!.atMs - replies[i - 1]!.atMs);
    return { sent: last, lost, outageMs: Math.round(outageMs) };
  }
}
