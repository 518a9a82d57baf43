// Simulator speed: simulated node-seconds per wall-clock second, for a small cluster under
// random faults (the randomized test's workload) and for a larger quiet cluster.
//   npx tsx bench/sim.ts
import { recordResults } from './lib/results.js';
import { Cluster } from '../test/sim/cluster.js';
import { simConfig } from '../test/sim/config.js';
import { randomRun } from '../test/sim/random-run.js';

function quietCluster(nodes: number, groups: number, simulatedMs: number) {
  const names = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const cluster = new Cluster({ seed: 1, config: simConfig({ nodes: names, groups, quorum: Math.floor(nodes / 2) + 1 }) });
  const started = performance.now();
  for (const name of names) cluster.start(name);
  cluster.run(simulatedMs);
  const seconds = (performance.now() - started) / 1000;
  return { nodes, groups, simulatedSeconds: simulatedMs / 1000, wallSeconds: +seconds.toFixed(3), steps: cluster.stepCount, nodeSecondsPerSecond: Math.round((nodes * simulatedMs) / 1000 / seconds), stepsPerSecond: Math.round(cluster.stepCount / seconds) };
}

const started = performance.now();
let nodeMs = 0;
let steps = 0;
const seeds = 200;
for (let seed = 1; seed <= seeds; seed++) {
  const result = randomRun(seed);
  nodeMs += result.simulatedMs * result.nodes;
  steps += result.steps;
}
const randomSeconds = (performance.now() - started) / 1000;
const figures = {
  randomRuns: {
    seeds,
    wallSeconds: +randomSeconds.toFixed(2),
    msPerSeed: +((randomSeconds * 1000) / seeds).toFixed(1),
    nodeSecondsPerSecond: Math.round(nodeMs / 1000 / randomSeconds),
    stepsPerSecond: Math.round(steps / randomSeconds),
  },
  quiet5x20: quietCluster(5, 20, 600_000),
  quiet32x256: quietCluster(32, 256, 30_000),
};
console.log(JSON.stringify(figures, null, 2));
console.log('written to', recordResults('core.json', 'sim', figures));
