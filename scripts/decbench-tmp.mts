import { createCodec } from '../src/wire/index.ts';
const a = createCodec({ secret: 'netns-test-secret-0123456789', self: 'n1', knownNodes: () => true });
const b = createCodec({ secret: 'netns-test-secret-0123456789', self: 'n2', knownNodes: () => true });
const ann = { node: 'n1', version: 1, fingerprint: 'ab'.repeat(32), active: true, inactiveReason: null, leaving: false, held: [1], ineligible: [], hears: [0, 1, 2] };
const now = Date.now();
const genuine = a.encodeAnnouncement(ann, now);
const cases: Record<string, () => Buffer> = {
  replay: () => genuine,
  bitflip: () => { const c = Buffer.from(genuine); c[60] ^= 4; return c; },
  truncate: () => genuine.subarray(0, 50),
  random: () => { const x = Buffer.alloc(700); for (let i = 0; i < x.length; i++) x[i] = (Math.random() * 256) | 0; return x; },
};
b.decode(genuine, now, 's');
for (const [k, make] of Object.entries(cases)) {
  const inputs = Array.from({ length: 2000 }, make);
  const t = performance.now();
  for (let r = 0; r < 5; r++) for (const x of inputs) b.decode(x, now, 's');
  console.log(k, ((performance.now() - t) * 1000 / 10000).toFixed(1), 'us');
}
