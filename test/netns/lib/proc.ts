// Child processes for the namespace test bed: one-shot commands with a timeout, and long-running
// processes in their own process group so a kill reaches everything they started.
import { spawn as spawnChild } from 'node:child_process';
import { constants as osConstants } from 'node:os';

export interface RunOptions {
  /** Kill the command (its whole process group) and fail after this long. Default 10 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Resolve with the exit code instead of throwing when it is not 0. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** Merged over the current environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type Stream = 'stdout' | 'stderr';
export type LineListener = (line: string, stream: Stream) => void;

export interface Spawned {
  readonly pid: number;
  readonly argv: readonly string[];
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Set once the process has exited. */
  readonly exit: ExitStatus | undefined;
  /** Signal the whole process group (default SIGTERM). Harmless once it has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has exited and its output is read. */
  wait(): Promise<ExitStatus>;
  /** Called for every complete line on stdout or stderr; returns an unsubscribe function. */
  onLine(listener: LineListener): () => void;
  /** The first line (already seen or yet to come) matching `pattern`; rejects on timeout or exit. */
  waitForLine(pattern: RegExp | string, options?: { timeoutMs?: number }): Promise<string>;
}

function describe(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Start `argv` detached (its own session and process group) with piped output. */
export function spawnProcess(argv: readonly string[], options: SpawnOptions = {}): Spawned {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnProcess: empty argv');
  const child = spawnChild(file, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  const output: Record<Stream, string> = { stdout: '', stderr: '' };
  const partial: Record<Stream, string> = { stdout: '', stderr: '' };
  const listeners = new Set<LineListener>();
  let exit: ExitStatus | undefined;

  const closed = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start ${describe(argv)}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      // A grandchild may keep the pipes open after the process itself has gone; do not wait for it.
      setTimeout(() => resolve(exit!), 500).unref();
    });
    child.once('close', (code, signal) => resolve(exit ?? { code, signal }));
  });
  closed.catch(() => {}); // surfaced through wait()

  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8');
    child[stream].on('data', (chunk: string) => {
      output[stream] += chunk;
      const lines = (partial[stream] + chunk).split('\n');
      partial[stream] = lines.pop()!;
      for (const line of lines) for (const listener of listeners) listener(line, stream);
    });
    // A last line without its newline is still a line.
    child[stream].on('end', () => {
      if (partial[stream] === '') return;
      const line = partial[stream];
      partial[stream] = '';
      for (const listener of listeners) listener(line, stream);
    });
  }
  // No pid: the program could not be started (the 'error' event, handled above, follows).
  if (child.pid === undefined) throw new Error(`cannot start ${describe(argv)}`);
  const pid = child.pid;

  const handle: Spawned = {
    pid,
    argv,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    get exit() {
      return exit;
    },
    kill(signal = 'SIGTERM') {
      // The group outlives its leader if children remain, so signal it even after exit.
      killGroup(pid, signal);
    },
    wait: () => closed,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForLine(pattern, { timeoutMs = 10_000 } = {}) {
      const matches = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
      const seen = (output.stdout + '\n' + output.stderr).split('\n').find(matches);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const stop = () => {
          clearTimeout(timer);
          unsubscribe();
        };
        const unsubscribe = handle.onLine((line) => {
          if (matches(line)) {
            stop();
            resolve(line);
          }
        });
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no line matching ${String(pattern)} from ${describe(argv)} within ${timeoutMs} ms\n` +
            `stdout: ${output.stdout}\nstderr: ${output.stderr}`));
        }, timeoutMs);
        closed.then(
          (status) => {
            stop();
            reject(new Error(`${describe(argv)} exited (${status.signal ?? status.code}) before printing a line ` +
              `matching ${String(pattern)}\nstdout: ${output.stdout}\nstderr: ${output.stderr}`));
          },
          (error: unknown) => {
            stop();
            reject(error);
          },
        );
      });
    },
  };
  return handle;
}

/**
 * Run `argv` to completion. Throws (with stderr) on a non-zero exit unless `allowFail`, and on
 * timeout, after killing the whole process group.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { timeoutMs = 10_000, input, allowFail = false } = options;
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('run: empty argv');
  const child = spawnChild(file, args, {
    detached: true,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (input !== undefined) child.stdin!.end(input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
  }, timeoutMs);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start ${describe(argv)}: ${error.message}`)));
      child.once('close', (exitCode, signal) => resolve(exitCode ?? 128 + signalNumber(signal)));
    });
    if (timedOut) throw new Error(`${describe(argv)} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
    if (code !== 0 && !allowFail) {
      throw new Error(`${describe(argv)} exited with ${code}: ${stderr.trim() || stdout.trim() || '(no output)'}`);
    }
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : osConstants.signals[signal];
}
