import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig, type Problem } from '../../src/config/index.js';

const readmePath = fileURLToPath(new URL('fixtures/config/flip-readme.json', import.meta.url));
const readme = JSON.parse(readFileSync(readmePath, 'utf8')) as Record<string, unknown> & { cluster: { system: Record<string, Record<string, unknown>> } };

function problemsOf(value: object): Array<Pick<Problem, 'path' | 'message'>> {
  try {
    parseConfig(JSON.stringify(value, null, 2), 'flip.conf');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('expected the config to be rejected');
}

const withSystem = (system: Record<string, unknown>) => ({ ...readme, cluster: { config: {}, system: { ip: { ...readme.cluster.system['ip'], ...system } } } });

describe('flip configs', () => {
  const { config, warnings } = loadConfigFile(readmePath);

  it('are recognised by shape and mapped onto ClusterConfig', () => {
    expect(config.format).toBe('flip');
    expect(config.localNode).toBe('flip');
    expect(config.secret).toBe('secret');
    expect(warnings).toEqual(['key is shorter than 16 characters: it is the HMAC key, use a long random string']);
    expect(config.chat).toEqual({ mode: 'unicast', address: '192.0.2.1', port: 2200, interface: 'all', ttl: 1 });
    expect(config.timing).toMatchObject({ intervalMs: 1000, staleMs: 1500, guardMs: 1000 });
    expect(config.quorum).toBe(2);
    expect(config.noQuorumPolicy).toBe('freeze');
    expect(config.placement).toBe('shard');
    expect(config.logging.mask).toEqual({ emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: false });
  });

  it("accept flip's remove_on_start (per system, or for all in cluster) and cluster.remove_on_failure", () => {
    expect(config.systems![0]!.removeOnStart).toBe(false);
    expect(config.releaseOnStop).toBe(true);
    const keep = parseConfig(JSON.stringify({
      ...readme,
      cluster: { ...readme.cluster, remove_on_failure: false, remove_on_start: true, system: { ip: { ...readme.cluster.system['ip'], remove_on_start: false } } },
    }), 'flip.conf').config;
    expect(keep.systems![0]!.removeOnStart).toBe(false); // the system's own value wins
    expect(keep.releaseOnStop).toBe(false);
    expect(parseConfig(JSON.stringify({ ...readme, cluster: { ...readme.cluster, remove_on_start: true } }), 'flip.conf').config.systems![0]!.removeOnStart).toBe(true);
  });

  it('lease addresses like vippy files: the default expires before a takeover, address_lease overrides it', () => {
    // ping_timeout 1.5 s + guard 1 s - gossip_interval 1 s leaves under 2 s: the shortest lease.
    expect(config.timing.leaseSeconds).toBe(1);
    const slow = parseConfig(JSON.stringify({ ...readme, ping_timeout: 6000 }), 'flip.conf').config;
    expect(slow.timing.leaseSeconds).toBe(5);
    const off = parseConfig(JSON.stringify({ ...readme, address_lease: 0 }), 'flip.conf').config;
    expect(off.timing.leaseSeconds).toBe(0);
  });

  it('order servers like flip: priority first (lower first), then by id', () => {
    expect(config.nodes).toEqual([
      { name: 'flip1', address: '192.0.2.2', port: 2201, priority: 1, systems: ['ip'] },
      { name: 'flip', address: '192.0.2.1', port: 2200, systems: ['ip'] },
      { name: 'flip2', address: '192.0.2.3', port: 2202, systems: [] },
    ]);
  });

  it('make one group per data point, sorted as flip sorts them, with the system\'s interface', () => {
    expect(config.systems).toEqual([{
      name: 'ip', type: 'shard', alive: 'ip_up', down: 'ip_down', config: { interface: 'lo0' }, data: ['198.51.100.1', '198.51.100.2'], delayMs: 500, removeOnStart: false,
    }]);
    expect(config.groups.map(({ index, key, system, point, addresses }) => ({ index, key, system, point, interfaces: addresses.map((a) => `${a.interface} ${a.ip}/${a.prefixLength}`) }))).toEqual([
      { index: 0, key: '198.51.100.1', system: 'ip', point: '198.51.100.1', interfaces: ['lo0 198.51.100.1/32'] },
      { index: 1, key: '198.51.100.2', system: 'ip', point: '198.51.100.2', interfaces: ['lo0 198.51.100.2/32'] },
    ]);
  });

  it('default the quorum to a majority of all servers, arbiters included', () => {
    const { quorum: _quorum, ...rest } = readme;
    const { config: defaulted } = parseConfig(JSON.stringify(rest), 'flip.conf');
    expect(defaulted.quorum).toBe(2);
    expect(defaulted.noQuorumPolicy).toBe('freeze');
  });

  it('accept both spellings of the type, and merge cluster.config under the system\'s config', () => {
    const file = { ...readme, cluster: { config: { interface: 'eth0', mtu: 1500 }, system: {
      a: { type: 'replicate', config: { mtu: 9000 }, data: ['192.0.2.100'] },
      b: { type: 'sharded', alive: '/bin/up', down: '/bin/down', data: ['db1'] },
    } }, servers: {
      flip: { ip: '192.0.2.1', port: 2200, systems: ['a', 'b'] },
      flip1: { ip: '192.0.2.2', port: 2200, systems: ['a'] },
    } };
    const { config: merged } = parseConfig(JSON.stringify(file), 'flip.conf');
    expect(merged.systems!.map((s) => [s.name, s.type, s.config])).toEqual([
      ['a', 'replicated', { interface: 'eth0', mtu: 9000 }],
      ['b', 'shard', { interface: 'eth0', mtu: 1500 }],
    ]);
    expect(merged.placement).toBe('replicated');
    expect(merged.groups[1]).toMatchObject({ key: 'db1', system: 'b', point: 'db1' });
  });

  it('can be forced with { format: "flip" }, and a vippy option still errors clearly then', () => {
    const problems = () => parseConfig('{"id": "a"}', 'x.conf', { format: 'flip' });
    expect(problems).toThrow(ConfigError);
    expect(problems).toThrow('x.conf:1:1: key: is required: the shared key that signs announcements');
  });

  it.each([
    ['an id not in servers', { id: 'flip9' }, 'id', '"flip9" is not a key of servers'],
    ['a quorum above the server count', { quorum: 4 }, 'quorum', 'must be at most the number of servers (3)'],
    ['a ping timeout not above the interval', { ping_timeout: 1000 }, 'ping_timeout', 'must be greater than gossip_interval (1000 ms)'],
    ['an unknown log level', { log_level: 'warn' }, 'log_level', 'must be one of "debug", "info", "warning", "error", "fatal", not "warn"; did you mean "warning"?'],
    ['a misspelt key', { gossip_intervall: 5 }, 'gossip_intervall', 'unknown key; did you mean "gossip_interval"?'],
    ['an empty key', { key: '' }, 'key', 'must not be empty: it is the shared key that signs announcements'],
    ['a server address that is not one', { servers: { ...(readme['servers'] as object), flip: { ip: 'flip.example', port: 1, systems: ['ip'] } } }, 'servers.flip.ip', '"flip.example" is not an IP address'],
    ['a server in an unknown system', { servers: { ...(readme['servers'] as object), flip: { ip: '192.0.2.1', port: 1, systems: ['ipp'] } } }, 'servers.flip.systems[0]', '"ipp" is not a system of cluster.system'],
    ['two servers on one endpoint', { servers: { ...(readme['servers'] as object), flip: { ip: '192.0.2.1', port: 1 }, flip1: { ip: '192.0.2.1', port: 1 } } }, 'servers.flip1.port', '192.0.2.1 port 1 is already used by server "flip"'],
  ])('reject %s', (_name, change, path, message) => {
    expect(problemsOf({ ...readme, ...change })).toEqual([{ path, message }]);
  });

  it.each([
    ['an unknown type', { type: 'round_robin' }, 'cluster.system.ip.type', 'must be one of "shard", "sharded", "replicate", "replicated", not "round_robin"'],
    ['only one script', { down: undefined }, 'cluster.system.ip', 'give both "alive" and "down" scripts, or neither (built-in VIP plumbing)'],
    ['address data without scripts or interface', { alive: undefined, down: undefined, config: {} }, 'cluster.system.ip.config', 'needs "interface" (here or in cluster.config): its data are addresses plumbed by vippyd'],
    ['non-address data without scripts', { alive: undefined, down: undefined, data: ['db1'] }, 'cluster.system.ip.data', '"db1" is not an IP address, so the system needs "alive" and "down" scripts'],
    ['a duplicate data point', { data: ['198.51.100.1', '198.51.100.1'] }, 'cluster.system.ip.data', 'duplicate data point "198.51.100.1"'],
  ])('reject %s', (_name, change, path, message) => {
    expect(problemsOf(withSystem(change))).toEqual([{ path, message }]);
  });
});
