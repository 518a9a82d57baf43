// Address leases: (1) how long after SIGKILL a one-node vippyd's leased VIPs (IPv4 + IPv6) are
// deleted by the kernel, for lease 1 and 2 s (the kernel's `ip monitor address` line is the
// stop mark; kills land at random points of the renewal period); (2) what a renewal costs: one
// ensureAddress with a lifetime (NLM_F_EXCL → EEXIST → NLM_F_REPLACE) per held address, for 256
// addresses. Needs root.
// Run: npx tsx bench/lease.ts  → bench/results/agent.json, section "lease".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Segment, waitFor } from '../test/netns/harness.js';
import { recordResults, summarize } from './lib/results.js';

const KILLS = 6;
const RENEW_ADDRESSES = 256;
const RENEW_ROUNDS = 20;

if (process.argv[2] === '--renew-inside') {
  // Runs inside the namespace: time renewal passes over RENEW_ADDRESSES leased addresses.
  const { native } = await import('../bindings/index.js');
  const reqs = Array.from({ length: RENEW_ADDRESSES }, (_, i) => ({
    interface: 'eth0', address: `198.51.100.${i % 256}`, prefixLength: 32, lifetimeSeconds: 30,
  }));
  for (const req of reqs) native.ensureAddress(req);
  const perAddressUs: number[] = [];
  for (let round = 0; round < RENEW_ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (const req of reqs) native.ensureAddress(req);
    perAddressUs.push(Number(process.hrtime.bigint() - t0) / 1000 / reqs.length);
  }
  for (const req of reqs) native.ensureNoAddress(req);
  process.stdout.write(JSON.stringify(perAddressUs) + '\n');
  process.exit(0);
}

const seg = await Segment.create({ hosts: ['a'], observer: false });
const dir = mkdtempSync(join(tmpdir(), 'vippy-lease-bench-'));
const expiryMs: Record<string, number[]> = {};
let renewUs: number[] = [];
try {
  for (const lease of [1, 2]) {
    expiryMs[`lease${lease}s`] = [];
    for (let run = 0; run < KILLS; run++) {
      const configPath = join(dir, `a-${lease}-${run}.conf`);
      writeFileSync(configPath, JSON.stringify({
        chat: '239.255.77.1:5454', chat_interface: 'eth0', secret: 'netns-bench-secret-0123456789', nodes: ['a'],
        vips: [[{ interface: 'eth0', ip: '192.0.2.210/24' }, { interface: 'eth0', ip: '2001:db8::210/64' }]],
        interval: 0.1, stale: 0.3, mature: 0.3, address_lease: lease, management: join(dir, `a-${lease}-${run}.sock`),
        logging: { driver: 'none' },
      }), { mode: 0o600 });
      const daemon = seg.node('a', 'src/cli/vippyd.ts', ['-c', configPath, '-n', 'a']);
      await waitFor(async () => (await seg.exec('a', ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.split('\n').filter((l) => l.includes('.210/') || l.includes('::210/')).length === 2,
        { timeoutMs: 20_000, what: 'vippyd holds both addresses' });
      const monitor = seg.spawn('a', ['ip', 'monitor', 'address']);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1000));
      const t0 = performance.now();
      daemon.kill('SIGKILL');
      await Promise.all([/^Deleted .*inet 192\.0\.2\.210\//, /^Deleted .*inet6 2001:db8::210\//].map((re) => monitor.waitForLine(re, { timeoutMs: 5_000 })));
      expiryMs[`lease${lease}s`]!.push(Math.round(performance.now() - t0));
      await daemon.wait();
      monitor.kill('SIGTERM');
      await monitor.wait();
    }
  }
  const inside = seg.node('a', 'bench/lease.ts', ['--renew-inside']);
  const status = await inside.wait();
  if (status.code !== 0) throw new Error(`renewal run failed: ${inside.stderr}`);
  renewUs = JSON.parse(inside.stdout.trim().split('\n').at(-1)!) as number[];
} finally {
  await seg.destroy();
  rmSync(dir, { recursive: true, force: true });
}
const figures = {
  expiryAfterSigkillMs: Object.fromEntries(Object.entries(expiryMs).map(([k, v]) => [k, { ...summarize(v), samples: v }])),
  renewal: { addresses: RENEW_ADDRESSES, perAddressUs: summarize(renewUs) },
  loadAverage: (await import('node:os')).loadavg()[0],
};
console.log(JSON.stringify(figures, null, 2));
console.log('written to', recordResults('agent.json', 'lease', figures));
