// file and process checks: asynchronous reads of the file system and /proc, no child process.

import { open, readdir, readFile } from 'node:fs/promises';
import type { CheckSpec } from '../../config/model.js';
import { errorText, withTimeout, type ProbeResult } from './probe.js';

type FileSpec = Extract<CheckSpec, { kind: 'file' }>;
type ProcessSpec = Extract<CheckSpec, { kind: 'process' }>;

/** keepalived's track_file: absent passes; present fails (maintenance) unless it holds the number 0. */
export function runFile(spec: FileSpec): Promise<ProbeResult> {
  return withTimeout(async () => {
    let text: string;
    try {
      const handle = await open(spec.path, 'r');
      try {
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
        text = buffer.subarray(0, bytesRead).toString('utf8').trim();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, reason: `${spec.path} absent` };
      return { ok: false, reason: `${spec.path}: ${errorText(err)}` };
    }
    const numeric = /^[+-]?\d+(\.\d+)?$/.test(text);
    if (numeric && Number(text) === 0) return { ok: true, reason: `${spec.path} holds 0` };
    return { ok: false, reason: numeric ? `${spec.path} holds ${text} (maintenance)` : `${spec.path} present (maintenance)` };
  }, spec.timeoutMs, () => ({ ok: false, reason: `${spec.path}: no answer within ${spec.timeoutMs} ms` }));
}

/** One /proc scan shared by every process check that runs within this window. */
const SCAN_REUSE_MS = 200;

interface ProcEntry {
  pid: number;
  comm: string;
  /** Base name of argv[0]. */
  program: string;
}

let lastScan: { at: number; entries: Promise<ProcEntry[]> } | undefined;

async function scanProc(): Promise<ProcEntry[]> {
  const now = performance.now();
  if (lastScan !== undefined && now - lastScan.at < SCAN_REUSE_MS) return lastScan.entries;
  const entries = (async () => {
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
    const found = await Promise.all(pids.map(async (pid): Promise<ProcEntry | undefined> => {
      try {
        const [comm, cmdline] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8'), readFile(`/proc/${pid}/cmdline`, 'utf8')]);
        const argv0 = cmdline.split('\0')[0] ?? '';
        return { pid: Number(pid), comm: comm.trim(), program: argv0.slice(argv0.lastIndexOf('/') + 1) };
      } catch {
        return undefined;
      }
    }));
    return found.filter((entry): entry is ProcEntry => entry !== undefined);
  })();
  lastScan = { at: now, entries };
  return entries;
}

/** Alive and not a zombie. */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ")" (comm may hold parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The kernel keeps 15 characters of a process name. */
const COMM_LENGTH = 15;

export function processProbe(spec: ProcessSpec): () => Promise<ProbeResult> {
  /** The pid found last time: checked first, so a steady process costs two reads, not a scan. */
  let known: number | undefined;
  const matches = (entry: Pick<ProcEntry, 'comm' | 'program'>) => entry.comm === spec.processName!.slice(0, COMM_LENGTH) || entry.program === spec.processName;
  const byName = async (): Promise<ProbeResult> => {
    if (known !== undefined) {
      try {
        const [comm, cmdline] = await Promise.all([readFile(`/proc/${known}/comm`, 'utf8'), readFile(`/proc/${known}/cmdline`, 'utf8')]);
        const argv0 = cmdline.split('\0')[0] ?? '';
        if (matches({ comm: comm.trim(), program: argv0.slice(argv0.lastIndexOf('/') + 1) }) && await running(known)) return { ok: true, reason: `pid ${known} running` };
      } catch {
        // Gone: scan.
      }
    }
    for (const entry of await scanProc()) {
      if (matches(entry) && await running(entry.pid)) {
        known = entry.pid;
        return { ok: true, reason: `pid ${entry.pid} running` };
      }
    }
    known = undefined;
    return { ok: false, reason: `no process named ${JSON.stringify(spec.processName)}` };
  };
  const byPidfile = async (): Promise<ProbeResult> => {
    let text: string;
    try {
      text = (await readFile(spec.pidfile!, 'utf8')).trim();
    } catch (err) {
      return { ok: false, reason: `${spec.pidfile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorText(err)}` };
    }
    if (!/^\d+$/.test(text)) return { ok: false, reason: `${spec.pidfile} holds no pid` };
    return (await running(Number(text))) ? { ok: true, reason: `pid ${text} running` } : { ok: false, reason: `pid ${text} (${spec.pidfile}) is not running` };
  };
  const probe = spec.pidfile === undefined ? byName : byPidfile;
  return () => withTimeout(probe, spec.timeoutMs, () => ({ ok: false, reason: `/proc gave no answer within ${spec.timeoutMs} ms` }));
}
