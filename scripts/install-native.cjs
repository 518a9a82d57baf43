// npm's install step where no prebuilt addon matches (pkg-prebuilds-verify failed): build
// native/*.cc with cmake-js where cmake is installed, else with the node-gyp that npm carries
// (binding.gyp). node-gyp builds against the headers beside the running node (<prefix>/include/node,
// as Node's tarballs and the nodejs packages install them) rather than downloading them, since
// the npm registry may be all this host can reach. CommonJS: the package is "type": "module".
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const onPath = (command) => (process.env.PATH || '').split(':').some((dir) => dir !== '' && existsSync(path.join(dir, command)));

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (onPath('cmake')) process.exit(run('cmake-js', ['compile']));

const args = ['rebuild'];
if (!process.env.npm_config_nodedir) {
  const nodedir = path.resolve(process.execPath, '..', '..');
  if (!existsSync(path.join(nodedir, 'include', 'node', 'common.gypi'))) {
    console.error(`vippy: no prebuilt addon for ${process.platform}-${process.arch}, no cmake on PATH, and no Node headers in ` +
      `${path.join(nodedir, 'include', 'node')} for node-gyp: install cmake, or Node's headers (or set npm_config_nodedir)`);
    process.exit(1);
  }
  args.push(`--nodedir=${nodedir}`);
}
console.error(`vippy: no prebuilt addon for ${process.platform}-${process.arch} and no cmake on PATH: building with node-gyp`);
// npm tells its scripts where its own node-gyp is.
const nodeGyp = process.env.npm_config_node_gyp;
process.exit(nodeGyp ? run(process.execPath, [nodeGyp, ...args]) : run('node-gyp', args));
