// Hostile clients against the control server with stub handlers (issue 7 §3). The same attacks
// run against a live daemon in test/netns/chaos-hostile.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import type { Status } from '../../src/control/status.js';
import { createLogger } from '../../src/log/logger.js';
import { attackControlSocket, rawExchange, getStatus, UNKNOWN_METHODS } from '../netns/lib/chaos-control.js';

const status: Status = {
  identity: 'alpha',
  stats: { net: { ignore: 0, 'send-announce': 0, 'recv-announce': 0 }, 'state-changes': 0 },
  config: { version: 1, vips: [], nodes: ['alpha'] },
  state: { mature: true, active: true, inactive_reason: null, ownership: {} },
};

describe('control socket under hostile clients', () => {
  let dir: string;
  let server: ControlServer;
  const calls: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vippy-fuzz-control-'));
    const log = createLogger(
      { driver: 'console', facility: 'local7', json: true, mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: false, debug: false } },
      { ident: 'fuzz', destination: { write: () => {} } },
    );
    server = await startControlServer({
      path: join(dir, 'control.sock'),
      log,
      // Short timeouts so the slow clients are cut within the test's time.
      limits: { headersTimeoutMs: 2_000, requestTimeoutMs: 3_000 },
      handlers: {
        status: () => status,
        peers: () => [],
        arpCache: () => ({}),
        activate: () => (calls.push('activate'), {}),
        deactivate: () => (calls.push('deactivate'), {}),
        reload: async () => (calls.push('reload'), {}),
      },
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses malformed requests, unknown methods, huge headers; survives a burst and slow clients', async () => {
    const report = await attackControlSocket(server.path, { concurrency: 300, slowClients: 40, trickleMs: 100 });
    expect(report.malformed.filter((code) => ![0, 400, 404, 405, 408, 413, 431].includes(code)), JSON.stringify(report.malformed)).toEqual([]);
    // CONNECT has no handler in node:http: the socket is closed (0).
    expect(report.unknownMethods.filter((code) => ![400, 405].includes(code)).length, JSON.stringify(report.unknownMethods)).toBeLessThanOrEqual(1);
    expect(report.unknownMethods[UNKNOWN_METHODS.indexOf('CONNECT')]).toBe(0);
    expect(report.hugeHeader).toBe(431);
    // Over the connection cap a client is closed unanswered (0); nobody gets an error status.
    expect(Object.keys(report.concurrent).map(Number).every((code) => code === 200 || code === 0)).toBe(true);
    expect(report.concurrent[200]).toBeGreaterThan(0);
    // Slow clients hold connections until the headers timeout; status is served again by then.
    expect(report.statusDuringSlowloris.status).toBe(200);
    expect(report.statusDuringSlowloris.ms).toBeLessThan(2_000 + 1_500);
    for (const code of report.slowClients) expect([0, 408]).toContain(code);
    // No hostile request reached a state-changing handler.
    expect(calls).toEqual([]);
    expect((await rawExchange(server.path, [getStatus])).status).toBe(200);
  }, 60_000);
});
