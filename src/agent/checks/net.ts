// tcp and http checks: non-blocking sockets with a deadline.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CheckSpec } from '../../config/model.js';
import { errorText, withTimeout, type ProbeResult } from './probe.js';

type TcpSpec = Extract<CheckSpec, { kind: 'tcp' }>;
type HttpSpec = Extract<CheckSpec, { kind: 'http' }>;

/** Bytes of an http body searched for `body`. */
const BODY_LIMIT = 64 * 1024;

export function runTcp(spec: TcpSpec): Promise<ProbeResult> {
  return withTimeout(
    (signal) => new Promise((resolve) => {
      const socket = net.connect({ host: spec.host, port: spec.port, signal });
      socket.once('connect', () => {
        socket.destroy();
        resolve({ ok: true, reason: 'connected' });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve({ ok: false, reason: `connect ${err.code ?? errorText(err)}` });
      });
    }),
    spec.timeoutMs,
    () => ({ ok: false, reason: `no connection within ${spec.timeoutMs} ms` }),
  );
}

export function runHttp(spec: HttpSpec): Promise<ProbeResult> {
  return withTimeout(
    (signal) => new Promise((resolve) => {
      const client = spec.url.startsWith('https:') ? https : http;
      const request = client.get(spec.url, { agent: false, signal, headers: { 'user-agent': 'vippyd-check', connection: 'close' }, ...(spec.insecure ? { rejectUnauthorized: false } : {}) }, (response) => {
        const status = response.statusCode ?? 0;
        const statusOk = spec.status === null ? status >= 200 && status < 300 : spec.status.includes(status);
        if (!statusOk || spec.body === undefined) {
          response.destroy();
          resolve({ ok: statusOk, reason: `HTTP ${status}` });
          return;
        }
        const wanted = spec.body;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
          if (body.includes(wanted)) {
            response.destroy();
            resolve({ ok: true, reason: `HTTP ${status}` });
          } else if (body.length > BODY_LIMIT) {
            response.destroy();
            resolve({ ok: false, reason: `HTTP ${status}, body lacks ${JSON.stringify(wanted)}` });
          }
        });
        response.on('end', () => resolve({ ok: body.includes(wanted), reason: body.includes(wanted) ? `HTTP ${status}` : `HTTP ${status}, body lacks ${JSON.stringify(wanted)}` }));
        response.on('error', (err) => resolve({ ok: false, reason: `HTTP ${status}, ${errorText(err)}` }));
      });
      request.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, reason: err.code === 'ABORT_ERR' ? 'aborted' : `GET ${err.code ?? errorText(err)}` }));
    }),
    spec.timeoutMs,
    () => ({ ok: false, reason: `no answer within ${spec.timeoutMs} ms` }),
  );
}
