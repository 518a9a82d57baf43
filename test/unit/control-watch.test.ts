// The event stream of `vippyctl watch`: GET /watch on a real control socket, read by vippyctl's
// own main() and by a raw client that stops reading.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { formatEvent, main } from '../../src/cli/vippyctl.js';
import { EventStream } from '../../src/control/events.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { createLogger } from '../../src/log/logger.js';
import { waitFor } from '../netns/harness.js';

let dir: string;
let path: string;
let server: ControlServer | undefined;
const log = createLogger(
  { driver: 'none', facility: 'local7', json: false, mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: true } },
  { ident: 'test', destination: { write: () => {} } },
);
const unused = () => {
  throw new Error('not used here');
};

beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'vippy-watch-'));
  path = join(dir, 'vippy.socket');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function serve(events: EventStream): Promise<void> {
  server = await startControlServer({
    path, log, events,
    handlers: { status: unused, peers: unused, arpCache: unused, activate: unused, deactivate: unused, reload: unused },
  });
}

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } } };
}

it('streams every event in order with consecutive sequence numbers, until the daemon stops', async () => {
  const events = new EventStream('alpha');
  await serve(events);
  events.publish({ type: 'before-anyone-watched' });
  const { out, io } = capture();
  const watching = main(['-s', path, '--json', 'watch'], io);
  await waitFor(() => events.watching === 1, { what: 'the watcher to connect' });
  events.publish({ type: 'peer-joined', peer: 'beta' });
  events.publish({ type: 'taken', group: '192.0.2.10', reason: 'placement', seq: 999 });
  events.close('vippyd stopping');
  expect(await watching).toBe(0);
  const lines = out.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines.map(({ seq, type }) => [seq, type])).toEqual([[1, 'watching'], [2, 'peer-joined'], [3, 'taken'], [3, 'closed']]);
  expect(lines[2]).toMatchObject({ node: 'alpha', group: '192.0.2.10', reason: 'placement' });
  expect(lines[3]).toMatchObject({ reason: 'vippyd stopping' });
  expect(out.stderr).toBe('');
});

it('drops a reader that stops reading, with a last line saying why, without holding up the others', async () => {
  const events = new EventStream('alpha', { maxBufferedBytes: 64 * 1024 });
  await serve(events);
  const slow = net.connect(path);
  slow.write('GET /watch HTTP/1.1\r\nHost: vippy\r\n\r\n');
  await waitFor(() => events.watching === 1, { what: 'the slow watcher to connect' });
  slow.pause();
  const { out, io } = capture();
  const watching = main(['-s', path, '--json', 'watch'], io);
  await waitFor(() => events.watching === 2, { what: 'the second watcher to connect' });

  const padding = 'x'.repeat(1000);
  // The kernel's socket buffers take some; the rest waits in the response until the limit. The
  // loop yields as the daemon does between steps, so the reader that keeps up can read.
  for (let i = 0; i < 5000 && events.watching === 2; i++) {
    events.publish({ type: 'filler', padding });
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(events.watching).toBe(1);
  const published = events.lastSeq;
  events.close('vippyd stopping');
  expect(await watching).toBe(0);
  // The reader that kept up has everything.
  expect(out.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq).slice(1, -1))
    .toEqual(Array.from({ length: published }, (_, i) => i + 1));

  let received = '';
  slow.setEncoding('utf8');
  slow.on('data', (chunk: string) => (received += chunk));
  slow.resume();
  await new Promise((resolve) => slow.once('end', resolve));
  // The raw HTTP: chunked framing around the lines; the last line of JSON is the goodbye.
  const last = JSON.parse(received.split(/\r?\n/).filter((line) => line.startsWith('{')).at(-1)!) as { type: string; reason: string };
  expect(last).toMatchObject({ type: 'dropped', reason: 'slow reader: more than 65536 bytes unread' });
});

it('vippyctl watch exits 1 when its stream was dropped or the watchers are full', async () => {
  const events = new EventStream('alpha', { maxWatchers: 1 });
  await serve(events);
  const first = capture();
  const watching = main(['-s', path, 'watch'], first.io);
  await waitFor(() => events.watching === 1, { what: 'the first watcher' });
  const second = capture();
  expect(await main(['-s', path, 'watch'], second.io)).toBe(1);
  expect(second.out.stderr).toBe('vippyctl: watch failed (HTTP 503): too many watchers (1 open)\n');
  events.publish({ type: 'quorum-lost', seen: 1 });
  events.close('vippyd stopping');
  expect(await watching).toBe(0);
  expect(first.out.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} #0 watching\n\d\d:\d\d:\d\d\.\d{3} #1 quorum-lost seen=1\n\S+ #1 closed reason="vippyd stopping"\n$/);
});

it('formats an event for people: time, number, type, fields', () => {
  expect(formatEvent('{"seq":7,"time":"2026-12-05T10:30:00.123Z","node":"n2","type":"taken","group":"192.0.2.201","reason":"takeover","detail":"takeover from n1"}'))
    .toBe('10:30:00.123 #7 taken group=192.0.2.201 reason=takeover detail="takeover from n1"');
});
