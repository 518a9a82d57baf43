// zod issues → Problems in plain words, with a did-you-mean hint for unknown keys.

import { z } from 'zod';
import type { PathSegment } from './errors.js';

export interface RawProblem {
  path: PathSegment[];
  message: string;
}

export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, value: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  for (const issue of issues) collect(issue, [], schema, value, problems);
  return problems;
}

/** Messages we wrote ourselves in the schema win over the generic wording below. */
const isZodDefault = (message: string): boolean => message.startsWith('Invalid') || message.startsWith('Too ');

function collect(issue: z.core.$ZodIssue, prefix: PathSegment[], schema: z.ZodType, root: unknown, out: RawProblem[]): void {
  const path = [...prefix, ...(issue.path as PathSegment[])];
  const input = valueAt(root, path);
  if (issue.code !== 'unrecognized_keys' && issue.code !== 'invalid_union' && !isZodDefault(issue.message)) {
    out.push({ path, message: issue.message });
    return;
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectKeysAt(schema, path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        out.push({ path: [...path, key], message: `unknown key${hint === undefined ? '' : `; did you mean "${hint}"?`}` });
      }
      return;
    }
    case 'invalid_union': {
      // The branch whose type matched has the useful complaint (e.g. a bad key inside an object).
      let typed = issue.errors.filter((branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
      // Among object shapes, the one whose keys the value uses most ({"ip"} or a group's options).
      if (typed.length > 1) {
        const unknownKeys = (branch: readonly z.core.$ZodIssue[]): number => branch.reduce((count, inner) => {
          if (inner.path.length > 0) return count;
          if (inner.code === 'unrecognized_keys') return count + inner.keys.length;
          // A union inside: its closest shape.
          if (inner.code === 'invalid_union') return count + Math.min(...inner.errors.map(unknownKeys));
          return count;
        }, 0);
        const fewest = Math.min(...typed.map(unknownKeys));
        typed = typed.filter((branch) => unknownKeys(branch) === fewest);
      }
      if (typed.length === 1) {
        for (const inner of typed[0]!) collect(inner, path, schema, root, out);
        return;
      }
      out.push({ path, message: `${issue.message}, not ${describe(input)}` });
      return;
    }
    case 'invalid_type':
      out.push({
        path,
        message: input === undefined ? 'is required' : `must be ${typeName(issue.expected)}, not ${describe(input)}`,
      });
      return;
    case 'too_small':
      out.push({ path, message: sizeMessage(issue.origin, 'small', issue.minimum, issue.inclusive ?? true) });
      return;
    case 'too_big':
      out.push({ path, message: sizeMessage(issue.origin, 'big', issue.maximum, issue.inclusive ?? true) });
      return;
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const hint = typeof input === 'string' ? closest(input, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
      const choices = options.length === 1 ? `must be ${options[0]}` : `must be one of ${options.join(', ')}`;
      out.push({ path, message: `${choices}, not ${describe(input)}${hint === undefined ? '' : `; did you mean "${hint}"?`}` });
      return;
    }
    case 'invalid_format':
      out.push({ path, message: `${describe(input)} has the wrong format` });
      return;
    default:
      out.push({ path, message: issue.message });
  }
}

function sizeMessage(origin: string, side: 'small' | 'big', bound: number | bigint, inclusive: boolean): string {
  if (origin === 'array' || origin === 'set') {
    if (side === 'small' && Number(bound) === 1) return 'must not be empty';
    return side === 'small' ? `must have at least ${bound} entries` : `must have at most ${bound} entries`;
  }
  if (origin === 'string') {
    if (side === 'small' && Number(bound) === 1) return 'must not be empty';
    return side === 'small' ? `must be at least ${bound} characters long` : `must be at most ${bound} characters long`;
  }
  if (side === 'small') return inclusive ? `must be at least ${bound}` : `must be greater than ${bound}`;
  return inclusive ? `must be at most ${bound}` : `must be less than ${bound}`;
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    number: 'a number',
    int: 'a whole number',
    string: 'a string',
    boolean: 'true or false',
    object: 'an object',
    array: 'an array',
    record: 'an object',
  };
  return names[expected] ?? expected;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  return value;
}

/** The keys the schema allows for the object at `path` (for did-you-mean). */
function objectKeysAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let candidates: z.ZodType[] = [schema];
  for (const segment of [...path, undefined]) {
    candidates = candidates.flatMap(unwrap);
    if (segment === undefined) break;
    candidates = candidates.flatMap((candidate) => {
      if (candidate instanceof z.ZodObject && typeof segment === 'string') {
        const child = (candidate.shape as Record<string, z.ZodType>)[segment];
        return child === undefined ? [] : [child];
      }
      if (candidate instanceof z.ZodArray && typeof segment === 'number') return [candidate.element as z.ZodType];
      if (candidate instanceof z.ZodRecord && typeof segment === 'string') return [candidate.valueType as z.ZodType];
      return [];
    });
  }
  return candidates.flatMap((candidate) => (candidate instanceof z.ZodObject ? Object.keys(candidate.shape) : []));
}

function unwrap(schema: z.ZodType): z.ZodType[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodNullable) {
    return unwrap(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap(unwrap);
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  return [schema];
}

/** The known word nearest to `word` when it is plausibly a typo. */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (bestDistance <= Math.max(2, Math.floor(word.length / 3))) return best;
  // An abbreviation ("warn" for "warning") is a typo of its own kind.
  return word.length >= 3 ? known.find((candidate) => candidate.startsWith(word)) : undefined;
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair of letters is one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
