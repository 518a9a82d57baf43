// Every config problem carries the key path it is about and, when the text is known, where
// that key sits in the file, so one run of `vippyd --check` lists everything to fix.

export interface Problem {
  /** Key path such as `vips[2][1].ip`; empty for the document as a whole. */
  path: string;
  message: string;
  /** 1-based position of the key (or value) in the file, when known. */
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  readonly problems: Problem[];
  readonly source: string;

  constructor(source: string, problems: Problem[]) {
    super(problems.map((problem) => formatProblem(source, problem)).join('\n'));
    this.name = 'ConfigError';
    this.source = source;
    this.problems = problems;
  }
}

/** `/etc/vippy.conf:14:9: vips[2][1].ip: "10.0.0.300/24" is not an IP address` */
export function formatProblem(source: string, problem: Problem): string {
  const where = problem.line === undefined ? source : `${source}:${problem.line}:${problem.column}`;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

export type PathSegment = string | number;

/** `['vips', 2, 1, 'ip']` → `vips[2][1].ip` */
export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

/** Sorted by position (unlocated ones last), each distinct problem once. */
export function inFileOrder(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems
    .filter((problem) => {
      const key = `${problem.line}:${problem.column}:${problem.path}:${problem.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
}
