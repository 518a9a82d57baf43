// Hostile clients for the control socket (issue 7 §3): malformed HTTP, huge headers, slow
// clients, unknown methods, hundreds of concurrent connections. Used against
// startControlServer with stub handlers (test/unit/fuzz-control.test.ts) and against a live
// daemon (test/netns/chaos-hostile.test.ts). Every attack reports what the server answered.
import net from 'node:net';

export interface RawReply {
  /** HTTP status of the first response line, 0 when the server closed without answering. */
  status: number;
  /** Time to the end of the reply or the close, ms. */
  ms: number;
}

/** Writes raw bytes (in pieces, `pauseMs` apart) and reads until the server closes or `timeoutMs`. */
export function rawExchange(path: string, pieces: Array<string | Buffer>, { pauseMs = 0, timeoutMs = 15_000 } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(path);
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : 0, ms: performance.now() - started });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', finish);
    socket.on('error', finish);
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
  });
}

export const getStatus = 'GET /status HTTP/1.1\r\nHost: vippy\r\n\r\n';

/**
 * Requests no server should answer with 2xx (nor crash on). Not here: `GET /status` without a
 * version, an HTTP/0.9 simple request, which Node's parser answers (read-only, harmless).
 */
export const MALFORMED_REQUESTS: ReadonlyArray<string | Buffer> = [
  '\r\n\r\n',
  'GET\r\n\r\n',
  'GET /status HTTP/9.9\r\n\r\n',
  'GET /status HTTP/1.1\r\nHost vippy\r\n\r\n',
  'GET /status HTTP/1.1\r\nHo\u0000st: x\r\n\r\n',
  'GET /%ZZ HTTP/1.1\r\n\r\n',
  'GET //// HTTP/1.1\r\n\r\n',
  'GET /status?reason=%00 HTTP/1.1\r\n\r\n',
  `POST /deactivate?reason=${'x'.repeat(300)} HTTP/1.1\r\nContent-Length: 0\r\n\r\n`,
  'POST /reload HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /reload HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
  'POST /reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), // a TLS ClientHello
  Buffer.alloc(4096, 0xff),
];

export const UNKNOWN_METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'FOO', 'get'];

export interface AttackReport {
  malformed: number[];
  unknownMethods: number[];
  hugeHeader: number;
  /** Statuses of the concurrent GET /status burst, counted. */
  concurrent: Record<number, number>;
  /** How long a normal /status took while slow clients held connections, ms. */
  statusDuringSlowloris: RawReply;
  slowClients: number[];
}

/**
 * Runs every attack once, in order, against the socket. `concurrency`: connections opened at
 * once; `slowClients`: connections that trickle a header byte every `trickleMs`.
 */
export async function attackControlSocket(path: string, { concurrency = 300, slowClients = 40, trickleMs = 200 } = {}): Promise<AttackReport> {
  const malformed = await Promise.all(MALFORMED_REQUESTS.map((request) => rawExchange(path, [request], { timeoutMs: 12_000 }).then((r) => r.status)));
  const unknownMethods = await Promise.all(UNKNOWN_METHODS.map((method) => rawExchange(path, [`${method} /status HTTP/1.1\r\nHost: vippy\r\n\r\n`]).then((r) => r.status)));
  const hugeHeader = (await rawExchange(path, [`GET /status HTTP/1.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`])).status;

  const burst = await Promise.all(Array.from({ length: concurrency }, () => rawExchange(path, [getStatus])));
  const concurrent: Record<number, number> = {};
  for (const { status } of burst) concurrent[status] = (concurrent[status] ?? 0) + 1;

  // Slowloris: each client sends its request a byte at a time and never finishes the headers.
  const trickle = Array.from('GET /status HTTP/1.1\r\nX-Slow: ' + 'z'.repeat(200));
  const slow = Array.from({ length: slowClients }, () => rawExchange(path, trickle, { pauseMs: trickleMs, timeoutMs: 60_000 }));
  await new Promise((r) => setTimeout(r, 300));
  const statusDuringSlowloris = await waitForStatus(path, 20_000);
  const slowStatuses = (await Promise.all(slow)).map((r) => r.status);
  return { malformed, unknownMethods, hugeHeader, concurrent, statusDuringSlowloris, slowClients: slowStatuses };
}

/** GET /status until it answers 200 (connections over the cap are closed at once), or the deadline. */
export async function waitForStatus(path: string, deadlineMs: number): Promise<RawReply> {
  const started = performance.now();
  for (;;) {
    const reply = await rawExchange(path, [getStatus], { timeoutMs: 5_000 });
    const ms = performance.now() - started;
    if (reply.status === 200 || ms > deadlineMs) return { status: reply.status, ms };
    await new Promise((r) => setTimeout(r, 50));
  }
}
