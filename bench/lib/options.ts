// Command-line option checks shared by the bench scripts (parsed with node:util parseArgs).

export function positiveInteger(name: string, text: string, max = Infinity): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer 1..${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** A comma-separated subset of `allowed` (at least one). */
export function listOption<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const picked = text.split(',').filter(Boolean);
  const unknown = picked.filter((p) => !allowed.includes(p as T));
  if (unknown.length > 0 || picked.length === 0) throw new Error(`--${name}: expected some of ${allowed.join(',')}, got ${JSON.stringify(text)}`);
  return picked as T[];
}
