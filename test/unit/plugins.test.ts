import { waitFor } from '../lib/wait-for.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type Log } from '../../src/log/logger.js';
import { EventEmitter } from 'node:events';
import { emitGuarded, loadPlugins, PluginLoadError } from '../../src/plugins/loader.js';

const everything = { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: true };

let dir: string;
let records: Record<string, any>[];
let log: Log;

/** A stand-in for the agent's VippyConfig: the health API plugins use. */
class FakeConfig extends EventEmitter {
  reasons = new Map<string, boolean>();
  history: [boolean, string][] = [];
  reports: unknown[] = [];
  active(value: boolean, reason = 'administrative') {
    this.reasons.set(reason, value);
    this.history.push([value, reason]);
  }
  inactive_reason() {
    for (const [reason, ok] of this.reasons) if (!ok) return reason;
    return null;
  }
  log(_pri: string, _message: string) {}
  report(value: unknown) {
    this.reports.push(value);
  }
}

function plugin(name: string, code: string): string {
  const path = join(dir, name);
  writeFileSync(path, code);
  return path;
}

const errors = () => records.filter((r) => r.level === 'err');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'vippy-plugins-'));
  records = [];
  log = createLogger({ driver: 'console', facility: 'local7', json: true, mask: everything }, { ident: 'test', destination: { write: (l: string) => records.push(JSON.parse(l)) } });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadPlugins', () => {
  it("runs PR #4's ping plugin: require next to it, config.active(up, reason), config.on('stop')", async () => {
    // net-ping's API, answering from a table so that the test decides who is up.
    plugin(
      'net-ping.js',
      `class RequestTimedOutError extends Error {}
       exports.RequestTimedOutError = RequestTimedOutError;
       exports.down = new Set();
       exports.createSession = () => ({
         on() {},
         close() {},
         pingHost(ip, cb) { setImmediate(() => exports.down.has(ip) ? cb(new RequestTimedOutError(ip), ip) : cb(null, ip)); },
       });`,
    );
    const path = plugin(
      'plugin_ping.js',
      `ping = require("./net-ping.js");
       var options = { retries: 1, timeout: 2000 };
       var pingInterval = setInterval(function () {
         var tests = { "192.0.2.1": "192.0.2.10" };
         for (testIp in tests) {
           var session = ping.createSession(options);
           session.on("error", function (error) { config.log('err', error.toString()); });
           session.pingHost(testIp, function (error, target) {
             if (error) {
               config.log('err', target + ": Down");
               config.active(false, "pingRemoteFailed");
             } else {
               config.active(true, "pingRemoteFailed");
             }
           });
           session.close();
         }
       }, 10);
       config.on('stop', function () { clearInterval(pingInterval); });`,
    );
    const config = new FakeConfig();
    expect(await loadPlugins([path], { config, manager: {}, network: {} }, log)).toEqual([{ path, loaded: true }]);

    const { createRequire } = await import('node:module');
    const netPing = createRequire(path)('./net-ping.js') as { down: Set<string> };
    await waitFor(() => config.history.length > 0, { intervalMs: 5 });
    expect(config.inactive_reason()).toBeNull();
    netPing.down.add('192.0.2.1');
    await waitFor(() => config.inactive_reason() === 'pingRemoteFailed', { intervalMs: 5 });
    netPing.down.delete('192.0.2.1');
    await waitFor(() => config.inactive_reason() === null, { intervalMs: 5 });

    config.emit('stop');
    await sleep(30); // a callback already queued may still land
    const settled = config.history.length;
    await sleep(60);
    expect(config.history.length).toBe(settled);
    expect('ping' in globalThis).toBe(false); // its implicit globals stayed in its own context
  });

  it("gives each plugin the host's globals, require, global and the three objects", async () => {
    const path = plugin(
      'probe.js',
      `global.marker = 42;
       config.report({
         process: typeof process, Buffer: typeof Buffer, URL: typeof URL, require: typeof require,
         os: require('os').platform(), console: typeof console.log, marker: typeof marker,
         manager: manager.name, network: network.name, filename: __filename_check(),
       });
       function __filename_check() { try { null.x } catch (e) { return e.stack.includes(${JSON.stringify(join(dir, 'probe.js'))}); } }`,
    );
    const config = new FakeConfig();
    await loadPlugins([path], { config, manager: { name: 'manager' }, network: { name: 'network' } }, log);
    expect(config.reports).toEqual([
      {
        process: 'object', Buffer: 'function', URL: 'function', require: 'function', os: 'linux', console: 'function',
        marker: 'number', manager: 'manager', network: 'network', filename: true,
      },
    ]);
  });

  it('logs a plugin that throws while loading, with its stack, and loads the next one', async () => {
    const broken = plugin('broken.js', `config.report('before');\nundefinedFunction();\n`);
    const fine = plugin('fine.js', `config.report('fine');`);
    const config = new FakeConfig();
    const result = await loadPlugins([broken, fine], { config, manager: {}, network: {} }, log);
    expect(result).toEqual([
      { path: broken, loaded: false },
      { path: fine, loaded: true },
    ]);
    expect(config.reports).toEqual(['before', 'fine']);
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ msg: 'plugin failed while loading', plugin: broken, err: { message: 'undefinedFunction is not defined' } });
    expect(errors()[0]!.err.stack).toContain(`${broken}:2`);
  });

  it('logs a non-Error throw too', async () => {
    const path = plugin('string-throw.js', `throw "nope";`);
    await loadPlugins([path], { config: {}, manager: {}, network: {} }, log);
    expect(errors()[0]).toMatchObject({ plugin: path, err: 'nope' });
  });

  it('refuses to start when a plugin cannot be read, before running any', async () => {
    const fine = plugin('fine.js', `config.report('ran');`);
    const missing = join(dir, 'missing.js');
    const config = new FakeConfig();
    const loading = loadPlugins([fine, missing], { config, manager: {}, network: {} }, log);
    await expect(loading).rejects.toThrow(new PluginLoadError(`cannot read plugin ${missing}: ENOENT`));
    expect(config.reports).toEqual([]);
  });

  it('logs a timer callback that throws and keeps the timer and the daemon going', async () => {
    const path = plugin(
      'flaky-timer.js',
      `var n = 0;
       var t = setInterval(function () { n++; config.report(n); if (n === 1) throw new Error('tick ' + n); if (n === 3) clearInterval(t); }, 5);`,
    );
    const config = new FakeConfig();
    await loadPlugins([path], { config, manager: {}, network: {} }, log);
    await waitFor(() => config.reports.length === 3, { intervalMs: 5 });
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ msg: 'plugin timer callback threw', plugin: path, err: { message: 'tick 1' } });
  });
});

describe('emitGuarded', () => {
  it('runs every listener even when one throws, and logs the throw', () => {
    const manager = new EventEmitter();
    const seen: string[] = [];
    manager.on('state-change', () => seen.push('first'));
    manager.on('state-change', () => {
      throw new Error('plugin bug');
    });
    manager.on('state-change', (ownership) => seen.push(`third ${JSON.stringify(ownership)}`));
    expect(emitGuarded(manager, 'state-change', [{ _: [] }], log)).toBe(true);
    expect(seen).toEqual(['first', 'third {"_":[]}']);
    expect(errors()).toEqual([
      expect.objectContaining({ msg: "a 'state-change' listener threw", event: 'state-change', err: expect.objectContaining({ message: 'plugin bug' }) }),
    ]);
  });

  it('keeps once() semantics and `this`', () => {
    const network = new EventEmitter();
    const calls: unknown[] = [];
    network.once('up', function (this: unknown, ok: boolean) {
      calls.push([this === network, ok]);
    });
    emitGuarded(network, 'up', [true], log);
    emitGuarded(network, 'up', [false], log);
    expect(calls).toEqual([[true, true]]);
    expect(network.listenerCount('up')).toBe(0);
  });

  it('logs a rejected promise from an async listener', async () => {
    const config = new EventEmitter();
    config.on('stop', async () => {
      throw new Error('async cleanup failed');
    });
    emitGuarded(config, 'stop', [], log);
    await sleep(0);
    expect(errors()[0]).toMatchObject({ event: 'stop', err: { message: 'async cleanup failed' } });
  });

  it('guards listeners a plugin registered from its own context', async () => {
    const path = plugin('listener.js', `config.on('config-change', function () { throw new TypeError('plugin listener bug'); });`);
    const config = new FakeConfig();
    const after: string[] = [];
    await loadPlugins([path], { config, manager: {}, network: {} }, log);
    config.on('config-change', () => after.push('agent listener ran'));
    expect(emitGuarded(config, 'config-change', [], log)).toBe(true);
    expect(after).toEqual(['agent listener ran']);
    expect(errors()[0]).toMatchObject({ event: 'config-change', err: { type: 'TypeError', message: 'plugin listener bug' } });
  });

  it('reports whether anyone listened, like emit', () => {
    expect(emitGuarded(new EventEmitter(), 'ignore', ['hash'], log)).toBe(false);
  });
});

