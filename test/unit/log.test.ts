import { describe, expect, it } from 'vitest';
import type { SyslogLevel } from '../../src/config/model.js';
import { createLogger, LoggingSetupError, type LoggingConfig } from '../../src/log/logger.js';

// The original console logger's default mask: warning, info and debug off.
const consoleMask: Record<SyslogLevel, boolean> = {
  emerg: true, alert: true, crit: true, err: true, warning: false, notice: true, info: false, debug: false,
};
const everything: Record<SyslogLevel, boolean> = {
  emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: true,
};

function logging(overrides: Partial<LoggingConfig> = {}): LoggingConfig {
  return { driver: 'console', facility: 'local7', mask: consoleMask, json: false, ...overrides };
}

function collector() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => lines.push(line) } };
}

function fakeSyslog() {
  const calls: unknown[][] = [];
  return {
    calls,
    sink: {
      openlog: (ident: string, facility: string) => calls.push(['openlog', ident, facility]),
      syslog: (level: SyslogLevel, message: string) => calls.push(['syslog', level, message]),
      closelog: () => calls.push(['closelog']),
    },
  };
}

describe('console driver', () => {
  it('writes the original line format with extra fields as key=value', () => {
    const out = collector();
    const log = createLogger(logging(), { ident: 'vippyd', destination: out.destination });
    log.notice({ node: 'alpha', groups: [0, 2], reason: 'peer went quiet' }, 'state changed');
    expect(out.lines).toHaveLength(1);
    const match = /^\[(.+)\] \[notice\] vippyd\[(\d+)\] (.*)\n$/.exec(out.lines[0]!);
    expect(match).not.toBeNull();
    expect(Number.isNaN(Date.parse(match![1]!))).toBe(false);
    expect(match![1]).toMatch(/GMT/); // Date.prototype.toString, as the original printed
    expect(Number(match![2])).toBe(process.pid);
    expect(match![3]).toBe('state changed node=alpha groups=[0,2] reason="peer went quiet"');
  });

  it('applies the mask as a set, not a threshold', () => {
    const out = collector();
    const log = createLogger(logging(), { ident: 'vippyd', destination: out.destination });
    log.debug('d');
    log.info('i');
    log.warning('w');
    log.notice('n');
    log.err('e');
    log.crit('c');
    expect(out.lines.map((l) => /\] \[(\w+)\] /.exec(l)![1])).toEqual(['notice', 'err', 'crit']);
  });

  it("maps pino's own method names onto syslog levels", () => {
    const out = collector();
    const log = createLogger(logging({ mask: everything }), { ident: 'vippyd', destination: out.destination });
    log.error('a');
    log.warn('b');
    log.fatal('c');
    log.trace('not even debug');
    expect(out.lines.map((l) => /\] \[(\w+)\] /.exec(l)![1])).toEqual(['err', 'warning', 'crit']);
  });

  it('shows an error field by its stack', () => {
    const out = collector();
    const log = createLogger(logging(), { ident: 'vippyd', destination: out.destination });
    log.err({ err: new Error('boom') }, 'plugin failed');
    expect(out.lines[0]).toMatch(/plugin failed err="Error: boom\\n {4}at /);
  });

  it('writes pino JSON lines when logging.json is set', () => {
    const out = collector();
    const log = createLogger(logging({ json: true }), { ident: 'vippyd', destination: out.destination });
    log.child({ component: 'chat' }).err({ peer: 'beta' }, 'bad hash');
    const record = JSON.parse(out.lines[0]!);
    expect(record).toMatchObject({ level: 'err', name: 'vippyd', component: 'chat', peer: 'beta', msg: 'bad hash', pid: process.pid });
    expect(typeof record.time).toBe('number');
  });
});

describe('syslog driver', () => {
  it('opens the log with the ident and facility and sends message plus fields', () => {
    const fake = fakeSyslog();
    const log = createLogger(logging({ driver: 'syslog', facility: 'daemon' }), { ident: 'vippyd', syslog: fake.sink });
    log.crit({ ip: '192.0.2.10' }, 'if_up failed');
    log.info('hidden by the mask');
    expect(fake.calls).toEqual([
      ['openlog', 'vippyd', 'daemon'],
      ['syslog', 'crit', 'if_up failed ip=192.0.2.10'],
    ]);
  });

  it('sends the JSON record as the message when logging.json is set', () => {
    const fake = fakeSyslog();
    const log = createLogger(logging({ driver: 'syslog', json: true }), { ident: 'vippyd', syslog: fake.sink });
    log.err({ group: 1 }, 'if_down failed');
    const [, level, message] = fake.calls[1] as [string, string, string];
    expect(level).toBe('err');
    expect(JSON.parse(message)).toMatchObject({ level: 'err', group: 1, msg: 'if_down failed' });
  });

  it('refuses to start without the native functions', () => {
    expect(() => createLogger(logging({ driver: 'syslog' }), { ident: 'vippyd' })).toThrow(LoggingSetupError);
  });
});

describe('driver none', () => {
  it('writes nothing at any level', () => {
    const out = collector();
    const log = createLogger(logging({ driver: 'none', mask: everything }), { ident: 'vippyd', destination: out.destination });
    log.emerg('x');
    log.debug('y');
    expect(out.lines).toEqual([]);
  });
});

describe('reconfigure (SIGHUP)', () => {
  it('switches driver, facility and mask, also for child loggers made earlier', () => {
    const out = collector();
    const fake = fakeSyslog();
    const log = createLogger(logging(), { ident: 'vippyd', destination: out.destination, syslog: fake.sink });
    const child = log.child({ component: 'manager' });
    child.info('hidden');
    log.reconfigure(logging({ mask: everything }));
    child.info('shown');
    log.reconfigure(logging({ driver: 'syslog', facility: 'local3', mask: everything }));
    child.debug('to syslog');
    log.reconfigure(logging({ driver: 'syslog', facility: 'local4', mask: everything }));
    log.reconfigure(logging());
    child.notice('back on the console');

    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(/\[info\] vippyd\[\d+\] shown component=manager/);
    expect(out.lines[1]).toMatch(/\[notice\] vippyd\[\d+\] back on the console component=manager/);
    expect(fake.calls).toEqual([
      ['openlog', 'vippyd', 'local3'],
      ['syslog', 'debug', 'to syslog component=manager'],
      ['openlog', 'vippyd', 'local4'],
      ['closelog'],
    ]);
  });

  it('keeps the old set-up when the new one is unusable', () => {
    const out = collector();
    const log = createLogger(logging(), { ident: 'vippyd', destination: out.destination });
    expect(() => log.reconfigure(logging({ driver: 'syslog' }))).toThrow(/no syslog functions/);
    log.notice('still here');
    expect(out.lines).toHaveLength(1);
  });
});
