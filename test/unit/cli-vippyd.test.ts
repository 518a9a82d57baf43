import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonOptions } from '../../src/agent/daemon.js';
import { main, type DaemonModule } from '../../src/cli/vippyd.js';

const goodConfig = `{
  "chat": "239.255.42.1:4242",
  "secret": "a-long-enough-shared-secret",
  "version": 3,
  "vips": [
    ["alpha", { "interface": "net0", "ip": "192.0.2.10/24" }],
    [{ "interface": "net0", "ip": "2001:db8::10/64" }]
  ],
  "nodes": ["alpha", "beta"],
  "logging": { "driver": "console" }
}
`;

// Two problems: both must be reported in one run.
const badConfig = `{
  "chat": "239.255.42.1:4242",
  "secret": "a-long-enough-shared-secret",
  "vips": [[{ "interface": "net0", "ip": "192.0.2.300/24" }]],
  "nodes": ["alpha"],
  "intreval": 1
}
`;

let dir: string;
let good: string;
let bad: string;

beforeAll(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'vippyd-cli-'));
  good = join(dir, 'good.conf');
  bad = join(dir, 'bad.conf');
  writeFileSync(good, goodConfig);
  writeFileSync(bad, badConfig);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

class StartupError extends Error {}

/** Records how the daemon would have been started. */
function fakeDaemon(result: number | Error) {
  const started: DaemonOptions[] = [];
  const module: DaemonModule = {
    StartupError,
    runDaemon: async (options) => {
      started.push(options);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { started, load: async () => module };
}

async function run(argv: string[], daemon = fakeDaemon(0)) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, daemon.load);
  return { code, stdout, stderr };
}

describe('vippyd --check', () => {
  it('prints the summary of a valid file and exits 0', async () => {
    const result = await run(['--check', '-c', good]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^vippy config, version 3, fingerprint [0-9a-f]{16}\n/);
    expect(result.stdout).toContain('nodes (2): alpha, beta');
    expect(result.stderr).toBe('');
  });

  it('lists every problem with file, line and column, and exits 1', async () => {
    const result = await run(['--check', '-c', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line.startsWith(`${bad}:`)).toBe(true);
    expect(result.stderr).toContain('192.0.2.300');
    expect(result.stderr).toContain('intreval');
  });

  it('reports an unreadable file on one line', async () => {
    const missing = join(dir, 'missing.conf');
    const result = await run(['--check', '-c', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(missing);
  });

  it('fails when an explicit -n is not a node of the file', async () => {
    const result = await run(['--check', '-c', good, '-n', 'gamma']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`vippyd: node "gamma" is not in ${good} (nodes: alpha, beta)\n`);
  });

  it('does not start the daemon', async () => {
    const daemon = fakeDaemon(0);
    await run(['--check', '-c', good], daemon);
    expect(daemon.started).toEqual([]);
  });
});

describe('vippyd', () => {
  it('starts the daemon with the original defaults and exits with its status', async () => {
    const daemon = fakeDaemon(0);
    expect((await run([], daemon)).code).toBe(0);
    // No -n: the daemon decides (a flip file's id, else the host name).
    expect(daemon.started).toEqual([{ configPath: '/etc/vippy.conf', plugins: [] }]);
  });

  it('passes -c, -n and every -p in order', async () => {
    const daemon = fakeDaemon(3);
    const result = await run(['-c', good, '-p', 'a.js', '-n', 'beta', '-p', 'b.js'], daemon);
    expect(result.code).toBe(3);
    expect(daemon.started).toEqual([{ configPath: good, node: 'beta', plugins: ['a.js', 'b.js'] }]);
  });

  it('prints a StartupError on one line and exits 1', async () => {
    const result = await run(['-n', 'gamma'], fakeDaemon(new StartupError('node "gamma" is not in this configuration (nodes: alpha, beta); use -n NODE')));
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'vippyd: node "gamma" is not in this configuration (nodes: alpha, beta); use -n NODE\n' });
  });

  it('lets any other error through with its stack', async () => {
    await expect(run([], fakeDaemon(new RangeError('bug')))).rejects.toThrow(RangeError);
  });

  it('prints usage and exits 2 on an unknown option or a stray argument; -h exits 0', async () => {
    for (const argv of [['--frobnicate'], ['extra'], ['-c']]) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('usage: vippyd [-c FILE] [-n NODE] [-p PLUGIN]... [--check] [-h]');
    }
    const help = await run(['-h']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: vippyd');
  });

  it('runs as a program', async () => {
    const script = join(import.meta.dirname, '../../src/cli/vippyd.ts');
    const ok = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--check', '-c', good]);
    expect(ok.stdout).toMatch(/^vippy config, version 3/);
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--check', '-c', bad]).catch((err) => err);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${bad}:`);
  }, 20_000);
});
