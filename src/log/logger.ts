// pino set-up for vippyd. Levels carry syslog names (emerg … debug) so the config's mask and
// facility mean what they meant in the original; pino's own method names (error, warn, fatal)
// stay usable and land on the matching syslog level (err, warning, crit).
//
// One logger lives for the whole process; SIGHUP may change the driver, mask or format, so the
// choice is made per line by a small switch rather than by rebuilding pino (child loggers held
// elsewhere would keep the old one).

import pino, { type Logger } from 'pino';
import type { ClusterConfig, SyslogLevel } from '../config/model.js';

export type LoggingConfig = ClusterConfig['logging'];

/** The logger type every part of vippy receives. */
export type Log = Logger<SyslogLevel>;

export type VippyLogger = Log & {
  /** Apply a new `logging` section (SIGHUP): driver, facility, mask and format. */
  reconfigure(logging: LoggingConfig): void;
};

/** The syslog(3) functions, injected by the agent from the native addon. */
export interface SyslogSink {
  openlog(ident: string, facility: string): void;
  syslog(level: SyslogLevel, message: string): void;
  closelog?(): void;
}

export interface LineSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  /** Program name in every line (syslog ident). */
  ident: string;
  /** Required when the driver is (or may become) "syslog". */
  syslog?: SyslogSink;
  /** Where the console driver writes; stdout (synchronously, so nothing is lost at exit) by default. */
  destination?: LineSink;
}

// Same numbers as pino's err/warn/info/debug, so `log.error` is `log.err`, and so on.
export const syslogLevelValues: Record<SyslogLevel, number> = {
  emerg: 70,
  alert: 65,
  crit: 60,
  err: 50,
  warning: 40,
  notice: 35,
  info: 30,
  debug: 20,
};

// Keys pino writes on every line; the readable format shows them in its prefix instead.
const envelopeKeys = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

export class LoggingSetupError extends Error {
  override name = 'LoggingSetupError';
}

export function createLogger(logging: LoggingConfig, opts: LoggerOptions): VippyLogger {
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: true });
  let current = logging;
  let openFacility: string | undefined;

  const applySyslog = (next: LoggingConfig): void => {
    if (next.driver === 'syslog') {
      if (!opts.syslog) {
        throw new LoggingSetupError('logging.driver is "syslog" but no syslog functions were provided');
      }
      if (openFacility !== next.facility) {
        opts.syslog.openlog(opts.ident, next.facility);
        openFacility = next.facility;
      }
    } else if (openFacility !== undefined) {
      opts.syslog?.closelog?.();
      openFacility = undefined;
    }
  };
  applySyslog(logging);

  const sink: LineSink = {
    write(line: string) {
      if (current.driver === 'console' && current.json) {
        destination.write(line);
        return;
      }
      const record = JSON.parse(line) as Record<string, unknown>;
      if (current.driver === 'syslog') {
        opts.syslog!.syslog(record.level as SyslogLevel, current.json ? line.trimEnd() : formatMessage(record));
      } else {
        destination.write(formatConsoleLine(record, opts.ident) + '\n');
      }
    },
  };

  const logger = pino<SyslogLevel>(
    {
      name: opts.ident,
      // The mask is a set, not a threshold (the original's default hides warning but shows
      // notice), so pino lets everything through and the hook below filters.
      level: 'debug',
      customLevels: syslogLevelValues,
      formatters: { level: (label) => ({ level: syslogName(label) }) },
      hooks: {
        logMethod(args, method, level) {
          if (current.driver === 'none') return;
          if (!current.mask[syslogName(this.levels.labels[level] ?? 'debug')]) return;
          method.apply(this, args);
        },
      },
    },
    sink,
  );

  return Object.assign(logger, {
    reconfigure(next: LoggingConfig) {
      applySyslog(next);
      current = next;
    },
  });
}

/** pino's `trace` has no syslog counterpart: it is debug. */
function syslogName(label: string): SyslogLevel {
  return label in syslogLevelValues ? (label as SyslogLevel) : 'debug';
}

/** `message key=value …`: the syslog message body (syslog adds time, ident and pid itself). */
export function formatMessage(record: Record<string, unknown>): string {
  let text = typeof record.msg === 'string' ? record.msg : '';
  for (const [key, value] of Object.entries(record)) {
    if (envelopeKeys.has(key) || value === undefined) continue;
    text += ` ${key}=${formatValue(value)}`;
  }
  return text;
}

/** The original console driver's line: `[<Date.toString()>] [<pri>] <prog>[<pid>] <message>`. */
export function formatConsoleLine(record: Record<string, unknown>, ident: string): string {
  const time = typeof record.time === 'number' ? new Date(record.time) : new Date();
  const pid = typeof record.pid === 'number' ? record.pid : process.pid;
  return `[${time.toString()}] [${String(record.level)}] ${ident}[${pid}] ${formatMessage(record)}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  // pino's error serializer gives {type, message, stack}: the stack says it all.
  if (value && typeof value === 'object' && typeof (value as { stack?: unknown }).stack === 'string') {
    return JSON.stringify((value as { stack: string }).stack);
  }
  return JSON.stringify(value);
}

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
