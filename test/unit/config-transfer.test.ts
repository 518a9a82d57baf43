import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  adoptTransferred, ConfigError, fingerprint, loadConfigFile, parseConfig, renderConfigFile, transferDocument, type ClusterConfig,
} from '../../src/config/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/config/${name}`, import.meta.url));

const base = {
  chat: '239.192.0.1:8945',
  secret: 'a-long-enough-shared-secret',
  version: 1,
  vips: [['a', { interface: 'eth0', ip: '192.0.2.10/24' }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]],
  nodes: ['a', 'b'],
};
const parse = (value: object): ClusterConfig => parseConfig(JSON.stringify(value, null, 2), 'test.conf').config;

describe('fingerprint', () => {
  const reference = parse(base);

  it('is the fingerprint the loader stores, as hex SHA-256', () => {
    expect(reference.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint(reference)).toBe(reference.fingerprint);
  });

  it('ignores interface names, the version and local settings', () => {
    const otherHost = parse({
      ...base, version: 7, chat_interface: '192.0.2.1', logging: { driver: 'none' },
      vips: [['a', { interface: 'ens3', ip: '192.0.2.10/24' }], [{ interface: 'bond0', ip: '192.0.2.11/24' }]],
    });
    expect(otherHost.fingerprint).toBe(reference.fingerprint);
  });

  it('ignores how an address is written', () => {
    const v6 = (ip: string) => parse({ ...base, vips: [[{ interface: 'eth0', ip }]] }).fingerprint;
    expect(v6('2001:DB8:0::1/64')).toBe(v6('2001:db8::1/64'));
  });

  it.each([
    ['an address', { vips: [['a', { interface: 'eth0', ip: '192.0.2.12/24' }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]] }],
    ['a mask', { vips: [['a', { interface: 'eth0', ip: '192.0.2.10/25' }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]] }],
    ['the preference', { vips: [['b', { interface: 'eth0', ip: '192.0.2.10/24' }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]] }],
    ['dropping the preference', { vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]] }],
    ['the group order', { vips: [[{ interface: 'eth0', ip: '192.0.2.11/24' }], ['a', { interface: 'eth0', ip: '192.0.2.10/24' }]] }],
    ['a node', { nodes: ['a', 'b', 'c'] }],
    ['the node order', { nodes: ['b', 'a'] }],
    ['a node address', { chat: '0.0.0.0:8945', nodes: [{ name: 'a', address: '192.0.2.1' }, { name: 'b', address: '192.0.2.2' }] }],
  ])('changes with %s', (_name, change) => {
    expect(parse({ ...base, ...change }).fingerprint).not.toBe(reference.fingerprint);
  });
});

describe('config graduation', () => {
  const local = parse({ ...base, secret: 'the-local-secret-1234', interval: 0.5, stale: 2, logging: { driver: 'syslog' } });
  const remote = parse({
    ...base,
    secret: 'the-remote-secret-5678',
    version: 2,
    vips: [
      ['a', { interface: 'ens3', ip: '192.0.2.10/24' }],
      [{ interface: 'ens3', ip: '192.0.2.11/24' }, { interface: 'ens4', ip: '2001:db8::5/64', state: 'preplumbed' }],
    ],
    nodes: ['a', 'b', 'c'],
  });

  it('the document carries version, vips with interface names and nodes, never the secret', () => {
    const document = JSON.parse(transferDocument(remote)) as Record<string, unknown>;
    expect(Object.keys(document).sort()).toEqual(['nodes', 'version', 'vips']);
    expect(document['vips']).toEqual([
      ['a', { interface: 'ens3', ip: '192.0.2.10/24' }],
      [{ interface: 'ens3', ip: '192.0.2.11/24' }, { interface: 'ens4', ip: '2001:db8::5/64', state: 'preplumbed' }],
    ]);
    expect(transferDocument(remote)).not.toContain(remote.secret);
  });

  it('adopting keeps local NIC names for known addresses and local-only keys, takes the rest', () => {
    const adopted = adoptTransferred(local, transferDocument(remote));
    expect(adopted.version).toBe(2);
    expect(adopted.fingerprint).toBe(remote.fingerprint);
    expect(adopted.nodes.map((node) => node.name)).toEqual(['a', 'b', 'c']);
    expect(adopted.groups.flatMap((group) => group.addresses.map((address) => `${address.interface} ${address.ip}`))).toEqual([
      'eth0 192.0.2.10', 'eth0 192.0.2.11', 'ens4 2001:db8::5',
    ]);
    expect(adopted.secret).toBe('the-local-secret-1234');
    expect(adopted.timing).toEqual(local.timing);
    expect(adopted.logging).toEqual(local.logging);
    expect(adopted.chat).toEqual(local.chat);
  });

  it('a round trip of the local config changes nothing', () => {
    expect(adoptTransferred(local, transferDocument(local))).toEqual(local);
    const leased = parse({ ...base, address_lease: 3 });
    expect(adoptTransferred(leased, transferDocument(leased)).timing.leaseSeconds).toBe(3);
  });

  it('rejects a document that is not a valid cluster part, naming the problem', () => {
    expect(() => adoptTransferred(local, '{"version": 3, "vips": [[{"interface": "eth0", "ip": "300.1.1.1"}]], "nodes": ["a"]}')).toThrow(
      'transferred config:1:48: vips[0][0].ip: "300.1.1.1" is not an IP address (expected "address" or "address/prefix-length")',
    );
    expect(() => adoptTransferred(local, '{"version": 3, "vips": [], "nodes": ["a"], "secret": "x"}')).toThrow('secret: unknown key');
  });

  it('rejects a document that does not fit the local settings', () => {
    const withQuorum = parse({ ...base, nodes: ['a', 'b', 'c'], quorum: 3 });
    const document = JSON.stringify({ version: 9, vips: [], nodes: ['a', 'b'] });
    expect(() => adoptTransferred(withQuorum, document)).toThrow(ConfigError);
    expect(() => adoptTransferred(withQuorum, document)).toThrow('adopted config: quorum: must be at most the number of nodes (2)');
  });

  it('flip configs graduate too: servers and data from the peer, system config and scripts local', () => {
    const localFlip = loadConfigFile(fixture('flip-readme.json')).config;
    const remoteSystems = {
      ...localFlip,
      version: 4,
      systems: [{ ...localFlip.systems![0]!, alive: '/remote/up', down: '/remote/down', config: { interface: 'eth9' }, data: ['198.51.100.3'] }],
    };
    const adopted = adoptTransferred(localFlip, transferDocument(remoteSystems));
    expect(adopted.version).toBe(4);
    expect(adopted.systems).toEqual([{ ...localFlip.systems![0]!, data: ['198.51.100.3'] }]);
    expect(adopted.groups.map((group) => `${group.addresses[0]!.interface} ${group.point}`)).toEqual(['lo0 198.51.100.3']);
    expect(adopted.localNode).toBe('flip');
  });
});

describe('renderConfigFile', () => {
  const seedText = readFileSync(fixture('seed.json'), 'utf8');
  const seed = parseConfig(seedText, 'seed.json').config;

  it('writes version, vips and nodes and keeps every other key as written', () => {
    const newer = adoptTransferred(seed, JSON.stringify({
      version: 6,
      vips: [['node3', { interface: 'e1000g0', ip: '192.0.2.20/24' }]],
      nodes: ['node1', 'node2', 'node3'],
    }));
    const text = renderConfigFile(seedText, newer);
    const reread = parseConfig(text, 'rendered').config;
    expect(reread).toEqual(newer);
    expect(text).toContain('"arp-cache": "90"');
    expect(text).toContain('"mask": { "emerg": true, "alert": true, "crit": true, "err": true,');
  });

  it('is the identity on the config the file already holds', () => {
    expect(parseConfig(renderConfigFile(seedText, seed), 'rendered').config).toEqual(seed);
  });

  it('keeps tab indentation and the flip file\'s own system settings', () => {
    const unicastText = readFileSync(fixture('unicast.json'), 'utf8');
    const unicast = parseConfig(unicastText, 'unicast.json').config;
    const rendered = renderConfigFile(unicastText, { ...unicast, version: 4 });
    expect(rendered).toContain('\t"version": 4');
    expect(parseConfig(rendered, 'rendered').config).toEqual({ ...unicast, version: 4 });

    const flipText = readFileSync(fixture('flip-readme.json'), 'utf8');
    const flip = parseConfig(flipText, 'flip.json').config;
    const moved = { ...flip, version: 2, systems: [{ ...flip.systems![0]!, data: ['198.51.100.9'] }] };
    const flipRendered = renderConfigFile(flipText, moved);
    expect(flipRendered).toContain('"alive": "ip_up"');
    const reread = parseConfig(flipRendered, 'rendered').config;
    expect(reread.version).toBe(2);
    expect(reread.systems![0]!.data).toEqual(['198.51.100.9']);
  });
});
