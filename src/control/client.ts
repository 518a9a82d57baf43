// One request to a running vippyd over its control socket.

import http from 'node:http';

export const defaultSocketPath = '/var/run/vippy.socket';

export interface ControlReply {
  status: number;
  contentType: string;
  /** The body as received. */
  text: string;
  /** The body parsed, when it is JSON; undefined otherwise. */
  body: unknown;
}

export interface ControlRequestOptions {
  reason?: string;
  method?: 'GET' | 'POST';
  timeoutMs?: number;
}

/** The daemon could not be reached or did not answer; `code` is the errno name (or ETIMEDOUT). */
export class ControlUnreachableError extends Error {
  override name = 'ControlUnreachableError';
  constructor(readonly path: string, readonly code: string, detail: string) {
    super(`cannot reach the control socket ${path}: ${code} (${detail})`);
  }
}

const hints: Record<string, string> = {
  ENOENT: 'no such socket; is vippyd running, and is this its "management" path?',
  ECONNREFUSED: 'nothing is listening; is vippyd running?',
  EACCES: 'permission denied; run as root or as a member of the management group',
  ENOTSOCK: 'that path is not a socket',
  ETIMEDOUT: 'no answer in time',
};

export function requestControl(path: string, command: string, opts: ControlRequestOptions = {}): Promise<ControlReply> {
  const query = opts.reason === undefined ? '' : `?reason=${encodeURIComponent(opts.reason)}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = http.request(
      // agent: false → one connection, closed after the reply, nothing keeps the process alive.
      { socketPath: path, path: `/${encodeURIComponent(command)}${query}`, method: opts.method ?? 'GET', agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = res.headers['content-type'] ?? '';
          resolve({ status: res.statusCode ?? 0, contentType, text, body: parseJson(text, contentType) });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      reject(new ControlUnreachableError(path, code, hints[code] ?? err.message));
    });
    req.end();
  });
}

function parseJson(text: string, contentType: string): unknown {
  // The original daemon says text/json; ours application/json.
  if (!/json/.test(contentType)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * GET /watch: calls `onEvent` with each line of the stream as it arrives, and resolves when the
 * daemon ends the stream (status 200) or refuses it (its status and reply). No timeout: a quiet
 * cluster sends nothing for as long as nothing changes.
 */
export function watchControl(path: string, onEvent: (line: string) => void): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: path, path: '/watch', method: 'GET', agent: false }, (res) => {
      const contentType = res.headers['content-type'] ?? '';
      let pending = '';
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (res.statusCode !== 200) {
          text += chunk;
          return;
        }
        pending += chunk;
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          onEvent(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType, text, body: parseJson(text, contentType) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      reject(new ControlUnreachableError(path, code, hints[code] ?? err.message));
    });
    req.end();
  });
}
