// Collects problems (by key path) and warnings while a parsed file is normalized.

import type { PathSegment } from './errors.js';
import type { RawProblem } from './issues.js';

export class Report {
  readonly problems: RawProblem[] = [];
  readonly warnings: string[] = [];

  error(path: PathSegment[], message: string): void {
    this.problems.push({ path, message });
  }

  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** File seconds → model milliseconds (rounded: 0.1 * 3 must not become 300.00000000000006). */
export const ms = (seconds: number): number => Math.round(seconds * 1000);
