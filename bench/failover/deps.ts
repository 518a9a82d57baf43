// The benchmark brings its own tools: the peers it compares against (keepalived, ucarp), the probes
// (tcpdump, ping) and the chart's matplotlib, installed from Debian packages when missing.
import { existsSync } from 'node:fs';
import { run } from '../../test/netns/harness.js';

/** Debian's python3 (where python3-matplotlib lands), not whatever python3 is first on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const requirements: Array<{ pkg: string; present: () => Promise<boolean> }> = [
  { pkg: 'keepalived', present: () => onPath('keepalived') },
  { pkg: 'ucarp', present: () => onPath('ucarp') },
  { pkg: 'tcpdump', present: () => onPath('tcpdump') },
  { pkg: 'iputils-ping', present: () => onPath('ping') },
  { pkg: 'python3-matplotlib', present: async () => existsSync(SYSTEM_PYTHON) && (await run([SYSTEM_PYTHON, '-c', 'import matplotlib'], { allowFail: true })).code === 0 },
];

async function onPath(tool: string): Promise<boolean> {
  return (await run(['sh', '-c', `command -v ${tool}`], { allowFail: true })).code === 0;
}

/** apt-get install whatever is missing; throws naming the packages when that fails. */
export async function ensureTools(log: (line: string) => void): Promise<void> {
  const missing: string[] = [];
  for (const r of requirements) if (!(await r.present())) missing.push(r.pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { timeoutMs: 600_000, env, allowFail: true });
  let result = await install();
  if (result.code !== 0) {
    // A fresh machine has no package lists yet.
    await run(['apt-get', 'update'], { timeoutMs: 300_000, env, allowFail: true });
    result = await install();
  }
  if (result.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
}
