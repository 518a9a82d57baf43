// Generates the static protobuf module from proto/*.proto into src/wire/gen/ (not committed).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
const protos = existsSync('proto') ? readdirSync('proto').filter((f) => f.endsWith('.proto')).map((f) => `proto/${f}`) : [];
if (protos.length === 0) process.exit(0);
mkdirSync('src/wire/gen', { recursive: true });
execFileSync(process.execPath, ['node_modules/protobufjs-cli/bin/pbjs', '-t', 'static-module', '-w', 'esm', '--es6',
  '--no-verify', '--no-delimited', '--no-beautify', '-o', 'src/wire/gen/vippy.js', '--dts', ...protos], { stdio: 'inherit' });
