import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, resolveSocket, SOCKET_CANDIDATES } from '../../src/cli/vippyctl.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import type { Status } from '../../src/control/status.js';
import { createLogger } from '../../src/log/logger.js';

const group = [{ ip: '192.0.2.10', netmask: '255.255.255.128', broadcast: '192.0.2.127', network: '192.0.2.0', name: 'net0' }];
const status: Status = {
  identity: 'alpha',
  stats: { net: { ignore: 0, 'send-announce': 3, 'recv-announce': 9 }, 'state-changes': 1 },
  config: { version: 1, vips: [group, ['beta', { ip: '2001:db8::5', prefixlen: 64, name: 'net0' }]], nodes: ['alpha', 'beta'] },
  state: { mature: true, active: false, inactive_reason: 'maintenance', ownership: { _: [], alpha: [group], beta: [] } },
};

let dir: string;
let socket: string;
let server: ControlServer;
const reasons: (string | undefined)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(os.tmpdir(), 'vippyctl-'));
  socket = join(dir, 'control.sock');
  server = await startControlServer({
    path: socket,
    log: createLogger({ driver: 'none', facility: 'local7', json: false, mask: {} as never }, { ident: 'test', destination: { write: () => {} } }),
    handlers: {
      status: () => status,
      peers: () => [{ node: 'beta', up: false }],
      arpCache: () => ({}),
      activate: () => ({ active: true }),
      deactivate: (reason) => (reasons.push(reason), { active: false, inactive_reason: reason }),
      reload: async () => {
        throw new Error('vips[0][0].ip: "192.0.2.300" is not an IP address');
      },
    },
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

describe('vippyctl', () => {
  it('finds the socket: -s, else $VIPPY_SOCKET, else the first default that exists', () => {
    expect(resolveSocket('/x.sock', { VIPPY_SOCKET: '/y.sock' }, () => true)).toBe('/x.sock');
    expect(resolveSocket(undefined, { VIPPY_SOCKET: '/y.sock' }, () => true)).toBe('/y.sock');
    expect(resolveSocket(undefined, {}, (p) => p === '/run/vippy/vippy.socket')).toBe('/run/vippy/vippy.socket');
    expect(resolveSocket(undefined, { VIPPY_SOCKET: '' }, () => true)).toBe(SOCKET_CANDIDATES[0]);
    expect(resolveSocket(undefined, {}, () => false)).toBe('/var/run/vippy.socket');
  });

  it('prints status in the original layout', async () => {
    expect(await run('-s', socket, 'status')).toEqual({
      code: 0,
      stdout: 'State:  inactive\nReason: maintenance\n(*) alpha: 192.0.2.10/25\n    ???: 2001:db8::5 P(beta)\n',
      stderr: '',
    });
  });

  it('accepts -s after the command and prints raw JSON with --json', async () => {
    const result = await run('status', '--json', '-s', socket);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(status);
  });

  it('prints other replies as JSON', async () => {
    const result = await run('-s', socket, 'peers');
    expect(result).toEqual({ code: 0, stdout: JSON.stringify([{ node: 'beta', up: false }], null, 2) + '\n', stderr: '' });
  });

  it('sends the words after deactivate as the reason', async () => {
    const result = await run('-s', socket, 'deactivate', 'swapping', 'a', 'disk');
    expect(result.code).toBe(0);
    expect(reasons.at(-1)).toBe('swapping a disk');
    expect(JSON.parse(result.stdout)).toEqual({ active: false, inactive_reason: 'swapping a disk' });
  });

  it('reports an unknown command and exits 1', async () => {
    expect(await run('-s', socket, 'frobnicate')).toEqual({ code: 1, stdout: '', stderr: 'vippyctl: no such command "frobnicate"\n' });
  });

  it('reports a failed command with the daemon error', async () => {
    expect(await run('-s', socket, 'reload')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'vippyctl: reload failed (HTTP 500): reload failed: vips[0][0].ip: "192.0.2.300" is not an IP address\n',
    });
  });

  it('says why the socket cannot be reached and exits 1', async () => {
    const missing = join(dir, 'nothing.sock');
    expect(await run('-s', missing, 'status')).toEqual({
      code: 1,
      stdout: '',
      stderr: `vippyctl: cannot reach the control socket ${missing}: ENOENT (no such socket; is vippyd running, and is this its "management" path?)\n`,
    });
  });

  it('prints usage and exits 2 without a command, with an unknown option or stray arguments', async () => {
    for (const argv of [['-s', socket], ['--bogus', 'status'], ['status', 'now']]) {
      const result = await run(...argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('usage: vippyctl [-s SOCKET] [--json] [-h] <command> [reason]');
    }
    const help = await run('-h');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: vippyctl');
  });

  it('runs as a program: output and exit status', async () => {
    const script = join(import.meta.dirname, '../../src/cli/vippyctl.ts');
    const ok = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '-s', socket, 'status']);
    expect(ok.stdout).toBe('State:  inactive\nReason: maintenance\n(*) alpha: 192.0.2.10/25\n    ???: 2001:db8::5 P(beta)\n');
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '-s', socket, 'nope']).catch((err) => err);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe('vippyctl: no such command "nope"\n');
  }, 20_000);
});
