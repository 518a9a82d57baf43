import { describe, expect, it } from 'vitest';
import { ConfigError, adoptTransferred, parseConfig, renderConfigFile, summarizeConfig, transferDocument, type Problem } from '../../src/config/index.js';

const base = {
  chat: '239.192.0.1:8945',
  secret: 'a-long-enough-shared-secret',
  nodes: ['a', 'b'],
};

const text = (value: object) => JSON.stringify(value, null, 2);
const parse = (value: object) => parseConfig(text(value), 'test.conf');

function problemsOf(value: object): Problem[] {
  try {
    parse(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

const web = { kind: 'tcp', connect: '127.0.0.1:8080' };

describe('checks in a vippy file', () => {
  it('normalizes every kind with its defaults', () => {
    const { config, warnings } = parse({
      ...base,
      vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }, { checks: ['web', 'api'] }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]],
      checks: {
        web,
        api: { kind: 'http', url: 'https://[2001:db8::1]:8443/health', status: [200, 204], body: 'ok', insecure: true, interval: 0.5, timeout: 0.2, rise: 3, fall: 2, initial: 'pass', when_all_fail: 'release' },
        script: { kind: 'exec', command: ['/usr/local/bin/check', '--quick'], user: 'nobody', node: true },
        shell: { kind: 'exec', command: 'pgrep -x haproxy', shell: true, node: true },
        maintenance: { kind: 'file', path: '/etc/vippy/maintenance', node: true },
        proxy: { kind: 'process', name: 'haproxy', node: true },
        pid: { kind: 'process', pidfile: '/run/haproxy.pid', node: true },
        uplink: { kind: 'interface', interface: 'eth1', node: true },
      },
    });
    expect(warnings).toEqual([]);
    expect(config.groups.map((group) => group.checks)).toEqual([['web', 'api'], undefined]);
    const byName = new Map(config.checks!.map((check) => [check.name, check]));
    expect(byName.get('web')).toEqual({
      name: 'web', kind: 'tcp', host: '127.0.0.1', port: 8080, node: false,
      intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 1, initial: 'fail', whenAllFail: 'keep',
    });
    expect(byName.get('api')).toMatchObject({
      kind: 'http', url: 'https://[2001:db8::1]:8443/health', status: [200, 204], body: 'ok', insecure: true,
      intervalMs: 500, timeoutMs: 200, rise: 3, fall: 2, initial: 'pass', whenAllFail: 'release',
    });
    expect(byName.get('script')).toMatchObject({ kind: 'exec', argv: ['/usr/local/bin/check', '--quick'], shell: false, user: 'nobody', node: true });
    expect(byName.get('shell')).toMatchObject({ kind: 'exec', argv: ['/bin/sh', '-c', 'pgrep -x haproxy'], shell: true });
    expect(byName.get('maintenance')).toMatchObject({ kind: 'file', path: '/etc/vippy/maintenance' });
    expect(byName.get('proxy')).toMatchObject({ kind: 'process', processName: 'haproxy' });
    expect(byName.get('pid')).toMatchObject({ kind: 'process', pidfile: '/run/haproxy.pid' });
    expect(byName.get('uplink')).toMatchObject({ kind: 'interface', interface: 'eth1' });
    expect(summarizeConfig(config)).toContain('web: tcp 127.0.0.1:8080, every 1 s (timeout 1 s, rise 2, fall 1, initially fail) -> groups [0]; all failing: keep');
  });

  it('keeps the original group format valid, and checks out of the fingerprint', () => {
    const plain = parse({ ...base, vips: [['a', { interface: 'eth0', ip: '192.0.2.10/24' }]] }).config;
    const checked = parse({ ...base, vips: [['a', { interface: 'eth0', ip: '192.0.2.10/24' }, { checks: ['web'] }]], checks: { web } }).config;
    expect(plain.checks).toEqual([]);
    expect(checked.groups[0]!.preferred).toBe('a');
    expect(checked.fingerprint).toBe(plain.fingerprint);
  });

  it('names an unknown check in a group by its place in the file', () => {
    const problems = problemsOf({ ...base, vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }, { checks: ['web', 'wbe'] }]], checks: { web } });
    expect(problems).toEqual([{ path: 'vips[0][1].checks[1]', message: 'unknown check "wbe" (checks defined: "web")', line: 17, column: 11 }]);
  });

  it('rejects a negative interval with line and column', () => {
    const problems = problemsOf({ ...base, vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]], checks: { web: { ...web, interval: -1 } } });
    expect(problems).toEqual([{ path: 'checks.web.interval', message: 'must be greater than 0', line: 20, column: 7 }]);
  });

  it('says which keys a kind needs and which it does not take', () => {
    const problems = problemsOf({
      ...base,
      vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]],
      checks: {
        a: { kind: 'tcp', path: '/x' },
        b: { kind: 'exec', command: 'true' },
        c: { kind: 'exec', command: ['/bin/true'], shell: true },
        d: { kind: 'process', name: 'x', pidfile: '/run/x.pid' },
        e: { kind: 'http', url: 'ftp://x' },
        f: { kind: 'dns' },
      },
    }).map((problem) => `${problem.path}: ${problem.message}`);
    expect(problems).toContain('checks.e.url: "ftp://x" is not an http:// or https:// URL');
    expect(problems.find((line) => line.startsWith('checks.f.kind'))).toMatch(/must be one of "exec", "tcp", "http", "file", "process", "interface", not "dns"/);
    const fixed = problemsOf({
      ...base,
      vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]],
      checks: {
        a: { kind: 'tcp', path: '/x' },
        b: { kind: 'exec', command: 'true' },
        c: { kind: 'exec', command: ['/bin/true'], shell: true },
        d: { kind: 'process', name: 'x', pidfile: '/run/x.pid' },
      },
    }).map((problem) => `${problem.path}: ${problem.message}`);
    expect(fixed).toEqual([
      'checks.a.path: is not used by kind "tcp" (it takes "connect")',
      'checks.a.connect: is required for kind "tcp"',
      'checks.b.command: is a string, which needs "shell": true (or give an argv array such as ["/usr/bin/check", "--quick"])',
      'checks.c.shell: needs "command" as one string for /bin/sh -c, not an argv array',
      'checks.d.name: give "name" or "pidfile" (one of them)',
    ].sort((x, y) => fixed.indexOf(x) - fixed.indexOf(y)));
  });

  it('keeps the did-you-mean of a mistyped address key and of a mistyped checks element', () => {
    const problems = problemsOf({ ...base, vips: [[{ interface: 'eth0', ipp: '192.0.2.10/24' }, { chekcs: ['web'] }]], checks: { web } });
    expect(problems.map((problem) => `${problem.path}: ${problem.message}`)).toEqual([
      'vips[0][0].ip: is required',
      'vips[0][0].ipp: unknown key; did you mean "ip"?',
      'vips[0][1]: must be a node name (first element only), {"interface", "ip"} or a group\'s options {"announce", "checks"}, not an object',
    ]);
  });

  it('warns about a check that covers nothing', () => {
    const { warnings } = parse({ ...base, vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]], checks: { web } });
    expect(warnings).toEqual(['check "web" covers no group (no group or system names it and "node" is false): it runs and shows in vippyctl checks, but moves nothing']);
  });
});

describe('checks and config graduation', () => {
  const local = {
    ...base,
    version: 1,
    vips: [[{ interface: 'eth9', ip: '192.0.2.10/24' }, { checks: ['web'] }]],
    checks: { web },
  };

  it('sends no checks to peers and keeps this host\'s on adoption', () => {
    const { config } = parse(local);
    const document = transferDocument(config);
    expect(document).not.toContain('checks');
    const peer = parse({ ...base, version: 2, vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }, { checks: ['theirs'] }], [{ interface: 'eth0', ip: '192.0.2.11/24' }]], checks: { theirs: web } }).config;
    const adopted = adoptTransferred(config, transferDocument(peer));
    expect(adopted.version).toBe(2);
    expect(adopted.groups.map((group) => group.checks)).toEqual([['web'], undefined]);
    expect(adopted.checks!.map((check) => check.name)).toEqual(['web']);
    const written = renderConfigFile(text(local), adopted);
    expect(parseConfig(written, 'written').config.groups.map((group) => group.checks)).toEqual([['web'], undefined]);
  });
});

describe('checks in a flip file', () => {
  const flip = {
    id: 'a',
    key: 'a-long-enough-shared-secret',
    servers: { a: { ip: '198.51.100.1', port: 9000, systems: ['web'] }, b: { ip: '198.51.100.2', port: 9000, systems: ['web'] } },
    cluster: { config: { interface: 'eth0' }, system: { web: { type: 'shard', data: ['192.0.2.10', '192.0.2.11'], checks: ['nginx'] } } },
    checks: { nginx: { kind: 'http', url: 'http://127.0.0.1/' } },
  };

  it('lets a system name checks for every point', () => {
    const { config, warnings } = parse(flip);
    expect(warnings).toEqual([]);
    expect(config.groups.map((group) => group.checks)).toEqual([['nginx'], ['nginx']]);
  });

  it('names an unknown check of a system', () => {
    const problems = problemsOf({ ...flip, checks: {} });
    expect(problems.map((problem) => `${problem.path}: ${problem.message}`)).toEqual(['cluster.system.web.checks[0]: unknown check "nginx" (the file defines no checks)']);
  });
});
