// exec checks: a child process per run, in its own process group (a run past its timeout is
// killed with the whole group), at most `limit` at a time across all checks.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CheckSpec } from '../../config/model.js';
import { OUTPUT_EXCERPT_CHARS, errorText, type ProbeResult } from './probe.js';

type ExecSpec = Extract<CheckSpec, { kind: 'exec' }>;

/** Hands out at most `limit` slots; the rest wait in order. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.used >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.used--;
    };
  }
}

export interface Identity {
  uid: number;
  gid: number;
}

/** A user name or uid → uid and primary gid, from /etc/passwd. */
export function resolveUser(user: string | number, passwd = '/etc/passwd'): Identity {
  const text = readFileSync(passwd, 'utf8');
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (uid === undefined || gid === undefined) continue;
    if (name === String(user) || (typeof user === 'number' && Number(uid) === user)) return { uid: Number(uid), gid: Number(gid) };
  }
  if (typeof user === 'number' || /^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  throw new Error(`user "${user}" is not in ${passwd}`);
}

/** Kills the process groups of runs still going (daemon stop). */
export const runningGroups = new Set<number>();

export function killRunning(): void {
  for (const pid of runningGroups) killGroup(pid);
  runningGroups.clear();
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export async function runExec(spec: ExecSpec, node: string, slots: Slots, identity: () => Identity | undefined): Promise<ProbeResult> {
  let who: Identity | undefined;
  try {
    who = identity();
  } catch (err) {
    return { ok: false, reason: errorText(err) };
  }
  const release = await slots.acquire();
  try {
    return await execute(spec, node, who);
  } finally {
    release();
  }
}

function execute(spec: ExecSpec, node: string, who: Identity | undefined): Promise<ProbeResult> {
  const program = spec.argv[0]!;
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const keep = (chunk: string) => {
      output = (output + chunk).slice(-OUTPUT_EXCERPT_CHARS);
    };
    const finish = (result: Omit<ProbeResult, 'output'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid !== undefined) runningGroups.delete(child.pid);
      const excerpt = output.trim();
      resolve(excerpt === '' ? result : { ...result, output: excerpt });
    };
    const child = spawn(program, spec.argv.slice(1), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIPPY_CHECK: spec.name, VIPPY_NODE: node },
      ...(who === undefined ? {} : { uid: who.uid, gid: who.gid }),
    });
    if (child.pid !== undefined) runningGroups.add(child.pid);
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', keep);
    }
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid);
      finish({ ok: false, reason: `timed out after ${spec.timeoutMs} ms (process group killed)` });
    }, spec.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : errorText(err);
      finish({ ok: false, reason: `${program}: ${why}${err.code && !why.includes(err.code) ? ` (${err.code})` : ''}` });
    });
    child.on('close', (code, signal) => {
      if (code === 0) finish({ ok: true, reason: 'exit 0' });
      else finish({ ok: false, reason: code === null ? `killed by ${signal}` : `exit ${code}` });
    });
  });
}
