// Text or file → validated, normalized ClusterConfig, or a ConfigError listing every problem.

import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, inFileOrder } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { normalizeFlip } from './flip.js';
import { problemsFromIssues } from './issues.js';
import type { ClusterConfig } from './model.js';
import { Report } from './report.js';
import { flipFileSchema, vippyFileSchema } from './schema.js';
import { parseSource, type SourceText } from './source.js';
import { normalizeVippy, type UnfingerprintedConfig } from './vippy.js';

export type ConfigFormat = ClusterConfig['format'];

export interface ParseOptions {
  /** Force the format instead of recognising it (a flip file has `servers` and `cluster`). */
  format?: ConfigFormat;
}

export interface LoadedConfig {
  config: ClusterConfig;
  warnings: string[];
}

export function loadConfigFile(path: string, options: ParseOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseConfig(text, path, options);
}

export function parseConfig(text: string, sourceName: string, options: ParseOptions = {}): LoadedConfig {
  const source = parseSource(text, sourceName);
  const format = options.format ?? detectFormat(source.value);
  return format === 'flip'
    ? validate(source, flipFileSchema, normalizeFlip)
    : validate(source, vippyFileSchema, normalizeVippy);
}

export function detectFormat(value: unknown): ConfigFormat {
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  return isObject && 'servers' in value && 'cluster' in value ? 'flip' : 'vippy';
}

/** Shape first (zod), then the cross-checks, which need a well-formed file to say anything useful. */
export function validate<S extends z.ZodType>(
  source: SourceText,
  schema: S,
  normalize: (file: z.output<S>, report: Report) => UnfingerprintedConfig,
): LoadedConfig {
  const parsed = schema.safeParse(source.value);
  const report = new Report();
  const normalized = parsed.success ? normalize(parsed.data, report) : undefined;
  const problems = parsed.success ? report.problems : problemsFromIssues(parsed.error.issues, schema, source.value);
  if (problems.length > 0 || normalized === undefined) {
    throw new ConfigError(source.name, inFileOrder(problems.map((problem) => source.problemAt(problem.path, problem.message))));
  }
  return { config: { ...normalized, fingerprint: fingerprint(normalized) }, warnings: report.warnings };
}
