// Outside CI, `npm test` on a host where the namespace tier cannot run ends with a banner naming
// why. Run the way a user runs it: vitest with the project's config, the netns tier selected,
// on a PATH without ip and nft.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = mkdtempSync(join(tmpdir(), 'vippy-noip-'));
symlinkSync(process.execPath, join(bin, 'node'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
// The nested vitest must not think it is a worker of this one, nor in CI.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(VITEST|VITE_|CI$|TEST$|NODE_OPTIONS$)/.test(key)));

it('a run that skips the namespace tier ends by saying so, with the reason', async () => {
  const { stdout } = await run(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'netns', 'test/netns/agent-chat.test.ts'],
    { cwd: root, env: { ...env, PATH: bin }, maxBuffer: 16 << 20 });
  const end = stdout.slice(stdout.lastIndexOf('NAMESPACE TESTS SKIPPED'));
  expect(end).toMatch(/^NAMESPACE TESTS SKIPPED: \d+ real-kernel tests in 1 file did not run, because\n/);
  expect(end).toContain("- 'ip' is not on PATH");
  expect(end).toContain("- 'nft' is not on PATH");
  // Nothing of the run comes after the banner but its closing rule.
  expect(end.trimEnd()).toMatch(/\n={78}$/);
}, 120_000);

it('no banner when the namespace tier was not selected', async () => {
  const { stdout } = await run(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'unit', 'test/unit/readme.test.ts'],
    { cwd: root, env: { ...env, PATH: bin }, maxBuffer: 16 << 20 });
  expect(stdout).toContain('1 passed');
  expect(stdout).not.toContain('NAMESPACE TESTS SKIPPED');
}, 120_000);
