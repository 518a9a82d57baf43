import { readFileSync } from 'node:fs';
import { Segment } from '../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../test/netns/lib/cluster.js';
const seg = await Segment.create({ hosts: ['n1', 'n2', 'n3', 'n4', 'n5'] });
const vips = [['n1', { interface: 'eth0', ip: '192.0.2.201/24' }], [{ interface: 'eth0', ip: '192.0.2.202/24' }]];
const cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips, logging: { driver: 'none' } }), nodeArgs: (process.env.NODEARGS ?? '').split(' ').filter(Boolean) });
const ticks = () => Object.fromEntries([...cluster.daemons.values()].map((d) => { const f = readFileSync(`/proc/${d.process.pid}/stat`, 'utf8').split(' '); return [d.host.name, Number(f[13]) + Number(f[14])]; }));
try {
  await cluster.startAll();
  await new Promise((r) => setTimeout(r, 3000));
  const a = ticks(); const t = Date.now();
  await new Promise((r) => setTimeout(r, 10000));
  const b = ticks(); const dt = (Date.now() - t) / 1000;
  for (const d of cluster.daemons.values()) {
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.process.pid}/status`, 'utf8'))![1];
    console.log(d.host.name, 'cpu%', ((b[d.host.name]! - a[d.host.name]!) / dt).toFixed(2), 'rssKB', rss);
  }
} finally {
  await cluster.stopAll();
  await seg.destroy();
}
