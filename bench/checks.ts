// CPU cost of many health checks, and how late they make a 100 ms heartbeat timer (what an
// announcement waits behind). Runs the daemon's CheckRunner in this process, as vippyd does,
// against a local TCP listener (tcp checks) or /bin/true (exec checks).
//
//   npx tsx bench/checks.ts [--count 200] [--seconds 20] [--kind tcp|exec|both]
//
// Figures go to bench/results/checks.json. The machine is shared: they are from a loaded machine.

import net from 'node:net';
import { parseArgs } from 'node:util';
import { CheckRunner } from '../src/agent/checks/runner.js';
import type { CheckSpec } from '../src/config/model.js';
import { recordResults, summarize } from './lib/results.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    kind: { type: 'string', default: 'both' },
  },
});
const count = Number(values.count);
const seconds = Number(values.seconds);
const HEARTBEAT_MS = 100;

async function measure(kind: 'tcp' | 'exec' | 'none', port: number) {
  const common = { node: false, intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1, initial: 'pass', whenAllFail: 'keep' } as const;
  const specs: CheckSpec[] = kind === 'none' ? [] : Array.from({ length: count }, (_, i) => (kind === 'tcp'
    ? { ...common, name: `c${i}`, kind: 'tcp', host: '127.0.0.1', port }
    : { ...common, name: `c${i}`, kind: 'exec', argv: ['/bin/true'], shell: false }));
  let runs = 0;
  let failures = 0;
  const quiet = () => {};
  const runner = new CheckRunner({
    node: 'bench',
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet, notice: quiet },
    onChange: () => {},
    onRun: (_name, ok) => {
      runs++;
      if (!ok) failures++;
    },
    listInterfaces: () => [],
  });
  // Let the first burst (every check starts at once) pass before measuring.
  runner.setChecks(specs);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  runs = 0;
  const lateness: number[] = [];
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  await new Promise<void>((resolve) => {
    let expected = performance.now() + HEARTBEAT_MS;
    const tick = () => {
      const now = performance.now();
      lateness.push(now - expected);
      expected += HEARTBEAT_MS;
      if (now - wallStart >= seconds * 1000) return resolve();
      setTimeout(tick, Math.max(0, expected - performance.now()));
    };
    setTimeout(tick, HEARTBEAT_MS);
  });
  const wall = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  runner.close();
  return {
    kind,
    checks: specs.length,
    seconds: Math.round(wall) / 1000,
    runsPerSecond: Math.round((runs / wall) * 1000 * 10) / 10,
    failures,
    // Of this process (children of exec checks are not included: see childCpuNote).
    cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 1000) / 10,
    heartbeatLatenessMs: Object.fromEntries(Object.entries(summarize(lateness)).map(([key, value]) => [key, Math.round(value * 100) / 100])),
  };
}

const server = net.createServer((socket) => socket.destroy());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;
const kinds: Array<'tcp' | 'exec' | 'none'> = ['none', ...(values.kind === 'both' ? ['tcp', 'exec'] as const : [values.kind as 'tcp' | 'exec'])];
const results: Record<string, unknown> = {};
for (const kind of kinds) {
  const figures = await measure(kind, port);
  results[kind] = figures;
  console.log(JSON.stringify(figures));
}
server.close();
const path = recordResults('checks.json', `${count}-checks-1s`, {
  command: `npx tsx bench/checks.ts --count ${count} --seconds ${seconds} --kind ${values.kind}`,
  note: 'shared 2-core machine with other engineers\' test runs: figures from a loaded machine. "none" is the same process without checks (baseline). cpuPercentOfOneCore is the vippyd-side process only; exec checks also cost their child processes.',
  ...results,
});
console.log(`written to ${path}`);
