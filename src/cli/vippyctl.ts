#!/usr/bin/env node
// vippyctl: ask a running vippyd over its control socket.

import { existsSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ControlUnreachableError, defaultSocketPath, requestControl, watchControl } from '../control/client.js';
import { formatChecks, formatStatus, StatusFormatError } from '../control/format.js';
import { usageText, type CommandLine } from './help.js';

/** The original's default, then where the packaged systemd unit puts it (packaging/vippyd.service). */
export const SOCKET_CANDIDATES = [defaultSocketPath, '/run/vippy/vippy.socket'];

/** -s, else $VIPPY_SOCKET, else the first candidate that exists (the original's default when none does). */
export function resolveSocket(given: string | undefined, env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): string {
  return given ?? (env.VIPPY_SOCKET || undefined) ?? SOCKET_CANDIDATES.find(exists) ?? defaultSocketPath;
}

/** Options, commands, help and man page of vippyctl (see help.ts). */
export const vippyctlCommandLine = {
  name: 'vippyctl',
  section: 8,
  summary: 'control a running vippyd',
  operands: '<command> [reason]',
  options: {
    socket: {
      type: 'string', short: 's', arg: 'SOCKET',
      help: `control socket (default: $VIPPY_SOCKET, else the first of ${SOCKET_CANDIDATES.join(', ')} that exists)`,
    },
    json: { type: 'boolean', default: false, help: 'print the raw JSON reply' },
    help: { type: 'boolean', short: 'h', default: false, help: 'print this help and exit' },
  },
  commands: [
    { name: 'status', help: 'state of this node and who holds each group' },
    { name: 'peers', help: 'what this node knows of the others' },
    { name: 'arp-cache', help: "the cluster's shared ARP cache" },
    { name: 'checks', help: 'health checks: state, since when, passes/fails in a row, last run, output of failing ones' },
    { name: 'activate', args: '[reason]', help: 'clear a reason this node is inactive ("administrative" by default)' },
    { name: 'deactivate', args: '[reason]', help: 'make this node inactive (for maintenance): its groups move away' },
    { name: 'reload', help: 're-read the configuration file (like SIGHUP)' },
    { name: 'metrics', help: 'Prometheus metrics, when enabled' },
    { name: 'watch', help: 'follow every state change as it happens, in order (with `--json`: one JSON object per line)' },
  ],
  manual: {
    description: [
      `**vippyctl** sends one command to the **vippyd**(8) of this node over its control socket (HTTP
over a Unix socket, the original vippy's protocol) and prints the reply: \`status\` in the
original's format (plus the groups this node may not hold and why), \`checks\` as a table, the
other replies as indented JSON. Commands that change state are sent as
POST. A reason given to \`activate\` or \`deactivate\` may be several words without quotes.`,
    ],
    sections: [
      {
        title: 'ENVIRONMENT',
        paragraphs: [],
        items: [['VIPPY_SOCKET', 'the control socket when `-s` is not given']],
      },
      {
        title: 'EXIT STATUS',
        paragraphs: [],
        items: [
          ['0', 'the daemon answered and the command succeeded'],
          ['1', 'the socket cannot be reached, the command is unknown to the daemon, or it failed (the reason is printed); for `watch`, also when the daemon dropped the stream or events were missed'],
          ['2', 'wrong usage'],
        ],
      },
      {
        title: 'EXAMPLES',
        paragraphs: [],
        items: [
          ['vippyctl status', "this node's view of the cluster"],
          ['vippyctl deactivate swapping a disk', 'drain this node for maintenance; `vippyctl activate` undoes it'],
          ['vippyctl -s /run/vippy/vippy.socket --json peers', 'the raw reply of the daemon the packaged systemd unit runs'],
        ],
      },
    ],
    seeAlso: ['vippyd(8)', 'vippy.conf(5)'],
  },
} satisfies CommandLine;

const usage = usageText(vippyctlCommandLine);

// Commands that change state go as POST; the daemon accepts GET for all (the old vippyctl's way).
const changesState = new Set(['activate', 'deactivate', 'reload']);
const takesReason = new Set(['activate', 'deactivate']);

export interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Runs vippyctl with `argv` (arguments only) and returns the exit status. */
export async function main(argv: string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: vippyctlCommandLine.options });
  } catch (err) {
    out.stderr.write(`vippyctl: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.stdout.write(usage);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) {
    out.stderr.write(usage);
    return 2;
  }
  if (rest.length > 0 && !takesReason.has(command)) {
    out.stderr.write(`vippyctl: "${command}" takes no arguments\n${usage}`);
    return 2;
  }
  // `vippyctl deactivate swapping a disk` needs no quotes.
  const reason = rest.length > 0 ? rest.join(' ') : undefined;
  if (command === 'watch') return watch(resolveSocket(values.socket, process.env), values.json, out);

  let reply;
  try {
    reply = await requestControl(resolveSocket(values.socket, process.env), command, { reason, method: changesState.has(command) ? 'POST' : 'GET' });
  } catch (err) {
    if (!(err instanceof ControlUnreachableError)) throw err;
    out.stderr.write(`vippyctl: ${err.message}\n`);
    return 1;
  }

  if (reply.status === 404) {
    out.stderr.write(`vippyctl: no such command "${command}"\n`);
    return 1;
  }
  if (reply.status !== 200) {
    const detail = (reply.body as { error?: unknown } | undefined)?.error ?? reply.text.trim();
    out.stderr.write(`vippyctl: ${command} failed (HTTP ${reply.status}): ${String(detail)}\n`);
    return 1;
  }
  if (reply.body === undefined || values.json) {
    out.stdout.write(reply.text.endsWith('\n') ? reply.text : reply.text + '\n');
  } else if (command === 'status' || command === 'checks') {
    try {
      out.stdout.write(command === 'status' ? formatStatus(reply.body) : formatChecks(reply.body));
    } catch (err) {
      if (!(err instanceof StatusFormatError)) throw err;
      out.stderr.write(`vippyctl: cannot show the ${command}: ${err.message}\n`);
      return 1;
    }
  } else {
    out.stdout.write(JSON.stringify(reply.body, null, 2) + '\n');
  }
  return 0;
}

/** One event as a line for people: time, sequence number, type, then its fields as key=value. */
export function formatEvent(line: string): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { seq, time, type, node, ...fields } = event;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '?';
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  return [clock, `#${String(seq)}`, String(type), ...rest].join(' ');
}

/** `watch`: until the daemon ends the stream. A stream cut for a slow reader, or a gap, exits 1. */
async function watch(socket: string, json: boolean, out: Output): Promise<number> {
  let expected: number | undefined;
  let problem: string | undefined;
  let reply;
  try {
    reply = await watchControl(socket, (line) => {
      out.stdout.write(json ? `${line}\n` : `${formatEvent(line)}\n`);
      let event: { seq: number; type: string; reason?: string };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        problem ??= `not an event: ${line.slice(0, 80)}`;
        return;
      }
      if (event.type === 'dropped') problem = `the daemon dropped this stream: ${event.reason}`;
      else if (event.type !== 'watching' && event.type !== 'closed' && expected !== undefined && event.seq !== expected) {
        problem ??= `events ${expected} to ${event.seq - 1} are missing`;
      }
      expected = event.seq + 1;
    });
  } catch (err) {
    if (!(err instanceof ControlUnreachableError)) throw err;
    out.stderr.write(`vippyctl: ${err.message}\n`);
    return 1;
  }
  if (reply.status !== 200) {
    const detail = (reply.body as { error?: unknown } | undefined)?.error ?? reply.text.trim();
    out.stderr.write(`vippyctl: watch failed (HTTP ${reply.status}): ${String(detail)}\n`);
    return 1;
  }
  if (problem !== undefined) {
    out.stderr.write(`vippyctl: ${problem}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2), process);
}
