// Native addon figures: µs per address add+delete pair, ms per neighbour dump of 2,000 entries,
// µs per GARP sent. Run as root: `npx tsx bench/native.ts`. The script re-runs itself inside a
// private network namespace (`unshare --net`, gone when it exits) holding a veth pair.
//
// The 2,000 neighbours are permanent entries (`ip neigh add … nud permanent`): 500 IPv4 and 1,500
// IPv6. A dump costs the same per entry whatever the state, and permanent entries are exempt from
// the kernel's garbage collection thresholds, so the count stays exact.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { recordResults, summarize } from './lib/results.js';

const INSIDE = 'VIPPY_BENCH_NATIVE_INSIDE';
const TARGETS = { addDeletePairUs: 30, neighbourDump2000Ms: 5, garpUs: 10 };

if (!process.env[INSIDE]) {
  const output = execFileSync('unshare', ['--net', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [INSIDE]: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const figures = JSON.parse(output.toString());
  const path = recordResults('native.json', 'native', { ...figures, targets: TARGETS });
  console.log(JSON.stringify(figures, null, 2));
  console.log(`recorded in ${path}`);
} else {
  const { native } = await import('../bindings/index.js');
  const ip = (commands: string[]) => execFileSync('ip', ['-batch', '-'], { input: commands.join('\n') + '\n' });
  ip(['link set lo up', 'link add bench0 type veth peer name bench1', 'link set bench0 up', 'link set bench1 up']);
  const ifindex = native.listInterfaces().find((i) => i.name === 'bench0')!.index;

  /**
   * Wall time per call (µs, summarized) over `runs` calls after `warmup` unmeasured ones, and the
   * process's CPU time per call: on a shared machine the wall time also counts waiting for a core.
   */
  function time(runs: number, warmup: number, op: (i: number) => void, scale = 1) {
    for (let i = 0; i < warmup; i++) op(i);
    const samples: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      op(i);
      samples.push(Number(process.hrtime.bigint() - start) / 1_000 / scale);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const round = (v: number) => Math.round(v * 100) / 100;
    const wall = Object.fromEntries(Object.entries(summarize(samples)).map(([k, v]) => [k, k === 'n' ? v : round(v)]));
    return { ...wall, cpuPerCall: round((cpu.user + cpu.system) / runs / scale) };
  }

  const addDeletePairUs = time(2_000, 200, (i) => {
    const req = { interface: 'bench0', address: `192.0.2.${1 + (i % 250)}`, prefixLength: 32 };
    native.addAddress(req);
    native.deleteAddress(req);
  });

  ip([
    ...Array.from({ length: 500 }, (_, i) =>
      `neigh add ${i < 250 ? '198.51.100' : '203.0.113'}.${1 + (i % 250)} lladdr 02:00:00:00:${hex(i >> 8)}:${hex(i)} dev bench0 nud permanent`),
    ...Array.from({ length: 1_500 }, (_, i) =>
      `neigh add 2001:db8::${(i + 1).toString(16)} lladdr 02:00:00:01:${hex(i >> 8)}:${hex(i)} dev bench0 nud permanent`),
  ]);
  const dumped = native.listNeighbours().length;
  if (dumped !== 2_000) throw new Error(`bench/native: expected 2000 neighbours in the dump, got ${dumped}`);
  const neighbourDump2000Ms = time(200, 20, () => native.listNeighbours(), 1_000);

  const sender = native.openFrameSender();
  const garpUs = time(20_000, 1_000, () => sender.garp(ifindex, '192.0.2.1', 'request'));
  sender.close();

  process.stdout.write(JSON.stringify({
    addDeletePairUs,
    neighbourDump2000Ms,
    garpUs,
    method: 'synchronous addon calls in a private netns on a veth; addresses /32 IPv4; neighbours 500 IPv4 + 1,500 IPv6 permanent; GARP request form',
  }));
}

function hex(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}
