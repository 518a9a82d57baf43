import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown, configSchemas } from '../../src/config/reference.js';

const committed = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const regenerate = 'out of date: run `npx tsx scripts/gen-schema.ts`';

describe('generated schema and reference', () => {
  it.each(['vippy', 'flip'] as const)('schema/%s.schema.json is up to date', (format) => {
    expect(JSON.parse(committed(`schema/${format}.schema.json`)), regenerate).toEqual(configSchemas()[format]);
  });

  it('docs/configuration.md is up to date', () => {
    expect(committed('docs/configuration.md'), regenerate).toBe(configReferenceMarkdown());
  });

  it('documents every top-level key with its default', () => {
    const reference = configReferenceMarkdown();
    const { vippy, flip } = configSchemas();
    for (const key of [...Object.keys(vippy.properties!), ...Object.keys(flip.properties!)]) expect(reference).toContain(`| \`${key}\` |`);
    expect(reference).toContain('| `stale` | seconds (> 0) | `3` | vippy |');
    expect(reference).toContain('| `takeover_guard` | seconds | 0 when quorum is 1, otherwise `interval` | **new** |');
  });

  it('the vippy schema rejects unknown keys and requires what the loader requires', () => {
    const { vippy } = configSchemas();
    expect(vippy.additionalProperties).toBe(false);
    expect(vippy.required).toEqual(['chat', 'secret', 'vips', 'nodes']);
  });
});
