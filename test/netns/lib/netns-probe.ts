// Run by the harness self-test through seg.node(): proves a TypeScript script runs under tsx inside
// the namespace, by printing the interfaces it sees there and the arguments it got.
import { networkInterfaces } from 'node:os';

const seen: Record<string, string[]> = {};
for (const [name, addresses] of Object.entries(networkInterfaces())) {
  seen[name] = (addresses ?? []).map((a) => a.address);
}
console.log(JSON.stringify({ interfaces: seen, args: process.argv.slice(2) }));
