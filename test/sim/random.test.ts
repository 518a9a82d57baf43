// Randomized runs: 1,000 seeds of random clusters under random faults, every invariant checked
// at every step (see cluster.ts), then convergence after a quiet spell. A failure names its seed;
// replay it with `npx tsx test/sim/run-seeds.ts --seed N --verbose`.
import { describe, expect, it } from 'vitest';
import { randomRun } from './random-run.js';

const SEEDS = 1000;
const BATCHES = 10;

describe('randomized simulation', () => {
  for (let batch = 0; batch < BATCHES; batch++) {
    const first = 1 + batch * (SEEDS / BATCHES);
    const last = first + SEEDS / BATCHES - 1;
    it(`seeds ${first}..${last}: no two owners, convergence, one config`, () => {
      const failures: string[] = [];
      let convergenceChecks = 0;
      for (let seed = first; seed <= last; seed++) {
        const result = randomRun(seed);
        convergenceChecks += result.convergenceChecks;
        if (!result.ok) failures.push(`seed ${seed}: ${result.error}`);
      }
      expect(failures).toEqual([]);
      // Every run ends with a quiet spell in which convergence is checked at many steps.
      expect(convergenceChecks).toBeGreaterThan(SEEDS / BATCHES);
    });
  }
});
