// Hostile input for the config loader (issue 7 §3): valid vippy and flip files mutated as text and
// as parsed objects. Each mutant is either accepted or rejected with a ConfigError whose every
// problem names a key path or a line and column; nothing else may escape (no TypeError, no
// RangeError from deep recursion, no stack trace for the operator).
//
// VIPPY_FUZZ_FULL=1 runs the full count (10,000 mutants per base file) and prints the figures.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { Prng } from '../sim/prng.js';

const FULL = process.env.VIPPY_FUZZ_FULL === '1';
const MUTANTS = FULL ? 10_000 : 600;
const SEED = Number(process.env.VIPPY_FUZZ_SEED ?? 0xc0f1);

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/config/${name}`, import.meta.url)), 'utf8');
const BASES = { 'seed.json': fixture('seed.json'), 'unicast.json': fixture('unicast.json'), 'flip-readme.json': fixture('flip-readme.json') };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };

const ODD_VALUES: Json[] = [
  null, true, false, 0, -1, 1e308, -1e308, 2 ** 53 + 1, 4294967296, 0.000001, 65536, '', ' ', '0', '-1', 'NaN', 'Infinity',
  '\u0000', '\u202e\u0041', '🙂'.repeat(100), 'x'.repeat(70_000), '192.0.2.300/24', '2001:db8::/129', '::ffff:192.0.2.1/24',
  '239.255.0.1:99999', '../../etc/passwd', '__proto__', [], {}, [[]], { __proto__: null }, { constructor: 'x' },
];

const SMALL_ODD_VALUES = ODD_VALUES.filter((value) => JSON.stringify(value).length < 1000);

function containers(value: Json, into: Container[] = []): Container[] {
  if (value !== null && typeof value === 'object') {
    into.push(value);
    for (const child of Object.values(value)) containers(child, into);
  }
  return into;
}

function nested(depth: number, leaf: Json): Json {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = depth % 2 === 0 ? [value] : { k: value };
  return value;
}

/** Changes the parsed object in place somewhere: delete, retype, odd values, deep nesting. */
function mutateObject(rng: Prng, root: Json): string {
  const target = rng.pick(containers(root));
  const keys = Object.keys(target);
  const key: string | number = Array.isArray(target) ? rng.int(0, target.length) : keys.length > 0 && rng.chance(0.85) ? rng.pick(keys) : rng.pick(['extra', '__proto__', 'constructor', 'management', 'quorum']);
  const set = (value: Json) => ((target as Record<string | number, Json>)[key] = value);
  switch (rng.int(0, 5)) {
    case 0:
      if (Array.isArray(target)) target.splice(key as number, 1);
      else delete target[key as string];
      return 'delete';
    case 1:
    case 2:
      set(structuredClone(rng.pick(ODD_VALUES)));
      return 'odd value';
    case 3:
      set(nested(rng.pick([2, 50, 500]), rng.pick(ODD_VALUES)));
      return 'deep nesting';
    case 4: {
      // A copy of another part of the document: right shapes in wrong places.
      const donor = rng.pick(containers(root));
      set(structuredClone(donor));
      return 'transplant';
    }
    default:
      set(Array.from({ length: rng.pick([100, 2000]) }, () => structuredClone(rng.pick(SMALL_ODD_VALUES))));
      return 'huge array';
  }
}

/** Changes the text: characters, truncation, duplicate keys, a BOM, comments, trailing commas. */
function mutateText(rng: Prng, text: string): { text: string; how: string } {
  const at = rng.int(0, text.length);
  switch (rng.int(0, 7)) {
    case 0:
      return { text: text.slice(0, at) + text.slice(at + rng.int(1, 5)), how: 'delete chars' };
    case 1:
      return { text: text.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\n', '\u0000', '\ud800', '0', '-', 'e9']) + text.slice(at), how: 'insert char' };
    case 2:
      return { text: text.slice(0, at), how: 'truncate' };
    case 3: {
      // Duplicate a "key": value line: JSON.parse keeps the last, vippy must refuse.
      const lines = text.split('\n');
      const keyed = lines.map((line, i) => [line, i] as const).filter(([line]) => /^\s*"[^"]+"\s*:/.test(line));
      if (keyed.length === 0) return { text: text + text, how: 'doubled' };
      const [line, index] = rng.pick(keyed);
      lines.splice(index, 0, line.endsWith(',') ? line : `${line},`);
      return { text: lines.join('\n'), how: 'duplicate key' };
    }
    case 4:
      return { text: '\ufeff' + text, how: 'BOM' };
    case 5:
      return { text: text.replace(/\n/, ' // note\n'), how: 'comment' };
    case 6:
      return { text: text.replace(/(["\d\]}])(\s*\n\s*[}\]])/, '$1,$2'), how: 'trailing comma' };
    default:
      return { text: rng.pick(['', ' ', 'null', '[]', '"x"', '1', '{}', '{"vips": null}']), how: 'replacement' };
  }
}

/** What the operator sees for a document: accepted, or the ConfigError's problems; anything else is thrown on. */
function verdict(text: string, name: string): 'accepted' | 'rejected' {
  try {
    parseConfig(text, name);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (error.problems.length === 0) throw new Error('ConfigError without problems');
    for (const problem of error.problems) {
      if (problem.message.length === 0) throw new Error('a problem without a message');
      if (problem.path === '' && problem.line === undefined) throw new Error(`problem names no key path and no position: ${problem.message}`);
    }
    return 'rejected';
  }
}

describe('config loader under hostile input', () => {
  // Found by this fuzzer: deep nesting overflows the stack (findDuplicateKeys in
  // src/config/source.ts from ~2,000 levels, jsonc-parser's parseTree from ~5,000).
  it.each([1_000, 2_000, 10_000, 200_000])('nesting %i levels deep is rejected with a located ConfigError', (depth) => {
    const text = `{"chat": ${'['.repeat(depth)}1${']'.repeat(depth)}, "secret": "a-long-enough-shared-secret", "nodes": ["a"], "vips": []}`;
    expect(verdict(text, 'deep.conf')).toBe('rejected');
  });

  for (const [name, base] of Object.entries(BASES)) {
    it(`${MUTANTS} mutants of ${name}: accepted, or rejected naming a key path or line:column`, () => {
      expect(() => parseConfig(base, name)).not.toThrow();
      const rng = new Prng(SEED ^ name.length);
      const outcomes: Record<string, { accepted: number; rejected: number }> = {};
      for (let i = 0; i < MUTANTS; i++) {
        let text: string;
        let how: string;
        if (rng.chance(0.5)) {
          const value = JSON.parse(base) as Json;
          how = mutateObject(rng, value);
          if (rng.chance(0.3)) how += ` + ${mutateObject(rng, value)}`;
          text = JSON.stringify(value, null, rng.chance(0.5) ? 2 : 0);
        } else {
          ({ text, how } = mutateText(rng, base));
        }
        const tally = (outcomes[how] ??= { accepted: 0, rejected: 0 });
        try {
          tally[verdict(text, name)]++;
        } catch (error) {
          throw new Error(`mutant ${i} of ${name} (${how}, seed ${SEED}): ${(error as Error)?.name}: ${(error as Error)?.message}\n--- text (first 2000 chars) ---\n${text.slice(0, 2000)}`);
        }
      }
      const totals = Object.values(outcomes).reduce((sum, t) => ({ accepted: sum.accepted + t.accepted, rejected: sum.rejected + t.rejected }), { accepted: 0, rejected: 0 });
      // A mutator that only ever breaks the syntax, or never does, tests one path only.
      expect(totals.accepted).toBeGreaterThan(0);
      expect(totals.rejected).toBeGreaterThan(MUTANTS / 4);
      if (FULL) console.log(JSON.stringify({ base: name, mutants: MUTANTS, seed: SEED, ...totals, outcomes }));
    }, 600_000);
  }
});
