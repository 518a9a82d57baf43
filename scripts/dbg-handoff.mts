import { Segment } from '../test/netns/harness.js';
import { VippyCluster, baseConfig } from '../test/netns/lib/cluster.js';
const seg = await Segment.create({ hosts: ['n1', 'n2'] });
const cluster = new VippyCluster(seg, { config: baseConfig(seg.hosts, { vips: [['n1', { interface: 'eth0', ip: '192.0.2.201/24' }]], logging: { driver: 'console', json: true, mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: true } } }) });
const results: number[] = [];
try {
  await cluster.startAll();
  for (let i = 0; i < 8; i++) {
    await cluster.waitForHolder('192.0.2.201', 'n1', 8000);
    await new Promise((r) => setTimeout(r, 500));
    const mon = seg.spawn(seg.host('n2'), ['ip', '-ts', 'monitor', 'address']);
    const cap = seg.spawn(seg.host('n2'), ['tcpdump', '-tt', '-n', '-l', '-i', 'eth0', 'udp port 5454 and src host ' + seg.host('n1').ipv4]);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    cluster.daemon('n1').process.kill('SIGTERM');
    const line = await mon.waitForLine('192.0.2.201', { timeoutMs: 3000 });
    const stamp = /^\[(.+?)\]/.exec(line)![1]!;
    results.push(Date.parse(stamp.replace(/\.(\d{3})\d*/, '.$1')) - t0);
    await new Promise((r) => setTimeout(r, 300)); cap.kill('SIGINT'); await cap.wait(); console.log('t0', t0/1000, 'cap', cap.stdout.split('\n').slice(-4).join('\n'));
    mon.kill('SIGKILL');
    await cluster.daemon('n1').process.wait();
    console.log(cluster.daemon('n1').process.stdout.split('\n').filter((l) => l.includes('dbg')).map((l) => { const r = JSON.parse(l); return r.time % 100000 + ' ' + r.event + ' ' + (r.ms ?? r.type ?? ''); }).join('\n'));
    await cluster.start('n1');
  }
} finally {
  console.log('handoff ms', results.join(' '));
  const pick = (n: string) => cluster.daemon(n).process.stdout.split('\n').filter((l) => l.includes('"time"')).map((l) => JSON.parse(l)).filter((r) => r.time > Date.now() - 30000);
  for (const n of ['n1', 'n2']) for (const r of pick(n)) console.log(n, r.time % 100000, r.event ?? '', r.msg);
  await cluster.stopAll();
  await seg.destroy();
}
