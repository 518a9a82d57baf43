// Writes the JSON Schemas and docs/configuration.md from the zod definitions in src/config.
// Run: npx tsx scripts/gen-schema.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { configReferenceMarkdown, configSchemas } from '../src/config/reference.js';

const root = new URL('../', import.meta.url);
mkdirSync(new URL('schema/', root), { recursive: true });
for (const [format, schema] of Object.entries(configSchemas())) {
  writeFileSync(new URL(`schema/${format}.schema.json`, root), `${JSON.stringify(schema, null, 2)}\n`);
}
writeFileSync(new URL('docs/configuration.md', root), configReferenceMarkdown());
