// `sudo npm run demo`: a three-node vippy cluster in network namespaces, built-in config, one
// crash, the measured failover time, and everything cleaned up again. Needs root, iproute2 and
// nftables; uses only 192.0.2.0/24 inside namespaces it creates.

import { execFileSync } from 'node:child_process';
import { Segment, waitFor } from '../test/netns/harness.js';
import { VippyCluster, VIPPYCTL, baseConfig, observerMac } from '../test/netns/lib/cluster.js';

const VIPS = ['192.0.2.201', '192.0.2.202', '192.0.2.203'];

function say(text = ''): void {
  process.stdout.write(text + '\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    say('The demo creates network namespaces: run it as root (sudo npm run demo).');
    process.exitCode = 1;
    return;
  }
  say('Building a segment: a bridge, three nodes (n1 n2 n3) and an observer, all in network namespaces.');
  const seg = await Segment.create({ hosts: ['n1', 'n2', 'n3'] });
  const config = baseConfig(seg.hosts, {
    vips: [
      ['n1', { interface: 'eth0', ip: `${VIPS[0]}/24` }],
      [{ interface: 'eth0', ip: `${VIPS[1]}/24` }],
      [{ interface: 'eth0', ip: `${VIPS[2]}/24` }],
    ],
    logging: { driver: 'none' },
  });
  const cluster = new VippyCluster(seg, { config });
  try {
    say('Config (interval 0.1 s, stale 0.3 s):');
    say(JSON.stringify({ ...config, management: '<per node>' }, null, 2));
    await cluster.startAll();
    await cluster.waitForHolder(VIPS[0], 'n1');
    await waitFor(async () => (await Promise.all(VIPS.map((ip) => cluster.holders(ip)))).every((h) => h.length === 1), {
      timeoutMs: 5000,
      what: 'every VIP held',
    });
    for (const name of ['n1', 'n2', 'n3']) {
      say(`\n$ vippyctl -s ${name}.sock status     # on ${name}`);
      process.stdout.write(execFileSync(process.execPath, [VIPPYCTL, '-s', cluster.daemon(name).socket, 'status'], { encoding: 'utf8' }));
    }

    await seg.exec(seg.observer, ['ping', '-c', '1', '-W', '1', VIPS[0]]);
    say(`\nThe observer reaches ${VIPS[0]} at ${await observerMac(seg, VIPS[0])} (n1).`);
    say('Killing n1 (SIGKILL) and pulling its cable...');
    const t0 = performance.now();
    cluster.daemon('n1').process.kill('SIGKILL');
    await seg.cutLink(seg.host('n1'));
    const held = await waitFor(async () => {
      const h = (await cluster.holders(VIPS[0])).filter((n) => n !== 'n1');
      return h.length ? h : undefined;
    }, { timeoutMs: 5000, intervalMs: 2, what: 'a successor' });
    const tHeld = performance.now() - t0;
    const mac = await waitFor(async () => {
      const m = await observerMac(seg, VIPS[0]);
      return m && m !== seg.host('n1').mac ? m : undefined;
    }, { timeoutMs: 5000, intervalMs: 2, what: 'the observer to follow' });
    const tObserved = performance.now() - t0;
    say(`${VIPS[0]} is up on ${held.join(',')} after ${tHeld.toFixed(0)} ms; the observer's ARP entry points at ${mac} after ${tObserved.toFixed(0)} ms (stale is 300 ms).`);
    say(`\n$ vippyctl status     # on ${held[0]}`);
    process.stdout.write(execFileSync(process.execPath, [VIPPYCTL, '-s', cluster.daemon(held[0]!).socket, 'status'], { encoding: 'utf8' }));
  } finally {
    await cluster.stopAll();
    await seg.destroy();
    say('\nCleaned up: daemons stopped, namespaces deleted.');
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
