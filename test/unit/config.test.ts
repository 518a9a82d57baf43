import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig, summarizeConfig, type Problem } from '../../src/config/index.js';
import { vippyStatusConfig } from '../../src/control/status.js';

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/config/${name}`, import.meta.url));

const base = {
  chat: '239.192.0.1:8945',
  secret: 'a-long-enough-shared-secret',
  vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]],
  nodes: ['a', 'b'],
};

const parse = (value: object) => parseConfig(JSON.stringify(value, null, 2), 'test.conf');

function problems(text: string): Problem[] {
  try {
    parseConfig(text, 'test.conf');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

const problemsOf = (value: object) => problems(JSON.stringify(value, null, 2));

describe('the seed example (made valid JSON)', () => {
  const { config, warnings } = loadConfigFile(fixture('seed.json'));

  it('loads with the values the file gives', () => {
    expect(warnings).toEqual([]);
    expect(config.format).toBe('vippy');
    expect(config.version).toBe(5);
    expect(config.chat).toEqual({ mode: 'multicast', address: '239.192.0.1', port: 8945, interface: 'all', ttl: 1 });
    expect(config.nodes).toEqual([{ name: 'node1' }, { name: 'node2' }]);
    expect(config.timing).toMatchObject({ intervalMs: 500, matureMs: 5000, staleMs: 5000, arpCacheMs: 90_000 });
  });

  it('normalizes groups like vippy: sorted by ip string, key = smallest, preferred node kept', () => {
    expect(config.groups.map((group) => [group.index, group.key, group.preferred])).toEqual([
      [0, '192.0.2.10', undefined],
      [1, '192.0.2.11', 'node2'],
      [2, '192.0.2.12', undefined],
    ]);
    expect(config.groups[2]!.addresses.map((address) => address.ip)).toEqual(['192.0.2.12', '192.0.2.13']);
    expect(config.groups[0]!.addresses[0]).toEqual({
      interface: 'e1000g0', ip: '192.0.2.10', family: 4, prefixLength: 24,
      netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0',
    });
  });

  it('reads notify networks and the arp-cache token', () => {
    expect(config.notify).toEqual([
      { kind: 'network', interface: 'e1000g0', family: 4, network: '192.0.2.0', prefixLength: 24 },
      { kind: 'arp-cache' },
    ]);
  });

  it('shows the status config exactly as the original /status did', () => {
    expect(vippyStatusConfig(config)).toEqual({
      version: 5,
      vips: [
        [{ ip: '192.0.2.10', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'e1000g0' }],
        ['node2', { ip: '192.0.2.11', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'e1000g0' }],
        [
          { ip: '192.0.2.12', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'e1000g0' },
          { ip: '192.0.2.13', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'e1000g0' },
        ],
      ],
      nodes: ['node1', 'node2'],
    });
    expect(JSON.stringify(vippyStatusConfig(config))).not.toContain(config.secret);
  });

  it('summarizes for --check without the secret', () => {
    const summary = summarizeConfig(config);
    expect(summary).toContain('vippy config, version 5');
    expect(summary).toContain('nodes (2): node1, node2');
    expect(summary).toContain('[1] 192.0.2.11/24 on e1000g0 P(node2)');
    expect(summary).toContain('interval 0.5 s');
    expect(summary).not.toContain(config.secret);
  });
});

describe('defaults (the original code\'s, plus the new keys)', () => {
  const { config } = parse(base);

  it('uses vippy\'s timing, management and logging defaults', () => {
    expect(config.version).toBe(0);
    expect(config.timing).toEqual({ intervalMs: 1000, matureMs: 5000, staleMs: 3000, guardMs: 0, arpCacheMs: 15_000, preemptDelayMs: 0, leaseSeconds: 1 });
    expect(config.management).toEqual({ path: '/var/run/vippy.socket', mode: 0o600 });
    expect(config.logging).toEqual({
      driver: 'console',
      facility: 'local7',
      mask: { emerg: true, alert: true, crit: true, err: true, warning: false, notice: true, info: false, debug: false },
      json: false,
    });
    expect(config.plugins).toEqual([]);
    expect(config.notify).toEqual([]);
    expect(config.chat.interface).toBe('all');
  });

  it('keeps the original behaviour for the new keys', () => {
    expect(config.quorum).toBe(1);
    expect(config.noQuorumPolicy).toBe('ignore');
    expect(config.placement).toBe('vippy');
    expect(config.preempt).toBe(true);
    expect(config.chat.ttl).toBe(1);
    expect(config.arp).toEqual({ burstCount: 5, burstSpacingMs: 20, repeatDelayMs: 5000, refreshIntervalMs: 0, notifyRate: 500, notifyBudget: 65_536 });
    expect(config.metrics).toBeUndefined();
  });

  it('with quorum > 1: policy "stop" and a guard of one interval', () => {
    const { config: withQuorum } = parse({ ...base, nodes: ['a', 'b', 'c'], quorum: 2, interval: 0.5, stale: 2 });
    expect(withQuorum.noQuorumPolicy).toBe('stop');
    expect(withQuorum.timing.guardMs).toBe(500);
  });

  it('a given logging mask replaces the default; unmentioned levels are off (setlogmask)', () => {
    const { config: masked } = parse({ ...base, logging: { mask: { debug: true } } });
    expect(masked.logging.mask).toEqual({ emerg: false, alert: false, crit: false, err: false, warning: false, notice: false, info: false, debug: true });
  });
});

describe('what real configs contain', () => {
  it('arp-cache as a numeric string', () => {
    expect(parse({ ...base, 'arp-cache': '90' }).config.timing.arpCacheMs).toBe(90_000);
    expect(parse({ ...base, 'arp-cache': '2.5' }).config.timing.arpCacheMs).toBe(2500);
  });

  it('a missing mask means /32, and /128 for IPv6', () => {
    const { config } = parse({ ...base, vips: [[{ interface: 'eth0', ip: '192.0.2.10' }], [{ interface: 'eth0', ip: '2001:db8::1' }]] });
    expect(config.groups[0]!.addresses[0]).toMatchObject({ prefixLength: 32, netmask: '255.255.255.255', broadcast: '192.0.2.10', network: '192.0.2.10' });
    expect(config.groups[1]!.addresses[0]).toEqual({ interface: 'eth0', ip: '2001:db8::1', family: 6, prefixLength: 128 });
  });

  it('IPv6 addresses in canonical form, in the status shape with prefixlen', () => {
    const { config } = parse({ ...base, vips: [['b', { interface: 'eth0', ip: '2001:DB8:0:0::10/64', state: 'preplumbed' }]] });
    expect(config.groups[0]).toMatchObject({ key: '2001:db8::10', preferred: 'b' });
    expect(vippyStatusConfig(config).vips).toEqual([['b', { ip: '2001:db8::10', prefixlen: 64, name: 'eth0', state: 'preplumbed' }]]);
  });

  it('the state of an entry is carried through', () => {
    const { config } = parse({ ...base, vips: [[{ interface: 'net0', ip: '192.0.2.10/24', state: 'preplumbed' }]] });
    expect(config.groups[0]!.addresses[0]!.state).toBe('preplumbed');
  });

  it('nodes with addresses: unicast chat, node ports default to the chat port', () => {
    const { config } = loadConfigFile(fixture('unicast.json'));
    expect(config.chat).toMatchObject({ mode: 'unicast', address: '0.0.0.0', port: 8945 });
    expect(config.nodes).toEqual([
      { name: 'a', address: '192.0.2.1', port: 8945 },
      { name: 'b', address: '192.0.2.2', port: 9000 },
      { name: 'c', address: '192.0.2.3', port: 8945 },
    ]);
    expect(config).toMatchObject({
      quorum: 2, noQuorumPolicy: 'stop', placement: 'balanced', preempt: false,
      management: { path: '/var/run/vippy.socket', mode: 0o660, group: 'vippy' },
      metrics: { listen: '127.0.0.1:9477' },
      logging: { driver: 'syslog', facility: 'daemon', json: true },
    });
    expect(config.timing).toMatchObject({ preemptDelayMs: 2500, guardMs: 1000 });
  });

  it('warns about a short secret and a stale of less than two intervals', () => {
    const { warnings } = parse({ ...base, secret: 'short', stale: 1.5 });
    expect(warnings).toEqual([
      'stale (1.5 s) is less than two intervals (1 s): one lost announcement marks a peer down',
      'secret is shorter than 16 characters: use a long random string',
    ]);
  });
});

describe('the original\'s looser corners', () => {
  it('logs every level to syslog when no mask is given (the original set none), the console default otherwise', () => {
    expect(Object.values(parse({ ...base, logging: { driver: 'syslog' } }).config.logging.mask).every(Boolean)).toBe(true);
    expect(parse({ ...base, logging: { driver: 'console' } }).config.logging.mask).toMatchObject({ err: true, warning: false, info: false });
    expect(parse({ ...base, logging: { driver: 'syslog', mask: { err: true } } }).config.logging.mask).toMatchObject({ err: true, crit: false });
  });

  it('loads notify networks of any prefix, and warns when one overlaps a VIP subnet beyond the per-move budget', () => {
    const small = parse({ ...base, notify: [{ interface: 'eth0', ip: '10.0.0.0/8' }] });
    expect(small.config.notify).toEqual([{ kind: 'network', interface: 'eth0', family: 4, network: '10.0.0.0', prefixLength: 8 }]);
    expect(small.warnings).toEqual([]); // the VIP is a /24: at most 256 addresses are told
    const wide = parse({ ...base, vips: [[{ interface: 'eth0', ip: '10.1.2.3/8' }]], notify: [{ interface: 'eth0', ip: '10.0.0.0/8' }] });
    expect(wide.warnings).toEqual([
      'notify[0] 10.0.0.0/8: its overlap with 10.1.2.3/8 has more than 65536 addresses; each takeover notifies the first 65536 of them (plus every arp-cache host)',
    ]);
  });
});

describe('address_lease', () => {
  it.each([
    ['the defaults (expires within 2 s, takeover after 2 to 3 s)', {}, 1],
    ['quorum: the guard adds an interval', { nodes: ['a', 'b', 'c'], quorum: 2 }, 2],
    ['a slow cluster', { interval: 0.5, stale: 5, takeover_guard: 1 }, 4],
    ['a fast cluster still gets the shortest lease the kernel has', { interval: 0.1, stale: 0.5 }, 1],
  ])('defaults to the longest lease that expires before a takeover: %s', (_name, change, lease) => {
    const { config, warnings } = parse({ ...base, ...change });
    expect(config.timing.leaseSeconds).toBe(lease);
    expect(warnings).toEqual([]);
  });

  it('0 turns leases off; a given lease is kept, with a warning when it outlives a takeover', () => {
    expect(parse({ ...base, address_lease: 0 }).config.timing.leaseSeconds).toBe(0);
    expect(parse({ ...base, address_lease: 1 }).warnings).toEqual([]);
    const { config, warnings } = parse({ ...base, address_lease: 5 });
    expect(config.timing.leaseSeconds).toBe(5);
    expect(warnings).toEqual([
      'address_lease (5 s) outlives a takeover: should the fence keeper die with a killed or frozen holder, its addresses may stay up to 4 s after a peer takes them over (at most 1 s avoids that)',
    ]);
  });

  it('shows in the --check summary', () => {
    expect(summarizeConfig(parse(base).config)).toContain('address lease 1 s');
    expect(summarizeConfig(parse({ ...base, address_lease: 0 }).config)).toContain('address lease off');
  });

  it.each([
    [1.5, 'must be a whole number, not 1.5'],
    [-1, 'must be at least 0'],
    ['2', 'must be a number, not "2"'],
  ])('rejects %j', (value, message) => {
    expect(problemsOf({ ...base, address_lease: value }).map(({ path, message: m }) => ({ path, message: m }))).toEqual([{ path: 'address_lease', message }]);
  });
});

describe('rejections name the key path and its line and column', () => {
  it('an invalid address, at the line of its key', () => {
    const text = [
      '{',
      '  "chat": "239.192.0.1:8945",',
      '  "secret": "a-long-enough-shared-secret",',
      '  "nodes": ["a"],',
      '  "vips": [',
      '    [{ "interface": "eth0", "ip": "192.0.2.1" }],',
      '    [{ "interface": "eth0", "ip": "192.0.2.2" },',
      '     { "interface": "eth0", "ip": "10.0.0.300/24" }]',
      '  ]',
      '}',
    ].join('\n');
    expect(problems(text)).toEqual([
      { path: 'vips[1][1].ip', message: '"10.0.0.300/24" is not an IP address (expected "address" or "address/prefix-length")', line: 8, column: 29 },
    ]);
    expect(() => parseConfig(text, '/etc/vippy.conf')).toThrow(
      '/etc/vippy.conf:8:29: vips[1][1].ip: "10.0.0.300/24" is not an IP address (expected "address" or "address/prefix-length")',
    );
  });

  it('lists every problem at once, in file order', () => {
    const text = '{\n  "intreval": 2,\n  "chat": "239.192.0.1",\n  "nodes": [],\n  "vips": [[{"interface": "eth0", "ip": "192.0.2.1/33"}]]\n}';
    expect(problems(text)).toEqual([
      { path: 'secret', message: 'is required: the shared key that signs announcements', line: 1, column: 1 },
      { path: 'intreval', message: 'unknown key; did you mean "interval"?', line: 2, column: 3 },
      { path: 'chat', message: '"239.192.0.1" is not "ADDRESS:PORT" (for example "239.192.0.1:8945")', line: 3, column: 3 },
      { path: 'nodes', message: 'must not be empty', line: 4, column: 3 },
      { path: 'vips[0][0].ip', message: '"192.0.2.1/33" is not an IP address (expected "address" or "address/prefix-length")', line: 5, column: 35 },
    ]);
  });

  it('JSON syntax errors, comments and trailing commas give line and column', () => {
    expect(problems('{\n  "chat": "x"\n  "secret": "y"\n}')).toEqual([
      { path: '', message: 'JSON syntax error: expected "," (or the end of the object or array)', line: 3, column: 3 },
    ]);
    expect(problems('{\n  // a comment\n  "chat": "x"\n}')[0]).toMatchObject({
      message: 'JSON syntax error: comments are not allowed: vippy config files are plain JSON', line: 2, column: 3,
    });
    expect(problems('{\n  "nodes": ["a",]\n}')[0]).toMatchObject({
      message: 'JSON syntax error: trailing comma: vippy config files are plain JSON', line: 2, column: 17,
    });
    expect(problems('')).toEqual([{ path: '', message: 'JSON syntax error: expected a value', line: 1, column: 1 }]);
    expect(problems('{"a": 1, "a": 2}')).toEqual([{ path: 'a', message: 'duplicate key', line: 1, column: 10 }]);
  });

  it('the whole document must be an object', () => {
    expect(problems('[1, 2]')).toEqual([{ path: '', message: 'must be an object, not an array', line: 1, column: 1 }]);
  });

  it.each([
    ['secret empty', { secret: '' }, 'secret', 'must not be empty: it is the shared key that signs announcements'],
    ['unknown nested key with a hint', { arp: { burst_cuont: 3 } }, 'arp.burst_cuont', 'unknown key; did you mean "burst_count"?'],
    ['unknown key without a close match', { colour: 'red' }, 'colour', 'unknown key'],
    ['a wrong enum value with a hint', { placement: 'balance' }, 'placement', 'must be one of "vippy", "balanced", not "balance"; did you mean "balanced"?'],
    ['a wrong type', { interval: '1' }, 'interval', 'must be a number, not "1"'],
    ['a non-numeric arp-cache string', { 'arp-cache': 'ninety' }, 'arp-cache', 'must be a number of seconds (or a numeric string such as "90"), not "ninety"'],
    ['a negative duration', { mature: -1 }, 'mature', 'must be at least 0'],
    ['a zero interval', { interval: 0 }, 'interval', 'must be greater than 0'],
    ['a fractional version', { version: 1.5 }, 'version', 'must be a whole number, not 1.5'],
    ['a multicast chat that is not multicast', { chat: '192.0.2.1:8945' }, 'chat', '"192.0.2.1" is not an IPv4 multicast address (for unicast chat, give every node an address)'],
    ['an IPv6 multicast chat', { chat: '[ff02::1]:8945' }, 'chat', '"ff02::1" is not an IPv4 multicast address (for unicast chat, give every node an address)'],
    ['a chat port out of range', { chat: '239.192.0.1:70000' }, 'chat', '"239.192.0.1:70000" is not "ADDRESS:PORT" (for example "239.192.0.1:8945")'],
    ['a chat TTL of 0', { chat_ttl: 0 }, 'chat_ttl', 'must be at least 1'],
    ['stale not above interval', { stale: 1 }, 'stale', 'must be greater than interval (1 s), or every peer goes stale between announcements'],
    ['duplicate node names', { nodes: ['a', 'b', 'a'] }, 'nodes[2]', 'duplicate node name "a" (also nodes[0])'],
    ['mixed node forms', { nodes: ['a', { name: 'b', address: '192.0.2.2' }] }, 'nodes', 'mixes names and {"name", "address"} objects: give every node an address (unicast chat) or none (multicast chat)'],
    ['a node object without address', { nodes: [{ name: 'a' }] }, 'nodes[0].address', 'is required'],
    ['a node that is neither', { nodes: [42] }, 'nodes[0]', 'must be a node name or {"name", "address", "port"}, not 42'],
    ['an empty group', { vips: [[]] }, 'vips[0]', 'group has no addresses'],
    ['a group with only a preference', { vips: [['a']] }, 'vips[0]', 'group has no addresses'],
    ['a preferred node not in nodes', { vips: [['zed', { interface: 'eth0', ip: '192.0.2.10' }]] }, 'vips[0][0]', 'preferred node "zed" is not in nodes'],
    ['a node name later in a group', { vips: [[{ interface: 'eth0', ip: '192.0.2.10' }, 'a']] }, 'vips[0][1]', 'a node name may only be the first element of a group (the preferred node)'],
    ['an ip in two groups', { vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }], [{ interface: 'eth1', ip: '192.0.2.10/32' }]] }, 'vips[1][0].ip', '192.0.2.10 is already in vips[0][0]: an address belongs to one group'],
    ['an entry without interface', { vips: [[{ ip: '192.0.2.10' }]] }, 'vips[0][0].interface', 'is required in an l2 group: the network interface the address is plumbed on'],
    ['an unknown key in an entry', { vips: [[{ interface: 'eth0', ip: '192.0.2.10', nmae: 'x' }]] }, 'vips[0][0].nmae', 'unknown key'],
    ['a notify network that is not one', { notify: [{ interface: 'eth0', ip: 'everyone' }] }, 'notify[0].ip', '"everyone" is not an IP address (expected "address" or "address/prefix-length")'],
    ['a notify token misspelt', { notify: ['arp_cache'] }, 'notify[0]', 'must be "arp-cache", not "arp_cache"; did you mean "arp-cache"?'],
    ['quorum above the node count', { quorum: 3 }, 'quorum', 'must be at most the number of nodes (2)'],
    ['a no-quorum policy with quorum 1', { no_quorum_policy: 'stop' }, 'no_quorum_policy', '"stop" has no effect with quorum 1 (one node is always a quorum); set quorum or remove it'],
    ['a takeover guard below one interval with quorum', { quorum: 2, takeover_guard: 0.5 }, 'takeover_guard', 'must be at least interval (1 s) when quorum > 1, so a partitioned holder lets go before anyone takes over'],
    ['a management mode that is not octal', { management_mode: '0999' }, 'management_mode', 'must be an octal mode such as "0660", not "0999"'],
    ['a management mode written as decimal digits', { management_mode: 660 }, 'management_mode', '660 is not a mode: write octal modes as a string such as "0660"'],
    ['a logging driver misspelt', { logging: { driver: 'syslg' } }, 'logging.driver', 'must be one of "console", "syslog", "none", not "syslg"; did you mean "syslog"?'],
    ['a metrics listener without a port', { metrics: { listen: 'localhost' } }, 'metrics.listen', '"localhost" is not "ADDRESS:PORT" (for example "127.0.0.1:9477")'],
    ['plugins not a list', { plugins: 'a.js' }, 'plugins', 'must be an array, not "a.js"'],
  ])('%s', (_name, change, path, message) => {
    const found = problemsOf({ ...base, ...change });
    expect(found.map(({ path: p, message: m }) => ({ path: p, message: m }))).toEqual([{ path, message }]);
    expect(found[0]!.line).toBeGreaterThan(0);
  });

  it('a missing required key points at the enclosing object', () => {
    const { vips: _vips, ...withoutVips } = base;
    expect(problemsOf(withoutVips)).toEqual([{ path: 'vips', message: 'is required', line: 1, column: 1 }]);
  });
});

describe('loadConfigFile', () => {
  it('an unreadable file is a ConfigError naming the file', () => {
    expect(() => loadConfigFile('/nonexistent/vippy.conf')).toThrow(/^\/nonexistent\/vippy\.conf: cannot read the file: ENOENT/);
  });
});
