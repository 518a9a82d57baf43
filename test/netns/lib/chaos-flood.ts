// Hostile chat traffic, run inside a namespace (issue 7 §3): listens to the chat group for a
// moment to capture genuine datagrams, then sends garbage, mutated and replayed datagrams to
// `target` (one daemon's address, or the group itself) at a fixed rate. Prints one JSON line of
// what it sent when done.
//   node --import tsx chaos-flood.ts <local-ip> <group> <port> <target> <seconds> <rate> [replay-source-ip ...]
// (the namespaces have no default route: the multicast interface is named by its address)
import dgram from 'node:dgram';
import { Prng } from '../../sim/prng.js';

const [localIp, group, portText, target, secondsText, rateText, ...replaySources] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
const rate = Number(rateText);
if (!localIp || !group || !target || !(port > 0) || !(seconds > 0) || !(rate > 0)) throw new Error('usage: chaos-flood.ts <local-ip> <group> <port> <target> <seconds> <rate> [replay-source-ip ...]');

const rng = new Prng(0xf100d);
const captured: Buffer[] = [];
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (message, rinfo) => {
  if (replaySources.includes(rinfo.address) && captured.length < 500) captured.push(message);
});
await new Promise<void>((resolve) => socket.bind(port, () => resolve()));
socket.addMembership(group, localIp);
socket.setMulticastInterface(localIp);
await new Promise((r) => setTimeout(r, 1000));

function hostile(): { kind: string; bytes: Buffer } {
  const genuine = captured.length > 0 ? rng.pick(captured) : undefined;
  const kind = genuine ? rng.pick(['replay', 'bit-flip', 'truncate', 'random']) : 'random';
  if (kind === 'replay') return { kind, bytes: genuine! };
  if (kind === 'bit-flip') {
    const copy = Buffer.from(genuine!);
    copy[rng.int(0, copy.length - 1)]! ^= 1 << rng.int(0, 7);
    return { kind, bytes: copy };
  }
  if (kind === 'truncate') return { kind, bytes: genuine!.subarray(0, rng.int(1, genuine!.length - 1)) };
  const bytes = Buffer.alloc(rng.int(1, 1400));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  return { kind, bytes };
}

const sent: Record<string, number> = {};
let failed = 0;
const started = performance.now();
const tickMs = 10;
let due = 0;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    if (elapsed >= seconds * 1000) {
      clearInterval(timer);
      resolve();
      return;
    }
    // Catch up on what the timer's lateness skipped, so the average rate holds.
    const owed = Math.floor((elapsed / 1000) * rate);
    for (; due < owed; due++) {
      const { kind, bytes } = hostile();
      sent[kind] = (sent[kind] ?? 0) + 1;
      socket.send(bytes, port, target, (error) => {
        if (error) failed++;
      });
    }
  }, tickMs);
});
await new Promise((r) => setTimeout(r, 200));
socket.close();
const total = Object.values(sent).reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ total: total - failed, failed, sent, captured: captured.length, seconds: (performance.now() - started) / 1000 }));
