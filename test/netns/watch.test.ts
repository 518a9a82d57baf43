// `vippyctl watch` against real daemons: the holder leaves, and the survivor's stream shows, in
// order and without gaps, the peer leaving and the group taken with its reason.
import { afterEach, describe, expect, it } from 'vitest';
import { Segment, netnsAvailable } from './harness.js';
import { VippyCluster, VIPPYCTL, baseConfig } from './lib/cluster.js';

const VIP = '192.0.2.211';

describe.skipIf(!netnsAvailable)('vippyctl watch on a real daemon', () => {
  let seg: Segment | undefined;
  let cluster: VippyCluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    await seg?.destroy();
    cluster = undefined;
    seg = undefined;
  });

  it('streams the peer leaving and the takeover, in order, and says when the daemon stops', async () => {
    seg = await Segment.create({ hosts: ['n1', 'n2'] });
    cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips: [['n1', { interface: 'eth0', ip: `${VIP}/24` }]] }) });
    await cluster.startAll();
    await cluster.waitForHolder(VIP, 'n1');
    const watch = seg.spawn(seg.host('n2'), [VIPPYCTL, '-s', cluster.daemon('n2').socket, '--json', 'watch']);
    await watch.waitForLine('"type":"watching"');

    cluster.daemon('n1').process.kill('SIGTERM');
    await watch.waitForLine('"type":"taken"');
    cluster.daemon('n2').process.kill('SIGTERM');
    const exit = await watch.wait();
    if (process.env.DUMP_WATCH) console.log(`DUMP-START\n${watch.stdout}DUMP-END`);
    expect(exit.code, watch.stderr).toBe(0);

    const events = watch.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { seq: number; type: string; [key: string]: unknown });
    // Consecutive numbers from the first line on; the goodbye repeats the last number.
    expect(events.slice(1, -1).map((e) => e.seq)).toEqual(events.slice(1, -1).map((_, i) => events[0]!.seq + 1 + i));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('watching');
    expect(types.at(-1)).toBe('closed');
    expect(types.indexOf('peer-leaving')).toBeGreaterThan(0);
    expect(types.indexOf('taken')).toBeGreaterThan(types.indexOf('peer-leaving'));
    // n1 left cleanly: a hand-off, so placement gives the group to n2 (a crash would say takeover).
    expect(events.find((e) => e.type === 'taken')).toMatchObject({ node: 'n2', group: VIP, addresses: [`${VIP}/24`], reason: 'placement' });
    expect(events.find((e) => e.type === 'released')).toMatchObject({ group: VIP, reason: 'shutdown' });
    expect(events.at(-1)).toMatchObject({ reason: 'vippyd stopping' });
  });
});
