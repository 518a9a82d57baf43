import { waitFor } from '../lib/wait-for.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestControl, ControlUnreachableError } from '../../src/control/client.js';
import {
  ControlError,
  ControlSocketError,
  resolveGroupId,
  startControlServer,
  type ControlHandlers,
  type ControlServer,
  type ControlServerOptions,
} from '../../src/control/server.js';
import type { Status } from '../../src/control/status.js';
import { createLogger } from '../../src/log/logger.js';

const status: Status = {
  identity: 'alpha',
  stats: { net: { ignore: 0, 'send-announce': 3, 'recv-announce': 9 }, 'state-changes': 1 },
  config: { version: 1, vips: [[{ ip: '192.0.2.10', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'net0' }]], nodes: ['alpha', 'beta'] },
  state: { mature: true, active: true, inactive_reason: null, ownership: {} },
};

let dir: string;
let path: string;
let logLines: string[];
const servers: ControlServer[] = [];
const calls: unknown[][] = [];

function handlers(overrides: Partial<ControlHandlers> = {}): ControlHandlers {
  return {
    status: () => status,
    peers: () => [{ node: 'beta', up: true }],
    arpCache: () => ({ '192.0.2.1': '02:00:00:00:00:01' }),
    activate: (reason) => (calls.push(['activate', reason]), { active: true }),
    deactivate: (reason) => (calls.push(['deactivate', reason]), { active: false, inactive_reason: reason ?? 'administrative' }),
    reload: async () => ({ version: 2 }),
    ...overrides,
  };
}

async function start(opts: Partial<ControlServerOptions> = {}): Promise<ControlServer> {
  const log = createLogger(
    { driver: 'console', facility: 'local7', json: true, mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: false } },
    { ident: 'test', destination: { write: (line: string) => logLines.push(line) } },
  );
  const server = await startControlServer({ path, handlers: handlers(), log, ...opts });
  servers.push(server);
  return server;
}

/** A socket file with nobody behind it: what a SIGKILLed daemon leaves. */
async function leaveStaleSocket(at: string): Promise<void> {
  const script = `require('net').createServer().listen(${JSON.stringify(at)}, () => process.kill(process.pid, 'SIGKILL'))`;
  await promisify(execFile)(process.execPath, ['-e', script]).catch(() => {});
  expect(statSync(at).isSocket()).toBe(true);
}

beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'vippy-ctl-'));
  path = join(dir, 'control.sock');
  logLines = [];
  calls.length = 0;
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('commands', () => {
  it('answers /status with the status JSON to GET and POST', async () => {
    await start();
    for (const method of ['GET', 'POST'] as const) {
      const reply = await requestControl(path, 'status', { method });
      expect(reply.status).toBe(200);
      expect(reply.contentType).toBe('application/json; charset=utf-8');
      expect(reply.body).toEqual(status);
      expect(Object.keys(reply.body as object)).toEqual(['identity', 'stats', 'config', 'state']);
    }
  });

  it('serves peers, arp-cache and reload', async () => {
    await start();
    expect((await requestControl(path, 'peers')).body).toEqual([{ node: 'beta', up: true }]);
    expect((await requestControl(path, 'arp-cache')).body).toEqual({ '192.0.2.1': '02:00:00:00:00:01' });
    expect((await requestControl(path, 'reload', { method: 'POST' })).body).toEqual({ version: 2 });
  });

  it('passes the reason of activate / deactivate, absent when not given', async () => {
    await start();
    const reply = await requestControl(path, 'deactivate', { reason: 'disk swap in rack 4' });
    expect(reply.body).toEqual({ active: false, inactive_reason: 'disk swap in rack 4' });
    await requestControl(path, 'activate');
    expect(calls).toEqual([
      ['deactivate', 'disk swap in rack 4'],
      ['activate', undefined],
    ]);
  });

  it('refuses an empty, overlong or control-character reason without calling the handler', async () => {
    await start();
    for (const reason of ['', 'x'.repeat(201), 'bad\nreason']) {
      const reply = await requestControl(path, 'deactivate', { reason });
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ error: 'reason must be 1 to 200 printable characters' });
    }
    expect(calls).toEqual([]);
  });

  it('answers an unknown path with 404 {"error":"no such command"}', async () => {
    await start();
    for (const command of ['nope', 'status/extra', 'metrics']) {
      const reply = await requestControl(path, command);
      expect(reply.status).toBe(404);
      expect(reply.text).toBe('{"error":"no such command"}\n');
    }
  });

  it('answers another method with 405 and an Allow header', async () => {
    await start();
    const reply = await rawRequest(path, 'DELETE /status HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 405 /);
    expect(reply).toMatch(/\r\nAllow: GET, POST\r\n/i);
    expect(reply).toContain('{"error":"method DELETE not allowed on /status; use GET or POST"}');
  });

  it('serves /metrics as Prometheus text when the agent provides it', async () => {
    await start({ handlers: handlers({ metrics: () => '# HELP vippy_up 1\nvippy_up 1\n' }) });
    const reply = await requestControl(path, 'metrics');
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.text).toBe('# HELP vippy_up 1\nvippy_up 1\n');
  });

  it('turns a throwing handler into a 500 JSON error, logs it and keeps serving', async () => {
    await start({
      handlers: handlers({
        peers: () => {
          throw new Error('peer table on fire');
        },
        reload: async () => {
          throw new ControlError(409, 'config invalid: vips[0][1].ip');
        },
      }),
    });
    const failed = await requestControl(path, 'peers');
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: 'peers failed: peer table on fire' });
    const logged = logLines.map((l) => JSON.parse(l)).find((r) => r.msg === 'control command failed');
    expect(logged).toMatchObject({ level: 'err', command: '/peers', err: { message: 'peer table on fire' } });
    expect(logged.err.stack).toContain('peer table on fire');

    const refused = await requestControl(path, 'reload');
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: 'config invalid: vips[0][1].ip' });

    expect((await requestControl(path, 'status')).status).toBe(200);
  });
});

describe('socket file', () => {
  it('is mode 0600 by default and removed by close()', async () => {
    const server = await start();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await server.close();
    expect(existsSync(path)).toBe(false);
    await expect(requestControl(path, 'status')).rejects.toThrow(ControlUnreachableError);
  });

  it('takes the configured mode and group', async () => {
    const gid = os.userInfo().gid;
    await start({ mode: 0o660, group: String(gid) });
    const stat = statSync(path);
    expect(stat.mode & 0o777).toBe(0o660);
    expect(stat.gid).toBe(gid);
  });

  it('replaces a stale socket file that nothing listens on', async () => {
    await leaveStaleSocket(path);
    await start();
    expect((await requestControl(path, 'status')).status).toBe(200);
    expect(logLines.map((l) => JSON.parse(l).msg)).toContain('removed a stale control socket');
  });

  it('refuses to start while another server listens on the path, and leaves it alone', async () => {
    await start();
    await expect(start()).rejects.toThrow(new ControlSocketError(`another vippyd is already serving ${path}`));
    expect((await requestControl(path, 'status')).status).toBe(200);
  });

  it('refuses a path that is not a socket and never deletes it', async () => {
    writeFileSync(path, 'precious\n');
    await expect(start()).rejects.toThrow(`${path} exists and is not a socket; not replacing it (remove it or change "management")`);
    expect(readFileSync(path, 'utf8')).toBe('precious\n');
  });

  it('names the path when the directory does not exist', async () => {
    path = join(dir, 'missing', 'control.sock');
    await expect(start()).rejects.toThrow(`cannot listen on the control socket ${path}: directory ${join(dir, 'missing')} does not exist`);
  });
});

describe('group names', () => {
  it('resolves a name, a gid and reports an unknown group', async () => {
    const groupFile = join(dir, 'group');
    writeFileSync(groupFile, 'root:x:0:\nvippyadm:x:4242:alice,bob\n');
    expect(await resolveGroupId('vippyadm', groupFile)).toBe(4242);
    expect(await resolveGroupId('17', groupFile)).toBe(17);
    expect(await resolveGroupId(5, groupFile)).toBe(5);
    await expect(resolveGroupId('operators', groupFile)).rejects.toThrow(`management group "operators" is not in ${groupFile}`);
  });
});

describe('misbehaving clients', () => {
  it('drops a client that never finishes its headers, and keeps serving', async () => {
    await start({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const started = Date.now();
    const reply = await rawRequest(path, 'GET /status HTTP/1.1\r\nHost: x\r\n', { keepOpen: true });
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await requestControl(path, 'status')).status).toBe(200);
  });

  it('drops a client that connects and says nothing', async () => {
    await start({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const silent = await connect(path);
    const closed = await new Promise<boolean>((resolve) => {
      silent.resume();
      silent.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5_000);
    });
    expect(closed).toBe(true);
  });

  it('answers oversized headers with 431', async () => {
    await start({ limits: { maxHeaderSize: 1024 } });
    const reply = await rawRequest(path, `GET /status HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(4096)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('serves many concurrent clients', async () => {
    await start();
    const replies = await Promise.all(Array.from({ length: 100 }, () => requestControl(path, 'status')));
    expect(replies.every((r) => r.status === 200)).toBe(true);
  });

  it('closes connections beyond the cap and recovers once they go', async () => {
    await start({ limits: { maxConnections: 3 } });
    const idle = await Promise.all(Array.from({ length: 3 }, () => connect(path)));
    await expect(requestControl(path, 'status')).rejects.toThrow(ControlUnreachableError);
    for (const socket of idle) socket.destroy();
    await waitFor(async () => (await requestControl(path, 'status').catch(() => undefined))?.status === 200);
  });

  it('at the cap, makes room by closing the oldest client still sending its headers', async () => {
    await start({ limits: { maxConnections: 3, slowClientMs: 200 } });
    const idle = await Promise.all(Array.from({ length: 3 }, () => connect(path)));
    const closed = idle.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    idle.forEach((socket) => socket.on('error', () => {}));
    await new Promise((r) => setTimeout(r, 300));
    expect((await requestControl(path, 'status')).status).toBe(200);
    await closed[0];
    expect(idle.map((socket) => socket.destroyed)).toEqual([true, false, false]);
    for (const socket of idle) socket.destroy();
  });
});

function connect(at: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(at, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends raw bytes; resolves with everything received once the server closes the connection. */
async function rawRequest(at: string, bytes: string, opts: { keepOpen?: boolean } = {}): Promise<string> {
  const socket = await connect(at);
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
    socket.write(bytes);
    if (!opts.keepOpen) socket.end();
  });
}

