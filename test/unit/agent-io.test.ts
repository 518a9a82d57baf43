// The pure parts of the agent's I/O modules: interface selection for the chat, address requests
// and keys for the reconciler, target matching for the notifier, entry filtering for the scanner.
// Their kernel-facing behaviour is tested in test/netns/agent-*.test.ts.
import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Neighbour } from '../../bindings/types.js';
import type { VipAddress } from '../../src/config/model.js';
import { neighbourEntries } from '../../src/agent/arpscan.js';
import { selectChatInterfaces } from '../../src/agent/chat.js';
import { describeError } from '../../src/log/logger.js';
import { addressKey, addressRequest, vipLabel } from '../../src/agent/reconciler.js';

const info = (address: string, family: 'IPv4' | 'IPv6' = 'IPv4', internal = false): os.NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as os.NetworkInterfaceInfo;

const nics = {
  lo: [info('127.0.0.1', 'IPv4', true)],
  eth0: [info('2001:db8::1', 'IPv6'), info('192.0.2.1'), info('192.0.2.9')],
  eth1: [info('198.51.100.1')],
  tun0: [info('203.0.113.1')],
  v6only: [info('2001:db8::2', 'IPv6')],
};
const multicast = (name: string) => name !== 'tun0';

describe('selectChatInterfaces', () => {
  it('"all" takes every non-loopback multicast-capable interface with IPv4, first IPv4 address each', () => {
    expect(selectChatInterfaces('all', nics, multicast)).toEqual([
      { name: 'eth0', address: '192.0.2.1' },
      { name: 'eth1', address: '198.51.100.1' },
    ]);
    expect(selectChatInterfaces('', nics, multicast)).toEqual(selectChatInterfaces('all', nics, multicast));
  });
  it('an address selects the interface carrying it, keeping that address', () => {
    expect(selectChatInterfaces('192.0.2.9', nics, multicast)).toEqual([{ name: 'eth0', address: '192.0.2.9' }]);
    expect(selectChatInterfaces('192.0.2.77', nics, multicast)).toEqual([]);
  });
  it('a NIC name resolves to its first IPv4 address; absent or IPv6-only gives nothing', () => {
    expect(selectChatInterfaces('eth1', nics, multicast)).toEqual([{ name: 'eth1', address: '198.51.100.1' }]);
    expect(selectChatInterfaces('eth9', nics, multicast)).toEqual([]);
    expect(selectChatInterfaces('v6only', nics, multicast)).toEqual([]);
  });
});

const vip = (ip: string, prefixLength: number, iface = 'eth0'): VipAddress => ({
  interface: iface, ip, prefixLength, family: ip.includes(':') ? 6 : 4,
});

describe('reconciler address requests', () => {
  it('labels "<if>:vip" only when it fits 15 characters', () => {
    expect(vipLabel('eth0')).toBe('eth0:vip');
    expect(vipLabel('abcdefghijk')).toBe('abcdefghijk:vip');
    expect(vipLabel('abcdefghijkl')).toBeUndefined();
  });
  it('IPv4 gets label and computed broadcast, no broadcast for /31 and /32; IPv6 gets neither', () => {
    expect(addressRequest(vip('192.0.2.10', 24))).toEqual({ interface: 'eth0', address: '192.0.2.10', prefixLength: 24, label: 'eth0:vip', broadcast: '+' });
    expect(addressRequest({ ...vip('192.0.2.10', 24), broadcast: '192.0.2.255' }).broadcast).toBe('192.0.2.255');
    expect(addressRequest(vip('192.0.2.10', 32))).toEqual({ interface: 'eth0', address: '192.0.2.10', prefixLength: 32, label: 'eth0:vip' });
    expect(addressRequest(vip('192.0.2.10', 31)).broadcast).toBeUndefined();
    expect(addressRequest(vip('2001:db8::10', 64))).toEqual({ interface: 'eth0', address: '2001:db8::10', prefixLength: 64 });
  });
  it('keys compare canonical addresses, so kernel text and config text meet', () => {
    expect(addressKey('eth0', '2001:0db8:0:0::0010', 64)).toBe(addressKey('eth0', '2001:db8::10', 64));
    expect(addressKey('eth0', '192.0.2.10', 32)).not.toBe(addressKey('eth0', '192.0.2.10', 24));
    expect(addressKey('eth0', '192.0.2.10', 32)).not.toBe(addressKey('eth1', '192.0.2.10', 32));
  });
});

describe('neighbourEntries', () => {
  const n = (ip: string, mac: string, family: 4 | 6 = 4): Neighbour => ({ family, ip, mac, ifindex: 2, interface: 'eth0', state: 'reachable' });
  it('keeps IPv4 entries with a MAC, first per IP, sorted numerically', () => {
    expect(
      neighbourEntries([
        n('192.0.2.20', '02:00:00:00:00:20'),
        n('192.0.2.3', '02:00:00:00:00:03'),
        n('192.0.2.3', '02:00:00:00:00:99'),
        n('192.0.2.4', '00:00:00:00:00:00'),
        n('192.0.2.5', ''),
        n('2001:db8::1', '02:00:00:00:00:01', 6),
      ]),
    ).toEqual([
      { ip: '192.0.2.3', mac: '02:00:00:00:00:03' },
      { ip: '192.0.2.20', mac: '02:00:00:00:00:20' },
    ]);
  });
});

describe('describeError', () => {
  it('adds the errno name and the kernel message when the message lacks them', () => {
    const err = Object.assign(new Error('RTM_NEWADDR failed'), { code: 'ENODEV', extack: 'no such device' });
    expect(describeError(err)).toBe('RTM_NEWADDR failed (ENODEV): no such device');
    expect(describeError(Object.assign(new Error('bind EADDRINUSE'), { code: 'EADDRINUSE' }))).toBe('bind EADDRINUSE');
    expect(describeError('plain')).toBe('plain');
  });
});
