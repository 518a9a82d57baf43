// `npm run bench`: every micro and component benchmark, one after another (they measure time, so
// never in parallel). Each writes its figures to bench/results/*.json. The failover comparison
// with keepalived and ucarp and the soak take much longer: `npx tsx bench/failover.ts`,
// `npm run soak`.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benches = ['native.ts', 'wire.ts', 'core.ts', 'sim.ts', 'agent-notifier.ts'];
const tsx = join(here, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');

for (const bench of benches) {
  process.stdout.write(`\n== bench/${bench}\n`);
  execFileSync(process.execPath, [tsx, join(here, bench)], { stdio: 'inherit' });
}
