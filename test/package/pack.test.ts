// The published package: `npm pack` (prepack builds TypeScript and the stripped prebuilt addon)
// must carry prebuilds/vippy-linux-x64/node-napi-v8.node, and installing that tarball in an empty
// directory must load the addon without compiling: no cmake or g++ on PATH, no build/ directory.
// Where no prebuild matches (the same tarball without prebuilds/) and cmake is missing, the
// install builds the addon with npm's node-gyp (binding.gyp) instead.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const PROJECT_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const PREBUILD = `prebuilds/vippy-${process.platform}-${process.arch}/node-napi-v8.node`;
const work = mkdtempSync(join(tmpdir(), 'vippy-pack-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH holding only node, npm and sh (npm runs scripts with it): no compiler, no cmake. */
function compilerFreePath(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(join(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js'), join(bin, 'npm'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  return bin;
}

/** A PATH with every program of this one except cmake (and its ctest, cpack): a host without cmake. */
function cmakeFreePath(): string {
  const bin = join(work, 'bin-no-cmake');
  mkdirSync(bin);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '' || !existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (/^(cmake|ctest|cpack)/.test(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  return bin;
}

let tarball = '';
const npmOptions = { maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } };

it('packs the prebuilt addon and installs it without a compiler', async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: PROJECT_ROOT, ...npmOptions });
  // prepack's build output comes first on stdout; npm's JSON report is the last thing printed.
  const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[\s*\{/m))) as { filename: string; files: { path: string }[] }[];
  const files = manifest!.files.map((f) => f.path);
  expect(files).toContain(PREBUILD);
  expect(files).toContain('prebuilds/vippy-linux-arm64/node-napi-v8.node');
  expect(files).toContain('binding-options.cjs');
  expect(files).toContain('dist/bindings/index.js');
  // The source stays in the package for platforms without a prebuild.
  expect(files).toContain('CMakeLists.txt');
  expect(files).toContain('native/netlink.cc');
  expect(files).toContain('binding.gyp');
  expect(files).toContain('scripts/install-native.cjs');
  for (const page of ['man/vippyd.8', 'man/vippyctl.8', 'man/vippy.conf.5', 'packaging/vippyctl.bash-completion']) expect(files).toContain(page);
  tarball = join(work, manifest!.filename);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const env = { ...npmOptions.env, PATH: compilerFreePath() };
  await expect(run('/bin/sh', ['-c', 'command -v cmake || command -v g++ || command -v c++'], { env })).rejects.toThrow();
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, manifest!.filename)],
    { cwd: app, ...npmOptions, env });

  const installed = join(app, 'node_modules', 'vippy');
  expect(existsSync(join(installed, PREBUILD))).toBe(true);
  expect(existsSync(join(installed, 'build'))).toBe(false);
  const script = `const { native } = await import('./node_modules/vippy/dist/bindings/index.js');
    console.log(JSON.stringify(native.listInterfaces().map((i) => i.name)));`;
  const loaded = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env });
  expect(JSON.parse(loaded.stdout)).toContain('lo');
  expect(existsSync(join(installed, 'build'))).toBe(false);
  // The fence keeper travels inside the prebuilt addon: it starts (and, without its arguments,
  // names its usage and exits 2).
  const keeper = `const { native } = await import('./node_modules/vippy/dist/bindings/index.js');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(native.fenceKeeperPath(), [], { encoding: 'utf8' });
    console.log(JSON.stringify({ status: r.status, stderr: r.stderr }));`;
  const started = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', keeper], { cwd: app, env })).stdout);
  expect(started).toEqual({ status: 2, stderr: expect.stringMatching(/^usage: vippy-fence /) });

  // npm install -g into a temporary prefix: vippyd and vippyctl land on PATH and run.
  const prefix = join(work, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, manifest!.filename)],
    { ...npmOptions, env });
  const globalEnv = { ...env, PATH: `${join(prefix, 'bin')}:${env.PATH}` };
  const help = await run('vippyd', ['--help'], { env: globalEnv });
  expect(help.stdout).toMatch(/^usage: vippyd/);
  // The man pages are linked where man looks under the prefix.
  for (const page of ['man8/vippyd.8', 'man8/vippyctl.8', 'man5/vippy.conf.5']) expect(existsSync(join(prefix, 'share/man', page)), page).toBe(true);
  const config = join(work, 'check.json');
  writeFileSync(config, JSON.stringify({ chat: '239.192.0.1:8945', secret: 'package-test-secret-0123', vips: [[{ interface: 'eth0', ip: '192.0.2.10/24' }]], nodes: ['node1'] }));
  const check = await run('vippyd', ['--check', '-c', config, '-n', 'node1'], { env: globalEnv });
  expect(check.stdout).toContain('192.0.2.10/24');
  // No daemon listens on this socket: vippyctl says so and exits 1.
  const ctl = await run('vippyctl', ['-s', join(work, 'none.sock'), 'status'], { env: globalEnv }).then(() => undefined, (err: { code: number; stderr: string }) => err);
  expect(ctl?.code).toBe(1);
  expect(ctl?.stderr).toContain('cannot reach the control socket');
}, 600_000);

it('without a matching prebuild and without cmake, the install builds the addon with node-gyp', async () => {
  expect(tarball, 'the packing test runs first').not.toBe('');
  // The same tarball, as for a platform no prebuild matches.
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  await run('tar', ['-xzf', tarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package/prebuilds'), { recursive: true });
  const bare = join(work, 'vippy-without-prebuilds.tgz');
  await run('tar', ['-czf', bare, '-C', unpacked, 'package']);

  const app = join(work, 'app-gyp');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // A fresh HOME: no ~/.npmrc (whose nodedir would do the work) and no cached node-gyp headers;
  // the npm cache stays, so the dependencies come from it as in the first install.
  const home = join(work, 'home');
  mkdirSync(home);
  const cache = (await run('npm', ['config', 'get', 'cache'], npmOptions)).stdout.trim();
  const { npm_config_nodedir: _, ...inherited }: NodeJS.ProcessEnv = npmOptions.env;
  const env = { ...inherited, PATH: cmakeFreePath(), HOME: home, npm_config_cache: cache };
  await expect(run('/bin/sh', ['-c', 'command -v cmake'], { env })).rejects.toThrow();
  const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', bare], { cwd: app, ...npmOptions, env });
  expect(installed.stderr + installed.stdout).toContain('no cmake on PATH: building with node-gyp');

  const addon = join(app, 'node_modules/vippy/build/Release/vippy.node');
  expect(existsSync(addon)).toBe(true);
  // The addon works, and carries the fence keeper node-gyp built beside it.
  const script = `const { native } = await import('./node_modules/vippy/dist/bindings/index.js');
    const { statSync } = await import('node:fs');
    console.log(JSON.stringify({ names: native.listInterfaces().map((i) => i.name), keeper: statSync(native.fenceKeeperPath()).size }));`;
  const loaded = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env })).stdout) as { names: string[]; keeper: number };
  expect(loaded.names).toContain('lo');
  expect(loaded.keeper).toBeGreaterThan(0);
}, 600_000);
