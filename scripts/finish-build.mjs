// After tsc: put the generated protobuf module beside the compiled wire code (tsc does not copy
// plain .js), and make the command-line entry points executable, as npm does for installed bins,
// so the repository's own dist/ runs the way an installed package does (shebang flags included).
import { chmodSync, cpSync, existsSync, readFileSync } from 'node:fs';

if (existsSync('src/wire/gen')) cpSync('src/wire/gen', 'dist/src/wire/gen', { recursive: true });
const { bin } = JSON.parse(readFileSync('package.json', 'utf8'));
for (const path of Object.values(bin)) chmodSync(path, 0o755);
