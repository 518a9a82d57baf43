// The chaos soak (issue 7 §1), longer than the bounded run in `npm test`:
//   npm run soak -- --minutes N [--seed S]
// Five real daemons in network namespaces, quorum 3, random faults back to back; figures per
// fault kind go to bench/results/soak.json (section "chaos"). Needs root.
import { parseArgs } from 'node:util';
import { recordResults } from './lib/results.js';
import { Segment } from '../test/netns/harness.js';
import { CHAOS_NODES, RECONVERGE_LIMIT_MS, TIMING, runChaos, summarize } from '../test/netns/lib/chaos.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, seed: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got "${values.minutes}"`);
const seed = Number(values.seed ?? Date.now() % 1_000_000);

const seg = await Segment.create({ hosts: CHAOS_NODES });
try {
  const report = await runChaos(seg, { durationMs: minutes * 60_000, seed, log: (line) => console.log(line) });
  const summary = summarize(report);
  const file = recordResults('soak.json', 'chaos', {
    minutes, seed, nodes: CHAOS_NODES.length, quorum: 3, policy: 'stop', timing: TIMING, reconvergeLimitMs: RECONVERGE_LIMIT_MS,
    ...summary, crashDetails: report.crashes, leftoverDetails: report.leftovers,
    worst: report.faults.filter((f) => f.dualMs > 0 || f.reconvergeMs === null || f.reconvergeMs > RECONVERGE_LIMIT_MS || f.arpMismatches.length > 0).slice(0, 50),
  });
  console.log(JSON.stringify(summary));
  console.log(`recorded in ${file}`);
} finally {
  await seg.destroy();
}
