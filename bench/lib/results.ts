// Benchmarks record figures in bench/results/<file>.json. Several scripts may add sections to
// one file, so a write merges its section into what is there.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export function recordResults(file: string, section: string, figures: Record<string, unknown>): string {
  const path = join(resultsDir, file);
  mkdirSync(dirname(path), { recursive: true });
  let current: Record<string, unknown> = {};
  try {
    current = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // first write, or a corrupt file: start afresh
  }
  current[section] = {
    ...figures,
    recordedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, kernel: os.release() },
  };
  writeFileSync(path, JSON.stringify(current, null, 2) + '\n');
  return path;
}

/** min / median / p95 / max of a sample (nearest-rank). */
export function summarize(samples: number[]): { n: number; min: number; median: number; p95: number; max: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s[0], median: rank(0.5), p95: rank(0.95), max: s[s.length - 1], mean };
}
