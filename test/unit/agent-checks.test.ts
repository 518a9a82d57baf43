// The check runner against real processes, sockets and files (no kernel state is changed: the
// interface kind is fed link events here and tested against real links in test/netns).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CheckSpec } from '../../src/config/model.js';
import { CheckRunner, type CheckChange } from '../../src/agent/checks/runner.js';
import { resolveUser } from '../../src/agent/checks/exec.js';

const common = { node: false, intervalMs: 50, timeoutMs: 1000, rise: 1, fall: 1, initial: 'fail', whenAllFail: 'keep' } as const;

interface Harness {
  runner: CheckRunner;
  changes: CheckChange[];
  notices: string[];
}

const runners: CheckRunner[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const runner of runners.splice(0)) runner.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function start(specs: CheckSpec[], links: Array<{ name: string; up: boolean; running: boolean; lowerUp: boolean }> = []): Harness {
  const changes: CheckChange[] = [];
  const notices: string[] = [];
  const quiet = () => {};
  const runner = new CheckRunner({
    node: 'n1',
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet, notice: (_fields, message) => notices.push(message) },
    onChange: (change) => changes.push(change),
    listInterfaces: () => links.map((link, index) => ({ ...link, index: index + 1, mac: '', mtu: 1500, flags: 0 })),
  });
  runners.push(runner);
  runner.setChecks(specs);
  return { runner, changes, notices };
}

const state = (h: Harness, name: string) => h.runner.status().find((check) => check.name === name)!;
const until = (assertion: () => void) => vi.waitFor(assertion, { timeout: 5000, interval: 20 });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vippy-checks-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('exec checks', () => {
  it('pass on exit 0, fail on another exit with the output kept, and see their name and node', async () => {
    const h = start([
      { ...common, name: 'ok', kind: 'exec', argv: ['/bin/sh', '-c', 'echo "$VIPPY_CHECK on $VIPPY_NODE"'], shell: true },
      { ...common, name: 'bad', kind: 'exec', argv: ['/bin/sh', '-c', 'echo broken >&2; exit 3'], shell: true },
    ]);
    await until(() => expect(state(h, 'ok').state).toBe('pass'));
    expect(state(h, 'ok').output).toBe('ok on n1');
    await until(() => expect(state(h, 'bad').runs).toBeGreaterThan(0));
    expect(state(h, 'bad')).toMatchObject({ state: 'fail', lastReason: 'exit 3', output: 'broken' });
  });

  it('fail with a clear reason when the command does not exist, and keep running', async () => {
    const h = start([{ ...common, name: 'missing', kind: 'exec', argv: ['/nonexistent/check'], shell: false }]);
    await until(() => expect(state(h, 'missing').runs).toBeGreaterThanOrEqual(2));
    expect(state(h, 'missing')).toMatchObject({ state: 'fail', reason: '/nonexistent/check: command not found (ENOENT)' });
  });

  it('kill a run past its timeout with its whole process group', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'grandchild');
    // The grandchild would outlive a kill of its parent alone.
    const h = start([{ ...common, name: 'hang', kind: 'exec', argv: ['/bin/sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], shell: true, timeoutMs: 300, intervalMs: 60_000 }]);
    await until(() => expect(state(h, 'hang').runs).toBe(1));
    expect(state(h, 'hang')).toMatchObject({ state: 'fail', lastReason: 'timed out after 300 ms (process group killed)' });
    const { readFileSync } = await import('node:fs');
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    await until(() => expect(alive(grandchild)).toBe(false));
  });

  it('run as another user', async () => {
    const nobody = resolveUser('nobody');
    const h = start([{ ...common, name: 'who', kind: 'exec', argv: ['/usr/bin/id', '-u'], shell: false, user: 'nobody' }]);
    await until(() => expect(state(h, 'who').state).toBe('pass'));
    expect(state(h, 'who').output).toBe(String(nobody.uid));
  });

  it('fail naming an unknown user', async () => {
    const h = start([{ ...common, name: 'who', kind: 'exec', argv: ['/usr/bin/id'], shell: false, user: 'no-such-user-here' }]);
    await until(() => expect(state(h, 'who').runs).toBe(1));
    expect(state(h, 'who').reason).toBe('user "no-such-user-here" is not in /etc/passwd');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('tcp and http checks', () => {
  it('tcp: pass while something listens, fail with the errno once it is gone', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const h = start([{ ...common, name: 'svc', kind: 'tcp', host: '127.0.0.1', port }]);
    await until(() => expect(state(h, 'svc').state).toBe('pass'));
    await new Promise((resolve) => server.close(resolve));
    await until(() => expect(state(h, 'svc').state).toBe('fail'));
    expect(state(h, 'svc').reason).toBe('connect ECONNREFUSED');
    expect(h.changes.map((change) => change.ok)).toEqual([false, true, false]);
    expect(h.notices).toEqual(['check svc passing: connected', 'check svc failing: connect ECONNREFUSED']);
  });

  it('http: the status set and the body substring decide', async () => {
    let status = 200;
    let body = 'all ok';
    const server = http.createServer((_req, res) => res.writeHead(status).end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/health`;
    const h = start([
      { ...common, name: 'any2xx', kind: 'http', url, status: null, insecure: false },
      { ...common, name: 'body', kind: 'http', url, status: [200], body: 'ok', insecure: false },
    ]);
    await until(() => expect([state(h, 'any2xx').state, state(h, 'body').state]).toEqual(['pass', 'pass']));
    body = 'degraded';
    await until(() => expect(state(h, 'body').state).toBe('fail'));
    expect(state(h, 'body').reason).toBe('HTTP 200, body lacks "ok"');
    expect(state(h, 'any2xx').state).toBe('pass');
    status = 503;
    await until(() => expect(state(h, 'any2xx').state).toBe('fail'));
    expect(state(h, 'any2xx').reason).toBe('HTTP 503');
  });

  it('tcp: a connection that never completes fails at the timeout', async () => {
    // 192.0.2.1 (TEST-NET-1) is not routed here: the connect either hangs or is refused at once.
    const h = start([{ ...common, name: 'blackhole', kind: 'tcp', host: '192.0.2.1', port: 9, timeoutMs: 200, intervalMs: 60_000 }]);
    await until(() => expect(state(h, 'blackhole').runs).toBe(1));
    expect(state(h, 'blackhole').state).toBe('fail');
    expect(state(h, 'blackhole').lastDurationMs!).toBeLessThan(60_000);
  });
});

describe('file and process checks', () => {
  it('file: absent passes, present fails (maintenance), the number 0 passes', async () => {
    const path = join(tempDir(), 'maintenance');
    const h = start([{ ...common, name: 'maint', kind: 'file', path }]);
    await until(() => expect(state(h, 'maint').state).toBe('pass'));
    writeFileSync(path, '');
    await until(() => expect(state(h, 'maint').state).toBe('fail'));
    expect(state(h, 'maint').reason).toBe(`${path} present (maintenance)`);
    writeFileSync(path, '0\n');
    await until(() => expect(state(h, 'maint').state).toBe('pass'));
    writeFileSync(path, '5\n');
    await until(() => expect(state(h, 'maint').reason).toBe(`${path} holds 5 (maintenance)`));
  });

  it('process: by name and by pidfile, from /proc', async () => {
    const dir = tempDir();
    const child = spawn('sleep', ['30']);
    cleanups.push(() => child.kill('SIGKILL'));
    const pidfile = join(dir, 'sleep.pid');
    writeFileSync(pidfile, `${child.pid}\n`);
    const h = start([
      { ...common, name: 'byname', kind: 'process', processName: 'sleep' },
      { ...common, name: 'bypid', kind: 'process', pidfile },
      { ...common, name: 'nothing', kind: 'process', processName: 'no-such-daemon' },
    ]);
    await until(() => expect([state(h, 'byname').state, state(h, 'bypid').state]).toEqual(['pass', 'pass']));
    await until(() => expect(state(h, 'nothing').runs).toBeGreaterThan(0));
    expect(state(h, 'nothing')).toMatchObject({ state: 'fail', reason: 'no process named "no-such-daemon"' });
    child.kill('SIGKILL');
    await until(() => expect(state(h, 'bypid').state).toBe('fail'));
    expect(state(h, 'bypid').reason).toBe(`pid ${child.pid} (${pidfile}) is not running`);
  });
});

describe('verdicts', () => {
  it('rise and fall count consecutive runs; the first run alone decides', async () => {
    const path = join(tempDir(), 'flag');
    const h = start([{ ...common, name: 'flag', kind: 'file', path, rise: 3, fall: 2, initial: 'fail' }]);
    await until(() => expect(state(h, 'flag').state).toBe('pass'));
    expect(state(h, 'flag').runs).toBe(1);
    writeFileSync(path, '1');
    await until(() => expect(state(h, 'flag').state).toBe('fail'));
    expect(state(h, 'flag').consecutiveFails).toBe(2);
    rmSync(path);
    await until(() => expect(state(h, 'flag').state).toBe('pass'));
    expect(state(h, 'flag').consecutivePasses).toBe(3);
    expect(h.changes.map((change) => change.ok)).toEqual([false, true, false, true]);
  });

  it('keeps the state of an unchanged check across setChecks and restarts a changed one', async () => {
    const path = join(tempDir(), 'flag');
    const spec: CheckSpec = { ...common, name: 'flag', kind: 'file', path };
    const h = start([spec]);
    await until(() => expect(state(h, 'flag').state).toBe('pass'));
    const since = state(h, 'flag').since;
    h.runner.setChecks([spec]);
    expect(state(h, 'flag')).toMatchObject({ state: 'pass', since });
    h.runner.setChecks([{ ...spec, initial: 'fail', rise: 5 }]);
    expect(state(h, 'flag')).toMatchObject({ state: 'fail', reason: 'initial state', runs: 0 });
    h.runner.setChecks([]);
    expect(h.runner.status()).toEqual([]);
  });

  it('interface: link events decide at once', () => {
    const h = start([{ ...common, name: 'uplink', kind: 'interface', interface: 'eth1' }], [{ name: 'eth1', up: true, running: true, lowerUp: true }]);
    expect(state(h, 'uplink')).toMatchObject({ state: 'pass', reason: 'eth1 is up with carrier' });
    const link = { type: 'link', action: 'new', index: 1, name: 'eth1', mac: '', flags: 0, up: true, running: false, lowerUp: false } as const;
    h.runner.onNetEvents([link]);
    expect(state(h, 'uplink')).toMatchObject({ state: 'fail', reason: 'eth1 has no carrier' });
    h.runner.onNetEvents([link]);
    expect(state(h, 'uplink').runs).toBe(2);
    h.runner.onNetEvents([{ ...link, running: true, lowerUp: true }]);
    expect(state(h, 'uplink').state).toBe('pass');
    h.runner.onNetEvents([{ ...link, action: 'delete' }]);
    expect(state(h, 'uplink')).toMatchObject({ state: 'fail', reason: 'no interface eth1' });
  });
});
