// HTTP over the management unix socket: /status and the newer commands. The daemon's state is
// reached only through the handlers the agent passes in.
//
// Replies are `application/json` (the original said `text/json`, which no registry knows; old
// vippyctl parses the body whatever the type says, so nothing breaks). Each reply closes its
// connection: clients send one command, and idle keep-alive sockets would eat the cap.

import http from 'node:http';
import net from 'node:net';
import { chmod, chown, lstat, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Log } from '../log/logger.js';
import type { EventStream } from './events.js';
import type { Status } from './status.js';

type Awaitable<T> = T | Promise<T>;

/** Implemented by the agent. Return values are sent as JSON. */
export interface ControlHandlers {
  status(): Awaitable<Status>;
  peers(): Awaitable<unknown>;
  arpCache(): Awaitable<unknown>;
  /** `reason` absent means vippy's "administrative". */
  activate(reason?: string): Awaitable<unknown>;
  deactivate(reason?: string): Awaitable<unknown>;
  reload(): Promise<unknown>;
  /** Health checks: each one's verdict, counts, last run. */
  checks?(): Awaitable<unknown>;
  /** Prometheus text exposition; /metrics answers 404 without it. */
  metrics?(): Awaitable<string>;
}

export interface ControlLimits {
  /** Connections beyond this are closed at once, unless a slow client's can be taken (below). */
  maxConnections: number;
  /**
   * A connection still sending its request headers after this long is closed to make room for a
   * new one when the cap is reached: slow clients cannot keep vippyctl out until headersTimeout.
   */
  slowClientMs: number;
  /** A client must finish sending its headers within this. */
  headersTimeoutMs: number;
  /** ...and its whole request within this. */
  requestTimeoutMs: number;
  maxHeaderSize: number;
}

export const defaultControlLimits: ControlLimits = {
  maxConnections: 32,
  slowClientMs: 1_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxHeaderSize: 8 * 1024,
};

export interface ControlServerOptions {
  path: string;
  /** File mode of the socket; connecting needs write permission. Default 0600. */
  mode?: number;
  /** Group (name or gid) given the socket, so that its members may connect when `mode` allows. */
  group?: string | number;
  handlers: ControlHandlers;
  log: Log;
  limits?: Partial<ControlLimits>;
  /** Served as /watch; without it /watch is 404. */
  events?: EventStream;
}

export interface ControlServer {
  readonly path: string;
  /** Stop listening, drop connections, remove the socket file. */
  close(): Promise<void>;
}

/** Setting up the socket failed; the message is meant for the operator as is. */
export class ControlSocketError extends Error {
  override name = 'ControlSocketError';
}

/** Thrown by a handler to answer with a specific status, e.g. 409 for an invalid reload. */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const maxReasonLength = 200;
const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

type Route = (handlers: ControlHandlers, reason: string | undefined) => Awaitable<unknown>;

const routes = new Map<string, Route>([
  ['/status', (h) => h.status()],
  ['/peers', (h) => h.peers()],
  ['/arp-cache', (h) => h.arpCache()],
  ['/activate', (h, reason) => h.activate(reason)],
  ['/deactivate', (h, reason) => h.deactivate(reason)],
  ['/reload', (h) => h.reload()],
  ['/checks', (h) => (h.checks ? h.checks() : [])],
]);

/**
 * The connection cap. Past it, a new connection takes the place of the oldest one that has been
 * sending its request headers for longer than slowClientMs; when there is none, it is closed.
 */
function capConnections(server: http.Server, limits: ControlLimits, log: Log): void {
  const open = new Set<net.Socket>();
  /** Connections whose request headers have not arrived yet, by accept time (oldest first). */
  const awaitingHeaders = new Map<net.Socket, number>();
  const forget = (socket: net.Socket) => {
    open.delete(socket);
    awaitingHeaders.delete(socket);
  };
  server.on('connection', (socket: net.Socket) => {
    if (open.size >= limits.maxConnections) {
      const [slowest, since] = awaitingHeaders.entries().next().value ?? [];
      if (slowest === undefined || performance.now() - since! < limits.slowClientMs) {
        socket.destroy();
        return;
      }
      log.debug({ ms: Math.round(performance.now() - since!) }, 'control: closing a slow client to make room');
      forget(slowest);
      slowest.destroy();
    }
    open.add(socket);
    awaitingHeaders.set(socket, performance.now());
    socket.once('close', () => forget(socket));
  });
  server.on('request', (req: http.IncomingMessage) => awaitingHeaders.delete(req.socket));
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { path, handlers, log } = opts;
  const mode = opts.mode ?? 0o600;
  const limits = { ...defaultControlLimits, ...opts.limits };
  const gid = opts.group === undefined ? undefined : await resolveGroupId(opts.group);

  await clearStaleSocket(path, log);

  const server = http.createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often the two timeouts above are enforced (Node's default is every 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4),
    },
    (req, res) => void answer(req, res, handlers, log, opts.events),
  );
  capConnections(server, limits, log);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug({ code: err.code }, 'control client error');
    if (socket.writable && !socket.destroyed) {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(new ControlSocketError(`cannot listen on the control socket ${path}: ${err.code ?? err.message}`));
    server.once('error', failed);
    server.listen(path, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (err) => log.err({ err, path }, 'control socket error'));

  // Between bind and chmod the file has the umask's mode; with any usual umask only the owner
  // can write (= connect) during that moment.
  try {
    await chmod(path, mode);
    if (gid !== undefined) await chown(path, -1, gid);
  } catch (err) {
    await closeServer(server);
    await unlink(path).catch(() => {});
    throw new ControlSocketError(`cannot set the mode or group of the control socket ${path}: ${(err as Error).message}`);
  }
  log.info({ path, mode: mode.toString(8), gid }, 'control socket listening');

  return {
    path,
    async close() {
      await closeServer(server);
      // libuv unlinks a pipe it bound when it closes; this makes sure of it.
      await unlink(path).catch(() => {});
    },
  };
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, handlers: ControlHandlers, log: Log, events?: EventStream): Promise<void> {
  res.shouldKeepAlive = false;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://vippy');
  } catch {
    return send(res, 400, jsonText({ error: 'malformed request path' }));
  }
  const command = url.pathname;
  if (command === '/watch' && events) {
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return send(res, 405, jsonText({ error: `method ${req.method} not allowed on /watch; use GET` }));
    }
    if (!events.subscribe(res)) send(res, 503, jsonText({ error: `too many watchers (${events.watching} open)` }));
    return;
  }
  const run = commandFor(command, handlers);
  if (!run) return send(res, 404, jsonText({ error: 'no such command' }));
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.setHeader('Allow', 'GET, POST');
    return send(res, 405, jsonText({ error: `method ${req.method} not allowed on ${command}; use GET or POST` }));
  }

  const reason = url.searchParams.get('reason') ?? undefined;
  if (reason !== undefined && (reason.length === 0 || reason.length > maxReasonLength || /\p{Cc}/u.test(reason))) {
    return send(res, 400, jsonText({ error: `reason must be 1 to ${maxReasonLength} printable characters` }));
  }

  try {
    send(res, 200, await run(reason));
  } catch (err) {
    if (err instanceof ControlError) return send(res, err.status, jsonText({ error: err.message }));
    log.err({ err, command }, 'control command failed');
    send(res, 500, jsonText({ error: `${command.slice(1)} failed: ${(err as Error)?.message ?? String(err)}` }));
  }
}

interface Reply {
  contentType: string;
  text: string;
}

function commandFor(command: string, handlers: ControlHandlers): ((reason: string | undefined) => Promise<Reply>) | undefined {
  const route = routes.get(command);
  if (route) return async (reason) => jsonText((await route(handlers, reason)) ?? { ok: true });
  const metrics = handlers.metrics?.bind(handlers);
  if (command === '/metrics' && metrics) return async () => ({ contentType: metricsContentType, text: await metrics() });
  return undefined;
}

function jsonText(body: unknown): Reply {
  return { contentType: 'application/json; charset=utf-8', text: JSON.stringify(body) + '\n' };
}

function send(res: http.ServerResponse, status: number, reply: Reply): void {
  res.writeHead(status, { 'Content-Type': reply.contentType, 'Content-Length': Buffer.byteLength(reply.text) });
  res.end(reply.text);
}

/**
 * A socket file left by a daemon that died is removed; a live one, or anything that is not a
 * socket, stops the start with a message saying which.
 */
async function clearStaleSocket(path: string, log: Log): Promise<void> {
  let entry;
  try {
    entry = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ControlSocketError(`cannot inspect the control socket path ${path}: ${(err as Error).message}`);
    }
    // libuv reports a missing directory as EACCES at bind: say what is really wrong.
    if (!(await stat(dirname(path)).catch(() => undefined))?.isDirectory()) {
      throw new ControlSocketError(`cannot listen on the control socket ${path}: directory ${dirname(path)} does not exist`);
    }
    return;
  }
  if (!entry.isSocket()) {
    throw new ControlSocketError(`${path} exists and is not a socket; not replacing it (remove it or change "management")`);
  }
  if (await isListening(path)) throw new ControlSocketError(`another vippyd is already serving ${path}`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new ControlSocketError(`cannot remove the stale control socket ${path}: ${err.message}`);
  });
  log.notice({ path }, 'removed a stale control socket');
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      // EAGAIN (full backlog), EACCES...: we cannot tell, so we must not delete it.
      else reject(new ControlSocketError(`cannot tell whether ${path} is in use: ${err.code ?? err.message}`));
    });
  });
}

/** A gid, given as a number, a numeric string or a group name from /etc/group. */
export async function resolveGroupId(group: string | number, groupFile = '/etc/group'): Promise<number> {
  if (typeof group === 'number' || /^\d+$/.test(group)) return Number(group);
  const text = await readFile(groupFile, 'utf8').catch((err: Error) => {
    throw new ControlSocketError(`cannot read ${groupFile} to look up management group "${group}": ${err.message}`);
  });
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ControlSocketError(`management group "${group}" is not in ${groupFile}`);
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
