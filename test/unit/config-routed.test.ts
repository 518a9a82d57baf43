import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type Problem } from '../../src/config/index.js';
import { adoptTransferred, transferDocument } from '../../src/config/transfer.js';

const base = {
  chat: '239.192.0.1:8945',
  secret: 'a-long-enough-shared-secret',
  vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]] as unknown[][],
  nodes: ['a', 'b'],
};

const parse = (value: object) => parseConfig(JSON.stringify(value, null, 2), 'test.conf').config;

function problemsOf(value: object): Pick<Problem, 'path' | 'message'>[] {
  try {
    parseConfig(JSON.stringify(value, null, 2), 'test.conf');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('expected the config to be rejected');
}

describe('announce modes', () => {
  it('defaults to l2 with the vippy0 dummy, no table, protocol 201', () => {
    const config = parse(base);
    expect(config.routed).toEqual({ defaultMode: 'l2', interface: 'vippy0', protocol: 201 });
    expect(config.groups[0]!.announce).toBe('l2');
    expect(config.groups[0]!.announceOption).toBeUndefined();
  });

  it('a routed group is plumbed on announce.interface as a host address; a group may override the default', () => {
    const config = parse({
      ...base,
      announce: { mode: 'routed', interface: 'vip0', table: 100, protocol: 77 },
      vips: [
        [{ ip: '203.0.113.10' }, { ip: '2001:db8:ff::10/128' }],
        [{ interface: 'eth0', ip: '192.0.2.10/24' }, { announce: 'l2' }],
        ['b', { interface: 'vip0', ip: '203.0.113.11/32' }],
      ],
    });
    expect(config.routed).toEqual({ defaultMode: 'routed', interface: 'vip0', table: 100, protocol: 77 });
    expect(config.groups.map((group) => [group.announce, group.announceOption])).toEqual([['routed', undefined], ['l2', 'l2'], ['routed', undefined]]);
    expect(config.groups[0]!.addresses.map((a) => [a.interface, a.ip, a.prefixLength])).toEqual([
      ['vip0', '2001:db8:ff::10', 128], ['vip0', '203.0.113.10', 32],
    ]);
    expect(config.groups[1]!.addresses[0]!.interface).toBe('eth0');
  });

  it('a group\'s own announce element is part of the fingerprint; the cluster-wide default is not', () => {
    const plain = parse(base);
    const withDefault = parse({ ...base, announce: { mode: 'l2' } });
    const withOption = parse({ ...base, vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }, { announce: 'l2' }]] });
    expect(withDefault.fingerprint).toBe(plain.fingerprint);
    expect(withOption.fingerprint).not.toBe(plain.fingerprint);
  });

  it('travels with the vips: a peer adopts routed groups without interface names and keeps its own dummy', () => {
    const sender = parse({ ...base, version: 2, vips: [[{ ip: '203.0.113.10' }, { announce: 'routed' }], [{ interface: 'eth0', ip: '192.0.2.10/24' }]] });
    const receiver = parse({ ...base, announce: { interface: 'bgp0' }, vips: [[{ interface: 'eth1', ip: '192.0.2.10/24' }]] });
    const adopted = adoptTransferred(receiver, transferDocument(sender));
    expect(adopted.version).toBe(2);
    expect(adopted.groups.map((group) => [group.announce, group.addresses[0]!.interface])).toEqual([['routed', 'bgp0'], ['l2', 'eth1']]);
    expect(adopted.fingerprint).toBe(sender.fingerprint);
  });

  it.each([
    ['a routed group with a shorter prefix', { announce: { mode: 'routed' }, vips: [[{ ip: '203.0.113.10/24' }]] }, 'vips[0][0].ip', 'a routed group announces host routes: write 203.0.113.10/32 (or leave out the length)'],
    ['a routed group on another interface', { vips: [[{ interface: 'eth0', ip: '203.0.113.10' }, { announce: 'routed' }]] }, 'vips[0][0].interface', 'a routed group is plumbed on announce.interface ("vippy0"): leave out interface or give that name'],
    ['two announce elements', { vips: [[{ interface: 'eth0', ip: '192.0.2.10' }, { announce: 'l2' }, { announce: 'l2' }]] }, 'vips[0][2]', 'a group may hold one options element ({"announce"}, {"checks"} or both in one)'],
    ['a misspelt mode', { announce: { mode: 'bgp' } }, 'announce.mode', 'must be one of "l2", "routed", not "bgp"'],
    ['a main table', { announce: { table: 254 } }, 'announce.table', 'must not be 253, 254 or 255 (the kernel\'s default, main and local tables)'],
    ['a kernel protocol number', { announce: { protocol: 2 } }, 'announce.protocol', 'must be at least 5'],
    ['an interface name that is too long', { announce: { interface: 'a-very-long-name0' } }, 'announce.interface', '"a-very-long-name0" is not an interface name (1 to 15 characters, no "/", ":" or spaces)'],
  ])('rejects %s', (_name, change, path, message) => {
    expect(problemsOf({ ...base, ...change })).toEqual([{ path, message }]);
  });
});
