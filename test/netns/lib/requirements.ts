// What the namespace tier needs from the host, apart from the harness (which throws in CI when it
// is missing): also read by the reporter that names a skipped tier at the end of `npm test`.
import { existsSync } from 'node:fs';
import path from 'node:path';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(path.join(dir, tool)));
}

/** Why namespace tests cannot run here; empty when they can (root, with ip and nft installed). */
export function netnsProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push(`the process is not root (uid ${process.getuid?.()})`);
  for (const tool of ['ip', 'nft']) if (!onPath(tool)) problems.push(`'${tool}' is not on PATH`);
  return problems;
}
