// JSON text with positions: jsonc-parser gives us a syntax tree with offsets, so every problem
// found later (by zod or by the cross-checks) can point at the line and column of its key.

import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { ConfigError, formatPath, inFileOrder, type PathSegment, type Problem } from './errors.js';

export interface SourceText {
  name: string;
  value: unknown;
  /** Turns a key path into a located problem. */
  problemAt(path: readonly PathSegment[], message: string): Problem;
}

const syntaxMessages: Record<string, string> = {
  InvalidSymbol: 'invalid character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected "," (or the end of the object or array)',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected text after the end of the document',
  InvalidCommentToken: 'comments are not allowed: vippy config files are plain JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

/**
 * Parses strict JSON (no comments, no trailing commas: the original vippy read its file with
 * JSON.parse, and a file that works here must keep working there). Duplicate keys are errors
 * because JSON.parse would silently keep the last one.
 */
export function parseSource(text: string, name: string): SourceText {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const position = (offset: number): { line: number; column: number } => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - lineStarts[low]! + 1 };
  };

  // Real configs nest five levels deep; the parser and the checks below recurse, so a hostile
  // file nested thousands deep must be refused before it can overflow the stack.
  const tooDeep = nestingBeyond(text, MAX_NESTING);
  if (tooDeep !== undefined) {
    throw new ConfigError(name, [{ path: '', message: `JSON nested more than ${MAX_NESTING} levels deep`, ...position(tooDeep) }]);
  }

  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const problems: Problem[] = errors.map((error) => {
    const code = printParseErrorCode(error.error);
    const trailingComma = code === 'PropertyNameExpected' || code === 'ValueExpected' ? trailingCommaBefore(text, error.offset) : false;
    const message = trailingComma ? 'trailing comma: vippy config files are plain JSON' : syntaxMessages[code] ?? code;
    return { path: '', message: `JSON syntax error: ${message}`, ...position(error.offset) };
  });
  if (root === undefined && problems.length === 0) problems.push({ path: '', message: 'the file is empty', line: 1, column: 1 });
  if (root !== undefined) findDuplicateKeys(root, [], problems, position);
  if (problems.length > 0 || root === undefined) throw new ConfigError(name, inFileOrder(problems));

  const problemAt = (path: readonly PathSegment[], message: string): Problem => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = findNodeAtLocation(root, path.slice(0, depth) as PathSegment[]);
      if (node === undefined) continue;
      // A property's value: point at its key, which is what the reader looks for.
      const anchor = node.parent?.type === 'property' ? node.parent : node;
      return { path: formatPath(path), message, ...position(anchor.offset) };
    }
    return { path: formatPath(path), message };
  };
  return { name, value: JSON.parse(text) as unknown, problemAt };
}

const MAX_NESTING = 64;

/** Offset of the first bracket that opens level `limit + 1`, ignoring brackets inside strings. */
function nestingBeyond(text: string, limit: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > limit) return i;
    } else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

function trailingCommaBefore(text: string, offset: number): boolean {
  let i = offset - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  return text[i] === ',';
}

function findDuplicateKeys(
  node: Node,
  path: PathSegment[],
  problems: Problem[],
  position: (offset: number) => { line: number; column: number },
): void {
  if (node.type === 'object') {
    const seen = new Set<string>();
    for (const property of node.children ?? []) {
      const [keyNode, valueNode] = property.children ?? [];
      if (keyNode === undefined) continue;
      const key = String(keyNode.value);
      if (seen.has(key)) {
        problems.push({ path: formatPath([...path, key]), message: 'duplicate key', ...position(property.offset) });
      }
      seen.add(key);
      if (valueNode !== undefined) findDuplicateKeys(valueNode, [...path, key], problems, position);
    }
  } else if (node.type === 'array') {
    (node.children ?? []).forEach((child, index) => findDuplicateKeys(child, [...path, index], problems, position));
  }
}

/** A value that has no text behind it (e.g. a merged config): problems carry paths only. */
export function plainSource(name: string, value: unknown): SourceText {
  return { name, value, problemAt: (path, message) => ({ path: formatPath(path), message }) };
}
