// What one run of a check says. Every probe resolves (never rejects) within its timeout; none
// blocks the event loop: child processes, non-blocking sockets and asynchronous file reads only.

export interface ProbeResult {
  ok: boolean;
  /** Short, for logs and status: "exit 0", "HTTP 503", "connect ECONNREFUSED", ... */
  reason: string;
  /** The end of an exec check's output (stdout and stderr together), for status. */
  output?: string;
}

/** Characters of output kept per run. */
export const OUTPUT_EXCERPT_CHARS = 512;

/** Resolves with `onTimeout()`'s result when `work` takes longer than `timeoutMs` (and calls `cancel`). */
export function withTimeout(work: (signal: AbortSignal) => Promise<ProbeResult>, timeoutMs: number, onTimeout: () => ProbeResult): Promise<ProbeResult> {
  const controller = new AbortController();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      controller.abort();
      resolve(onTimeout());
    }, timeoutMs);
    work(controller.signal).then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, reason: errorText(err) });
      },
    );
  });
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
