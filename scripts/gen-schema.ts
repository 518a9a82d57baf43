// Writes what is generated from the zod definitions in src/config and the command-line
// descriptions in src/cli: the JSON Schemas, docs/configuration.md, the man pages and vippyctl's
// bash completion. Run: npx tsx scripts/gen-schema.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { manPages, vippyctlBashCompletion } from '../src/cli/manual.js';
import { configReferenceMarkdown, configSchemas } from '../src/config/reference.js';

const root = new URL('../', import.meta.url);
mkdirSync(new URL('schema/', root), { recursive: true });
for (const [format, schema] of Object.entries(configSchemas())) {
  writeFileSync(new URL(`schema/${format}.schema.json`, root), `${JSON.stringify(schema, null, 2)}\n`);
}
writeFileSync(new URL('docs/configuration.md', root), configReferenceMarkdown());
mkdirSync(new URL('man/', root), { recursive: true });
for (const [path, page] of Object.entries(manPages())) writeFileSync(new URL(path, root), page);
writeFileSync(new URL('packaging/vippyctl.bash-completion', root), vippyctlBashCompletion());
