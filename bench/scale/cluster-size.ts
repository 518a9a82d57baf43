// Cluster size (issue 6 §2): N vippy daemons, one single-address group per node, "balanced"
// placement. In steady state the observer counts the chat traffic (tcpdump byte counts of the
// multicast announcements, Ethernet frames); then one holder is crashed (SIGKILL of its process
// group, bridge port cut) and the run measures when its groups are up on survivors (ip -ts monitor
// address) and when every survivor's /status shows the same ownership without it (polled).
import { Segment, waitFor } from '../../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../../test/netns/lib/cluster.js';
import { summarize } from '../lib/results.js';
import { addressEvents, cpuSeconds, frameBytesBySource, holdings, lastOf, load1, round, sleep, vipAddress } from './probes.js';

const CHAT_PORT = 5454;
const START_BATCH = 2;

export interface Timing { interval: number; stale: number }
export const FAST: Timing = { interval: 0.1, stale: 0.3 };
export const SLOW: Timing = { interval: 1, stale: 3 };

export interface ClusterSizeRun {
  nodes: number;
  interval: number;
  stale: number;
  /** ms after t0 until the crashed node's groups were all added on survivors. */
  vipsUpMs: number | null;
  /** ms after t0 until a poll found every survivor's /status agreeing, without the crashed node
   *  (an upper bound: the poll period is a quarter interval). */
  statusAgreedMs: number | null;
  /** Chat frames (Ethernet bytes) each node sends / receives per second, median over the nodes. */
  chatSentBytesPerSecond: number;
  chatReceivedBytesPerSecond: number;
  /** The same divided by the announcement rate: bytes per announcement period. */
  chatSentBytesPerInterval: number;
  /** CPU % of one core per daemon over the same window (steady state), median and max over the nodes. */
  cpuPercentMedian: number;
  cpuPercentMax: number;
  load1: number;
}

/** node → sorted addresses of the groups it owns, by one node's /status (the "_" key: unowned). */
function ownershipOf(status: any): Record<string, string[]> {
  const owned: Record<string, string[]> = {};
  for (const [node, groups] of Object.entries(status.state.ownership as Record<string, Array<Array<string | { ip: string }>>>)) {
    const ips = groups.flatMap((g) => g.filter((e): e is { ip: string } => typeof e === 'object').map((e) => e.ip)).sort();
    if (ips.length > 0) owned[node] = ips;
  }
  return owned;
}

/** JSON with the nodes in name order, so equal ownerships compare equal as text. */
function canonical(ownership: Record<string, string[]>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(ownership).sort(([a], [b]) => a.localeCompare(b))));
}

/** The ownership every one of `names` reports (canonical JSON), when they all report the same one. */
async function agreedOwnership(cluster: VippyCluster, names: readonly string[]): Promise<string | undefined> {
  const views = await Promise.all(names.map(async (n) => canonical(ownershipOf(await cluster.status(n)))));
  return views.every((v) => v === views[0]) ? views[0] : undefined;
}

export async function measureClusterSize(nodes: number, timing: Timing): Promise<ClusterSizeRun> {
  const names = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const vips = names.map((_, k) => vipAddress(k));
  const seg = await Segment.create({ hosts: names, ipv6: false });
  const intervalMs = timing.interval * 1000;
  const cluster = new VippyCluster(seg, {
    config: baseConfig(seg.hosts, {
      vips: vips.map((ip) => [{ interface: 'eth0', ip: `${ip}/24` }]),
      placement: 'balanced',
      interval: timing.interval,
      stale: timing.stale,
      mature: 0.3,
      logging: { driver: 'none' },
    }),
  });
  try {
    // Two at a time (one per core): thirty Node start-ups at once outlast the start time-out.
    for (let i = 0; i < names.length; i += START_BATCH) await Promise.all(names.slice(i, i + START_BATCH).map((n) => cluster.start(n)));
    // Steady: one holder per group (one group per node) and every node's /status agreeing with that.
    const held = await waitFor(async () => {
      const h = await holdings(seg, seg.hosts, vips);
      if (![...h.values()].every((ips) => ips.length === 1)) return undefined;
      const agreed = await agreedOwnership(cluster, names);
      return agreed === canonical(Object.fromEntries(h)) ? h : undefined;
    }, { timeoutMs: 30_000 + 20 * intervalMs, intervalMs: Math.max(50, intervalMs), what: `${nodes} groups on ${nodes} nodes, one each, /status agreeing` });

    const windowMs = Math.max(3000, 10 * intervalMs);
    const chat = await seg.capture(seg.observer, ['-e', 'udp', 'port', String(CHAT_PORT)]);
    // `ip netns exec` execs the daemon, so the spawned pid is vippyd itself.
    const pids = names.map((n) => cluster.daemon(n).process.pid);
    const cpuBefore = pids.map(cpuSeconds);
    await sleep(windowMs);
    const cpuPercent = pids.map((pid, i) => ((cpuSeconds(pid) - cpuBefore[i]!) / (windowMs / 1000)) * 100);
    chat.kill('SIGINT');
    await chat.wait();
    const sent = frameBytesBySource(chat.stdout);
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    const perSecond = (bytes: number) => bytes / (windowMs / 1000);
    const sentPerNode = seg.hosts.map((h) => perSecond(sent.get(h.ipv4) ?? 0));
    // Multicast floods: every node receives what every other node sends.
    const receivedPerNode = seg.hosts.map((h) => perSecond(total - (sent.get(h.ipv4) ?? 0)));

    const victim = seg.hosts[0]!;
    const victimVips = held.get(victim.name)!;
    const survivors = seg.hosts.filter((h) => h !== victim);
    const monitors = survivors.map((h) => seg.spawn(h, ['ip', '-ts', 'monitor', 'address']));
    await sleep(200); // ip monitor prints nothing when it is ready: give it time to subscribe

    await sleep(Math.random() * intervalMs);
    const t0 = Date.now();
    cluster.daemon(victim.name).process.kill('SIGKILL');
    await seg.cutLink(victim);

    const survivorNames = survivors.map((h) => h.name);
    const deadline = t0 + 3 * timing.stale * 1000 + 10_000;
    let statusAgreedAt: number | undefined;
    while (statusAgreedAt === undefined && Date.now() < deadline) {
      const text = await agreedOwnership(cluster, survivorNames).catch(() => undefined);
      const agreed: Record<string, string[]> = text ? JSON.parse(text) : {};
      const owned = Object.entries(agreed).filter(([node]) => node !== '_').flatMap(([, ips]) => ips);
      if (text && !agreed[victim.name] && owned.length === vips.length) statusAgreedAt = Date.now();
      else await sleep(Math.max(20, intervalMs / 4));
    }
    const adds = new Map<string, number>();
    await waitFor(() => {
      for (const m of monitors) addressEvents(m.stdout, t0, { into: adds });
      return victimVips.every((ip) => adds.has(ip)) || Date.now() > deadline;
    }, { timeoutMs: Math.max(0, deadline - Date.now()) + 1000, intervalMs: 50, what: 'crashed node\'s VIPs on survivors' });

    return {
      nodes,
      interval: timing.interval,
      stale: timing.stale,
      vipsUpMs: lastOf(adds, victimVips, t0),
      statusAgreedMs: statusAgreedAt === undefined ? null : round(statusAgreedAt - t0),
      chatSentBytesPerSecond: Math.round(summarize(sentPerNode).median),
      chatReceivedBytesPerSecond: Math.round(summarize(receivedPerNode).median),
      chatSentBytesPerInterval: Math.round(summarize(sentPerNode).median * timing.interval),
      cpuPercentMedian: round(summarize(cpuPercent).median),
      cpuPercentMax: round(summarize(cpuPercent).max),
      load1: load1(),
    };
  } finally {
    await cluster.stopAll();
    await seg.destroy();
  }
}
