// The JSON Schemas and the key reference (docs/configuration.md), generated from the zod
// definitions in schema.ts so that documentation and validation cannot drift apart.
// scripts/gen-schema.ts writes them; a unit test checks the committed copies are current.

import { z } from 'zod';
import { flipFileSchema, vippyFileSchema } from './schema.js';

type JsonSchema = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  'x-since'?: string;
  'x-default'?: string;
  'x-unit'?: string;
  [key: string]: unknown;
};

const schemaBase = 'https://github.com/vippy/vippy/schema';

export function configSchemas(): Record<'vippy' | 'flip', JsonSchema> {
  return {
    vippy: {
      $id: `${schemaBase}/vippy.schema.json`,
      title: 'vippy configuration',
      ...(z.toJSONSchema(vippyFileSchema, { io: 'input' }) as JsonSchema),
    },
    flip: {
      $id: `${schemaBase}/flip.schema.json`,
      title: 'flip configuration (as read by vippyd)',
      ...(z.toJSONSchema(flipFileSchema, { io: 'input' }) as JsonSchema),
    },
  };
}

const sinceText: Record<string, string> = { vippy: 'vippy', flip: 'flip', new: '**new**' };

function typeText(schema: JsonSchema): string {
  if (schema.anyOf !== undefined) return [...new Set(schema.anyOf.map(typeText))].join(' or ');
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum !== undefined) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(', ');
  if (schema['x-unit'] === 'seconds') return 'seconds';
  if (schema.type === 'array') return schema.items === undefined ? 'array' : `array of ${typeText(schema.items)}`;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object' && schema.additionalProperties.type !== undefined) return 'object by name';
  return schema.type ?? 'any';
}

function bounds(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  if (schema.minimum !== undefined && schema.minimum !== 0) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${schema.maximum}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function defaultText(schema: JsonSchema, required: boolean): string {
  if (schema['x-default'] !== undefined) return schema['x-default'];
  if (schema.default !== undefined && !(typeof schema.default === 'object' && schema.default !== null && Object.keys(schema.default).length === 0 && !Array.isArray(schema.default))) {
    return `\`${JSON.stringify(schema.default)}\``;
  }
  return required ? '**required**' : '—';
}

/** One documented key: the cells of its row in the reference, as markdown text. */
export interface KeyRow {
  key: string;
  type: string;
  default: string;
  since: string;
  meaning: string;
}

/** Rows for a key and every key nested in it (objects, arrays of objects, objects by name). */
function rows(name: string, schema: JsonSchema, required: boolean, since: string, out: KeyRow[]): void {
  const mySince = schema['x-since'] ?? since;
  out.push({
    key: name,
    type: `${typeText(schema)}${bounds(schema)}`,
    default: defaultText(schema, required),
    since: sinceText[mySince] ?? mySince,
    meaning: schema.description ?? '',
  });
  for (const [childName, child, childRequired, childSince] of children(name, schema, mySince)) {
    // Undocumented nested keys (the levels of logging.mask) are explained by their parent.
    if (child.description !== undefined) rows(childName, child, childRequired, childSince, out);
  }
}

function children(name: string, schema: JsonSchema, since: string): Array<[string, JsonSchema, boolean, string]> {
  const mySince = schema['x-since'] ?? since;
  if (schema.anyOf !== undefined) return schema.anyOf.flatMap((variant) => children(name, variant, mySince));
  if (schema.type === 'array' && schema.items !== undefined) return children(`${name}[]`, schema.items, mySince);
  if (schema.type !== 'object') return [];
  if (typeof schema.additionalProperties === 'object') return children(`${name}.<name>`, schema.additionalProperties, mySince);
  return Object.entries(schema.properties ?? {}).map(([key, child]) => [`${name}.${key}`, child, schema.required?.includes(key) ?? false, mySince]);
}

/** Every documented key of a file format, top-level keys in schema order, each followed by its nested keys. */
export function configKeyRows(format: 'vippy' | 'flip'): KeyRow[] {
  const schema = configSchemas()[format];
  const out: KeyRow[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) rows(key, child, schema.required?.includes(key) ?? false, 'vippy', out);
  // A key in several shapes of one union (a group's options) is described once.
  return out.filter((row, index) => out.findIndex((other) => other.key === row.key) === index);
}

function table(format: 'vippy' | 'flip'): string {
  const out = ['| key | type | default | since | meaning |', '|---|---|---|---|---|'];
  for (const row of configKeyRows(format)) {
    out.push(`| \`${row.key}\` | ${row.type} | ${row.default} | ${row.since} | ${row.meaning.replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n');
}

/**
 * The prose of the reference, shared by docs/configuration.md and vippy.conf(5). Inline markdown
 * only (\`code\` and **bold**), paragraphs hard-wrapped as they appear in the markdown.
 */
export const configProse = {
  intro: [
    `vippyd reads one JSON file (\`-c\`, default \`/etc/vippy.conf\`): either a **vippy** file (the
original vippy format, plus optional new keys) or a **flip** file (recognised by its \`servers\`
and \`cluster\` keys). Both become the same normalized configuration, so \`vippyctl\`, metrics and
logs work the same. \`vippyd --check\` validates a file and prints what it means once defaults are
applied.`,
    `Editors can validate files with the JSON Schemas in \`schema/vippy.schema.json\` and
\`schema/flip.schema.json\`.`,
  ],
  rules: [
    `The file is plain JSON: no comments, no trailing commas, no duplicate keys (the original vippy
read it with \`JSON.parse\`, and a file must keep working there).`,
    `Every problem is reported at once, as \`FILE:LINE:COLUMN: key.path: message\`. Unknown keys are
errors, with a suggestion when a known key is close (\`"intreval": unknown key; did you mean
"interval"?\`).`,
    `Durations in vippy files are **seconds** (fractions allowed); flip's own keys keep flip's
**milliseconds**.`,
    `The column *since* says whether a key comes from the original **vippy** (same meaning and
default as its code), from **flip**, or is **new** in this rebuild.`,
    `Addresses: \`"192.0.2.10/24"\`; a missing prefix length means /32 (IPv4) or /128 (IPv6). IPv6
addresses are written in any valid form and compared in canonical (RFC 5952) form.`,
  ],
  vippyNotes: [
    `Cross-checks: \`stale\` > \`interval\` (a warning below two intervals); node names unique; a
node name only as the first element of a group, and it must be in \`nodes\`; every group has an
address; an address is in at most one group; \`quorum\` ≤ number of nodes; with quorum > 1
\`takeover_guard\` ≥ \`interval\`; \`no_quorum_policy\` "stop" or "freeze" needs quorum > 1; nodes
are all names (multicast chat: \`chat\` must be a multicast group) or all objects with an address
(unicast chat: \`chat\` gives the local address and default port); a \`secret\` shorter than 16
characters gives a warning.`,
    `Fingerprint: nodes compare a SHA-256 of the canonical JSON of the groups (preferred node and
\`ip/len\` of each address, in order) and the nodes; interface names and the version are left
out, so hosts with differently named NICs agree.`,
  ],
  checksIntro: [
    `\`checks\` names checks; a check covers every group of the node (\`"node": true\`) or the groups
that name it. A vippy group names its checks in its options element, one more element of its
array, so the group keeps the original format: \`["node1", {"interface": "eth0", "ip":
"192.0.2.10/24"}, {"checks": ["haproxy"]}]\`; a flip system names them in its \`checks\`.`,
  ],
  checks: [
    `A run passes or fails; \`fall\` failures in a row make a passing check fail, \`rise\` passes in a
row make a failing one pass. Until its first result a check is in its \`initial\` state; the
first result alone decides. Runs never overlap; each is bounded by \`timeout\`.`,
    `**exec**: the argv runs without a shell (a string \`command\` with \`"shell": true\` runs under
\`/bin/sh -c\`), in its own process group, killed with the whole group at the timeout, at most 8
at a time across all checks; exit 0 passes. A missing program fails the check ("command not
found") and vippyd keeps running. The end of its output (512 characters) shows in \`vippyctl
checks\`.`,
    `**tcp**: a connect within the timeout passes. **http**: a GET whose status is in \`status\` (any
2xx when absent) and whose body holds \`body\` (when given) passes.`,
    `**file** (keepalived's \`track_file\`): absent passes; present fails (the node is in
maintenance), unless the file holds the number 0. \`touch\` the file to drain a node, remove it (or
write 0) to undo.`,
    `**process**: a process of that name (\`/proc/PID/comm\`, or the base name of its program) or
the PID in \`pidfile\` runs and is not a zombie; read from /proc, no process started.`,
    `**interface**: the NIC is administratively up, has carrier and is operationally up. It follows
the kernel's link events at once (no polling, no rise/fall). An interface that carries VIPs
already makes its groups ineligible when it loses carrier, without a check.`,
    `A failing check makes this node ineligible for the groups it covers: it says so in its next
announcement at once and releases them; the successor takes them a quarter \`interval\` after
hearing that (as on a carrier loss). They come back by the usual \`preempt\` / \`preempt_delay\`
rules: the preferred node must have been eligible for the group for \`preempt_delay\`. \`when_all_fail\` says what happens when every node that could hold a
group fails: \`"keep"\` leaves it where it is, \`"release"\` lets nobody hold it.`,
    `Checks are local to the host, like interface names: they are not part of the fingerprint and are
not sent to peers (an adopted config keeps this host's checks for the groups it already had).
Changing them needs no new \`version\`: a reload restarts only checks whose definition changed.
Durations of checks are seconds in flip files too.`,
  ],
  flipNotes: [
    `Servers are ordered as flip orders them: servers with a \`priority\` first (lower first), then the
others by id (ties by id). Chat is unicast to every server's \`ip:port\`. Each system's
\`config\` is \`cluster.config\` overlaid with the system's own. Each data point becomes one group;
a point that is an IP address with an \`interface\` in the system's config is plumbed by vippyd
itself when the system has no scripts. Without quorum, flip files default to
\`no_quorum_policy: "freeze"\` (flip's "nothing moves"); \`"stop"\` makes a majority/minority split
safe. A starting node listens for one \`ping_timeout\` before it acts.`,
  ],
};

export function configReferenceMarkdown(): string {
  const paragraphs = (texts: string[]) => texts.join('\n\n');
  // Bullets continue on lines indented by two spaces.
  const bullets = configProse.rules.map((rule) => `- ${rule.replace(/\n/g, '\n  ')}`).join('\n');
  return `<!-- Generated by scripts/gen-schema.ts from src/config/schema.ts: edit those, then run
     npx tsx scripts/gen-schema.ts -->

# Configuration

${paragraphs(configProse.intro)}

## Rules

${bullets}

## vippy files

${table('vippy')}

${paragraphs(configProse.vippyNotes)}

## Health checks

${paragraphs(configProse.checksIntro)}

${configProse.checks.map((text) => `- ${text.replace(/\n/g, '\n  ')}`).join('\n')}

## flip files

${table('flip')}

${paragraphs(configProse.flipNotes)}
`;
}
