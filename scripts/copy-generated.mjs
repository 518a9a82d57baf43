// tsc does not copy plain .js: put the generated protobuf module beside the compiled wire code.
import { cpSync, existsSync } from 'node:fs';
if (existsSync('src/wire/gen')) cpSync('src/wire/gen', 'dist/src/wire/gen', { recursive: true });
