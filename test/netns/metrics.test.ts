// Per-group and per-peer metrics of real daemons (docs/metrics.md): who holds each group, the
// reasons of transitions, the last unowned gap and how long ago each peer was heard, read with
// `vippyctl metrics` the way an operator (or a Prometheus scrape of metrics.listen) reads them.
import { afterEach, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable, waitFor } from './harness.js';
import { VippyCluster, baseConfig } from './lib/cluster.js';

const VIP1 = '192.0.2.201';
const VIP2 = '192.0.2.202';
// A vippy group's label is its first address.
const GROUPS = [VIP1, VIP2];

/** `name{labels} value` lines of one metric, as label text → value. */
function series(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) found.set(match[1]!, Number(match[2]));
  return found;
}

describe.skipIf(!netnsAvailable)('per-group metrics of real daemons', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    cluster = undefined;
    seg = undefined;
  });

  it('one holder per group across the nodes; drain and takeover counted by reason; the gap the survivor saw', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2', 'n3'] });
    const vips = [['n1', { interface: 'eth0', ip: `${VIP1}/24` }], ['n2', { interface: 'eth0', ip: `${VIP2}/24` }]];
    // A takeover waits takeover_guard after the holder is judged gone, so the successor sees
    // the group unowned for a while.
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips, takeover_guard: 0.2 }) });
    await cluster.startAll();
    await cluster.waitForHolder(VIP1, 'n1');
    await cluster.waitForHolder(VIP2, 'n2');
    const metrics = async (name: string) => {
      const result = await cluster!.ctl(name, ['metrics']);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };

    const texts = await Promise.all(['n1', 'n2', 'n3'].map(metrics));
    for (const group of GROUPS) {
      const held = texts.map((text) => series(text, 'vippy_group_held').get(`group="${group}"`));
      expect(held.every((value) => value === 0 || value === 1), `${group}: ${held}`).toBe(true);
      expect(held.reduce((a, b) => a! + b!, 0), `${group} held on one node: ${held}`).toBe(1);
    }
    expect(series(texts[0]!, 'vippy_group_held').get(`group="${GROUPS[0]}"`)).toBe(1);
    expect(series(texts[0]!, 'vippy_group_transitions_total').get(`group="${GROUPS[0]}",direction="acquired",reason="placement"`)).toBe(1);
    // Every peer has been heard (how recently depends on the machine's load: not asserted).
    const heard = series(texts[0]!, 'vippy_peer_last_heard_seconds');
    expect([...heard.keys()].sort()).toEqual(['peer="n2"', 'peer="n3"']);
    for (const seconds of heard.values()) expect(seconds).toBeGreaterThanOrEqual(0);

    // A drain: n1 releases VIP1 for "drain"; another node takes it from n1.
    expect((await cluster.ctl('n1', ['deactivate'])).code).toBe(0);
    const successor = await waitFor(async () => {
      const holders = await cluster!.holders(VIP1);
      return holders.length === 1 && holders[0] !== 'n1' ? holders[0] : undefined;
    }, { timeoutMs: 5000, what: `${VIP1} moves off n1` });
    await waitFor(async () => series(await metrics('n1'), 'vippy_group_transitions_total')
      .get(`group="${GROUPS[0]}",direction="released",reason="drain"`) === 1, { what: 'n1 counts the release as a drain' });
    // A clean hand-off: for the taker the group had no failed holder, so it is placement.
    expect(series(await metrics(successor), 'vippy_group_transitions_total').get(`group="${GROUPS[0]}",direction="acquired",reason="placement"`)).toBeGreaterThanOrEqual(1);

    // The successor crashes: the last active node takes VIP1 over after seeing it unowned
    // (n1 stays drained, so VIP1 cannot go home to its preferred node instead).
    const survivor = ['n2', 'n3'].find((name) => name !== successor)!;
    cluster.daemon(successor).process.kill('SIGKILL');
    await seg.cutLink(seg.host(successor));
    await waitFor(async () => (await cluster!.holders(VIP1)).filter((h) => h !== successor).length === 1, { timeoutMs: 5000, what: `${VIP1} taken over from ${successor}` });
    const taker = (await cluster.holders(VIP1)).find((h) => h !== successor)!;
    await waitFor(async () => series(await metrics(taker), 'vippy_group_transitions_total')
      .get(`group="${GROUPS[0]}",direction="acquired",reason="takeover"`) !== undefined, { what: `${taker} counts a takeover` });
    const after = await Promise.all(['n1', survivor].map(metrics));
    const gaps = after.map((text) => series(text, 'vippy_group_unowned_last_seconds').get(`group="${GROUPS[0]}"`));
    expect(gaps.some((gap) => gap !== undefined && gap > 0), `gaps seen by n1, ${survivor}: ${gaps}`).toBe(true);
    // The dead node's last-heard age keeps growing past stale on the others.
    await waitFor(async () => (series(await metrics(survivor), 'vippy_peer_last_heard_seconds').get(`peer="${successor}"`) ?? 0) > 0.3,
      { what: `${survivor} sees ${successor} silent` });
    const heldAfter = after.map((text) => series(text, 'vippy_group_held').get(`group="${GROUPS[0]}"`) ?? 0);
    expect(heldAfter.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
