#!/usr/bin/env -S node --max-semi-space-size=1
// (A 1 MiB young generation instead of V8's 16 MiB: the daemon allocates little, and this keeps
// its resident size about 14 MB smaller for a few more, very short, scavenges.)
// vippyd: the daemon's command line. Options as the original (-c, -n, -p, -h) plus --check.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { DaemonOptions } from '../agent/daemon.js';
import { ConfigError, loadConfigFile, summarizeConfig } from '../config/index.js';
import { usageText, type CommandLine } from './help.js';

const defaultConfigPath = '/etc/vippy.conf';

/** Options, help and man page of vippyd (see help.ts). */
export const vippydCommandLine = {
  name: 'vippyd',
  section: 8,
  summary: 'virtual-IP failover daemon',
  options: {
    config: { type: 'string', short: 'c', default: defaultConfigPath, arg: 'FILE', help: `configuration file (default ${defaultConfigPath})` },
    node: { type: 'string', short: 'n', arg: 'NODE', help: 'this node\'s name in the configuration (default: a flip file\'s "id", else the host name)' },
    plugin: { type: 'string', short: 'p', multiple: true, default: [], arg: 'PLUGIN', help: 'load a plugin (repeatable; added to the config\'s "plugins")' },
    check: { type: 'boolean', default: false, help: 'validate the configuration, print what it means, and exit' },
    help: { type: 'boolean', short: 'h', default: false, help: 'print this help and exit' },
  },
  manual: {
    description: [
      `**vippyd** keeps groups of virtual IP addresses up on exactly one node of a cluster. Every node
runs it; the nodes announce themselves to each other several times a second over signed
multicast or unicast UDP, agree without a leader which node holds each group, add the addresses
through netlink on the node that holds them and announce a move with gratuitous ARP and
unsolicited neighbour advertisements. An optional quorum keeps a partitioned node from
answering for an address the majority has moved.`,
      `It reads the original vippy's configuration format or a flip file, see **vippy.conf**(5).
It runs in the foreground and logs to the console or syslog as the configuration says. It needs
the capabilities CAP_NET_ADMIN and CAP_NET_RAW, not root; it names the one that is missing.
**vippyctl**(8) talks to it over its control socket.`,
    ],
    sections: [
      {
        title: 'SIGNALS',
        paragraphs: [],
        items: [
          ['SIGHUP', 'Re-read the configuration file and apply all of it. An invalid file is logged and the old configuration stays.'],
          ['SIGTERM, SIGINT', 'Announce leaving, release every address and exit 0 within a second, so a peer takes over at once.'],
        ],
      },
      {
        title: 'EXIT STATUS',
        paragraphs: [],
        items: [
          ['0', 'stopped by a signal, or `--check` found the configuration valid'],
          ['1', 'the configuration is invalid, or the daemon could not start (the reason is printed)'],
          ['2', 'wrong usage'],
        ],
      },
      {
        title: 'FILES',
        paragraphs: [],
        items: [
          [defaultConfigPath, 'the configuration file when `-c` is not given'],
          ['/var/run/vippy.socket', 'the control socket unless the configuration sets `management`; the packaged systemd unit uses /run/vippy/vippy.socket'],
        ],
      },
    ],
    seeAlso: ['vippyctl(8)', 'vippy.conf(5)', 'systemd.service(5)'],
  },
} satisfies CommandLine;

const usage = usageText(vippydCommandLine);

export interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** The part of agent/daemon.js the CLI uses; loaded only to run, so --check needs no native addon. */
export interface DaemonModule {
  runDaemon(options: DaemonOptions): Promise<number>;
  StartupError: abstract new (...args: never[]) => Error;
}

const loadDaemon = (): Promise<DaemonModule> => import('../agent/daemon.js');

/** Runs vippyd with `argv` (arguments only); resolves to the exit status. */
export async function main(argv: string[], out: Output, daemon: () => Promise<DaemonModule> = loadDaemon): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: vippydCommandLine.options }));
  } catch (err) {
    out.stderr.write(`vippyd: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.stdout.write(usage);
    return 0;
  }

  if (values.check) return check(values.config, values.node, out);

  const { runDaemon, StartupError } = await daemon();
  try {
    return await runDaemon({ configPath: values.config, ...(values.node === undefined ? {} : { node: values.node }), plugins: values.plugin });
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    out.stderr.write(`vippyd: ${err.message}\n`);
    return 1;
  }
}

/** --check: every problem of the file at once, or the summary. An explicit -n must be a node of it. */
function check(path: string, node: string | undefined, out: Output): number {
  let loaded;
  try {
    loaded = loadConfigFile(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.stderr.write(`${err.message}\n`);
    return 1;
  }
  const { config, warnings } = loaded;
  out.stdout.write(`${summarizeConfig(config)}\n`);
  for (const warning of warnings) out.stderr.write(`warning: ${warning}\n`);
  const names = config.nodes.map((n) => n.name);
  if (node !== undefined && !names.includes(node)) {
    out.stderr.write(`vippyd: node "${node}" is not in ${path} (nodes: ${names.join(', ')})\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  // exit() rather than exitCode: a plugin's forgotten timer must not keep a stopped daemon alive.
  process.exit(await main(process.argv.slice(2), process));
}
