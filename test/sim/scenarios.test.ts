// Runs every script in testdata/ and compares its regenerated transcripts exactly.
// VIPPY_SIM_REWRITE=1 writes the new transcripts instead (review the diff before committing).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from './scenario.js';

const dir = join(import.meta.dirname, 'testdata');
const rewrite = process.env.VIPPY_SIM_REWRITE === '1';

describe('scenario scripts', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      const actual = runScript(text, file);
      if (rewrite) writeFileSync(path, actual);
      else expect(actual).toBe(text);
    });
  }
});
