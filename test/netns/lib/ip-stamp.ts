/** `[2026-11-22T04:37:38.235919] …` (a line of `ip -ts monitor`) → epoch milliseconds, µs kept. */
export function ipStamp(line: string): number | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\]/.exec(line);
  // An ISO date-time without an offset is local time, as ip prints it.
  return m ? new Date(m[1]!).getTime() + Number(`0.${m[2]}`) * 1000 : undefined;
}
