import { describe, expect, it } from 'vitest';
import { formatChecks, formatGroup, formatStatus, maskBits, StatusFormatError } from '../../src/control/format.js';
import { statusBody, statusOwnership, type Status, type StatusGroup } from '../../src/control/status.js';

const v4 = (ip: string, netmask: string, network: string, broadcast: string, name = 'net0') => ({ ip, netmask, broadcast, network, name });

// Issue #3's cluster, as the original daemon reported it.
const vpn1: StatusGroup = [v4('10.112.102.125', '255.255.255.255', '10.112.102.125', '10.112.102.125'), v4('10.112.102.126', '255.255.255.255', '10.112.102.126', '10.112.102.126')];
const slash25: StatusGroup = ['vpn-1', v4('192.0.2.130', '255.255.255.128', '192.0.2.128', '192.0.2.255')];
const slash23: StatusGroup = [v4('198.51.100.7', '255.255.254.0', '198.51.100.0', '198.51.101.255')];
const slash29: StatusGroup = [v4('203.0.113.9', '255.255.255.248', '203.0.113.8', '203.0.113.15')];
const ipv6: StatusGroup = [{ ip: '2001:db8::10', prefixlen: 64, name: 'net0' }, { ip: '2001:db8::11', prefixlen: 64, name: 'net0' }];

function status(overrides: Partial<Status['state']>, identity = 'vpn-2'): Status {
  return {
    identity,
    stats: { net: { ignore: 0, 'send-announce': 10, 'recv-announce': 30 }, 'state-changes': 2 },
    config: { version: 3, vips: [vpn1, slash25, slash23, slash29, ipv6], nodes: ['vpn-1', 'vpn-2', 'vpn-3'] },
    state: {
      mature: true,
      active: true,
      inactive_reason: null,
      ownership: { _: [slash29], 'vpn-1': [slash25, slash23], 'vpn-2': [vpn1, ipv6] },
      ...overrides,
    },
  };
}

describe('formatStatus', () => {
  it('prints the original layout line for line, with correct mask bits', () => {
    expect(formatStatus(status({}))).toBe(
      [
        'State:  active',
        '(*) vpn-2: 10.112.102.125/32 10.112.102.126/32',
        '    vpn-1: 192.0.2.130/25 P(vpn-1)',
        '    vpn-1: 198.51.100.7/23',
        '    (unowned): 203.0.113.9/29',
        '(*) vpn-2: 2001:db8::10 2001:db8::11',
        '',
      ].join('\n'),
    );
  });

  it('adds the Reason line when inactive and ??? for a group nobody is listed for', () => {
    const text = formatStatus(status({ active: false, mature: false, inactive_reason: 'booting', ownership: {} }));
    expect(text.split('\n')).toEqual([
      'State:  inactive',
      'Reason: booting',
      '    ???: 10.112.102.125/32 10.112.102.126/32',
      '    ???: 192.0.2.130/25 P(vpn-1)',
      '    ???: 198.51.100.7/23',
      '    ???: 203.0.113.9/29',
      '    ???: 2001:db8::10 2001:db8::11',
      '',
    ]);
  });

  it('marks nothing as ours when another node owns it all', () => {
    const text = formatStatus(status({}, 'vpn-3'));
    expect(text).not.toContain('(*)');
    expect(text).toContain('    vpn-2: 10.112.102.125/32 10.112.102.126/32\n');
  });

  it('formats what statusBody and statusOwnership build from core ownership', () => {
    const vips = [vpn1, slash25];
    const body = statusBody({
      state: { ownership: statusOwnership({ _: [], 'vpn-1': [1], 'vpn-2': [0] }, vips), inactive_reason: null, active: true, mature: true },
      config: { nodes: ['vpn-1', 'vpn-2'], vips, version: 1 },
      stats: { 'state-changes': 1, net: { 'recv-announce': 1, 'send-announce': 1, ignore: 0 } },
      identity: 'vpn-2',
    });
    expect(Object.keys(body)).toEqual(['identity', 'stats', 'config', 'state']);
    expect(Object.keys(body.stats.net)).toEqual(['ignore', 'send-announce', 'recv-announce']);
    expect(Object.keys(body.state)).toEqual(['mature', 'active', 'inactive_reason', 'ownership']);
    expect(formatStatus(JSON.parse(JSON.stringify(body)))).toBe(
      'State:  active\n(*) vpn-2: 10.112.102.125/32 10.112.102.126/32\n    vpn-1: 192.0.2.130/25 P(vpn-1)\n',
    );
  });

  it('prints flip data points that are not addresses, each with its own holder, and every holder of a replicated one', () => {
    const point = (name: string, system = 'db'): StatusGroup => [{ point: name, system }];
    const [primary, replica, cache] = [point('primary'), point('replica'), point('shared', 'cache')];
    const body = statusBody({
      identity: 'flip1',
      stats: { net: { ignore: 0, 'send-announce': 1, 'recv-announce': 1 }, 'state-changes': 1 },
      config: { version: 0, vips: [primary, replica, cache], nodes: ['flip1', 'flip'] },
      state: { mature: true, active: true, inactive_reason: null, ownership: statusOwnership({ _: [], flip1: [0, 2], flip: [1, 2] }, [primary, replica, cache]) },
    });
    expect(formatStatus(JSON.parse(JSON.stringify(body)))).toBe(
      'State:  active\n(*) flip1: primary (db)\n    flip: replica (db)\n(*) flip1,flip: shared (cache)\n',
    );
  });

  it('rejects replies that are not a status report, naming what is missing', () => {
    expect(() => formatStatus({ error: 'no such command' })).toThrow(new StatusFormatError('the status reply has no "state" object'));
    expect(() => formatStatus({ state: {}, config: {} })).toThrow(/config\.vips/);
    expect(() => formatStatus(null)).toThrow(/not a JSON object/);
    expect(() => formatStatus({ state: { ownership: { a: 1 } }, config: { vips: [] } })).toThrow(/ownership\["a"\]/);
  });
});

describe('statusBody', () => {
  it('puts new keys after the original four', () => {
    const body = statusBody({
      held: [0],
      peers: [],
      quorum: { required: 2, seen: 3, met: true, policy: 'stop' },
      ...status({}),
    });
    expect(Object.keys(body)).toEqual(['identity', 'stats', 'config', 'state', 'quorum', 'peers', 'held']);
  });
});

describe('statusOwnership', () => {
  it('refuses an index outside the config', () => {
    expect(() => statusOwnership({ a: [4] }, [vpn1])).toThrow(/group 4, but the config has 1 groups/);
  });
});

describe('maskBits / formatGroup', () => {
  it.each([
    ['255.255.255.255', 32],
    ['255.255.255.128', 25],
    ['255.255.254.0', 23],
    ['255.255.255.248', 29],
    ['255.255.255.0', 24],
    ['0.0.0.0', 0],
    ['255.0.255.0', 16], // not a contiguous mask: still the count of set bits
    ['not-a-mask', '?'],
  ])('%s → %s', (mask, bits) => {
    expect(maskBits(mask)).toBe(bits);
  });

  it('puts the preferred node last and skips it among the addresses', () => {
    expect(formatGroup(['node-a', v4('192.0.2.1', '255.255.255.0', '192.0.2.0', '192.0.2.255')])).toBe('192.0.2.1/24 P(node-a)');
  });
});

describe('health checks in vippyctl', () => {
  it('status says why this node may not hold a group, after the original lines', () => {
    const body = { ...status({}), ineligible: [{ group: 2, reasons: ['check web failing: connect ECONNREFUSED', 'no carrier on net0'] }] };
    const lines = formatStatus(body).split('\n');
    expect(lines.at(-2)).toBe('Ineligible for 198.51.100.7/23: check web failing: connect ECONNREFUSED; no carrier on net0');
    expect(formatStatus(status({}))).toBe(formatStatus({ ...status({}), ineligible: [] }));
  });

  it('checks: one line per check, then the output of failing ones', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const check = {
      name: 'web', kind: 'tcp', target: 'tcp 127.0.0.1:80', state: 'pass', since: '2026-12-05T09:59:48Z', reason: 'connected',
      consecutive_passes: 12, consecutive_fails: 0, runs: 12, last_result: 'pass', last_reason: 'connected', last_duration_ms: 0.4,
      last_run_at: '2026-12-05T09:59:59Z', output: null, interval_ms: 1000, rise: 2, fall: 1, groups: [0, 2],
    };
    const script = {
      ...check, name: 'script', kind: 'exec', target: 'exec ["/usr/local/bin/check"]', state: 'fail', since: '2026-12-05T09:00:00Z',
      reason: 'exit 2', consecutive_passes: 0, consecutive_fails: 3, last_duration_ms: 15.2, output: 'backend down\nretry later', groups: 'all',
    };
    expect(formatChecks([check, script], now)).toBe([
      'CHECK   STATE  SINCE    PASS/FAIL  LAST RUN  GROUPS  TARGET: REASON',
      'web     pass   12s ago  12/0       0.4 ms    0,2     tcp 127.0.0.1:80: connected',
      'script  fail   60m ago  0/3        15.2 ms   all     exec ["/usr/local/bin/check"]: exit 2',
      'script output:',
      '  backend down',
      '  retry later',
      '',
    ].join('\n'));
    expect(formatChecks([])).toBe('no checks configured\n');
    expect(() => formatChecks({})).toThrow(StatusFormatError);
  });
});

describe('routed groups in vippyctl status', () => {
  it('marks each group with its mode and lists what the holder announces; statusBody keeps the announce key last', () => {
    const routedGroup: StatusGroup = ['a', v4('203.0.113.10', '255.255.255.255', '203.0.113.10', '203.0.113.10', 'vippy0')];
    const l2Group: StatusGroup = [v4('192.0.2.50', '255.255.255.0', '192.0.2.0', '192.0.2.255', 'eth0')];
    const vips = [routedGroup, l2Group];
    const body = statusBody({
      announce: {
        interface: 'vippy0', table: 100, protocol: 201,
        groups: [
          { group: 0, mode: 'routed', announced: ['203.0.113.10/32 on vippy0', '203.0.113.10/32 in table 100 (protocol 201)'] },
          { group: 1, mode: 'l2', announced: [] },
        ],
      },
      identity: 'a',
      stats: { net: { ignore: 0, 'send-announce': 0, 'recv-announce': 0 }, 'state-changes': 0 },
      config: { version: 1, vips, nodes: ['a', 'b'] },
      state: { mature: true, active: true, inactive_reason: null, ownership: statusOwnership({ a: [0], b: [1] }, vips) },
    });
    expect(Object.keys(body).at(-1)).toBe('announce');
    expect(formatStatus(body)).toBe([
      'State:  active',
      '(*) a: 203.0.113.10/32 P(a) [routed]',
      '        announced: 203.0.113.10/32 on vippy0, 203.0.113.10/32 in table 100 (protocol 201)',
      '    b: 192.0.2.50/24 [l2]',
      '',
    ].join('\n'));
  });
});
