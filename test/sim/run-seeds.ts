// Runs randomized simulations: `npx tsx test/sim/run-seeds.ts --seeds 5000 [--from 1]` runs many and
// reports failures; `--seed N --verbose` replays one and prints its whole transcript.
import { parseArgs } from 'node:util';
import { randomRun } from './random-run.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

if (values.seed !== undefined) {
  const result = randomRun(Number(values.seed), { verbose: values.verbose });
  console.log(result.transcript.join('\n'));
  console.log(result.ok ? `seed ${result.seed}: ok` : `seed ${result.seed}: FAILED: ${result.error}`);
  process.exitCode = result.ok ? 0 : 1;
} else {
  const from = Number(values.from);
  const count = Number(values.seeds);
  const started = performance.now();
  const failed: number[] = [];
  let freezeOverlaps = 0;
  for (let seed = from; seed < from + count; seed++) {
    const result = randomRun(seed);
    freezeOverlaps += result.freezeOverlaps;
    if (!result.ok) {
      failed.push(seed);
      if (failed.length === 1) {
        console.log(result.transcript.slice(-60).join('\n'));
        console.log(`(last 60 lines; replay with --seed ${seed} --verbose)`);
      }
      console.log(`seed ${seed}: FAILED: ${result.error}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${count} seeds in ${seconds.toFixed(1)} s: ${count - failed.length} passed, ${failed.length} failed${failed.length ? ` (${failed.slice(0, 20).join(' ')})` : ''}; ${freezeOverlaps} overlaps involving frozen nodes`);
  process.exitCode = failed.length === 0 ? 0 : 1;
}
