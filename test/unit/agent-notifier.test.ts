// The notifier over an in-memory native (test/fakes/native.ts): which frames go out for a
// takeover, to whom, and how often. The real frames on a real segment are in
// test/netns/agent-notifier.test.ts.
import { describe, expect, it } from 'vitest';
import type { ArpSettings, VipGroup } from '../../src/config/model.js';
import { notifyHosts } from '../../src/core/notify-targets.js';
import { Notifier } from '../../src/agent/notifier.js';
import { FakeNative } from '../fakes/native.js';
import { waitFor } from '../lib/wait-for.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const arp: ArpSettings = { burstCount: 1, burstSpacingMs: 0, repeatDelayMs: 0, refreshIntervalMs: 0, notifyRate: 1000 };
const vip = (ip: string, prefixLength = 24) => ({ interface: 'eth0', ip, family: 4 as const, prefixLength });

async function takeover(group: VipGroup, targets: ReturnType<typeof notifyHosts>) {
  const native = new FakeNative(['eth0']);
  const notifier = new Notifier({ native, arp, log: silent, tickMs: 1 });
  notifier.announce(group, 'takeover', targets);
  await waitFor(() => notifier.busy().length === 0, { what: 'notifier idle', intervalMs: 2 });
  notifier.close();
  return { native, notifier };
}

describe('Notifier', () => {
  it('tells each notify host once per VIP that core named it for, even with two VIPs in one subnet', async () => {
    const group: VipGroup = { index: 0, key: '192.0.2.10', addresses: [vip('192.0.2.10'), vip('192.0.2.11')] };
    const targets = notifyHosts(group, [{ kind: 'arp-cache' }], [{ ip: '192.0.2.50', mac: '02:00:00:00:00:50' }]);
    expect(targets.map((t) => `${t.vip}>${t.ip}`)).toEqual(['192.0.2.10>192.0.2.50', '192.0.2.11>192.0.2.50']);
    const { native, notifier } = await takeover(group, targets);
    const replies = native.frames.filter((f) => f.kind === 'arp-reply').map((f) => `${f.ip}>${f.targetIp} ${f.targetMac}`);
    expect(replies).toEqual(['192.0.2.10>192.0.2.50 02:00:00:00:00:50', '192.0.2.11>192.0.2.50 02:00:00:00:00:50']);
    expect(notifier.counters).toMatchObject({ arpReplyUnicast: 2, targetsNotified: 2, targetsSkipped: 0 });
  });

  it('sends a broadcast reply form frame to a host whose MAC is unknown, from the VIP core chose', async () => {
    const group: VipGroup = { index: 0, key: '192.0.2.10', addresses: [vip('192.0.2.10'), vip('198.51.100.10')] };
    const targets = notifyHosts(group, [{ kind: 'network', interface: 'eth0', family: 4, network: '198.51.100.0', prefixLength: 30 }], []);
    const { native, notifier } = await takeover(group, targets);
    const replies = native.frames.filter((f) => f.kind === 'arp-reply').map((f) => `${f.ip}>${f.targetIp} ${f.targetMac}`);
    expect(replies).toEqual(['198.51.100.10>198.51.100.0 ff:ff:ff:ff:ff:ff', '198.51.100.10>198.51.100.1 ff:ff:ff:ff:ff:ff',
      '198.51.100.10>198.51.100.2 ff:ff:ff:ff:ff:ff', '198.51.100.10>198.51.100.3 ff:ff:ff:ff:ff:ff']);
    expect(notifier.counters).toMatchObject({ arpReplyBroadcast: 4, targetsNotified: 4 });
  });

  it('skips a host whose VIP has no interface here, and counts it', async () => {
    const group: VipGroup = { index: 0, key: '192.0.2.10', addresses: [vip('192.0.2.10'), { ...vip('198.51.100.10'), interface: 'nope0' }] };
    const targets = notifyHosts(group, [{ kind: 'arp-cache' }], [{ ip: '192.0.2.50', mac: '02:00:00:00:00:50' }, { ip: '198.51.100.50', mac: '02:00:00:00:00:51' }]);
    const { native, notifier } = await takeover(group, targets);
    expect(native.frames.filter((f) => f.kind === 'arp-reply').map((f) => f.targetIp)).toEqual(['192.0.2.50']);
    expect(notifier.counters).toMatchObject({ targetsNotified: 1, targetsSkipped: 1 });
  });

  it('opens with a gratuitous burst per address: request then reply form, and an NA for IPv6', async () => {
    const group: VipGroup = { index: 0, key: '192.0.2.10', addresses: [vip('192.0.2.10'), { interface: 'eth0', ip: '2001:db8::10', family: 6, prefixLength: 64 }] };
    const native = new FakeNative(['eth0']);
    const notifier = new Notifier({ native, arp: { ...arp, burstCount: 2 }, log: silent, tickMs: 1 });
    notifier.announce(group, 'takeover');
    await waitFor(() => notifier.busy().length === 0, { what: 'notifier idle', intervalMs: 2 });
    notifier.close();
    expect(native.frames.map((f) => (f.kind === 'garp' ? `garp ${f.ip} ${f.form}` : `${f.kind} ${f.ip}`))).toEqual([
      'garp 192.0.2.10 request', 'na 2001:db8::10', 'garp 192.0.2.10 reply', 'na 2001:db8::10',
    ]);
  });
});
