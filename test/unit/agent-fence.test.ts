// The fence's agent side (src/agent/fence.ts): the stall deadline derived from the timings, and
// what the Fence tells its keeper. The keeper here is a shell script that records its stdin; the
// real keeper against the real kernel is tested in test/netns/fence.test.ts and lease.test.ts.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Fence, stallDeadlineMs } from '../../src/agent/fence.js';
import type { AgentLogger } from '../../src/log/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'vippy-fence-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recordingLog() {
  const lines: string[] = [];
  const log: AgentLogger = {
    debug: (_fields, message) => lines.push(`debug ${message}`),
    info: (_fields, message) => lines.push(`info ${message}`),
    warn: (_fields, message) => lines.push(`warn ${message}`),
    error: (_fields, message) => lines.push(`error ${message}`),
  };
  return { log, lines };
}

/** A stand-in keeper: writes its arguments, then copies stdin to a file; `report` is echoed on stdout. */
function fakeKeeper(name: string, report = ''): { path: string; stdin: string; args: string } {
  const path = join(dir, `${name}.sh`);
  const stdin = join(dir, `${name}.in`);
  const args = join(dir, `${name}.args`);
  writeFileSync(path, `#!/bin/sh\necho "$@" > ${args}\nprintf '${report}'\nexec cat > ${stdin}\n`);
  chmodSync(path, 0o755);
  return { path, stdin, args };
}

const timing = { intervalMs: 100, staleMs: 300 };
const req = (address: string) => ({ interface: 'eth0', address, prefixLength: 24 });

describe('stallDeadlineMs', () => {
  it('is half an interval short of stale', () => {
    expect(stallDeadlineMs({ intervalMs: 100, staleMs: 300 })).toBe(250);
    expect(stallDeadlineMs({ intervalMs: 1000, staleMs: 3000 })).toBe(2500);
    expect(stallDeadlineMs({ intervalMs: 10, staleMs: 30 })).toBe(25);
  });
  it('never under 1.25 intervals: a pet comes once an interval', () => {
    expect(stallDeadlineMs({ intervalMs: 100, staleMs: 150 })).toBe(125);
  });
});

describe('Fence', () => {
  it('starts the keeper with the deadline and vippyd pid, tells it each address once, pets, and closes its stdin', async () => {
    const keeper = fakeKeeper('basic');
    const { log } = recordingLog();
    const fence = new Fence({ keeperPath: () => keeper.path, timing, enabled: true, log });
    fence.hold(req('192.0.2.1')); // before start: replayed when the keeper starts
    fence.start();
    fence.hold(req('192.0.2.1')); // a lease renewal: not repeated
    fence.hold(req('192.0.2.2'));
    fence.pet(1234.5);
    fence.drop(req('192.0.2.1'));
    fence.drop(req('192.0.2.9')); // never held: nothing said
    fence.configure({ intervalMs: 200, staleMs: 600 }, true);
    fence.close();
    await vi.waitFor(() => expect(readFileSync(keeper.stdin, 'utf8')).toMatch(/d 500\n$/), { timeout: 5_000, interval: 20 });
    expect(readFileSync(keeper.args, 'utf8').trim()).toBe(`250 ${process.pid}`);
    expect(readFileSync(keeper.stdin, 'utf8')).toBe('+ eth0 192.0.2.1 24\n+ eth0 192.0.2.2 24\n. 1234\n- eth0 192.0.2.1 24\nd 500\n');
  });

  it('a stop that releases nothing tells the keeper to linger before it closes', async () => {
    const keeper = fakeKeeper('linger');
    const { log } = recordingLog();
    const fence = new Fence({ keeperPath: () => keeper.path, timing, enabled: true, log });
    fence.start();
    fence.hold(req('192.0.2.1'));
    fence.close({ linger: true });
    await vi.waitFor(() => expect(readFileSync(keeper.stdin, 'utf8')).toBe('+ eth0 192.0.2.1 24\nl\n'), { timeout: 5_000, interval: 20 });
  });

  it('logs what the keeper reports: a fence and an error as errors', async () => {
    const keeper = fakeKeeper('reports', 'ready 0\\nfenced 2 260 0\\nerror malformed command\\n');
    const { log, lines } = recordingLog();
    const fence = new Fence({ keeperPath: () => keeper.path, timing, enabled: true, log });
    fence.start();
    await vi.waitFor(() => expect(lines).toHaveLength(3), { timeout: 5_000, interval: 20 });
    fence.close();
    expect(lines).toEqual([
      'debug fence keeper running',
      'error no announcement sent for 260 ms (the stall deadline is 250 ms): the fence keeper removed the held addresses',
      'error fence keeper: malformed command',
    ]);
  });

  it('without a keeper (no memfd, say) or with address_lease 0, vippyd runs on: an error logged, or nothing started', () => {
    const { log, lines } = recordingLog();
    const failing = new Fence({ keeperPath: () => { throw new Error('memfd_create: EPERM'); }, timing, enabled: true, log });
    failing.start();
    failing.hold(req('192.0.2.1'));
    failing.pet(0);
    failing.close();
    expect(lines).toEqual(['error cannot start the fence keeper; a killed or frozen vippyd keeps its addresses until their lease ends']);
    let asked = false;
    const off = new Fence({ keeperPath: () => ((asked = true), '/nonexistent'), timing, enabled: false, log });
    off.start();
    off.close();
    expect(asked).toBe(false);
  });
});
