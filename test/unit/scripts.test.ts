// flip's alive/down scripts, run for real: tiny shell scripts in a temp dir record how they were
// called; the runner's timeout, retry, roll-back and superseding are observed through them.
import { waitFor } from '../lib/wait-for.js';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlipSystem } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/index.js';
import { ScriptRunner, scriptedPoint, scriptedPoints, withoutScriptedAddresses, type ScriptOutcome, type ScriptRunnerOptions } from '../../src/agent/scripts.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vippy-scripts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An executable /bin/sh script in the temp dir; `$LOG` in the body is a log file beside it. */
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\nLOG=${JSON.stringify(path.join(dir, `${name}.log`))}\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
const logOf = (name: string) => (existsSync(path.join(dir, `${name}.log`)) ? readFileSync(path.join(dir, `${name}.log`), 'utf8').trim().split('\n') : []);

const OK = 'echo "$VIPPY_ACTION" >> "$LOG"';
function system(alive: string, down: string): FlipSystem {
  return { name: 'web', type: 'shard', alive, down, config: { interface: 'eth0', note: 'a b' }, data: ['p1'], delayMs: 0, removeOnStart: false };
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function runner(options: Partial<ScriptRunnerOptions> = {}) {
  const outcomes: ScriptOutcome[] = [];
  const lines: string[] = [];
  const log = { ...silent, info: (_: object, message: string) => lines.push(message) };
  const r = new ScriptRunner({ log, onOutcome: (o) => outcomes.push(o), retry: { firstDelayMs: 40 }, ...options });
  return { runner: r, outcomes, lines };
}


describe('ScriptRunner', () => {
  it('runs `script POINT CONFIG_JSON` without a shell, with VIPPY_POINT/SYSTEM/ACTION in the environment', async () => {
    const record = 'for a in "$@"; do echo "arg:$a" >> "$LOG"; done; echo "env:$VIPPY_POINT|$VIPPY_SYSTEM|$VIPPY_ACTION" >> "$LOG"; echo hello from $VIPPY_ACTION';
    const { runner: r, outcomes, lines } = runner();
    // A point with shell metacharacters arrives verbatim: no shell ever sees it.
    r.want({ system: system(script('up', record), script('down', OK)), point: '192.0.2.1; $(x)' }, 'alive');
    await waitFor(() => outcomes.length === 1, { what: 'alive outcome', intervalMs: 10 });
    expect(outcomes).toEqual([{ system: 'web', point: '192.0.2.1; $(x)', action: 'alive', ok: true }]);
    expect(logOf('up')).toEqual(['arg:192.0.2.1; $(x)', 'arg:{"interface":"eth0","note":"a b"}', 'env:192.0.2.1; $(x)|web|alive']);
    expect(lines).toContain('hello from alive');
    expect(r.status()).toEqual({
      '192.0.2.1; $(x)': { system: 'web', state: 'alive', done: true, running: false, attempts: 1, lastError: null, lastExitCode: 0 },
    });
  });

  it("waits the system's delay, restarted by each change, and runs the resulting plan once", async () => {
    const { runner: r, outcomes } = runner();
    // Both scripts append to one log.
    const both = `echo "$VIPPY_ACTION $VIPPY_POINT" >> ${JSON.stringify(path.join(dir, 'plan.log'))}`;
    const delayed = { ...system(script('up', both), script('down', both)), delayMs: 600 };
    const [p1, p2, p3] = ['p1', 'p2', 'p3'].map((point) => ({ system: delayed, point }));
    r.want(p1!, 'down');
    r.want(p2!, 'down');
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Within the delay: p1 changes its mind (its plan becomes alive), p3 joins; the wait restarts.
    r.want(p1!, 'alive');
    r.want(p3!, 'alive');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(logOf('plan')).toEqual([]); // past the first delay, but not past the restarted one
    await waitFor(() => outcomes.length === 3, { what: 'the plan to run', intervalMs: 10 });
    // One run per point, for the plan as it stood at the end: p1's first `down` never ran.
    expect(logOf('plan').sort()).toEqual(['alive p1', 'alive p3', 'down p2']);
  });

  it('a point asked down and up again within the delay runs nothing', async () => {
    const { runner: r, outcomes } = runner();
    const point = { system: { ...system(script('up', OK), script('down', OK)), delayMs: 100 }, point: 'p1' };
    r.want(point, 'alive');
    await waitFor(() => outcomes.length === 1, { what: 'alive outcome', intervalMs: 10 });
    r.want(point, 'down');
    r.want(point, 'alive');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logOf('up')).toEqual(['alive']);
    expect(logOf('down')).toEqual([]);
  });

  it('a stop runs plans still in their delay at once (or drops them when asked)', async () => {
    const { runner: r } = runner();
    const slow = { ...system(script('up', OK), script('down', OK)), delayMs: 60_000 };
    r.want({ system: slow, point: 'p1' }, 'down');
    await r.stop();
    expect(logOf('down')).toEqual(['down']);
    const other = runner();
    other.runner.want({ system: slow, point: 'p2' }, 'alive');
    await other.runner.stop(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logOf('up')).toEqual([]);
  });

  it('asking for the state already wanted runs nothing again', async () => {
    const { runner: r, outcomes } = runner();
    const point = { system: system(script('up', OK), script('down', OK)), point: 'p1' };
    r.want(point, 'alive');
    r.want(point, 'alive');
    await waitFor(() => outcomes.length === 1, { what: 'alive outcome', intervalMs: 10 });
    r.want(point, 'alive');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logOf('up')).toEqual(['alive']);
  });

  it('kills a script that outlives the timeout, with its whole process group', async () => {
    const hang = '(sleep 30 & echo $! > "$LOG.child"; wait) ; sleep 30';
    const { runner: r, outcomes } = runner({ timeoutMs: 300, retry: { aliveAttempts: 1 } });
    r.want({ system: system(script('up', hang), script('down', OK)), point: 'p1' }, 'alive');
    const failure = await waitFor(() => outcomes.find((o) => o.action === 'alive'), { what: 'alive outcome', intervalMs: 10 });
    expect(failure).toMatchObject({ ok: false, error: expect.stringMatching(/up timed out after 300 ms \(process group killed\)/) });
    const child = Number(readFileSync(path.join(dir, 'up.log.child'), 'utf8'));
    await waitFor(() => !alive(child), { what: `background child ${child} to be gone`, intervalMs: 10 });
    // Giving up on alive rolls the point back.
    await waitFor(() => outcomes.some((o) => o.action === 'down' && o.ok), { what: 'roll-back down', intervalMs: 10 });
  });

  it('retries a failing down with doubling delays, reporting each failure, until it works', async () => {
    // Fails twice (exit 7, a message on stderr), then succeeds; logs the time of every run.
    const flaky = 'date +%s%N >> "$LOG"; n=$(wc -l < "$LOG"); [ "$n" -ge 3 ] && exit 0; echo "busy ($n)" >&2; exit 7';
    const { runner: r, outcomes } = runner({ retry: { firstDelayMs: 100 } });
    r.want({ system: system(script('up', OK), script('down', flaky)), point: 'p1' }, 'down');
    await waitFor(() => outcomes.some((o) => o.ok), { what: 'down to succeed', intervalMs: 10 });
    expect(outcomes.map((o) => [o.action, o.ok, o.error])).toEqual([
      ['down', false, `${path.join(dir, 'down')} exited 7: busy (1)`],
      ['down', false, `${path.join(dir, 'down')} exited 7: busy (2)`],
      ['down', true, undefined],
    ]);
    const [t1, t2, t3] = logOf('down').map((ns) => Number(BigInt(ns) / 1_000_000n));
    expect(t2! - t1!).toBeGreaterThanOrEqual(100);
    expect(t3! - t2!).toBeGreaterThanOrEqual(200);
    expect(r.status()['p1']).toMatchObject({ state: 'down', done: true, attempts: 3, lastError: null, lastExitCode: 0 });
  });

  it('gives alive a bounded number of attempts, reports only the last failure, then rolls back with down', async () => {
    const broken = 'echo alive >> "$LOG"; echo "no such interface" >&2; exit 3';
    const { runner: r, outcomes } = runner({ retry: { firstDelayMs: 30, aliveAttempts: 2 } });
    r.want({ system: system(script('up', broken), script('down', OK)), point: 'p1' }, 'alive');
    await waitFor(() => outcomes.length === 2, { what: 'two outcomes', intervalMs: 10 });
    expect(outcomes.map((o) => [o.action, o.ok, o.error])).toEqual([
      ['alive', false, `${path.join(dir, 'up')} exited 3: no such interface`],
      ['down', true, undefined],
    ]);
    expect(logOf('up')).toEqual(['alive', 'alive']);
    expect(r.status()['p1']).toMatchObject({ state: 'down', done: true });
  });

  it('a flip supersedes: the running script finishes unreported and the new state runs next', async () => {
    const slowFail = 'echo start >> "$LOG"; sleep 0.3; exit 1';
    const { runner: r, outcomes } = runner();
    const point = { system: system(script('up', slowFail), script('down', OK)), point: 'p1' };
    r.want(point, 'alive');
    await waitFor(() => logOf('up').length === 1, { what: 'alive to start', intervalMs: 10 });
    expect(r.status()['p1']).toMatchObject({ state: 'alive', running: true, attempts: 1 });
    r.want(point, 'down');
    expect(logOf('down')).toEqual([]);
    await waitFor(() => outcomes.length === 1, { what: 'down outcome', intervalMs: 10 });
    expect(outcomes).toEqual([{ system: 'web', point: 'p1', action: 'down', ok: true }]);
    expect(logOf('up')).toEqual(['start']);
  });

  it('a flip cancels a pending retry', async () => {
    const { runner: r, outcomes } = runner({ retry: { firstDelayMs: 300 } });
    const point = { system: system(script('up', OK), script('down', 'echo down >> "$LOG"; exit 1')), point: 'p1' };
    r.want(point, 'down');
    await waitFor(() => outcomes.length === 1, { what: 'first down failure', intervalMs: 10 });
    r.want(point, 'alive');
    await waitFor(() => outcomes.length === 2, { what: 'alive outcome', intervalMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(logOf('down')).toEqual(['down']);
    expect(outcomes.map((o) => [o.action, o.ok])).toEqual([['down', false], ['alive', true]]);
  });

  it('a script that cannot be started fails with its path and the errno', async () => {
    const { runner: r, outcomes } = runner();
    r.want({ system: system(path.join(dir, 'missing'), script('down', OK)), point: 'p1' }, 'down');
    r.want({ system: system(path.join(dir, 'missing'), path.join(dir, 'missing')), point: 'p2' }, 'down');
    const failure = await waitFor(() => outcomes.find((o) => o.point === 'p2'), { what: 'p2 outcome', intervalMs: 10 });
    expect(failure.error).toMatch(new RegExp(`${path.join(dir, 'missing')}: .*ENOENT`));
    await r.stop();
  });

  it('stop() waits for running scripts and retries no more', async () => {
    const { runner: r, outcomes } = runner({ retry: { firstDelayMs: 50 } });
    r.want({ system: system(script('up', OK), script('down', 'sleep 0.2; echo down >> "$LOG"; exit 1')), point: 'p1' }, 'down');
    await waitFor(() => r.status()['p1']?.running, { what: 'down running', intervalMs: 10 });
    await r.stop();
    expect(outcomes).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logOf('down')).toEqual(['down']);
  });
});

describe('scripted points of a flip config', () => {
  const readme = readFileSync(new URL('fixtures/config/flip-readme.json', import.meta.url), 'utf8');
  const scripted = parseConfig(readme, 'flip.conf').config;
  const builtIn = parseConfig(readme.replace('"alive": "ip_up",', '').replace('"down": "ip_down",', ''), 'flip.conf').config;

  it('are the groups of systems with scripts that the node is a member of', () => {
    expect(scriptedPoints(scripted, 'flip').map((p) => [p.system.name, p.point])).toEqual([['ip', '198.51.100.1'], ['ip', '198.51.100.2']]);
    // flip2 is an arbiter: no system, so no scripts run there.
    expect(scriptedPoints(scripted, 'flip2')).toEqual([]);
    expect(scriptedPoint(builtIn, builtIn.groups[0]!)).toBeUndefined();
  });

  it('hand no addresses to the built-in plumbing; systems without scripts keep theirs', () => {
    expect(scripted.groups.every((g) => g.addresses.length === 1)).toBe(true);
    expect(withoutScriptedAddresses(scripted).groups.map((g) => g.addresses)).toEqual([[], []]);
    expect(withoutScriptedAddresses(builtIn)).toBe(builtIn);
  });
});

/** A process that is gone or a zombie (killed, not yet reaped by whoever adopted it) is not alive. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
