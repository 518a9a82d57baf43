// README's one-line install of what `npm test` needs names exactly the packages .ci/run installs.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const committed = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

it("README's apt-get line names the Debian packages .ci/run installs", () => {
  const pairs = /for pair in ([^;]*); do/.exec(committed('.ci/run'))![1]!.split(/[\s\\]+/).filter((word) => word !== '');
  const ciPackages = pairs.map((pair) => pair.slice(pair.indexOf(':') + 1));
  const line = committed('README.md').split('\n').find((text) => text.startsWith('sudo apt-get install -y '));
  expect(line, 'README has no "sudo apt-get install -y" line').toBeDefined();
  const readmePackages = line!.slice('sudo apt-get install -y '.length).split(/\s+/).filter((word) => word !== '');
  expect([...readmePackages].sort()).toEqual([...new Set(ciPackages)].sort());
});
