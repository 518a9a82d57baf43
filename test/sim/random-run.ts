// One randomized run from a seed: a random cluster, a phase of random faults (crashes, restarts,
// freezes, partitions, one-way links, loss, duplication, health and carrier flips, config bumps,
// clean stops), then a quiet phase in which everything heals and the cluster must converge.

import { Cluster, InvariantViolation } from './cluster.js';
import { simConfig, type SimConfigSpec } from './config.js';
import { Prng } from './prng.js';
import type { NoQuorumPolicy } from '../../src/config/model.js';

export interface RandomRunResult {
  seed: number;
  ok: boolean;
  error?: string;
  transcript: string[];
  steps: number;
  simulatedMs: number;
  nodes: number;
  convergenceChecks: number;
  freezeOverlaps: number;
}

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];

export function randomRun(seed: number, options: { chaosMs?: number; verbose?: boolean } = {}): RandomRunResult {
  const rng = new Prng(seed ^ 0x5bd1e995);
  const count = rng.int(3, 5);
  const nodes = NAMES.slice(0, count);
  const groups = rng.int(1, 6);
  const prefer: Record<number, string> = {};
  for (let g = 0; g < groups; g++) if (rng.chance(0.3)) prefer[g] = rng.pick(nodes);
  const policy: NoQuorumPolicy = rng.chance(0.7) ? 'stop' : rng.pick(['freeze', 'ignore'] as const);
  const spec: SimConfigSpec = {
    nodes,
    groups,
    prefer,
    interfaces: Object.fromEntries(Array.from({ length: groups }, (_, g) => [g, rng.pick(['eth0', 'eth1'])])),
    quorum: Math.floor(count / 2) + 1,
    policy,
    placement: 'vippy',
    preempt: rng.chance(0.7),
    preemptDelayMs: rng.pick([0, 0, 2000]),
    intervalMs: 1000,
    staleMs: 3000,
    guardMs: 1000,
    matureMs: 3000,
  };
  let version = 1;
  const cluster = new Cluster({ seed, config: simConfig(spec), transcriptLimit: options.verbose ? Infinity : 400 });
  const log = (line: string) => cluster.note(`# ${line}`);
  log(`seed ${seed}: ${count} nodes, ${groups} groups, quorum ${spec.quorum} ${policy}, preempt ${spec.preempt} delay ${spec.preemptDelayMs}, prefer ${JSON.stringify(prefer)}`);
  for (const name of nodes) cluster.start(name);

  const result = (ok: boolean, error?: string): RandomRunResult => ({
    seed, ok, error, transcript: cluster.transcript, steps: cluster.stepCount, simulatedMs: cluster.now, nodes: count,
    convergenceChecks: cluster.convergenceChecks, freezeOverlaps: cluster.freezeOverlaps.length,
  });
  try {
    const chaosEnd = options.chaosMs ?? 30_000;
    while (cluster.now < chaosEnd) {
      cluster.run(rng.int(200, 4000));
      const name = rng.pick(nodes);
      const node = cluster.nodes.get(name)!;
      const running = node.core !== null && !node.core.stopped;
      switch (rng.int(0, 11)) {
        case 0:
          if (running) { log(`crash ${name}`); cluster.crash(name); }
          else { log(`start ${name}`); cluster.start(name); }
          break;
        case 1:
          log(`restart ${name}`); cluster.restart(name);
          break;
        case 2:
          if (running && !node.frozen) { log(`freeze ${name}`); cluster.freeze(name); }
          else if (node.frozen) { log(`resume ${name}`); cluster.resume(name); }
          break;
        case 3: {
          const shuffled = [...nodes].sort(() => rng.next() - 0.5);
          const cut = rng.int(1, count - 1);
          log(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
          cluster.partition([shuffled.slice(0, cut)]);
          break;
        }
        case 4: {
          const others = nodes.filter((n) => n !== name && rng.chance(0.6));
          log(`block ${name} -> ${others.join(',')}`); cluster.block(name, others);
          break;
        }
        case 5:
          log('heal'); cluster.heal();
          break;
        case 6: {
          const loss = rng.pick([0, 0.05, 0.2]);
          const duplicate = rng.pick([0, 0.1]);
          const delayMax = rng.pick([5, 50, 200]);
          log(`net loss=${loss} dup=${duplicate} delay=1-${delayMax}`);
          cluster.setNet({ loss, duplicate, delayMax });
          break;
        }
        case 7:
          if (running) {
            const ok = rng.chance(0.5);
            log(`health ${name} ${ok}`); cluster.inject(name, { type: 'health', reason: 'check', ok });
          }
          break;
        case 8:
          if (running) {
            const up = rng.chance(0.5);
            log(`carrier ${name} eth1 ${up ? 'up' : 'down'}`); cluster.inject(name, { type: 'carrier', interface: 'eth1', up });
          }
          break;
        case 9:
          if (running && rng.chance(0.5)) {
            version++;
            const bumped = simConfig({ ...spec, version, groups: rng.int(1, 6) });
            spec.groups = bumped.groups.length;
            log(`bump ${name} v${version} (${spec.groups} groups)`);
            cluster.inject(name, { type: 'config-loaded', config: bumped });
          }
          break;
        case 10:
          if (running && rng.chance(0.3)) { log(`stop ${name}`); cluster.stop(name); }
          break;
        default:
          break; // quiet spell
      }
    }
    log('quiet: heal everything');
    cluster.heal();
    cluster.setNet({ loss: 0, duplicate: 0, delayMax: 5 });
    for (const name of nodes) {
      const node = cluster.nodes.get(name)!;
      if (node.frozen) cluster.resume(name);
      if (node.core === null || node.core.stopped) cluster.start(name);
      cluster.inject(name, { type: 'health', reason: 'check', ok: true });
      cluster.inject(name, { type: 'carrier', interface: 'eth1', up: true });
    }
    cluster.run(cluster.settleMs() + 3000);
    cluster.checkConvergence();
    return result(true);
  } catch (error) {
    if (!(error instanceof InvariantViolation)) throw error;
    return result(false, error.message);
  }
}
