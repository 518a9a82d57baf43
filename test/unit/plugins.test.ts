import { waitFor } from '../lib/wait-for.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type Log } from '../../src/log/logger.js';
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { emitGuarded, loadPlugins, PluginLoadError } from '../../src/plugins/loader.js';
import { VippyConfig, VippyManager, VippyNetwork, ignoreReason, vippyAnnouncement, type DaemonView } from '../../src/agent/facades.js';
import { parseConfig, type ClusterConfig } from '../../src/config/index.js';
import type { Announcement, Ownership } from '../../src/core/types.js';

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

describe("the plugin-facing objects, seen from a plugin in the original's style (reference vippy.md §2, §3, §7)", () => {
  const vippyFile = {
    chat: '239.192.0.1:8945',
    secret: 'a-long-enough-shared-secret',
    version: 3,
    // As the README writes groups: the preferred node first, entries unsorted.
    vips: [['node2', { interface: 'eth0', ip: '192.0.2.21/24' }, { interface: 'eth0', ip: '192.0.2.20/24' }], [{ interface: 'eth1', ip: '2001:db8::5/64', state: 'preplumbed' }]],
    nodes: ['node1', 'node2'],
    stale: 4,
    notify: ['arp-cache', { interface: 'eth0', ip: '192.0.2.0/24' }],
    management: '/run/test-vippy.socket',
    plugins: ['from-config.js'],
  };
  const iface20 = { ip: '192.0.2.20', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'eth0' };
  const iface21 = { ...iface20, ip: '192.0.2.21' };
  const iface6 = { ip: '2001:db8::5', prefixlen: 64, name: 'eth1', state: 'preplumbed' };
  const group0 = ['node2', iface20, iface21];
  const group1 = [iface6];

  function fakeDaemon(config: ClusterConfig) {
    const calls: string[] = [];
    const view: DaemonView & { calls: string[]; own: Ownership } = {
      self: 'node1',
      calls,
      own: {},
      config: () => config,
      health: () => ({ mature: true, active: true, inactiveReason: null }),
      setHealth: (reason, ok) => void calls.push(`health ${reason} ${ok}`),
      ownership: () => view.own,
      arpCache: () => [{ ip: '192.0.2.7', mac: 'aa:bb:cc:dd:ee:07' }, { ip: '192.0.2.8', mac: 'aa:bb:cc:dd:ee:08' }],
      nodeArpTable: (node) => (node === 'node2' ? [{ ip: '192.0.2.8', mac: 'aa:bb:cc:dd:ee:08' }] : [{ ip: '192.0.2.7', mac: 'aa:bb:cc:dd:ee:07' }]),
      generation: () => 1_700_000_000_000,
      log: (level, message) => void calls.push(`log ${level} ${message}`),
      setAddress: (address, up) => (calls.push(`${up ? 'add' : 'del'} ${address.interface} ${address.ip}/${address.prefixLength}`), { ok: true }),
      shutdown: () => void calls.push('shutdown'),
    };
    return view;
  }

  it('gives config, manager and network with the original methods, events and argument shapes', async () => {
    const config = parseConfig(JSON.stringify(vippyFile), 'vippy.conf').config;
    const daemon = fakeDaemon(config);
    const objects = { config: new VippyConfig(daemon, [...config.plugins, 'from-cli.js']), manager: new VippyManager(daemon), network: new VippyNetwork(daemon) };
    plugin('recorder.cjs', 'exports.seen = {};');
    // Written as plugins for the original were: globals, require, var, callbacks.
    const path = plugin(
      'shapes.js',
      `var seen = require('./recorder.cjs').seen;
       var os = require('os');
       seen.load = {
         hostname: config.hostname(), version: config.version(), vips: config.vips(), nodes: config.nodes(),
         notify: config.notify(), stale: config.stale(), generation: config.generation(), mature: config.mature(),
         active: config.active(), reason: config.inactive_reason(), socket: config.management_socket(),
         plugins: config.plugins().slice(), state: manager.state(), arpcache: manager.arpcache(), platform: os.platform(),
       };
       config.add_plugin('added.js');
       seen.added = config.plugins().slice();
       manager.on('state-change', function (ownership, last) {
         seen.stateChange = { ownership: ownership, last: last, state: manager.state() };
       });
       config.on('send-announce', function (message) { seen.send = message; });
       config.on('recv-announce', function (message, rinfo) { seen.recv = { message: message, rinfo: rinfo }; });
       config.on('ignore', function (reason, message, rinfo) { (seen.ignore = seen.ignore || []).push(reason); });
       network.on('up', function (ok, iface) { seen.up = { ok: ok, iface: iface }; });
       network.on('down', function (ok, iface) { seen.down = { ok: ok, iface: iface }; });
       config.on('stop', function () { config.active(false, 'shutting down'); network.shutdown(); });`,
    );
    expect(await loadPlugins([path], objects, log)).toEqual([{ path, loaded: true }]);
    const { createRequire } = await import('node:module');
    const seen = createRequire(path)('./recorder.cjs').seen;

    expect(seen.load).toEqual({
      hostname: 'node1', // the -n name, not os.hostname()
      version: 3,
      vips: [group0, group1],
      nodes: ['node1', 'node2'],
      notify: ['arp-cache', { ip: '192.0.2.0', netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0', name: 'eth0' }],
      stale: 4,
      generation: 1_700_000_000_000,
      mature: true,
      active: true,
      reason: null,
      socket: '/run/test-vippy.socket',
      plugins: ['from-config.js', 'from-cli.js'],
      state: {}, // until the first placement, as the original
      arpcache: { '192.0.2.7': 'aa:bb:cc:dd:ee:07', '192.0.2.8': 'aa:bb:cc:dd:ee:08' },
      platform: 'linux',
    });
    expect(seen.added).toEqual(['from-config.js', 'from-cli.js', 'added.js']);

    // state-change as the daemon emits it: core's indices → the groups config.vips() gives.
    daemon.own = { _: [1], node1: [], node2: [0] };
    emitGuarded(objects.manager, 'state-change', [objects.manager.groupsOf(daemon.own), objects.manager.groupsOf({})], log);
    expect(seen.stateChange).toEqual({ ownership: { _: [group1], node1: [], node2: [group0] }, last: {}, state: { _: [group1], node1: [], node2: [group0] } });
    // The very group objects config.vips() returns, as in the original.
    expect(seen.stateChange.ownership.node2[0]).toBe(seen.load.vips[0]);

    const announcement: Announcement = {
      node: 'node2', version: 3, fingerprint: config.fingerprint, active: true, inactiveReason: null, leaving: false, held: [0], ineligible: [], hears: [0, 1],
    };
    const message = vippyAnnouncement(config, announcement, daemon.nodeArpTable('node2'));
    emitGuarded(objects.config, 'recv-announce', [message, { address: '192.0.2.2', port: 8945, family: 'IPv4', size: 100 }], log);
    expect(Object.keys(seen.recv.message).slice(0, 8)).toEqual(['me', 'active', 'version', 'vips', 'nodes', 'hash', 'nonce', 'arpcache']);
    expect(seen.recv.message).toMatchObject({
      me: 'node2', active: true, version: 3, vips: [group0, group1], nodes: ['node1', 'node2'],
      arpcache: { '192.0.2.8': 'aa:bb:cc:dd:ee:08' }, held: [group0], same_config: true,
    });
    expect(seen.recv.message.nonce).toMatch(/^[0-9a-f]{64}$/);
    // The original's keyed digest, so a plugin that checks it still can.
    const expectedHash = createHash('sha256')
      .update(`3\nnode2,192.0.2.20,192.0.2.21\n2001:db8::5\nnode1|node2\na-long-enough-shared-secret\n${seen.recv.message.nonce}`)
      .digest('hex');
    expect(seen.recv.message.hash).toBe(expectedHash);
    expect(seen.recv.rinfo).toMatchObject({ address: '192.0.2.2' });

    for (const reason of ['bad-mac', 'unknown-key', 'unknown-node', 'replay'] as const) {
      emitGuarded(objects.config, 'ignore', [ignoreReason(reason), { reason }, {}], log);
    }
    expect(seen.ignore).toEqual(['hash', 'hash', 'node', 'replay']);

    // network.up / down act at once and report (ok, iface), as ife did.
    objects.network.up(iface21);
    objects.network.down(iface6);
    expect(seen.up).toEqual({ ok: true, iface: iface21 });
    expect(seen.down).toEqual({ ok: true, iface: iface6 });
    expect(daemon.calls).toEqual(['add eth0 192.0.2.21/24', 'del eth1 2001:db8::5/64']);

    emitGuarded(objects.config, 'stop', [], log);
    expect(daemon.calls.slice(2)).toEqual(['health shutting down false', 'log notice shutting down', 'shutdown']);
    expect(errors()).toEqual([]);
  });

  it('manager.state() is {} until the node first matures, as the original placed nothing before', () => {
    const config = parseConfig(JSON.stringify(vippyFile), 'vippy.conf').config;
    const daemon = fakeDaemon(config);
    let mature = false;
    daemon.health = () => ({ mature, active: mature, inactiveReason: mature ? null : 'booting' });
    daemon.own = { _: [0, 1], node1: [] };
    const manager = new VippyManager(daemon);
    expect(manager.state()).toEqual({});
    mature = true;
    expect(manager.state()).toEqual({ _: [group0, group1], node1: [] });
    mature = false; // a later config change: the map stays, as the original's did
    expect(manager.state()).toEqual({ _: [group0, group1], node1: [] });
  });

  it('shows a flip data point that is not an address as {point, system}', () => {
    const flip = parseConfig(JSON.stringify({
      id: 'a', key: 'a-long-enough-flip-key', servers: { a: { ip: '192.0.2.1', port: 2200, systems: ['db'] } },
      cluster: { system: { db: { type: 'shard', alive: '/bin/true', down: '/bin/true', data: ['primary'] } } },
    }), 'flip.json').config;
    const manager = new VippyManager(fakeDaemon(flip));
    expect(manager.groupsOf({ _: [], a: [0] })).toEqual({ _: [], a: [[{ point: 'primary', system: 'db' }]] });
  });
});
