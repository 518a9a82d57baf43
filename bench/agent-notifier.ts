// Heartbeat jitter while the notifier works through 10,000 notify targets (target: the max stays
// under interval/4 = 25 ms for a 100 ms interval), measured in a network namespace with the real
// addon by test/netns/fixtures/agent-notifier.ts, beside a baseline run without targets (the
// same timer on the same machine: what the machine's load alone does). Needs root.
// Run: npx tsx bench/agent-notifier.ts  → bench/results/agent.json, section "notifier".
import { Segment } from '../test/netns/harness.js';
import { agentConfig, groups, vip } from '../test/netns/fixtures/agent-config.js';
import { recordResults, summarize } from './lib/results.js';

const RUNS = 5;
const TARGETS = 10_000;
const RATE = 10_000;
const HEARTBEAT_MS = 100;

const config = agentConfig({
  groups: groups([vip('192.0.2.200', 24)]),
  arp: { burstCount: 5, burstSpacingMs: 0, repeatDelayMs: 0, refreshIntervalMs: 0, notifyRate: RATE },
});
const seg = await Segment.create({ hosts: ['a'], observer: true });
const maxJitter: number[] = [];
const baselineMaxJitter: number[] = [];
const notifyMs: number[] = [];
const longestSliceMs: number[] = [];

async function run(generatedTargets: number, lingerMs: number) {
  await seg.exec('a', ['ip', 'addr', 'flush', 'dev', 'eth0', 'label', 'eth0:vip']);
  const p = seg.node('a', 'test/netns/fixtures/agent-notifier.ts', [
    JSON.stringify({ config, group: 0, targets: [], generatedTargets, heartbeatMs: HEARTBEAT_MS, lingerMs }),
  ]);
  const status = await p.wait();
  if (status.code !== 0) throw new Error(`fixture failed: ${p.stderr}`);
  return JSON.parse(p.stdout.split('\n').find((l) => l.includes('"counters"'))!);
}

try {
  for (let i = 0; i < RUNS; i++) {
    const loaded = await run(TARGETS, 300);
    maxJitter.push(loaded.heartbeat.maxJitterMs);
    notifyMs.push(loaded.notifyMs);
    longestSliceMs.push(loaded.counters.longestSliceMs);
    baselineMaxJitter.push((await run(0, 1_300)).heartbeat.maxJitterMs);
  }
} finally {
  await seg.destroy();
}
const figures = {
  targets: TARGETS, notifyRatePerSecond: RATE, heartbeatIntervalMs: HEARTBEAT_MS, targetMaxJitterMs: HEARTBEAT_MS / 4,
  maxJitterMs: summarize(maxJitter), baselineMaxJitterMs: summarize(baselineMaxJitter), notifyDurationMs: summarize(notifyMs),
  // The longest the notifier itself held the event loop: jitter beyond it is the machine's scheduling.
  longestSliceMs: summarize(longestSliceMs),
  loadAverage: (await import('node:os')).loadavg()[0],
};
console.log(JSON.stringify(figures, null, 2));
console.log('written to', recordResults('agent.json', 'notifier', figures));
