// The slice of a pino logger that the agent's I/O modules call. A pino Logger satisfies it, and
// so does a recording stub in a fixture script; fields first, message second, as pino wants.

export interface AgentLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The message of anything thrown, with the errno name and kernel message when the addon gave them. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, extack } = err as Error & { code?: unknown; extack?: unknown };
  let text = err.message;
  if (typeof code === 'string' && !text.includes(code)) text += ` (${code})`;
  if (typeof extack === 'string' && extack && !text.includes(extack)) text += `: ${extack}`;
  return text;
}
